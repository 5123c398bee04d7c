/**
 * Configuration shared by every SDK client the three programs make: each request bounded by
 * API_TIMEOUT_SECONDS (a hung connection fails and is retried instead of running into the
 * function timeout), a few attempts, and the project's retry strategy (aws/calls.ts), which waits
 * out throttling within the budget of the call made through AwsCalls. The SDK packages the
 * strategy builds on are the ones every client loads anyway, so the lazily loaded clients stay lazy.
 */
import { DeadlineRetryStrategy } from './calls.js';

export function sdkClientConfig(
  requestTimeoutMs: number,
  maxAttempts = 3,
  retryMode: 'adaptive' | 'standard' = 'adaptive',
) {
  return {
    maxAttempts,
    /**
     * A strategy of its own for each client made from this configuration (the SDK reads it once
     * per client): its retry quota and adaptive sending rate are that client's, as the SDK keeps
     * them, so Route 53 throttling never slows the Secrets Manager calls.
     */
    get retryStrategy(): DeadlineRetryStrategy {
      return new DeadlineRetryStrategy(maxAttempts, retryMode);
    },
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      connectionTimeout: Math.min(requestTimeoutMs, 3_000),
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
    },
  };
}
