/** The watch's configuration: the rotation function's environment plus its own few settings. */
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../lib/errors.js';
import { wholeNumberIn } from '../certificate/rules.js';
import { metricNames } from '../lib/metrics.js';
import type { WatchConfig } from './model.js';

/** A run's configuration (model.ts), as the environment gives it, and how the handler runs. */
export interface WatchSettings extends WatchConfig {
  apiTimeoutMs: number;
  /** WATCH_CONTINUE: go on in a new invocation when renewals are left at the end of the time budget. */
  continueRuns: boolean;
  /** WATCH_INTERVAL_SECONDS: the schedule's longest gap between runs (RFC 9773 §4.2's "next check"). */
  nextRunMs: number;
}

/** WATCH_INTERVAL_SECONDS's default: the stack's default schedule, rate(1 hour). */
export const DEFAULT_INTERVAL_SECONDS = 3_600;
/** WATCH_INTERVAL_SECONDS's bounds: a minute to the 4 days an at-risk alarm may wait at most. */
export const INTERVAL_RANGE = [60, 4 * 86_400] as const;

/**
 * Renewals kept in flight at once. With Route 53's 5 requests/s, about 8 requests per rotation
 * (docs/PERFORMANCE.md) and 50 rotations sharing the budget, each gets a request every 10 s or so
 * at worst: a rotation then needs about 80 s, far inside its 300 s DNS budget and 900 s timeout.
 */
export const DEFAULT_MAX_IN_FLIGHT = 50;
/** WATCH_MAX_CONCURRENT_ROTATIONS's bounds (the stack's watchMaxConcurrentRotations too). */
export const MAX_IN_FLIGHT_RANGE = [1, 500] as const;

type Env = Record<string, string | undefined>;

export function loadWatchSettings(env: Env = process.env): WatchSettings {
  const base = loadConfig(env);
  const raw = env.WATCH_MAX_CONCURRENT_ROTATIONS?.trim();
  const [min, max] = MAX_IN_FLIGHT_RANGE;
  const maxInFlight = raw ? wholeNumberIn(raw, min, max) : DEFAULT_MAX_IN_FLIGHT;
  if (maxInFlight === undefined) {
    throw new ConfigError(
      `WATCH_MAX_CONCURRENT_ROTATIONS="${raw}" is invalid: expected a whole number from ${min} to ${max}`,
    );
  }
  const rawInterval = env.WATCH_INTERVAL_SECONDS?.trim();
  const interval = rawInterval ? wholeNumberIn(rawInterval, ...INTERVAL_RANGE) : DEFAULT_INTERVAL_SECONDS;
  if (interval === undefined) {
    throw new ConfigError(
      `WATCH_INTERVAL_SECONDS="${rawInterval}" is invalid: expected a whole number from ${INTERVAL_RANGE[0]} to ${INTERVAL_RANGE[1]}`,
    );
  }
  const metrics = metricNames(env);
  return {
    nextRunMs: interval * 1000,
    directoryUrl: base.directoryUrl,
    apiTimeoutMs: base.apiTimeoutMs,
    maxInFlight,
    metricNamespace: metrics.namespace,
    metricStack: metrics.stack,
    continueRuns: env.WATCH_CONTINUE?.trim().toLowerCase() === 'true',
    ...(env.WATCH_ROTATION_FUNCTION_ARN?.trim() ? { rotationFunctionArn: env.WATCH_ROTATION_FUNCTION_ARN.trim() } : {}),
  };
}
