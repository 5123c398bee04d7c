/**
 * Shared types of the local AWS endpoint and its services. The endpoint speaks the real wire
 * protocols so the real SDK clients talk to it, over HTTP (server.ts, AWS_ENDPOINT_URL) or in
 * process (in-process.ts, an SDK `requestHandler`), and keeps the services' semantics and error
 * codes. Both hand every request to one dispatcher (dispatcher.ts), which finds the service that
 * routes it (`LocalService`).
 */

/** A parsed HTTP request handed to a service. */
export interface ServiceRequest {
  method: string;
  /** Path without query string, e.g. /2013-04-01/hostedzone/Z1/rrset/ */
  path: string;
  query: URLSearchParams;
  /** Header names in lower case, as Node's HTTP server gives them. */
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

export type ServiceName = 'secretsmanager' | 'route53' | 'sns' | 'events' | 'acm' | 'sts';

/** A request a service recognised: the call the dispatcher records, throttles, faults and runs. */
export interface Call {
  operation: string;
  /** The decoded input (JSON body, form parameters or a summary of the XML), as recorded. */
  input: unknown;
  request: ServiceRequest;
  /** The region of the request's SigV4 credential scope, for regional services (ACM). */
  region?: string;
  /** Set when the body cannot be decoded: the call is recorded, then answered with this error. */
  decodeError?: AwsFaultError;
}

/**
 * One local service as the dispatcher sees it. `serve` throws an LocalServiceError (errors.ts) for
 * what the service refuses; `error` renders any AWS error in the service's protocol (its own
 * refusals, injected faults, throttling, refused credentials).
 */
export interface LocalService {
  readonly name: ServiceName;
  /**
   * How the service's protocol names refused credentials: JSON services answer
   * `ExpiredTokenException` / `UnrecognizedClientException`, XML ones `ExpiredToken` /
   * `InvalidClientTokenId`.
   */
  readonly protocol: 'json' | 'xml';
  /** The code of the 500 answered when the model itself fails (a bug the test then sees). */
  readonly internalErrorCode: string;
  /** The call a request makes to this service, or undefined when the request is not for it. */
  route(request: ServiceRequest): Call | undefined;
  /** Run a call made by `caller` (undefined: the service's own default caller). */
  serve(call: Call, caller: Principal | undefined): ServiceResponse;
  error(err: AwsFaultError): ServiceResponse;
}

/**
 * What an assumed role may do in Route 53 (its permission policy). Zone-scoped actions
 * (GetHostedZone, DeleteHostedZone, ListResourceRecordSets, ChangeResourceRecordSets) need the
 * zone in `zoneIds` (`'*'` = every zone); the others (GetChange, ListHostedZones,
 * ListHostedZonesByName, GetHostedZoneCount, CreateHostedZone) only need the action.
 */
export interface Route53Permissions {
  zoneIds: string[];
  /** Route 53 action names without the `route53:` prefix. */
  actions: string[];
}

/**
 * Who makes a request, as identified by its SigV4 access key: the endpoint's own caller (the
 * function's role in the default account) or an assumed-role session in the role's account.
 */
export interface Principal {
  /** As IAM names the caller in AccessDenied messages. */
  arn: string;
  /** The 12-digit account the caller acts in. */
  account: string;
  /** The IAM role behind the caller (`arn:aws:iam::<account>:role/<name>`), when it is a role. */
  roleArn?: string;
  /** Route 53 permissions; undefined = not restricted (the endpoint's own caller). */
  route53?: Route53Permissions;
  /** The temporary access key of an assumed-role session. */
  accessKeyId?: string;
}

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
  /** The ARN of the caller its access key identifies (unset when the key is invalid or expired). */
  principal?: string;
  /** The account the caller acts in (unset when the key is invalid or expired). */
  account?: string;
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
  /** Only calls made by a caller acting in this account (default: any account). */
  account?: string;
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
