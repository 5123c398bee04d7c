/** The watch's configuration: the rotation function's environment plus its own few settings. */
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../lib/errors.js';
import {
  DEFAULT_INTERVAL_SECONDS,
  DEFAULT_MAX_IN_FLIGHT,
  INTERVAL_RANGE,
  MAX_IN_FLIGHT_RANGE,
  wholeNumberIn,
} from '../certificate/rules.js';
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
