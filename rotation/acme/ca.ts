/**
 * The CA adapter: acme-client's low-level order methods behind CaClient, each call bounded by the
 * deadline, retried on rate limits and 5xx within it, and failing with an AcmeError that carries
 * the CA's problem. The library's internals are touched only through client-patches.ts.
 */
import acme from 'acme-client';
import type { Authorization, Order } from 'acme-client';
import type { Deadline } from '../lib/deadline.js';
import type { Logger } from '../lib/log.js';
import { retry } from '../lib/retry.js';
import type { AcmeAccount } from './account.js';
import { chainMatches, topIssuerName } from './chains.js';
import { readDirectory, setBadNonceRetries, shareDirectory, useNonces } from './client-patches.js';
import { describeProblem, mapAcmeError, retryable } from './problems.js';
import {
  callStore,
  DIRECTORY_MAX_AGE_MS,
  isDirectory,
  memoryOf,
  takeNonce,
  type CallStore,
  type CaMemory,
} from './transport.js';

export type AcmeOrder = Order;
export type AcmeAuthorization = Authorization;
export type AcmeChallenge = Authorization['challenges'][number];

/** What the order flow needs from a CA (AcmeCa implements it; unit tests fake it). */
export interface CaClient {
  readonly calls: Record<string, number>;
  createOrder(domains: string[], profile: string | undefined, replaces?: string): Promise<Order>;
  /** Whether the CA advertises ACME Renewal Information (RFC 9773), i.e. accepts `replaces`. */
  supportsRenewalInfo(): Promise<boolean>;
  /** The profiles the directory lists (`meta.profiles`: name → description); undefined when it lists none. */
  profiles(): Promise<Record<string, string> | undefined>;
  /**
   * The names this CA answers to in CAA records (the directory's `meta.caaIdentities`); undefined
   * when it lists none.
   */
  caaIdentities(): Promise<string[] | undefined>;
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
    const kept = memoryOf(directoryUrl);
    this.memory = kept;
    useNonces(this.client, () => takeNonce(kept));
    setBadNonceRetries(this.client, opts.maxBadNonceRetries ?? 20);
    const fresh = kept.directory && Date.now() - kept.directory.fetchedAt < DIRECTORY_MAX_AGE_MS;
    shareDirectory(this.client, fresh ? kept.directory : undefined, (data) => {
      // Keep only what is a directory (a maintenance page answered with 200 is not one).
      if (kept.directory?.data !== data && isDirectory(data)) kept.directory = { data, fetchedAt: Date.now() };
    });
  }

  private call<T>(operation: string, fn: () => Promise<T>, answered?: (store: CallStore) => void): Promise<T> {
    // The store of the latest attempt: what the transport saw of the CA's answer (its problem).
    let store: CallStore | undefined;
    return retry(
      async () => {
        this.calls[operation] = (this.calls[operation] ?? 0) + 1;
        const current: CallStore = { nonces: this.memory.nonces, timeoutMs: this.opts.requestTimeoutMs ?? 15_000 };
        store = current;
        const value = await callStore.run(current, fn);
        answered?.(current);
        return value;
      },
      {
        // Rate limits and 5xx answers, as the CA asks (Retry-After) or after a growing pause.
        retryable: () => retryable(store?.problem),
        maxAttempts: this.opts.maxAttempts ?? 3,
        waitMs: (_err, attempt) => store?.problem?.retryAfterMs ?? (this.opts.serverErrorDelayMs ?? 1_000) * attempt,
        remainingMs: () => this.opts.deadline?.remainingMs() ?? Infinity,
        onWait: (_err, attempt, waitMs) =>
          this.opts.logger?.warn('the CA asked to wait; retrying', {
            operation,
            attempt,
            waitMs,
            problem: store?.problem ? describeProblem(store.problem) : undefined,
          }),
        giveUp: (err, why) => {
          // Whatever failed, the next client starts afresh: a kept directory may be what broke
          // (an endpoint moved), and the next invocation is then no worse off than before it was kept.
          delete this.memory.directory;
          const gaveUp = why.reason === 'attempts' ? `still refused after ${why.attempt} attempts` : undefined;
          return mapAcmeError(operation, this.directoryUrl, err, store?.problem, gaveUp);
        },
      },
    );
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
    // The directory is fetched (and cached) by acme-client anyway.
    const directory = await this.call('directory', () => readDirectory(this.client));
    return typeof directory.renewalInfo === 'string';
  }

  async profiles(): Promise<Record<string, string> | undefined> {
    const directory = await this.call('directory', () => readDirectory(this.client));
    const meta = directory.meta;
    const profiles = meta && typeof meta === 'object' ? (meta as { profiles?: unknown }).profiles : undefined;
    if (!profiles || typeof profiles !== 'object' || Array.isArray(profiles)) return undefined;
    return Object.fromEntries(Object.entries(profiles).map(([name, text]) => [name, String(text)]));
  }

  async caaIdentities(): Promise<string[] | undefined> {
    const directory = await this.call('directory', () => readDirectory(this.client));
    const meta = directory.meta;
    const ids = meta && typeof meta === 'object' ? (meta as { caaIdentities?: unknown }).caaIdentities : undefined;
    if (!Array.isArray(ids)) return undefined;
    const names = ids.filter((id): id is string => typeof id === 'string' && id.trim() !== '');
    return names.length > 0 ? names : undefined;
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
