/**
 * Every use of acme-client beyond its public API, in one place. Written against acme-client
 * 5.4.0, pinned exactly in package.json; tests/unit/acme-client-patches.test.ts fails when an
 * upgrade removes or renames anything below (`missingInternals()` lists it).
 *
 * What is relied on, and why:
 * - `acme.axios.defaults.acmeSettings.retryMaxAttempts`: the library's own 429/503 retry sleeps
 *   for whatever Retry-After says, past a Lambda's timeout; it is turned off (AcmeCa retries
 *   within its deadline instead).
 * - `acme.axios.defaults.adapter` (axios' public option on the library's exported instance) and
 *   the library making axios reject every answer (`validateStatus` → false) to sort them out in a
 *   response interceptor: answers reach an adapter wrapper as rejections with a `response`.
 *   That interceptor reads `error.response.config`; an error without `config` passes untouched.
 * - `client.http` (its HttpClient): `getNonce()` (a HEAD newNonce per signed request unless
 *   replaced), `getDirectory()`, `maxBadNonceRetries`, and the directory cache
 *   (`directoryCache`, `directoryTimestamp` in seconds) a warm container seeds.
 */
import { generateKeyPairSync } from 'node:crypto';
import acme from 'acme-client';
import type { AxiosAdapter } from 'axios';

/** The acme-client version these patches were written against (package.json pins it). */
export const ACME_CLIENT_VERSION = '5.4.0';

/** The parts of acme-client's HttpClient used here (not in its types). */
export interface AcmeHttp {
  getNonce(): Promise<string>;
  getDirectory(): Promise<Record<string, unknown>>;
  maxBadNonceRetries: number;
  directoryCache: Record<string, unknown> | null;
  directoryTimestamp: number;
}

interface AcmeAxiosDefaults {
  acmeSettings?: { retryMaxAttempts?: number };
}

function httpOf(client: acme.Client): AcmeHttp {
  return (client as unknown as { http: AcmeHttp }).http;
}

/** What of the above a given acme-client lacks (empty when every patch has its hook). */
export function missingInternals(): string[] {
  const missing: string[] = [];
  const settings = (acme.axios.defaults as unknown as AcmeAxiosDefaults).acmeSettings;
  if (typeof settings?.retryMaxAttempts !== 'number') missing.push('axios.defaults.acmeSettings.retryMaxAttempts');
  if (typeof acme.setLogger !== 'function') missing.push('setLogger');
  const probe = new acme.Client({
    directoryUrl: 'https://acme.invalid/directory',
    // A throw-away key made here: the probe only needs the client's shape, never signs anything.
    accountKey: generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
  });
  const http = (probe as unknown as { http?: Partial<AcmeHttp> }).http;
  if (!http) return [...missing, 'client.http'];
  if (typeof http.getNonce !== 'function') missing.push('client.http.getNonce');
  if (typeof http.getDirectory !== 'function') missing.push('client.http.getDirectory');
  if (typeof http.maxBadNonceRetries !== 'number') missing.push('client.http.maxBadNonceRetries');
  if (!('directoryCache' in http)) missing.push('client.http.directoryCache');
  if (typeof http.directoryTimestamp !== 'number') missing.push('client.http.directoryTimestamp');
  return missing;
}

/**
 * Library-wide settings, applied once at load: no hidden retries, a default request timeout, no
 * logging of its own, and `adapter` under its axios instance (see the file comment).
 */
export function configureLibrary(adapter: AxiosAdapter, defaultTimeoutMs: number): void {
  const defaults = acme.axios.defaults as unknown as AcmeAxiosDefaults;
  if (defaults.acmeSettings) defaults.acmeSettings.retryMaxAttempts = 0;
  acme.axios.defaults.timeout = defaultTimeoutMs;
  acme.axios.defaults.adapter = adapter;
  acme.setLogger(() => undefined);
}

/** Nonces for the client's signed requests: `take()`'s first, a HEAD newNonce when it has none. */
export function useNonces(client: acme.Client, take: () => string | undefined): void {
  const http = httpOf(client);
  const fresh = http.getNonce.bind(http);
  http.getNonce = () => {
    const kept = take();
    return kept !== undefined ? Promise.resolve(kept) : fresh();
  };
}

/** badNonce answers ridden out per request (acme-client's default is 5). */
export function setBadNonceRetries(client: acme.Client, retries: number): void {
  httpOf(client).maxBadNonceRetries = retries;
}

/** Start the client with a directory read earlier, and report every directory it reads. */
export function shareDirectory(
  client: acme.Client,
  kept: { data: Record<string, unknown>; fetchedAt: number } | undefined,
  seen: (data: Record<string, unknown>) => void,
): void {
  const http = httpOf(client);
  if (kept) {
    http.directoryCache = kept.data;
    http.directoryTimestamp = Math.floor(kept.fetchedAt / 1000);
  }
  const getDirectory = http.getDirectory.bind(http);
  http.getDirectory = async () => {
    const data = await getDirectory();
    seen(data);
    return data;
  };
}

/** The CA's directory, through the client's cache. */
export function readDirectory(client: acme.Client): Promise<Record<string, unknown>> {
  return httpOf(client).getDirectory();
}
