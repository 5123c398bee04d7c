/**
 * The real TLS handshake of testSecret: serve the bundle on loopback and connect once, as a client
 * that trusts only the given roots, then check the server's identity for every expected name.
 * Everything (server, client and server-side sockets, timers) is closed in every outcome.
 */
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { errorMessage } from '../lib/errors.js';
import { VerificationCheckError } from '../lib/errors.js';
import { normaliseDnsName } from '../certificate/domains.js';

/** The label put in place of `*` when checking a wildcard name. */
export const WILDCARD_SAMPLE_LABEL = 'acme-rotation-check';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;

/** The SNI/host name used to test `name`: wildcards get a sample label. */
export function handshakeServername(name: string): string {
  const n = normaliseDnsName(name);
  return n.startsWith('*.') ? `${WILDCARD_SAMPLE_LABEL}.${n.slice(2)}` : n;
}

export interface HandshakeOptions {
  /** PKCS#8 (or any PEM) private key of the leaf. */
  keyPem: string;
  /** Leaf + intermediates, as a server would send them. */
  certChainPem: string;
  /** Names to test (wildcards allowed). */
  names: string[];
  /** The client's complete trust store (PEM roots). */
  caPems: string[];
  /** Overall bound for the whole check; default 5 s. */
  timeoutMs?: number;
  /** SHA-256 fingerprint (any case, colons optional) the server must present; checked when given. */
  expectedFingerprint?: string;
  /**
   * Accept the client's CERT_NOT_YET_VALID verdict (the identity is then checked explicitly).
   * verifyBundle sets this only when a certificate's notBefore lies in the future within the
   * allowed clock skew, which the static checks already accepted; OpenSSL has no skew setting.
   */
  allowNotYetValid?: boolean;
}

/** Node types authorizationError as Error, but sets it to the OpenSSL code string (e.g. CERT_HAS_EXPIRED). */
function authorizationCode(socket: tls.TLSSocket): string {
  const e: unknown = socket.authorizationError;
  if (typeof e === 'string') return e;
  if (e instanceof Error) return String((e as { code?: unknown }).code ?? e.message);
  return e === undefined || e === null ? 'unknown reason' : String(e);
}

/** "name: why", with the sample name a wildcard was tested as. */
function nameFailure(name: string, failure: string): string {
  const servername = handshakeServername(name);
  return `${name}${servername !== name ? ` (as ${servername})` : ''}: ${failure}`;
}

function listen(server: tls.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', onError);
      const addr = server.address();
      if (addr && typeof addr === 'object') resolve(addr.port);
      else reject(new Error('the loopback server has no port'));
    });
  });
}

/**
 * Run the handshake. Resolves when the chain is authorized and the certificate presented matches
 * every name; otherwise throws a VerificationCheckError
 * ("handshake") listing each failed name and why.
 */
export async function tlsHandshakeCheck(opts: HandshakeOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const names = [...new Set(opts.names.map(normaliseDnsName))];
  if (names.length === 0) throw new VerificationCheckError('handshake', 'no names to test');

  let server: tls.Server;
  let clientContext: tls.SecureContext;
  try {
    server = tls.createServer({ key: opts.keyPem, cert: opts.certChainPem });
  } catch (err) {
    // OpenSSL's message ("key values mismatch", "no start line") never quotes the key.
    throw new VerificationCheckError(
      'handshake',
      `the TLS server cannot load the key and certificate: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  try {
    clientContext = tls.createSecureContext({ ca: opts.caPems });
  } catch (err) {
    throw new VerificationCheckError('handshake', `the trusted roots cannot be loaded: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  const serverSockets = new Set<Socket>();
  const clientSockets = new Set<tls.TLSSocket>();
  server.on('connection', (s: Socket) => {
    serverSockets.add(s);
    s.on('close', () => serverSockets.delete(s));
    s.on('error', () => undefined);
  });
  // Client-side failures (e.g. the client rejecting our chain) surface here too; the client's
  // view is the one reported.
  server.on('tlsClientError', () => undefined);

  let overallTimer: NodeJS.Timeout | undefined;
  try {
    const port = await Promise.race([
      listen(server),
      new Promise<never>((_, reject) => {
        overallTimer = setTimeout(() => reject(new Error(`no loopback listener within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    clearTimeout(overallTimer);
    const deadline = Date.now() + timeoutMs;

    // One handshake serves every name: the server has one certificate whatever the SNI (one secure
    // context, no SNICallback or addContext; keep it so), so the chain is verified once and each
    // name's identity is checked against what was presented (a handshake per name cost ~1.5 ms
    // each; 20 names took ~40 ms instead of ~3).
    const servername = handshakeServername(names[0] as string);
    const failures = await new Promise<string[]>((resolve) => {
      let settled = false;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername,
        secureContext: clientContext,
        // We decide ourselves, so that the reason (chain vs. identity) can be reported precisely.
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      clientSockets.add(socket);
      const finish = (result: string[]): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        clientSockets.delete(socket);
        resolve(result);
      };
      // A failure of the connection or the chain is every name's failure.
      const allFail = (failure: string): void => finish(names.map((name) => nameFailure(name, failure)));
      const timer = setTimeout(
        () => allFail(`no TLS handshake within ${timeoutMs} ms`),
        Math.max(0, deadline - Date.now()),
      );
      socket.once('error', (err) => allFail(errorMessage(err)));
      socket.once('secureConnect', () => {
        const notYetValid = opts.allowNotYetValid && authorizationCode(socket) === 'CERT_NOT_YET_VALID';
        if (!socket.authorized && !notYetValid) {
          return allFail(`the client does not trust the chain: ${authorizationCode(socket)}`);
        }
        const presented = socket.getPeerCertificate();
        if (opts.expectedFingerprint) {
          const got = presented.fingerprint256?.replace(/:/g, '').toUpperCase();
          const expected = opts.expectedFingerprint.replace(/:/g, '').toUpperCase();
          if (got !== expected) return allFail(`the server presented certificate ${got ?? '(none)'}, not ${expected}`);
        }
        const identity = names.flatMap((name) => {
          const err = tls.checkServerIdentity(handshakeServername(name), presented);
          return err ? [nameFailure(name, `identity check failed: ${err.message}`)] : [];
        });
        finish(identity);
      });
    });
    if (failures.length) {
      throw new VerificationCheckError(
        'handshake',
        `TLS handshake failed for ${failures.length} of ${names.length} name(s): ${failures.join('; ')}`,
      );
    }
  } catch (err) {
    if (err instanceof VerificationCheckError) throw err;
    throw new VerificationCheckError('handshake', `the TLS handshake could not run: ${errorMessage(err)}`, {
      cause: err,
    });
  } finally {
    clearTimeout(overallTimer);
    for (const s of clientSockets) s.destroy();
    for (const s of serverSockets) s.destroy();
    await new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  }
}
