/**
 * Configuration shared by every SDK client the function makes: each request bounded by
 * API_TIMEOUT_SECONDS (a hung connection fails and is retried instead of running into the
 * function timeout) and a few attempts. No SDK import here, so the lazily loaded clients stay lazy.
 */
export function sdkClientConfig(
  requestTimeoutMs: number,
  maxAttempts = 3,
  retryMode: 'adaptive' | 'standard' = 'adaptive',
) {
  return {
    retryMode,
    maxAttempts,
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      connectionTimeout: Math.min(requestTimeoutMs, 3_000),
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
    },
  };
}
