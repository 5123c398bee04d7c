/**
 * A fault-injecting HTTPS proxy in front of Pebble's ACME listener, for tests of how the rotation
 * copes with a CA that errors, hangs, loses answers or is down.
 *
 * Pebble (2.4.0, checked by experiment in tests/local/ca-proxy.test.ts) builds every URL it hands
 * out — the directory's entries, `Location`, `Link` and the `url` it expects in a JWS — from the
 * request's Host header. The proxy forwards requests with the client's Host header unchanged, so
 * everything the client sees points back at the proxy and no URL needs rewriting.
 *
 * Each request is classified into an ACME operation by Pebble's paths (/dir, /nonce-plz,
 * /sign-me-up, /my-account/, /order-plz, /my-order/, /list-orderz/, /authZ/, /chalZ/,
 * /finalize-order/, /certZ/, /rollover-account-key, /revoke-cert) and recorded in `calls`.
 * Faults (first match with hits left wins):
 * - problem: answer an RFC 8555 problem document without forwarding, with a fresh Replay-Nonce
 *   fetched from Pebble (so the client's nonce flow keeps working) and Retry-After if given;
 * - hang: never answer (the socket stays open until stop()/down());
 * - applyThenHang: forward to Pebble, then never answer (a caller killed mid-call);
 *   onHit fires after Pebble answered, so Pebble's state has already changed;
 * - drop: destroy the connection without answering (the client sees ECONNRESET / socket hang up);
 * - applyThenDrop: forward to Pebble, then destroy the connection (a lost answer);
 * - delay: wait `ms`, then forward normally (a slow CA);
 * - pass: forward normally; only onHit runs, before forwarding (a hook, e.g. to inject a DNS
 *   fault exactly when the client asks the CA to validate a challenge).
 * `down()` closes the listener and every connection (connection refused), `up()` reopens it on
 * the same port.
 *
 * Loopback only; the proxy's TLS certificate is supplied by the caller (the stack reuses Pebble's
 * listener certificate, which is for 127.0.0.1/localhost and signed by the CA already trusted).
 */
import { Agent, createServer, request as httpsRequest, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FaultList } from './faults.js';

export type AcmeOperation =
  | 'directory'
  | 'newNonce'
  | 'newAccount'
  | 'account'
  | 'newOrder'
  | 'order'
  | 'listOrders'
  | 'authz'
  | 'challenge'
  | 'finalize'
  | 'certificate'
  | 'keyChange'
  | 'revokeCert'
  | 'renewalInfo'
  | 'unknown';

/** An RFC 8555 problem document to answer with. */
export interface CaProblem {
  /** HTTP status, e.g. 429 for rateLimited, 500 for serverInternal. */
  status: number;
  /** e.g. 'urn:ietf:params:acme:error:rateLimited'. */
  type: string;
  detail: string;
  /** Seconds, sent as the Retry-After header. */
  retryAfter?: number;
  subproblems?: unknown[];
}

export type CaFaultAction =
  | { type: 'problem'; problem: CaProblem }
  | { type: 'hang' }
  | { type: 'applyThenHang' }
  | { type: 'drop' }
  | { type: 'applyThenDrop' }
  | { type: 'delay'; ms: number }
  | { type: 'pass' };

/** What a fault's `match` sees about a request. */
export interface CaRequestInfo {
  operation: AcmeOperation;
  method: string;
  /** Path and query, e.g. /my-order/abc. */
  path: string;
  /** The JWS protected header (url, nonce, kid or jwk), for POSTs with a JWS body. */
  protectedHeader?: Record<string, unknown>;
  /** The JWS payload decoded: an object, or null for POST-as-GET ('' payload). */
  payload?: unknown;
}

export interface CaFault {
  operation: AcmeOperation;
  match?: (req: CaRequestInfo) => boolean;
  /** How many times it fires; default 1; Infinity for always. */
  times?: number;
  action: CaFaultAction;
  /**
   * Runs when the fault fires (for applyThen* after Pebble answered, for delay after the delay,
   * for pass before forwarding), e.g. to kill the Lambda.
   */
  onHit?: (req: CaRequestInfo) => void;
}

export interface CaCallRecord {
  operation: AcmeOperation;
  method: string;
  path: string;
  at: number;
  /** The Replay-Nonce the request's JWS carried (signed POSTs). */
  nonce?: string;
  /** The status the client received; undefined when it got no answer (hang, drop, down). */
  status?: number;
  /** What Pebble answered, when the request was forwarded. */
  upstreamStatus?: number;
  /** The fault action applied, if any. */
  fault?: CaFaultAction['type'];
  /** Set when forwarding to Pebble failed (the client then gets a 502 or the fault's outcome). */
  upstreamError?: string;
}

/** Pebble's answer (or a local one) on its way to the client. */
export interface CaAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * What a CA of our own adds in front of Pebble (ari-ca.ts: RFC 9773 renewalInfo and `replaces`,
 * directory profiles): answers of its own, and rewrites of Pebble's answers. Faults come first.
 */
export interface CaExtension {
  /** Answer without forwarding (an endpoint Pebble lacks, a refusal Pebble does not make), or undefined. */
  intercept?(req: CaRequestInfo, origin: string): { problem: CaProblem } | CaAnswer | undefined;
  /** Pebble's answer before the client sees it; returns what the client gets. */
  answered?(req: CaRequestInfo, answer: CaAnswer, origin: string): CaAnswer;
}

export interface CaProxyOptions {
  /** Pebble's ACME listener: its origin or directory URL, e.g. https://127.0.0.1:14000/dir. */
  target: string;
  /** PEM trusted for Pebble's listener certificate. */
  targetCa: string;
  /** The proxy's TLS certificate and key (PEM), valid for 127.0.0.1. */
  cert: string;
  key: string;
  /** 0/undefined = ephemeral. Binds 127.0.0.1 only. */
  port?: number;
  /** A CA of our own in front of Pebble (see CaExtension). */
  extension?: CaExtension;
}

export interface CaProxy {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  /** https://127.0.0.1:PORT/dir — give this to the client as its ACME directory. */
  directoryUrl: string;
  calls: CaCallRecord[];
  /** Calls of one operation (all calls when undefined). */
  count(operation?: AcmeOperation): number;
  resetCalls(): void;
  /** Returns a function removing the fault. */
  addFault(fault: CaFault): () => void;
  clearFaults(): void;
  /** Requests currently held open by hang / applyThenHang. */
  hungCount(): number;
  /** Closes the listener and destroys every connection: clients get ECONNREFUSED until up(). */
  down(): Promise<void>;
  /** Reopens the listener on the same port. */
  up(): Promise<void>;
  isUp(): boolean;
  /** Closes the listener and destroys every socket, hung ones included. Idempotent. */
  stop(): Promise<void>;
}

const ADDRESS = '127.0.0.1';

/** Pebble's ACME paths → operation. */
export function classifyAcmeRequest(path: string): AcmeOperation {
  const p = path.split('?')[0] ?? path;
  if (p === '/dir') return 'directory';
  if (p === '/nonce-plz') return 'newNonce';
  if (p === '/sign-me-up') return 'newAccount';
  if (p.startsWith('/my-account/')) return 'account';
  if (p === '/order-plz') return 'newOrder';
  if (p.startsWith('/my-order/')) return 'order';
  if (p.startsWith('/list-orderz/')) return 'listOrders';
  if (p.startsWith('/authZ/')) return 'authz';
  if (p.startsWith('/chalZ/')) return 'challenge';
  if (p.startsWith('/finalize-order/')) return 'finalize';
  if (p.startsWith('/certZ/')) return 'certificate';
  if (p === '/rollover-account-key') return 'keyChange';
  if (p === '/revoke-cert') return 'revokeCert';
  if (p.startsWith('/renewal-info')) return 'renewalInfo';
  return 'unknown';
}

function decodeB64Json(s: unknown): unknown {
  if (typeof s !== 'string') return undefined;
  if (s === '') return null;
  try {
    return JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The protected header and payload of a flattened JWS body, when it is one. */
function decodeJws(body: Buffer): Pick<CaRequestInfo, 'protectedHeader' | 'payload'> {
  if (body.length === 0) return {};
  try {
    const jws = JSON.parse(body.toString('utf8')) as { protected?: unknown; payload?: unknown };
    const header = decodeB64Json(jws.protected);
    return {
      ...(header && typeof header === 'object' ? { protectedHeader: header as Record<string, unknown> } : {}),
      payload: decodeB64Json(jws.payload),
    };
  } catch {
    return {};
  }
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'content-length',
]);

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

type Upstream = CaAnswer;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startCaProxy(opts: CaProxyOptions): Promise<CaProxy> {
  const target = new URL(opts.target);
  const agent = new Agent({ keepAlive: true, ca: opts.targetCa });
  const calls: CaCallRecord[] = [];
  const faults = new FaultList<CaFault>();
  const sockets = new Set<Socket>();
  const hung = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  /** Forward one request to Pebble, Host header preserved. */
  function forward(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Upstream> {
    const out: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    }
    if (body.length > 0) out['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          protocol: 'https:',
          hostname: target.hostname,
          port: target.port,
          method,
          path,
          headers: out,
          agent,
          // The client's Host is 127.0.0.1:PROXY; Pebble's certificate is checked for the target.
          servername: target.hostname === ADDRESS ? '' : target.hostname,
          timeout: 30_000,
        },
        (res) => {
          readAll(res).then((b) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }), reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`Pebble did not answer ${method} ${path} within 30 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A fresh nonce from Pebble (HEAD /nonce-plz), or undefined if Pebble does not give one. */
  async function freshNonce(host: string | undefined): Promise<string | undefined> {
    try {
      const res = await forward('HEAD', '/nonce-plz', host ? { host } : {}, Buffer.alloc(0));
      const nonce = res.headers['replay-nonce'];
      return Array.isArray(nonce) ? nonce[0] : nonce;
    } catch {
      return undefined;
    }
  }

  function takeFault(info: CaRequestInfo): CaFault | undefined {
    return faults.take((f) => f.operation === info.operation && (!f.match || f.match(info)));
  }

  function hang(socket: Socket): void {
    if (socket.destroyed) return;
    hung.add(socket);
    socket.once('close', () => hung.delete(socket));
  }

  function sendUpstream(res: ServerResponse, method: string, up: Upstream): void {
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(up.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    headers['content-length'] = String(up.body.length);
    res.writeHead(up.status, headers);
    res.end(method === 'HEAD' ? undefined : up.body);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const body = await readAll(req);
    const operation = classifyAcmeRequest(path);
    const info: CaRequestInfo = { operation, method, path, ...decodeJws(body) };
    const nonce = info.protectedHeader?.['nonce'];
    const record: CaCallRecord = {
      operation,
      method,
      path,
      at: Date.now(),
      ...(typeof nonce === 'string' ? { nonce } : {}),
    };
    calls.push(record);
    const fault = takeFault(info);
    if (fault) record.fault = fault.action.type;
    const action = fault?.action;

    if (action?.type === 'hang') {
      fault?.onHit?.(info);
      hang(req.socket);
      return;
    }
    if (action?.type === 'drop') {
      fault?.onHit?.(info);
      req.socket.destroy();
      return;
    }
    const sendProblem = async (p: CaProblem): Promise<void> => {
      const nonce = await freshNonce(req.headers.host);
      const doc = JSON.stringify({
        type: p.type,
        detail: p.detail,
        status: p.status,
        ...(p.subproblems ? { subproblems: p.subproblems } : {}),
      });
      const headers: OutgoingHttpHeaders = {
        'content-type': 'application/problem+json',
        'content-length': String(Buffer.byteLength(doc)),
        'cache-control': 'public, max-age=0, no-cache',
        link: `<https://${req.headers.host ?? `${ADDRESS}:${port}`}/dir>;rel="index"`,
      };
      if (nonce !== undefined) headers['replay-nonce'] = nonce;
      if (p.retryAfter !== undefined) headers['retry-after'] = String(p.retryAfter);
      record.status = p.status;
      res.writeHead(p.status, headers);
      res.end(method === 'HEAD' ? undefined : doc);
    };
    if (action?.type === 'problem') {
      fault?.onHit?.(info);
      await sendProblem(action.problem);
      return;
    }
    if (action?.type === 'delay') {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, action.ms);
        timers.add(t);
      });
      if (stopped || req.socket.destroyed) return;
      fault?.onHit?.(info);
    }

    if (action?.type === 'pass') fault?.onHit?.(info);

    const origin = `https://${req.headers.host ?? `${ADDRESS}:${port}`}`;
    const local = opts.extension?.intercept?.(info, origin);
    if (local && 'problem' in local) {
      await sendProblem(local.problem);
      return;
    }
    if (local) {
      record.status = local.status;
      sendUpstream(res, method, local);
      return;
    }

    let up: Upstream;
    try {
      up = await forward(method, path, req.headers, body);
    } catch (err) {
      record.upstreamError = err instanceof Error ? err.message : String(err);
      if (action?.type === 'applyThenHang' || action?.type === 'applyThenDrop') {
        fault?.onHit?.(info);
        if (action.type === 'applyThenHang') hang(req.socket);
        else req.socket.destroy();
        return;
      }
      record.status = 502;
      const text = `CA proxy: forwarding to Pebble failed: ${record.upstreamError}`;
      res.writeHead(502, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    record.upstreamStatus = up.status;
    if (opts.extension?.answered) up = opts.extension.answered(info, up, origin);
    if (action?.type === 'applyThenHang') {
      fault?.onHit?.(info);
      hang(req.socket);
      return;
    }
    if (action?.type === 'applyThenDrop') {
      fault?.onHit?.(info);
      req.socket.destroy();
      return;
    }
    record.status = up.status;
    sendUpstream(res, method, up);
  }

  const server: Server = createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        const text = `CA proxy error: ${String(e)}`;
        res.writeHead(500, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(text)) });
        res.end(text);
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);

  const listen = (p: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, ADDRESS, () => {
        server.off('error', reject);
        resolve();
      });
    });

  const closeAll = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!server.listening) {
        for (const s of sockets) s.destroy();
        resolve();
        return;
      }
      server.close(() => resolve());
      for (const s of hung) s.destroy();
      hung.clear();
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
    });

  await listen(opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const url = `https://${ADDRESS}:${port}`;
  let listening = true;
  let stopping: Promise<void> | undefined;

  return {
    url,
    port,
    directoryUrl: `${url}/dir`,
    calls,
    count(operation?: AcmeOperation): number {
      return calls.filter((c) => operation === undefined || c.operation === operation).length;
    },
    resetCalls(): void {
      calls.length = 0;
    },
    addFault: (fault: CaFault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    hungCount: () => hung.size,
    async down(): Promise<void> {
      if (stopped || !listening) return;
      listening = false;
      await closeAll();
    },
    async up(): Promise<void> {
      if (stopped) throw new Error('the CA proxy is stopped');
      if (listening) return;
      await listen(port);
      listening = true;
    },
    isUp: () => listening,
    stop(): Promise<void> {
      stopping ??= (async () => {
        stopped = true;
        listening = false;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        await closeAll();
        agent.destroy();
      })();
      return stopping;
    },
  };
}

/** Waits up to `ms` for `cond`; for tests polling the proxy's call log. */
export async function waitFor(cond: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}
