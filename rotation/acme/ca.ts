import { AsyncLocalStorage } from 'node:async_hooks';
import acme from 'acme-client';
import axios, { type AxiosAdapter } from 'axios';
import type { Authorization, Order } from 'acme-client';
import type { Deadline } from '../deadline.js';
import { AcmeError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { AcmeAccount } from './account.js';
import { chainMatches, topIssuerName } from './chains.js';

// acme-client's own retry sleeps for whatever Retry-After says (possibly past the Lambda's
// timeout) and its status polling waits 5 s before a second look. We bound both ourselves:
// no hidden retries inside the library, a request timeout, and our own deadline-aware polling
// and rate-limit waits (AcmeCa.call).
// acmeSettings is acme-client's addition to its axios instance's defaults (not in axios' types).
(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
acme.axios.defaults.timeout = 15_000;
acme.setLogger(() => undefined);

/** An RFC 8555 problem document the CA answered with, and what came with it. */
export interface AcmeProblem {
  status: number;
  /** e.g. urn:ietf:params:acme:error:rateLimited */
  type: string;
  detail: string;
  /** Retry-After, in ms from when it was received. */
  retryAfterMs?: number;
  subproblems: { type: string; detail: string; identifier?: string }[];
}

/** Per-call state shared with the HTTP adapter below through the async context. */
interface CallStore {
  /** The last error answer of this call (cleared by a success answer). */
  problem?: AcmeProblem;
  /** Per-request timeout for this client. */
  timeoutMs?: number;
  /** Replay-Nonce values received from this CA, reused for its next signed requests. */
  nonces?: Nonce[];
  /** `Link: <…>;rel="alternate"` targets of the last success answer (alternate certificate chains). */
  alternates?: string[];
}
const callStore = new AsyncLocalStorage<CallStore>();

interface Nonce {
  value: string;
  receivedAt: number;
}

/**
 * What a warm container keeps of a CA between invocations: its directory (acme-client itself
 * keeps one for 24 h; an hour here) and unused Replay-Nonce values young enough to be accepted.
 * A burst of rotations in one container then skips the directory GET and the HEAD newNonce that
 * each new client would otherwise spend. A nonce the CA no longer accepts costs one badNonce
 * answer, which carries a fresh nonce: no worse than the HEAD it replaces.
 */
interface CaMemory {
  directory?: { data: Record<string, unknown>; fetchedAt: number };
  nonces: Nonce[];
}
const DIRECTORY_MAX_AGE_MS = 3_600_000;
const NONCE_MAX_AGE_MS = 60_000;
const MAX_NONCES = 20;
const caMemory = new Map<string, CaMemory>();

/** Retry-After as ms: delta-seconds or an HTTP date (RFC 9110). */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The problem document of an error answer (status ≥ 400); a body that is none becomes its detail. */
export function parseProblem(status: number, headers: Record<string, unknown>, data: unknown): AcmeProblem {
  let body: unknown = data;
  if (Buffer.isBuffer(body)) body = body.toString('utf8');
  if (typeof body === 'string') {
    const text: string = body;
    try {
      body = JSON.parse(text);
    } catch {
      body = { detail: text.slice(0, 300) };
    }
  }
  const doc = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const subs = Array.isArray(doc.subproblems) ? (doc.subproblems as Record<string, unknown>[]) : [];
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  return {
    status,
    type: typeof doc.type === 'string' ? doc.type : '',
    detail: typeof doc.detail === 'string' ? doc.detail : '',
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    subproblems: subs.map((sp) => ({
      type: typeof sp.type === 'string' ? sp.type : '',
      detail: typeof sp.detail === 'string' ? sp.detail : '',
      ...(sp.identifier && typeof (sp.identifier as { value?: unknown }).value === 'string'
        ? { identifier: (sp.identifier as { value: string }).value }
        : {}),
    })),
  };
}

// The HTTP adapter under acme-client: applies the calling client's request timeout, collects
// Replay-Nonce values (acme-client would otherwise spend a HEAD newNonce round trip on every
// signed request) and keeps the problem document of an error answer, which acme-client reduces
// to its `detail` text. acme-client makes axios reject every answer (validateStatus → false)
// and sorts them out in an interceptor, so answers arrive here as rejections with a response.
// acme-client's response interceptor dereferences `error.response.config` and turns a request
// that got no response at all (refused, DNS failure, timeout) into "Cannot read properties of
// undefined". An error without `config` passes through it untouched, so the real cause survives.
const httpAdapter: AxiosAdapter = axios.getAdapter('http');
acme.axios.defaults.adapter = async (config) => {
  const store = callStore.getStore();
  if (store?.timeoutMs) config.timeout = store.timeoutMs;
  try {
    return await httpAdapter(config);
  } catch (err) {
    const response = (err as { response?: { status: number; headers: Record<string, unknown>; data: unknown } })
      .response;
    if (!response) {
      if (err && typeof err === 'object') delete (err as { config?: unknown }).config;
      throw err;
    }
    if (store) {
      const nonce = response.headers['replay-nonce'];
      // Not the answer to HEAD newNonce: acme-client uses that nonce itself, for the request that asked.
      const banked = typeof nonce === 'string' && nonce && response.status < 400 && config.method !== 'head';
      if (banked && store.nonces) {
        store.nonces.push({ value: nonce, receivedAt: Date.now() });
        if (store.nonces.length > MAX_NONCES) store.nonces.shift();
      }
      if (response.status >= 400) store.problem = parseProblem(response.status, response.headers, response.data);
      else {
        delete store.problem;
        store.alternates = alternateLinks(response.headers.link);
      }
    }
    throw err;
  }
};

/** The targets of `Link: <url>;rel="alternate"` headers (RFC 8555 §7.4.2: alternate chains). */
export function alternateLinks(header: unknown): string[] {
  const values = Array.isArray(header) ? header : typeof header === 'string' ? [header] : [];
  const out: string[] = [];
  for (const value of values) {
    for (const m of String(value).matchAll(/<([^>]+)>\s*((?:;\s*[^;,]+)*)/g)) {
      if (/;\s*rel\s*=\s*"?alternate"?/i.test(m[2] ?? '') && m[1]) out.push(m[1]);
    }
  }
  return out;
}

const ACME_ERROR = 'urn:ietf:params:acme:error:';
const shortType = (type: string): string => (type.startsWith(ACME_ERROR) ? type.slice(ACME_ERROR.length) : type);

function describeProblem(p: AcmeProblem): string {
  const subs = p.subproblems
    .map((sp) => `${sp.identifier ? `${sp.identifier}: ` : ''}${shortType(sp.type)} ${sp.detail}`.trim())
    .join('; ');
  return `${shortType(p.type) || 'error'} (HTTP ${p.status}): ${p.detail || 'no detail given'}${subs ? ` [${subs}]` : ''}`;
}

/** Wait the CA asked for, as words. */
function retryAfterText(p: AcmeProblem, now = Date.now()): string {
  if (p.retryAfterMs === undefined) return 'it gave no Retry-After';
  return `it asks to retry after ${Math.ceil(p.retryAfterMs / 1000)} s (${new Date(now + p.retryAfterMs).toISOString()})`;
}

export type AcmeOrder = Order;
export type AcmeAuthorization = Authorization;
export type AcmeChallenge = Authorization['challenges'][number];

/** Turn whatever acme-client/axios threw into an AcmeError that says which CA call failed and why. */
export function mapAcmeError(
  operation: string,
  directoryUrl: string,
  err: unknown,
  problem?: AcmeProblem,
  /** Why the rotation did not wait and retry (rate limits). */
  gaveUp = 'longer than this invocation has left',
): AcmeError {
  if (err instanceof AcmeError) return err;
  const code = (err as { code?: unknown }).code;
  if (
    !problem &&
    typeof code === 'string' &&
    /^(ECONNREFUSED|ENOTFOUND|ECONNRESET|ETIMEDOUT|ECONNABORTED|EAI_AGAIN|EPIPE|ERR_SOCKET|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED)/.test(
      code,
    )
  ) {
    return new AcmeError(
      'AcmeUnreachable',
      `could not reach the CA at ${directoryUrl} during ${operation}: ${code} ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  if (problem) {
    const type = shortType(problem.type);
    const facts = { cause: err, problem: { type, status: problem.status } };
    if (type === 'rateLimited' || problem.status === 429) {
      return new AcmeError(
        'AcmeRateLimited',
        `the CA rate-limited ${operation}: ${describeProblem(problem)}; ${retryAfterText(problem)}: ${gaveUp}. ` +
          'Secrets Manager retries the rotation on its schedule; ' +
          'renewals sent as ARI replacements are exempt from most limits',
        facts,
      );
    }
    const codes: Record<string, string> = {
      rejectedIdentifier: 'AcmeRejectedIdentifier',
      unauthorized: 'AcmeUnauthorized',
      caa: 'AcmeCaaForbids',
      badNonce: 'AcmeBadNonce',
      accountDoesNotExist: 'AcmeAccountMissing',
      externalAccountRequired: 'AcmeExternalAccountRequired',
    };
    // A 5xx is the CA failing, not refusing: Secrets Manager's retry is the remedy.
    const verb = problem.status >= 500 ? 'CA failed' : 'CA rejected';
    return new AcmeError(
      codes[type] ?? 'AcmeRequestFailed',
      `${verb} ${operation}: ${describeProblem(problem)}`,
      facts,
    );
  }
  return new AcmeError('AcmeRequestFailed', `CA rejected ${operation}: ${errorMessage(err) || 'no detail given'}`, {
    cause: err,
  });
}

/** What the order flow needs from a CA (AcmeCa implements it; unit tests fake it). */
export interface CaClient {
  readonly calls: Record<string, number>;
  createOrder(domains: string[], profile: string | undefined, replaces?: string): Promise<Order>;
  /** Whether the CA advertises ACME Renewal Information (RFC 9773), i.e. accepts `replaces`. */
  supportsRenewalInfo(): Promise<boolean>;
  /** The profiles the directory lists (`meta.profiles`: name → description); undefined when it lists none. */
  profiles(): Promise<Record<string, string> | undefined>;
  /** The account's URL (its identity at this CA), once known. */
  accountUrl(): string | undefined;
  getOrder(order: Order): Promise<Order>;
  getAuthorizations(order: Order): Promise<Authorization[]>;
  keyAuthorization(challenge: AcmeChallenge): Promise<string>;
  completeChallenge(challenge: AcmeChallenge): Promise<unknown>;
  finalize(order: Order, csr: Buffer): Promise<Order>;
  /**
   * The certificate chain (PEM, leaf first). With `preferredChain`, the chain the CA offers whose
   * topmost certificate is issued by (or is) that common name, else the default one.
   */
  download(order: Order, preferredChain?: string): Promise<string>;
  createCsr(domains: string[], keyPem: string): Promise<Buffer>;
}

export interface AcmeCaOptions {
  /** Waits the CA asks for (Retry-After) never go past this deadline. */
  deadline?: Deadline;
  /** Bound on one HTTP request to the CA. Default 15 s. */
  requestTimeoutMs?: number;
  logger?: Logger;
  /** Attempts of one CA call that was rate-limited or failed with 5xx. Default 3. */
  maxAttempts?: number;
  /** Wait before retrying a 5xx answer without Retry-After (ms). Default 1000. */
  serverErrorDelayMs?: number;
  /**
   * badNonce answers retried per request (acme-client's default is 5). Default 20: a badNonce
   * costs one round trip, and a CA may reject any nonce at random (RFC 8555 §6.5), so with
   * rejection rate r a request fails only with probability r^(n+1); at Pebble's test setting of
   * 50 %, 10 retries failed one request in 2048, about one rotation in 40 (seen in CI).
   */
  maxBadNonceRetries?: number;
}

/** Answers worth a second try after a wait: rate limits and server errors (RFC 8555 §6.6). */
function retryable(p: AcmeProblem | undefined): p is AcmeProblem {
  if (!p) return false;
  return shortType(p.type) === 'rateLimited' || p.status === 429 || p.status >= 500;
}

/** An RFC 8555 directory: at least the three resources every rotation uses. */
function isDirectory(data: unknown): data is Record<string, unknown> {
  if (!data || typeof data !== 'object') return false;
  const d = data as Record<string, unknown>;
  return ['newNonce', 'newAccount', 'newOrder'].every((k) => typeof d[k] === 'string');
}

/** The parts of acme-client's HttpClient used here (not in its types). */
interface AcmeHttp {
  getNonce(): Promise<string>;
  getDirectory(): Promise<Record<string, unknown>>;
  maxBadNonceRetries: number;
  directoryCache: Record<string, unknown> | null;
  directoryTimestamp: number;
}

/**
 * Thin adapter over acme-client's low-level order methods (not `auto()`, which cannot send
 * `profile` or `replaces`). Every call maps errors to AcmeError carrying the CA's problem detail.
 */
export class AcmeCa implements CaClient {
  readonly client: acme.Client;
  /** CA requests made, by operation, for the per-rotation call count. */
  readonly calls: Record<string, number> = {};
  /** What this container keeps of the CA (shared by every client of the same directory URL). */
  private readonly memory: CaMemory;

  constructor(
    readonly directoryUrl: string,
    account: AcmeAccount,
    private readonly opts: AcmeCaOptions = {},
  ) {
    this.client = new acme.Client({
      directoryUrl,
      accountKey: account.accountKeyPem,
      ...(account.accountUrl ? { accountUrl: account.accountUrl } : {}),
      ...(account.eab ? { externalAccountBinding: { kid: account.eab.kid, hmacKey: account.eab.hmacKey } } : {}),
    });
    // Reuse the Replay-Nonce of earlier answers (RFC 8555 §7.2) before asking newNonce for one, and
    // ride out more badNonce answers than acme-client's default: a CA may reject any nonce.
    const http = (this.client as unknown as { http: AcmeHttp }).http;
    const kept = caMemory.get(directoryUrl) ?? { nonces: [] };
    caMemory.set(directoryUrl, kept);
    this.memory = kept;
    const fresh = http.getNonce.bind(http);
    http.getNonce = () => {
      const oldest = Date.now() - NONCE_MAX_AGE_MS;
      for (let nonce = kept.nonces.pop(); nonce; nonce = kept.nonces.pop()) {
        if (nonce.receivedAt >= oldest) return Promise.resolve(nonce.value);
      }
      return fresh();
    };
    http.maxBadNonceRetries = opts.maxBadNonceRetries ?? 20;
    if (kept.directory && Date.now() - kept.directory.fetchedAt < DIRECTORY_MAX_AGE_MS) {
      http.directoryCache = kept.directory.data;
      http.directoryTimestamp = Math.floor(kept.directory.fetchedAt / 1000);
    }
    const getDirectory = http.getDirectory.bind(http);
    http.getDirectory = async () => {
      const data = await getDirectory();
      // Keep only what is a directory (a maintenance page answered with 200 is not one).
      if (kept.directory?.data !== data && isDirectory(data)) kept.directory = { data, fetchedAt: Date.now() };
      return data;
    };
  }

  private async call<T>(operation: string, fn: () => Promise<T>, answered?: (store: CallStore) => void): Promise<T> {
    const maxAttempts = this.opts.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      this.calls[operation] = (this.calls[operation] ?? 0) + 1;
      const store: CallStore = { nonces: this.memory.nonces, timeoutMs: this.opts.requestTimeoutMs ?? 15_000 };
      try {
        const value = await callStore.run(store, fn);
        answered?.(store);
        return value;
      } catch (err) {
        const problem = store.problem;
        let gaveUp: string | undefined;
        if (retryable(problem)) {
          const waitMs = problem.retryAfterMs ?? (this.opts.serverErrorDelayMs ?? 1_000) * attempt;
          const left = this.opts.deadline?.remainingMs() ?? Infinity;
          if (attempt >= maxAttempts) gaveUp = `still refused after ${attempt} attempts`;
          else if (waitMs <= left) {
            this.opts.logger?.warn('the CA asked to wait; retrying', {
              operation,
              attempt,
              waitMs,
              problem: describeProblem(problem),
            });
            await new Promise((resolve) => setTimeout(resolve, waitMs));
            continue;
          }
        }
        // Whatever failed, the next client starts afresh: a kept directory may be what broke
        // (an endpoint moved), and the next invocation is then no worse off than before it was kept.
        delete this.memory.directory;
        throw mapAcmeError(operation, this.directoryUrl, err, problem, gaveUp);
      }
    }
  }

  /** Register (or find) the account for our key; returns the account URL. */
  async register(email: string | undefined): Promise<string> {
    await this.call('newAccount', () =>
      this.client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) }),
    );
    return this.client.getAccountUrl();
  }

  createOrder(domains: string[], profile: string | undefined, replaces?: string): Promise<Order> {
    // createOrder sends its payload as is, so RFC 9773's `replaces` and the profile ride along.
    const payload = {
      identifiers: domains.map((value) => ({ type: 'dns', value })),
      ...(profile ? { profile } : {}),
      ...(replaces ? { replaces } : {}),
    };
    return this.call('newOrder', () => this.client.createOrder(payload));
  }

  async supportsRenewalInfo(): Promise<boolean> {
    // The directory is fetched (and cached) by acme-client anyway; its reader is not in the types.
    const http = (this.client as unknown as { http: AcmeHttp }).http;
    const directory = await this.call('directory', () => http.getDirectory());
    return typeof directory.renewalInfo === 'string';
  }

  async profiles(): Promise<Record<string, string> | undefined> {
    const http = (this.client as unknown as { http: AcmeHttp }).http;
    const directory = await this.call('directory', () => http.getDirectory());
    const meta = directory.meta;
    const profiles = meta && typeof meta === 'object' ? (meta as { profiles?: unknown }).profiles : undefined;
    if (!profiles || typeof profiles !== 'object' || Array.isArray(profiles)) return undefined;
    return Object.fromEntries(Object.entries(profiles).map(([name, text]) => [name, String(text)]));
  }

  accountUrl(): string | undefined {
    try {
      return this.client.getAccountUrl();
    } catch {
      return undefined; // not registered yet
    }
  }

  getOrder(order: Order): Promise<Order> {
    return this.call('getOrder', () => this.client.getOrder(order));
  }

  getAuthorizations(order: Order): Promise<Authorization[]> {
    return this.call('getAuthorizations', () => this.client.getAuthorizations(order));
  }

  keyAuthorization(challenge: AcmeChallenge): Promise<string> {
    return this.call('keyAuthorization', () => this.client.getChallengeKeyAuthorization(challenge));
  }

  completeChallenge(challenge: AcmeChallenge): Promise<unknown> {
    return this.call('respondChallenge', () => this.client.completeChallenge(challenge));
  }

  finalize(order: Order, csr: Buffer): Promise<Order> {
    return this.call('finalize', () => this.client.finalizeOrder(order, csr));
  }

  async download(order: Order, preferredChain?: string): Promise<string> {
    let alternates: string[] = [];
    const chain = await this.call(
      'downloadCertificate',
      () => this.client.getCertificate(order),
      (store) => (alternates = store.alternates ?? []),
    );
    if (!preferredChain || chainMatches(chain, preferredChain)) return chain;
    // Each alternate chain is a certificate URL of its own (RFC 8555 §7.4.2), read like the default.
    const offered = [chain];
    for (const url of alternates) {
      const other = await this.call('downloadCertificate', () =>
        this.client.getCertificate({ ...order, status: 'valid', certificate: url }),
      );
      if (chainMatches(other, preferredChain)) {
        this.opts.logger?.info('using the preferred chain (ACME_PREFERRED_CHAIN)', {
          preferredChain,
          topIssuer: topIssuerName(other),
        });
        return other;
      }
      offered.push(other);
    }
    this.opts.logger?.warn('no chain the CA offers matches ACME_PREFERRED_CHAIN; using the default chain', {
      preferredChain,
      offered: offered.map(topIssuerName),
    });
    return chain;
  }

  async createCsr(domains: string[], keyPem: string): Promise<Buffer> {
    // The CN is optional for public CAs; keep the first name when it fits the 64-char limit.
    const first = domains[0];
    const commonName = first !== undefined && first.length <= 64 ? first : undefined;
    const [, csr] = await acme.crypto.createCsr(
      { altNames: [...domains], ...(commonName ? { commonName } : {}) },
      keyPem,
    );
    return csr;
  }
}
