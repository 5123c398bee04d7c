import acme from 'acme-client';
import axios, { type AxiosAdapter } from 'axios';
import type { Authorization, Order } from 'acme-client';
import { AcmeError, errorMessage } from '../errors.js';
import type { AcmeAccount } from './account.js';

// acme-client's own retry sleeps for whatever Retry-After says (possibly past the Lambda's
// timeout) and its status polling waits 5 s before a second look. We bound both ourselves:
// no hidden retries inside the library, a request timeout, and our own deadline-aware polling.
// acmeSettings is acme-client's addition to its axios instance's defaults (not in axios' types).
(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
acme.axios.defaults.timeout = 15_000;
acme.setLogger(() => undefined);

// acme-client's response interceptor dereferences `error.response.config` and turns a request
// that got no response at all (refused, DNS failure, timeout) into "Cannot read properties of
// undefined". An error without `config` passes through it untouched, so the real cause survives.
const httpAdapter: AxiosAdapter = axios.getAdapter('http');
acme.axios.defaults.adapter = async (config) => {
  try {
    return await httpAdapter(config);
  } catch (err) {
    if (err && typeof err === 'object' && !('response' in err && (err as { response?: unknown }).response)) {
      delete (err as { config?: unknown }).config;
    }
    throw err;
  }
};

export type AcmeOrder = Order;
export type AcmeAuthorization = Authorization;
export type AcmeChallenge = Authorization['challenges'][number];

/** Turn whatever acme-client/axios threw into an AcmeError that says which CA call failed and why. */
export function mapAcmeError(operation: string, directoryUrl: string, err: unknown): AcmeError {
  if (err instanceof AcmeError) return err;
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    /^(ECONNREFUSED|ENOTFOUND|ECONNRESET|ETIMEDOUT|ECONNABORTED|EAI_AGAIN|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED)/.test(
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
  getOrder(order: Order): Promise<Order>;
  getAuthorizations(order: Order): Promise<Authorization[]>;
  keyAuthorization(challenge: AcmeChallenge): Promise<string>;
  completeChallenge(challenge: AcmeChallenge): Promise<unknown>;
  finalize(order: Order, csr: Buffer): Promise<Order>;
  download(order: Order): Promise<string>;
  createCsr(domains: string[], keyPem: string): Promise<Buffer>;
}

/**
 * Thin adapter over acme-client's low-level order methods (not `auto()`, which cannot send
 * `profile` or `replaces`). Every call maps errors to AcmeError carrying the CA's problem detail.
 */
export class AcmeCa implements CaClient {
  readonly client: acme.Client;
  /** CA requests made, by operation, for the per-rotation call count. */
  readonly calls: Record<string, number> = {};

  constructor(
    readonly directoryUrl: string,
    account: AcmeAccount,
  ) {
    this.client = new acme.Client({
      directoryUrl,
      accountKey: account.accountKeyPem,
      ...(account.accountUrl ? { accountUrl: account.accountUrl } : {}),
      ...(account.eab ? { externalAccountBinding: { kid: account.eab.kid, hmacKey: account.eab.hmacKey } } : {}),
    });
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    try {
      return await fn();
    } catch (err) {
      throw mapAcmeError(operation, this.directoryUrl, err);
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
    const http = (this.client as unknown as { http: { getDirectory(): Promise<Record<string, unknown>> } }).http;
    const directory = await this.call('directory', () => http.getDirectory());
    return typeof directory.renewalInfo === 'string';
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

  download(order: Order): Promise<string> {
    return this.call('downloadCertificate', () => this.client.getCertificate(order));
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
