/**
 * Schedules: when certificates are renewed and when the renewal watch runs. Pure; no Pulumi.
 *
 * - A certificate's rotation schedule, derived from its lifetime (configured, or announced by its
 *   CA) or configured (`schedule`), and the settings that give them (`certificateLifetime`, a
 *   certificate's `lifetime` and `schedule`).
 * - The watch's schedule (`watchSchedule`) and the longest gap between its runs.
 *
 * Rule: renew at about two thirds of the certificate's lifetime, rounded DOWN to what Secrets
 * Manager can express (whole days from 24 h up, whole hours below, never under its 4-hour
 * minimum). The remaining third is the slack for a failed rotation to be retried and fixed.
 *
 * The lifetime used is the SHORTEST one the CA has announced for the profile, not today's: the
 * schedule is written once by `pulumi up` and must stay safe without a redeploy. Let's Encrypt's
 * `classic` profile issues 90-day certificates today, 64-day ones from 2027-02-10 and 45-day ones
 * from 2028-02-16; a 60-day schedule set today would renew those 45-day certificates 15 days
 * after they expired. So `classic` renews every 30 days (2/3 of 45), which is also safe today.
 */
import { DEFAULT_INTERVAL_SECONDS, MAX_IN_FLIGHT_RANGE } from '../rotation/certificate/rules.js';
import { quote, type Problems } from './settings.js';

export const HOUR = 1;
export const DAY = 24 * HOUR;

/** Secrets Manager's shortest rotation interval. */
export const MIN_ROTATION_HOURS = 4;
/** Secrets Manager's `AutomaticallyAfterDays` range. */
export const MAX_ROTATION_DAYS = 1000;

export const LETS_ENCRYPT_DIRECTORIES = {
  production: 'https://acme-v02.api.letsencrypt.org/directory',
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

/** One step of a CA's announced lifetime roadmap: certificates issued from `from` on live `hours`. */
export interface LifetimeStep {
  from: string;
  hours: number;
}

/**
 * Let's Encrypt's announced lifetimes per ACME profile (no profile = `classic`).
 * Sources: Let's Encrypt's profile documentation and its 2025 announcement of the move to
 * 45-day certificates (`tlsserver` opt-in, `classic` 64 days on 2027-02-10, 45 days on 2028-02-16).
 */
export const LETS_ENCRYPT_LIFETIMES: Readonly<Record<string, readonly LifetimeStep[]>> = Object.freeze({
  classic: [
    { from: '2015-12-03', hours: 90 * DAY },
    { from: '2027-02-10', hours: 64 * DAY },
    { from: '2028-02-16', hours: 45 * DAY },
  ],
  tlsserver: [{ from: '2025-06-01', hours: 45 * DAY }],
  shortlived: [{ from: '2025-06-01', hours: 160 * HOUR }],
});

export interface Lifetime {
  /** The lifetime the schedule is derived from (the shortest announced one). */
  hours: number;
  /** Where that number comes from, for the stack output and the docs. */
  source: string;
}

/** `90d`, `160h` → hours. Returns undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d{1,5})\s*([dh])\s*$/i.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  const n = Number(m[1]);
  if (n <= 0) return undefined;
  return m[2].toLowerCase() === 'd' ? n * DAY : n * HOUR;
}

export function formatHours(hours: number): string {
  return hours % DAY === 0 ? `${hours / DAY} days` : `${hours} hours`;
}

/**
 * The lifetime to plan for: Let's Encrypt's table for its directories, otherwise unknown
 * (undefined) — the caller must then be told to configure it.
 */
export function letsEncryptLifetime(directoryUrl: string, profile: string | undefined): Lifetime | undefined {
  const isLetsEncrypt = Object.values(LETS_ENCRYPT_DIRECTORIES).includes(
    directoryUrl as (typeof LETS_ENCRYPT_DIRECTORIES)[keyof typeof LETS_ENCRYPT_DIRECTORIES],
  );
  if (!isLetsEncrypt) return undefined;
  const name = profile ?? 'classic';
  const steps = LETS_ENCRYPT_LIFETIMES[name];
  if (!steps) return undefined;
  const shortest = Math.min(...steps.map((s) => s.hours));
  const roadmap = steps.map((s) => `${formatHours(s.hours)} from ${s.from}`).join(', ');
  return { hours: shortest, source: `Let's Encrypt profile ${name} (${roadmap})` };
}

/** What the SecretRotation resource gets: the backstop under the renewal watch, derived from the lifetime. */
export interface Schedule {
  /** Exactly one of these two is set. */
  automaticallyAfterDays?: number;
  scheduleExpression?: string;
  /** The interval between rotations in hours (cron: the derived interval it replaces). */
  intervalHours: number;
  /** Human-readable derivation, exported as a stack output. */
  reason: string;
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** An interval in hours → the Secrets Manager schedule, rounded down to what it can express. */
export function scheduleForInterval(intervalHours: number, reason: string): Schedule {
  if (intervalHours >= DAY) {
    const days = Math.min(Math.floor(intervalHours / DAY), MAX_ROTATION_DAYS);
    return { automaticallyAfterDays: days, intervalHours: days * DAY, reason };
  }
  const hours = Math.floor(intervalHours);
  if (hours < MIN_ROTATION_HOURS) {
    throw new ScheduleError(
      `a rotation every ${hours} hours is more often than Secrets Manager allows (every ${MIN_ROTATION_HOURS} hours at most)`,
    );
  }
  return {
    scheduleExpression: `rate(${hours} hours)`,
    intervalHours: hours,
    reason,
  };
}

/** Two thirds of the lifetime, as a Secrets Manager schedule. */
export function deriveSchedule(lifetime: Lifetime): Schedule {
  const interval = Math.floor((lifetime.hours * 2) / 3);
  if (interval < MIN_ROTATION_HOURS) {
    throw new ScheduleError(
      `certificates that live ${formatHours(lifetime.hours)} would need a rotation every ${interval} hours, ` +
        `but Secrets Manager rotates at most every ${MIN_ROTATION_HOURS} hours`,
    );
  }
  const schedule = scheduleForInterval(interval, '');
  schedule.reason = `every ${formatHours(schedule.intervalHours)}: 2/3 of ${formatHours(lifetime.hours)} (${lifetime.source}), rounded down`;
  return schedule;
}

const RATE_RE = /^rate\(\s*(\d{1,4})\s+(hours?|days?)\s*\)$/;
const CRON_RE = /^cron\((\S+\s+){5}\S+\)$/;

/**
 * A configured schedule: `30d`, `12h`, `rate(10 days)`, `rate(12 hours)` or `cron(…)`.
 * `lifetime` (when known) bounds it: a rotation interval at or beyond the lifetime would let
 * certificates expire between rotations. A cron expression's interval is not computed;
 * the interval is taken as the one derived from the lifetime (or the cron's own judgement).
 */
export function parseScheduleOverride(text: string, lifetime: Lifetime | undefined): Schedule {
  const value = text.trim();
  let hours = parseDuration(value);
  if (hours === undefined) {
    const rate = RATE_RE.exec(value);
    if (rate?.[1] && rate[2]) {
      const n = Number(rate[1]);
      if (n < 1) throw new ScheduleError(`${JSON.stringify(text)} has a zero interval`);
      if ((n === 1) !== !rate[2].endsWith('s')) {
        throw new ScheduleError(
          `${JSON.stringify(text)}: write rate(1 day)/rate(1 hour) or rate(N days)/rate(N hours)`,
        );
      }
      hours = rate[2].startsWith('day') ? n * DAY : n * HOUR;
    }
  }
  if (hours !== undefined) {
    if (hours < MIN_ROTATION_HOURS) {
      throw new ScheduleError(
        `${JSON.stringify(text)} is more often than Secrets Manager allows (every 4 hours at most)`,
      );
    }
    if (hours >= DAY && hours % DAY !== 0) {
      throw new ScheduleError(
        `${JSON.stringify(text)}: intervals of a day or more must be whole days (Secrets Manager schedules in days or hours)`,
      );
    }
    if (hours > MAX_ROTATION_DAYS * DAY) {
      throw new ScheduleError(`${JSON.stringify(text)} is longer than Secrets Manager's ${MAX_ROTATION_DAYS} days`);
    }
    if (lifetime && hours >= lifetime.hours) {
      throw new ScheduleError(
        `${JSON.stringify(text)} is not shorter than the certificate lifetime (${formatHours(lifetime.hours)}, ${lifetime.source}): ` +
          `certificates would expire before they are renewed; about ${formatHours(deriveSchedule(lifetime).intervalHours)} is right`,
      );
    }
    return scheduleForInterval(hours, `every ${formatHours(hours)} (configured)`);
  }
  if (CRON_RE.test(value)) {
    const fallback = lifetime ? deriveSchedule(lifetime).intervalHours : 30 * DAY;
    return {
      scheduleExpression: value,
      intervalHours: fallback,
      reason: `${value} (configured; taken as about every ${formatHours(fallback)})`,
    };
  }
  throw new ScheduleError(
    `${JSON.stringify(text)} is not a schedule: use 30d, 12h, rate(30 days), rate(12 hours) or cron(0 4 ? * MON *)`,
  );
}

/** When the renewal watch runs: an EventBridge schedule expression and what follows from it. */
export interface WatchSchedule {
  /** As EventBridge takes it: `rate(…)` or `cron(…)`. */
  expression: string;
  /** The longest time between two runs, in seconds (the at-risk alarm's silence is measured in it). */
  maxGapSeconds: number;
}

/**
 * The watch must look at least twice a day: Let's Encrypt asks ACME clients to fetch renewal
 * information that often, and the at-risk alarm's window (two gaps) must fit CloudWatch's day.
 */
export const WATCH_MAX_GAP_SECONDS = 12 * 3600;
/** Runs closer together than the watch's own timeout would only overlap. */
export const WATCH_MIN_GAP_SECONDS = 15 * 60;

const WATCH_RATE_RE = /^rate\(\s*(\d{1,5})\s+(minutes?|hours?|days?)\s*\)$/;
const WATCH_CRON_RE = /^cron\(\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*\)$/;
const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };

/**
 * The values a cron field takes (minutes 0-59 or hours 0-23): `*`, `n`, `a-b`, `*∕s`, `a∕s`,
 * `a-b∕s` and comma lists of them. Undefined for anything else (names, `L`, `W`, `#`).
 */
function cronValues(field: string, max: number): number[] | undefined {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(\*|(\d{1,2})(?:-(\d{1,2}))?)(?:\/(\d{1,2}))?$/.exec(part);
    if (!m) return undefined;
    const step = m[4] === undefined ? 1 : Number(m[4]);
    const from = m[1] === '*' ? 0 : Number(m[2]);
    // `a/s` runs from a to the end of the range, `a` alone is just a.
    const to = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : from;
    if (step < 1 || from > max || to > max || from > to) return undefined;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

/** The largest and smallest gaps between the runs of a daily cron, in seconds (the day wraps). */
function cronGaps(minutes: number[], hours: number[]): { max: number; min: number } {
  const times = hours.flatMap((h) => minutes.map((m) => h * 60 + m)).sort((a, b) => a - b);
  const gaps = times.map((t, i) => ((times[i + 1] ?? (times[0] as number) + 1440) - t) * 60);
  return { max: Math.max(...gaps), min: Math.min(...gaps) };
}

/**
 * The watch's schedule: `rate(N minutes|hours|days)` or a `cron(min hour * * ? *)` that runs
 * every day (its gaps are computed from the minute and hour fields), between
 * WATCH_MIN_GAP_SECONDS and WATCH_MAX_GAP_SECONDS apart.
 */
export function parseWatchSchedule(text: string): WatchSchedule {
  const value = text.trim();
  const shown = JSON.stringify(text);
  let max: number;
  let min: number;
  const rate = WATCH_RATE_RE.exec(value);
  const cron = WATCH_CRON_RE.exec(value);
  if (rate?.[1] && rate[2]) {
    const n = Number(rate[1]);
    const unit = rate[2].replace(/s$/, '');
    if (n < 1) throw new ScheduleError(`${shown} has a zero interval`);
    if ((n === 1) !== !rate[2].endsWith('s')) {
      throw new ScheduleError(`${shown}: EventBridge wants rate(1 ${unit}) or rate(N ${unit}s)`);
    }
    max = min = n * (UNIT_SECONDS[unit] as number);
  } else if (cron) {
    const [, minuteField, hourField, dayOfMonth, month, dayOfWeek, year] = cron as unknown as string[];
    const minutes = cronValues(minuteField as string, 59);
    const hours = cronValues(hourField as string, 23);
    if (!minutes || !hours) {
      throw new ScheduleError(
        `${shown}: the minute and hour fields must be numbers, ranges, steps or lists of them, like cron(0 */2 * * ? *)`,
      );
    }
    const everyDay =
      ['*', '?'].includes(dayOfMonth as string) &&
      ['*', '?'].includes(dayOfWeek as string) &&
      (dayOfMonth === '?') !== (dayOfWeek === '?') &&
      month === '*' &&
      year === '*';
    if (!everyDay) {
      throw new ScheduleError(
        `${shown}: the watch must run every day, so the day-of-month, month, day-of-week and year fields are ` +
          '* * ? * (or ? * * *)',
      );
    }
    ({ max, min } = cronGaps(minutes, hours));
  } else {
    throw new ScheduleError(
      `${shown} is not an EventBridge schedule expression: use rate(1 hour), rate(30 minutes) or cron(0 */2 * * ? *)`,
    );
  }
  if (max > WATCH_MAX_GAP_SECONDS) {
    throw new ScheduleError(
      `${shown} leaves ${formatSeconds(max)} between runs: the watch must run at least every ` +
        `${formatSeconds(WATCH_MAX_GAP_SECONDS)} (CAs ask for renewal information to be checked twice a day)`,
    );
  }
  if (min < WATCH_MIN_GAP_SECONDS) {
    throw new ScheduleError(
      `${shown} runs ${formatSeconds(min)} apart: at most every ${formatSeconds(WATCH_MIN_GAP_SECONDS)} ` +
        '(the watch runs up to 15 minutes; closer runs only overlap)',
    );
  }
  return { expression: value, maxGapSeconds: max };
}

function formatSeconds(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
}

// The settings (checked by validate.ts's validator, each problem under its key).

/** The renewal watch runs hourly unless the stack says otherwise (the watch's own default interval). */
export const DEFAULT_WATCH_SCHEDULE = `rate(${formatSeconds(DEFAULT_INTERVAL_SECONDS)})`;
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
