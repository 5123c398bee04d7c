/**
 * The one layer every AWS call of the three programs goes through (the rotation function, the
 * renewal watch, the fetch command):
 *
 * - `AwsCalls.run` counts the call by operation (and the HTTP attempts the SDK made under it, and
 *   those answered with throttling), for the per-invocation call counts in the logs;
 * - `mapAwsError` turns any SDK error into the project's AwsServiceError (code `Aws<service>Error`);
 * - `DeadlineRetryStrategy`, the retry strategy of every client `sdkClientConfig` configures, rides
 *   out throttling inside the SDK's own retry loop: the SDK's strategy (standard or adaptive, with
 *   its client-side rate) makes its few attempts first; after those, a throttled request is tried
 *   again with jittered backoff for as long as the call's budget (the invocation's Deadline) has
 *   room for the wait. Route 53 allows ~5 requests/second per account and ACM imports one a second,
 *   shared by everything in the account: under sustained throttling (a hundred certificates renewing
 *   at once) every request eventually gets its turn, and a call fails only when the time is up.
 *
 * The budget belongs to the call, not to the client: one client per container serves every
 * invocation, so `run` hands the budget to the strategy through an AsyncLocalStorage scope that
 * follows the call into the SDK's middleware. A call made outside `run` (or on a client configured
 * elsewhere) gets the SDK's strategy alone.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { AdaptiveRetryStrategy, DefaultRateLimiter, StandardRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from '@smithy/types';

import { backoffDelay } from '../lib/deadline.js';
import { AwsServiceError, type AwsService } from '../lib/errors.js';

/** The services' names as the operator reads them in a message. */
const SERVICE_LABEL: Record<AwsService, string> = {
  SecretsManager: 'Secrets Manager',
  Route53: 'Route 53',
  ACM: 'ACM',
  STS: 'STS',
};

/**
 * An SDK error's message, readable: a request that got no answer within the request timeout says
 * so and names the setting, instead of the HTTP handler's log text.
 */
function sdkErrorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError' || /exceeded the configured \d+ ms requestTimeout/.test(err.message)) {
    const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    return `no answer within the request timeout (API_TIMEOUT_SECONDS)${attempts ? ` in ${attempts} attempt(s)` : ''}`;
  }
  return err.message;
}

export interface MapAwsErrorOptions {
  /** What the call was about (an ARN), said before AWS's message. */
  subject?: string;
  /** What the caller saw before AWS's answer (e.g. how long it waited out throttling), said first. */
  lead?: string;
  /** What to do about it. */
  hint?: string;
}

/**
 * Any SDK error → AwsServiceError(service, operation, name, message), the SDK error as `cause`.
 * An AwsServiceError passes unchanged. A request that got no answer within the request timeout
 * says so (sdkErrorMessage); a refusal carrying several messages (Route 53's InvalidChangeBatch)
 * keeps every one.
 */
export function mapAwsError(
  service: AwsService,
  operation: string,
  err: unknown,
  options: MapAwsErrorOptions = {},
): AwsServiceError {
  if (err instanceof AwsServiceError) return err;
  const name = err instanceof Error ? err.name || 'Error' : 'Error';
  let message = sdkErrorMessage(err);
  const messages = err instanceof Error ? (err as { messages?: unknown }).messages : undefined;
  if (Array.isArray(messages)) {
    const extra = messages.filter((m): m is string => typeof m === 'string' && m.length > 0 && !message.includes(m));
    message = [message, ...extra].filter((m) => m.length > 0).join('; ');
  }
  message ||= '(no message)';
  const { subject, lead, hint } = options;
  return new AwsServiceError(service, operation, name, subject ? `${subject}: ${message}` : message, {
    cause: err,
    ...(lead ? { lead } : {}),
    ...(hint ? { hint } : {}),
  });
}

/** How a call's throttling is waited out beyond the SDK's own attempts. */
export interface ThrottlePolicy {
  /**
   * Milliseconds the call may still spend waiting (normally the Deadline's time left minus a
   * margin to report a failure), read before each wait. Unset: at most `maxThrottleRetries` waits.
   */
  budgetMs?: () => number;
  /** Waits without a budget. Default 5. */
  maxThrottleRetries?: number;
  /** Backoff bounds of those waits (ms), full jitter between them. Defaults 400 / 4000. */
  throttleMinMs?: number;
  throttleMaxMs?: number;
  random?: () => number;
  /** Waits `ms`. Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** One call in flight, as the retry strategy sees it. */
interface CallScope {
  /** Unset: the SDK's attempts alone. */
  policy: ThrottlePolicy | undefined;
  /** Attempts answered with throttling. */
  throttled: number;
  /** Set when the strategy stopped retrying throttling: the budget (or the waits) ran out. */
  outOfTime: boolean;
}

const callScope = new AsyncLocalStorage<CallScope>();

/** A retry token of the throttling waits past the SDK's attempts. */
function retryToken(count: number): StandardRetryToken {
  return { getRetryCount: () => count, getRetryDelay: () => 0, getRetryCost: () => undefined };
}

/**
 * The retry strategy of the project's SDK clients: the SDK's strategy (its attempts, backoff,
 * retry quota and, in adaptive mode, its client-side rate) first; then, for throttling in a call
 * made through `AwsCalls.run`, more attempts while the wait fits in the call's budget. Other
 * failures (timeouts, 5xx) get the SDK's attempts alone.
 */
export class DeadlineRetryStrategy implements RetryStrategyV2 {
  readonly mode: 'standard' | 'adaptive';
  private readonly maxAttempts: number;
  private readonly sdk: StandardRetryStrategy | AdaptiveRetryStrategy;
  private readonly rateLimiter: DefaultRateLimiter | undefined;

  constructor(maxAttempts: number, mode: 'standard' | 'adaptive' = 'standard') {
    this.mode = mode;
    this.maxAttempts = maxAttempts;
    if (mode === 'adaptive') {
      this.rateLimiter = new DefaultRateLimiter();
      this.sdk = new AdaptiveRetryStrategy(maxAttempts, { maxAttempts, rateLimiter: this.rateLimiter });
    } else {
      this.sdk = new StandardRetryStrategy(maxAttempts);
    }
  }

  acquireInitialRetryToken(retryTokenScope: string) {
    return this.sdk.acquireInitialRetryToken(retryTokenScope);
  }

  async refreshRetryTokenForRetry(token: StandardRetryToken, errorInfo: RetryErrorInfo): Promise<StandardRetryToken> {
    const call = errorInfo.errorType === 'THROTTLING' ? callScope.getStore() : undefined;
    if (call) call.throttled++;
    try {
      return (await this.sdk.refreshRetryTokenForRetry(token, errorInfo)) as StandardRetryToken;
    } catch (refused) {
      // The SDK will not try again (its attempts or its retry quota are spent): throttling in a
      // call with a policy goes on while the policy allows the wait.
      const policy = call?.policy;
      if (!call || !policy) throw refused;
      // This wait's place among the policy's own (0 for the first after the SDK's attempts).
      const own = Math.max(0, token.getRetryCount() + 1 - this.maxAttempts);
      const waitMs = backoffDelay(own, policy.throttleMinMs ?? 400, policy.throttleMaxMs ?? 4_000, policy.random);
      const allowed = policy.budgetMs ? waitMs <= policy.budgetMs() : own < (policy.maxThrottleRetries ?? 5);
      if (!allowed) {
        call.outOfTime = true;
        throw refused;
      }
      await (policy.sleep ?? timer)(waitMs);
      await this.rateLimiter?.getSendToken();
      return retryToken(token.getRetryCount() + 1);
    }
  }

  recordSuccess(token: StandardRetryToken): void {
    this.sdk.recordSuccess(token);
  }
}

function timer(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** SDK output and errors carry the attempts the SDK made under one call. */
function attemptsOf(value: unknown): number {
  return (value as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;
}

export interface AwsCallsOptions {
  /** How throttling is waited out past the SDK's attempts; unset: the SDK's attempts alone. */
  throttle?: ThrottlePolicy;
  /** What to do when throttling outlasted the budget (said after AWS's message). */
  throttleHint?: string;
}

/**
 * The calls of one service for one invocation (or one run of the watch, one fetch): counted,
 * throttling waited out within the budget, errors mapped. The SDK client behind it is shared.
 */
export class AwsCalls {
  /** Logical calls, by operation (one per `run`, pagination pages included). */
  readonly calls: Record<string, number> = {};
  /** HTTP attempts, by operation, as the SDK reports them (its retries included). */
  readonly attempts: Record<string, number> = {};
  /** Attempts answered with throttling. */
  throttled = 0;

  constructor(
    readonly service: AwsService,
    private readonly options: AwsCallsOptions = {},
    /** Operations counted from 0, so a snapshot names each one. */
    operations: readonly string[] = [],
  ) {
    for (const op of operations) this.calls[op] = this.attempts[op] = 0;
  }

  /** Logical calls made so far. */
  total(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  /** One call: `send` is the SDK client's send of one command. Throws AwsServiceError. */
  async run<T>(operation: string, send: () => Promise<T>, about: { subject?: string } = {}): Promise<T> {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    const scope: CallScope = { policy: this.options.throttle, throttled: 0, outOfTime: false };
    const started = Date.now();
    try {
      const out = await callScope.run(scope, send);
      this.attempts[operation] = (this.attempts[operation] ?? 0) + attemptsOf(out);
      return out;
    } catch (err) {
      const attempts = attemptsOf(err);
      this.attempts[operation] = (this.attempts[operation] ?? 0) + attempts;
      throw mapAwsError(this.service, operation, err, {
        ...about,
        ...(scope.outOfTime
          ? {
              lead:
                `${SERVICE_LABEL[this.service]} throttled ${operation} for ${Math.round((Date.now() - started) / 1000)} s ` +
                `(${attempts} attempts) and the function has no time left to wait`,
              ...(this.options.throttleHint ? { hint: this.options.throttleHint } : {}),
            }
          : {}),
      });
    } finally {
      this.throttled += scope.throttled;
    }
  }
}
