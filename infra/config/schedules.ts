/**
 * When certificates are renewed: each certificate's lifetime (configured, or known of its CA) and
 * the schedule of its rotation, and when the renewal watch runs.
 */
import { MAX_IN_FLIGHT_RANGE } from '../../rotation/watch/config.js';
import {
  ScheduleError,
  deriveSchedule,
  formatHours,
  letsEncryptLifetime,
  parseDuration,
  parseScheduleOverride,
  parseWatchSchedule,
  type Lifetime,
  type Schedule,
  type WatchSchedule,
} from '../schedule.js';
import { quote, type Problems } from './problems.js';

/** The renewal watch runs hourly unless the stack says otherwise. */
export const DEFAULT_WATCH_SCHEDULE = 'rate(1 hour)';
/** WATCH_MAX_CONCURRENT_ROTATIONS: a whole number in this range (the watch's own bounds). */
export const WATCH_MAX_CONCURRENT_ROTATIONS_RANGE = MAX_IN_FLIGHT_RANGE;

/** `certificateLifetime`: every certificate's lifetime unless its own says otherwise. */
export function parseDefaultLifetime(p: Problems, raw: string | undefined): Lifetime | undefined {
  if (raw === undefined) return undefined;
  const hours = parseDuration(raw);
  if (hours === undefined) {
    p.add('certificateLifetime', `${quote(raw)} is not a duration like 90d or 160h`);
    return undefined;
  }
  return { hours, source: `configured ${formatHours(hours)}` };
}

/** What a certificate's lifetime defaults to. */
export interface LifetimeDefaults {
  /** Undefined when `ca` is invalid (already reported). */
  directoryUrl: string | undefined;
  defaultLifetime?: Lifetime | undefined;
}

/**
 * A certificate's lifetime (its own, the stack's, or its CA's) and the schedule of its rotation
 * (its own override, or derived from the lifetime); the schedule is undefined when reported.
 */
export function certificateSchedule(
  p: Problems,
  at: string,
  value: { lifetime?: unknown; schedule?: unknown },
  ctx: LifetimeDefaults,
  profile: string | undefined,
): { lifetime?: Lifetime; schedule?: Schedule } {
  let lifetime: Lifetime | undefined;
  if (value.lifetime !== undefined) {
    const hours = parseDuration(String(value.lifetime));
    if (hours === undefined) p.add(`${at}.lifetime`, `${quote(value.lifetime)} is not a duration like 90d or 160h`);
    else lifetime = { hours, source: `configured ${formatHours(hours)}` };
  } else {
    lifetime = ctx.defaultLifetime ?? (ctx.directoryUrl ? letsEncryptLifetime(ctx.directoryUrl, profile) : undefined);
  }
  let schedule: Schedule | undefined;
  try {
    if (value.schedule !== undefined) {
      if (typeof value.schedule !== 'string') throw new ScheduleError(`${quote(value.schedule)} is not a string`);
      schedule = parseScheduleOverride(value.schedule, lifetime);
    } else if (lifetime) {
      schedule = deriveSchedule(lifetime);
    } else if (value.lifetime === undefined && ctx.directoryUrl !== undefined) {
      const what = profile ? `profile ${profile} of ${ctx.directoryUrl}` : ctx.directoryUrl;
      p.add(
        `${at}.schedule`,
        `the certificate lifetime of ${what} is unknown: set ${p.key('certificateLifetime')} (all certificates), ` +
          `${at}.lifetime (e.g. 90d) or ${at}.schedule (e.g. 30d)`,
      );
    }
  } catch (err) {
    p.add(value.schedule !== undefined ? `${at}.schedule` : `${at}.lifetime`, (err as Error).message);
  }
  return { ...(lifetime ? { lifetime } : {}), ...(schedule ? { schedule } : {}) };
}

/** `watchSchedule`: an EventBridge schedule expression; undefined when reported. */
export function watchSchedule(p: Problems, raw: string | undefined): WatchSchedule | undefined {
  try {
    return parseWatchSchedule(raw ?? DEFAULT_WATCH_SCHEDULE);
  } catch (err) {
    if (!(err instanceof ScheduleError)) throw err;
    p.add('watchSchedule', err.message);
    return undefined;
  }
}
