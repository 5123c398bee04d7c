/**
 * The one path every request to the local AWS services takes, whether it came over HTTP
 * (server.ts) or straight from an SDK client (in-process.ts):
 *
 * 1. routing: the first service (in ROUTING_ORDER) whose `route` claims the request; the call is
 *    recorded at once, with its input and, for a regional service, its region;
 * 2. the caller: the SigV4 access key names who calls (sts.ts); an expired or unknown session is
 *    refused (403) before anything else, and the caller's ARN and account are recorded;
 * 3. rate limits: a call over its token bucket is answered with the limit's throttling error;
 * 4. faults: the first injected fault that matches (service, operation, account, input) and has
 *    hits left applies;
 * 5. the operation, whose error (the service's own, or a model bug as the service's 500) is
 *    rendered in the service's protocol and recorded on the call.
 *
 * The adapters only translate: the dispatcher answers, or asks them to hang or to drop the
 * connection (faults), and they do it their way.
 */
import type { FaultList } from '../faults.js';
import { answerCall } from './errors.js';
import { callerErrorFor, type CallerOf } from './sts.js';
import { TokenBucket } from './token-bucket.js';
import type {
  AwsFaultError,
  Call,
  CallRecord,
  Fault,
  LocalService,
  Principal,
  ServiceName,
  ServiceRequest,
  ServiceResponse,
} from './types.js';

/**
 * The order services are asked to route a request. Route 53 goes by path, the JSON services by
 * their X-Amz-Target prefix; STS and SNS share the Query protocol, so STS (which claims only what
 * is signed for it, or unsigned STS actions) is asked before SNS (which takes any other Action).
 */
export const ROUTING_ORDER: readonly ServiceName[] = ['route53', 'secretsmanager', 'events', 'acm', 'sts', 'sns'];

/** What the adapter does with a request. */
export type Outcome =
  | { type: 'answer'; response: ServiceResponse }
  /** Never answer (the connection stays open until the endpoint stops). */
  | { type: 'hang' }
  /** Close the connection without answering. */
  | { type: 'drop' };

/** A token bucket over some calls: Route 53 throttles each account, ACM imports each region. */
export interface RateLimit {
  service: ServiceName;
  /** Only this operation; default every operation of the service. */
  operation?: string;
  perSecond: number;
  /** Which bucket a call draws from. */
  bucketOf: (call: Call, caller: Principal | undefined) => string;
  /** The answer past the rate. */
  error: AwsFaultError;
}

export interface DispatcherOptions {
  services: Partial<Record<ServiceName, LocalService>>;
  /** Identifies each request's caller; without it every call is made by the services' own caller. */
  callers?: { callerOf(request: ServiceRequest): CallerOf };
  faults?: FaultList<Fault>;
  rateLimits?: RateLimit[];
  /** Where calls are recorded; default a list nobody reads. */
  calls?: CallRecord[];
  /** Clock for the records and the buckets (epoch ms); default Date.now. */
  now?: () => number;
}

export class Dispatcher {
  private readonly services: LocalService[];
  private readonly buckets = new Map<RateLimit, Map<string, TokenBucket>>();
  private readonly now: () => number;
  private readonly calls: CallRecord[];

  constructor(private readonly options: DispatcherOptions) {
    this.services = ROUTING_ORDER.flatMap((name) => options.services[name] ?? []);
    this.now = options.now ?? Date.now;
    this.calls = options.calls ?? [];
  }

  /** The outcome of a request; undefined when no service routes it. */
  dispatch(request: ServiceRequest): Outcome | undefined {
    let service: LocalService | undefined;
    let call: Call | undefined;
    for (const candidate of this.services) {
      call = candidate.route(request);
      if (call) {
        service = candidate;
        break;
      }
    }
    if (!service || !call) return undefined;
    const record: CallRecord = {
      service: service.name,
      operation: call.operation,
      at: this.now(),
      input: call.input,
      ...(call.region !== undefined ? { region: call.region } : {}),
    };
    this.calls.push(record);
    const refuse = (err: AwsFaultError): Outcome => {
      record.error = err.code;
      return { type: 'answer', response: service.error(err) };
    };

    const identified = this.options.callers?.callerOf(request);
    if (identified?.error) return refuse(callerErrorFor(identified.error, service.protocol));
    const caller = identified?.principal;
    if (caller) {
      record.principal = caller.arn;
      record.account = caller.account;
    }

    const throttled = this.throttle(service.name, call, caller);
    if (throttled) return refuse(throttled);

    const fault = this.options.faults?.take(
      (f) =>
        f.service === service.name &&
        f.operation === call.operation &&
        (f.account === undefined || f.account === caller?.account) &&
        (!f.match || f.match(call.input)),
    );
    if (!fault) return { type: 'answer', response: this.execute(service, call, caller, record) };
    const action = fault.action;
    // applyThen*: the operation's own outcome (even its own error) is what the state reflects;
    // the caller only ever sees the fault.
    if (action.type === 'applyThenHang' || action.type === 'applyThenError' || action.type === 'applyThenDrop') {
      this.execute(service, call, caller, record);
    }
    fault.onHit?.();
    switch (action.type) {
      case 'error':
      case 'applyThenError':
        return refuse(action.error);
      case 'hang':
      case 'applyThenHang':
        return { type: 'hang' };
      case 'applyThenDrop':
        return { type: 'drop' };
    }
  }

  /** The throttling error of the first rate limit whose bucket is empty, taking a token from each. */
  private throttle(service: ServiceName, call: Call, caller: Principal | undefined): AwsFaultError | undefined {
    for (const limit of this.options.rateLimits ?? []) {
      if (limit.service !== service || (limit.operation !== undefined && limit.operation !== call.operation)) continue;
      let buckets = this.buckets.get(limit);
      if (!buckets) {
        buckets = new Map();
        this.buckets.set(limit, buckets);
      }
      const key = limit.bucketOf(call, caller);
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = new TokenBucket(limit.perSecond, this.now);
        buckets.set(key, bucket);
      }
      if (!bucket.take()) return limit.error;
    }
    return undefined;
  }

  /** Run the operation; never throws. Records the answer's error code, if any. */
  private execute(
    service: LocalService,
    call: Call,
    caller: Principal | undefined,
    record: CallRecord,
  ): ServiceResponse {
    const response = call.decodeError ? service.error(call.decodeError) : answerCall(service, call, caller);
    const code = errorCodeOf(response);
    if (code !== undefined) record.error = code;
    return response;
  }
}

/** The AWS error code of an error response (JSON header or body, or XML <Code>), if any. */
function errorCodeOf(response: ServiceResponse): string | undefined {
  if (response.status < 300) return undefined;
  const headerCode = Object.entries(response.headers ?? {}).find(([k]) => k.toLowerCase() === 'x-amzn-errortype')?.[1];
  if (headerCode !== undefined) return headerCode.split(':')[0];
  const xml = /<Code>([^<]*)<\/Code>/.exec(response.body);
  if (xml) return xml[1];
  try {
    const parsed = JSON.parse(response.body) as { __type?: unknown };
    if (typeof parsed.__type === 'string') return parsed.__type;
  } catch {
    // not JSON
  }
  return `HTTP${response.status}`;
}
