/**
 * Shared types of the local AWS endpoint (tests/local/aws/server.ts) and its services.
 * The endpoint speaks the real wire protocols so the real SDK clients talk to it over HTTP
 * (AWS_ENDPOINT_URL), and keeps the services' semantics and error codes.
 */

/** A parsed HTTP request handed to a service. */
export interface ServiceRequest {
  method: string;
  /** Path without query string, e.g. /2013-04-01/hostedzone/Z1/rrset/ */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** What a service answers. */
export interface ServiceResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/** An AWS error to return: `code` is the error name the SDK surfaces (e.g. Throttling). */
export interface AwsFaultError {
  code: string;
  message: string;
  /** HTTP status; default 400. */
  status?: number;
}

export type ServiceName = 'secretsmanager' | 'route53' | 'sns' | 'events' | 'acm';

/** One recorded call, for counting and assertions. */
export interface CallRecord {
  service: ServiceName;
  operation: string;
  at: number;
  /** The decoded input (JSON body, query params or a small XML summary). */
  input: unknown;
  /** Error code returned, if any. */
  error?: string;
  /** The region of the request's SigV4 credential scope (recorded for regional services: ACM). */
  region?: string;
}

/**
 * Fault injection. The first matching fault with hits left applies to a request.
 * - error: answer with that AWS error instead of doing the operation;
 * - hang: never answer (the socket stays open until the server stops);
 * - applyThenHang: do the operation (state changes) but never answer — a Lambda killed mid-call;
 * - applyThenError: do the operation (state changes), then answer with that error instead of its
 *   result — a lost response; with a retryable error (500 InternalFailure, 503, Throttling) the
 *   SDK retries into the already-applied state (e.g. Route 53 CREATE → InvalidChangeBatch);
 * - applyThenDrop: do the operation, then destroy the connection without answering (the SDK sees
 *   ECONNRESET / socket hang up, which it also retries).
 * `onHit` runs when the fault fires (for applyThen*, after the operation ran), e.g. to kill the
 * Lambda process.
 */
export interface Fault {
  service: ServiceName;
  operation: string;
  match?: (input: unknown) => boolean;
  /** How many times it fires; default 1; Infinity for always. */
  times?: number;
  action:
    | { type: 'error'; error: AwsFaultError }
    | { type: 'hang' }
    | { type: 'applyThenHang' }
    | { type: 'applyThenError'; error: AwsFaultError }
    | { type: 'applyThenDrop' };
  onHit?: () => void;
}
