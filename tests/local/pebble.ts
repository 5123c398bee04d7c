/**
 * Starts Pebble (Let's Encrypt's ACME test server, Debian package `pebble`) for tests and
 * `npm run local`.
 *
 * What Pebble 2.4.0 (Debian's) understands, found from the binary and by trying:
 * - config (`{"pebble": {...}}`): listenAddress, managementListenAddress, certificate, privateKey,
 *   httpPort, tlsPort, ocspResponderURL, externalAccountBindingRequired, externalAccountMACKeys,
 *   domainBlocklist, certificateValidityPeriod (seconds). Unknown keys are ignored silently
 *   (Go's encoding/json), so a `profiles` block is accepted and does nothing;
 * - flags: -config, -dnsserver, -strict;
 * - environment: PEBBLE_VA_NOSLEEP, PEBBLE_VA_SLEEPTIME, PEBBLE_VA_ALWAYS_VALID,
 *   PEBBLE_WFE_NONCEREJECT (default 5 %), PEBBLE_AUTHZREUSE (default 50 %),
 *   PEBBLE_ALTERNATE_ROOTS, PEBBLE_CHAIN_LENGTH, PEBBLE_WFE_ORDERS_PER_PAGE;
 * - no ACME profiles: the directory has no `meta.profiles` (profiles arrived in Pebble 2.7).
 *   A `profile` field in newOrder is ignored by 2.4.0, so profile tests need a newer Pebble.
 *
 * The listener certificate (for `localhost` and 127.0.0.1) comes from a throw-away CA made with
 * node:crypto; `listenerCaPem` is that CA. Pebble's *issuing* root is different and is
 * regenerated on every start: fetch it with `issuingRootsPem()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { makeLeaf, makeRootCa } from '../helpers/certs.js';
import { findPebble, PEBBLE_MISSING_MESSAGE } from './ensure-pebble.js';

export interface PebbleOptions {
  /** DNS server Pebble's VA asks for TXT records, '127.0.0.1:PORT'. */
  dnsServer: string;
  /** Parent directory for Pebble's files (a unique subdirectory is made); default the OS temp dir. */
  workDir?: string;
  /** Extra environment, e.g. { PEBBLE_WFE_NONCEREJECT: '50' }; overrides the defaults below. */
  env?: Record<string, string>;
  /** PEBBLE_AUTHZREUSE percentage; default 0 (every order gets fresh authorizations). */
  authzReuse?: number;
  /** Leaf certificate lifetime in seconds (config certificateValidityPeriod); Pebble's default is ~5 years. */
  certificateValidityPeriod?: number;
  /** How long to wait for the directory to answer; default 20 s. */
  startTimeoutMs?: number;
  /** Path of the pebble binary; default found on PATH. */
  binary?: string;
  /**
   * External Account Binding (RFC 8555 §7.3.4), as ZeroSSL, Google Trust Services and AWS's ACME
   * endpoints require it: key id → base64url HMAC key. When given, Pebble 2.4 requires EAB on
   * newAccount (`externalAccountBindingRequired`) and its directory says so in
   * `meta.externalAccountRequired`.
   */
  externalAccountMacKeys?: Record<string, string>;
}

export interface Pebble {
  /** https://127.0.0.1:PORT/dir */
  directoryUrl: string;
  /** https://127.0.0.1:PORT (roots, intermediates, cert status) */
  managementUrl: string;
  /** PEM of the CA that signed Pebble's HTTPS listener certificate. */
  listenerCaPem: string;
  /**
   * Files of Pebble's listener certificate (for 127.0.0.1 and localhost, signed by listenerCaPem)
   * and its key; the CA fault proxy (ca-proxy.ts) serves with them too.
   */
  listenerCertPath: string;
  listenerKeyPath: string;
  /** The parsed directory document as first served. */
  directory: Record<string, unknown>;
  /** meta.profiles of the directory, or undefined when this Pebble has no profile support. */
  profiles: Record<string, string> | undefined;
  /** PEM of the root(s) Pebble issues under: /roots/0 plus alternate roots if any. */
  issuingRootsPem(): Promise<string>;
  /** Kills Pebble and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Pebble's stdout/stderr lines. */
  logs: string[];
  /** Pebble's process id (for assertions). */
  pid: number;
  /** Milliseconds from spawn to the directory answering. */
  startupMs: number;
  /** Pebble's directory (config, listener certificate); removed by stop() unless under opts.workDir. */
  dir: string;
}

/** Children still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** A free TCP port on 127.0.0.1 (bound then released; callers retry on a lost race). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not allocate a port'))));
    });
  });
}

/**
 * Makes a CA and a listener certificate for localhost + 127.0.0.1 in dir, with node:crypto only
 * (tests/helpers/certs.ts), so the local stack needs no openssl binary.
 */
async function makeListenerCertificates(dir: string): Promise<{ caPem: string; certPath: string; keyPath: string }> {
  const ca = makeRootCa({ cn: 'acme-rotation local Pebble listener CA' });
  const leaf = makeLeaf(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], keyType: 'ecdsa-p256' });
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await writeFile(certPath, leaf.certPem);
  await writeFile(keyPath, leaf.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  return { caPem: ca.certPem, certPath, keyPath };
}

/** GET over HTTPS trusting only `ca`. */
export async function httpsGet(
  url: string,
  ca: string,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', ca, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tail(lines: string[], n = 30): string {
  return lines.slice(-n).join('\n');
}

class PebbleStartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
    this.name = 'PebbleStartError';
  }
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  const binary = opts.binary ?? findPebble();
  if (!binary) throw new Error(PEBBLE_MISSING_MESSAGE);
  const dir = await mkdtemp(join(opts.workDir ?? tmpdir(), 'pebble-'));
  const ownsDir = opts.workDir === undefined;
  try {
    const certs = await makeListenerCertificates(dir);
    // Ports are picked then released before Pebble binds them: retry if another process wins.
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(binary, dir, ownsDir, certs, opts);
      } catch (err) {
        if (err instanceof PebbleStartError && err.addressInUse && attempt < 4) continue;
        throw err;
      }
    }
  } catch (err) {
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(
  binary: string,
  dir: string,
  ownsDir: boolean,
  certs: { caPem: string; certPath: string; keyPath: string },
  opts: PebbleOptions,
): Promise<Pebble> {
  const [port, managementPort, httpPort, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const configPath = join(dir, 'pebble-config.json');
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: certs.certPath,
      privateKey: certs.keyPath,
      // Only dns-01 is used; these are where Pebble's VA would connect for http-01/tls-alpn-01.
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: opts.externalAccountMacKeys !== undefined,
      ...(opts.externalAccountMacKeys ? { externalAccountMACKeys: opts.externalAccountMacKeys } : {}),
      ...(opts.certificateValidityPeriod ? { certificateValidityPeriod: opts.certificateValidityPeriod } : {}),
    },
  };
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_AUTHZREUSE: String(opts.authzReuse ?? 0),
    PEBBLE_WFE_NONCEREJECT: '0',
    ...opts.env,
  };
  const started = Date.now();
  const child = spawn(binary, ['-config', configPath, '-dnsserver', opts.dnsServer], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  const logs: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => logs.push(line));
  }
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  let killing: Promise<void> | undefined;
  const kill = (): Promise<void> => {
    killing ??= (async () => {
      if (!exited && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exitPromise;
        clearTimeout(killer);
      }
    })();
    return killing;
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await kill();
      if (ownsDir) await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  const managementUrl = `https://127.0.0.1:${managementPort}`;
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  const deadline = started + timeoutMs;
  let directory: Record<string, unknown> | undefined;
  let lastError: unknown;
  while (!directory) {
    if (spawnError || exited) {
      // Let the output streams drain before reporting.
      await sleep(50);
      const output = tail(logs);
      await kill();
      const why = spawnError
        ? `could not run ${binary}: ${spawnError.message}`
        : `exited early (code ${exited?.code}, signal ${exited?.signal})`;
      throw new PebbleStartError(
        `Pebble ${why}\n--- pebble output ---\n${output}`,
        /address already in use/i.test(output),
      );
    }
    if (Date.now() > deadline) {
      const output = tail(logs);
      await kill();
      throw new PebbleStartError(
        `Pebble did not answer at ${directoryUrl} within ${timeoutMs} ms (last error: ${String(lastError)})\n--- pebble output ---\n${output}`,
        false,
      );
    }
    try {
      const res = await httpsGet(directoryUrl, certs.caPem, 2_000);
      if (res.status === 200) {
        // The management listener starts alongside; make sure it answers too.
        const roots = await httpsGet(`${managementUrl}/roots/0`, certs.caPem, 2_000);
        if (roots.status === 200) directory = JSON.parse(res.body) as Record<string, unknown>;
        else lastError = `management /roots/0 answered ${roots.status}`;
      } else {
        lastError = `directory answered ${res.status}`;
      }
    } catch (err) {
      lastError = err;
    }
    if (!directory) await sleep(50);
  }
  const startupMs = Date.now() - started;

  const meta = directory.meta as { profiles?: Record<string, string> } | undefined;
  const issuingRootsPem = async (): Promise<string> => {
    const pems: string[] = [];
    // /roots/0 is the default chain's root; /roots/1.. exist with PEBBLE_ALTERNATE_ROOTS.
    for (let i = 0; i < 16; i++) {
      const res = await httpsGet(`${managementUrl}/roots/${i}`, certs.caPem);
      if (res.status !== 200) {
        if (i === 0) throw new Error(`Pebble ${managementUrl}/roots/0 answered ${res.status}: ${res.body}`);
        break;
      }
      pems.push(res.body.trim());
    }
    return `${pems.join('\n')}\n`;
  };

  if (child.pid === undefined) throw new Error('Pebble has no pid');
  return {
    directoryUrl,
    managementUrl,
    listenerCaPem: certs.caPem,
    listenerCertPath: certs.certPath,
    listenerKeyPath: certs.keyPath,
    directory,
    profiles: meta?.profiles,
    issuingRootsPem,
    stop,
    logs,
    pid: child.pid,
    startupMs,
    dir,
  };
}
