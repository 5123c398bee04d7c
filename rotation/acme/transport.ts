/**
 * The HTTP layer under acme-client, per call: the calling client's request timeout, the CA's
 * problem document kept whole (acme-client reduces it to its `detail` text), Replay-Nonce values
 * collected for reuse (acme-client would spend a HEAD newNonce round trip on every signed
 * request), and alternate-chain links. State travels from AcmeCa.call to the adapter through the
 * async context, so concurrent clients never mix their answers.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import axios, { type AxiosAdapter } from 'axios';
import { configureLibrary } from './client-patches.js';
import { alternateLinks, parseProblem, type AcmeProblem } from './problems.js';

export interface Nonce {
  value: string;
  receivedAt: number;
}

/** Per-call state shared with the adapter. */
export interface CallStore {
  /** The last error answer of this call (cleared by a success answer). */
  problem?: AcmeProblem;
  /** Per-request timeout for this client. */
  timeoutMs?: number;
  /** Replay-Nonce values received from this CA, reused for its next signed requests. */
  nonces?: Nonce[];
  /** `Link: <…>;rel="alternate"` targets of the last success answer (alternate certificate chains). */
  alternates?: string[];
}

export const callStore = new AsyncLocalStorage<CallStore>();

/**
 * What a warm container keeps of a CA between invocations: its directory (acme-client itself
 * keeps one for 24 h; an hour here) and unused Replay-Nonce values young enough to be accepted.
 * A burst of rotations in one container then skips the directory GET and the HEAD newNonce that
 * each new client would otherwise spend. A nonce the CA no longer accepts costs one badNonce
 * answer, which carries a fresh nonce: no worse than the HEAD it replaces.
 */
export interface CaMemory {
  directory?: { data: Record<string, unknown>; fetchedAt: number };
  nonces: Nonce[];
}
export const DIRECTORY_MAX_AGE_MS = 3_600_000;
export const NONCE_MAX_AGE_MS = 60_000;
const MAX_NONCES = 20;
const caMemory = new Map<string, CaMemory>();

/** This container's memory of the CA at `directoryUrl` (shared by every client of it). */
export function memoryOf(directoryUrl: string): CaMemory {
  const kept = caMemory.get(directoryUrl) ?? { nonces: [] };
  caMemory.set(directoryUrl, kept);
  return kept;
}

/** The youngest kept nonce still young enough, taken out; undefined when none is. */
export function takeNonce(memory: CaMemory, now = Date.now()): string | undefined {
  const oldest = now - NONCE_MAX_AGE_MS;
  for (let nonce = memory.nonces.pop(); nonce; nonce = memory.nonces.pop()) {
    if (nonce.receivedAt >= oldest) return nonce.value;
  }
  return undefined;
}

/** An RFC 8555 directory: at least the three resources every rotation uses. */
export function isDirectory(data: unknown): data is Record<string, unknown> {
  if (!data || typeof data !== 'object') return false;
  const d = data as Record<string, unknown>;
  return ['newNonce', 'newAccount', 'newOrder'].every((k) => typeof d[k] === 'string');
}

// Answers arrive as rejections with a `response` (client-patches.ts says why). A request that got
// no response at all (refused, DNS failure, timeout) loses its `config`, so acme-client's
// interceptor lets the real cause through instead of "Cannot read properties of undefined".
const httpAdapter: AxiosAdapter = axios.getAdapter('http');
const adapter: AxiosAdapter = async (config) => {
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

configureLibrary(adapter, 15_000);
