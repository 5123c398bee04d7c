import { describe, expect, it } from 'vitest';

import {
  LETS_ENCRYPT_DIRECTORIES,
  ScheduleError,
  deriveSchedule,
  letsEncryptLifetime,
  parseDuration,
  parseScheduleOverride,
  parseWatchSchedule,
  type Lifetime,
} from '../../infra/schedules.js';

const { production, staging } = LETS_ENCRYPT_DIRECTORIES;
const lifetime = (hours: number): Lifetime => ({ hours, source: 'test' });

describe('certificate lifetimes', () => {
  it("plans Let's Encrypt classic for the shortest announced lifetime (45 days from 2028-02-16), not today's 90", () => {
    const classic = letsEncryptLifetime(production, undefined);
    expect(classic?.hours).toBe(45 * 24);
    expect(classic?.source).toBe(
      "Let's Encrypt profile classic (90 days from 2015-12-03, 64 days from 2027-02-10, 45 days from 2028-02-16)",
    );
    expect(letsEncryptLifetime(production, 'classic')?.hours).toBe(45 * 24);
    expect(letsEncryptLifetime(staging, undefined)?.hours).toBe(45 * 24);
  });

  it('knows tlsserver (45 days) and shortlived (160 hours)', () => {
    expect(letsEncryptLifetime(production, 'tlsserver')?.hours).toBe(45 * 24);
    expect(letsEncryptLifetime(staging, 'shortlived')?.hours).toBe(160);
  });

  it('does not guess for other CAs or unknown profiles', () => {
    expect(letsEncryptLifetime('https://acme.zerossl.com/v2/DV90', undefined)).toBeUndefined();
    expect(letsEncryptLifetime(production, 'someday')).toBeUndefined();
  });

  it('parses durations', () => {
    expect(parseDuration('90d')).toBe(2160);
    expect(parseDuration(' 160H ')).toBe(160);
    expect(parseDuration('0d')).toBeUndefined();
    expect(parseDuration('90')).toBeUndefined();
    expect(parseDuration('1w')).toBeUndefined();
  });
});

describe('schedule derivation: renew at 2/3 of the lifetime, rounded down', () => {
  // The table in docs/DEPLOY.md.
  it.each([
    ["Let's Encrypt classic (90 → 64 → 45 days)", letsEncryptLifetime(production, undefined), { days: 30 }],
    ["Let's Encrypt tlsserver (45 days)", letsEncryptLifetime(production, 'tlsserver'), { days: 30 }],
    ["Let's Encrypt shortlived (160 hours)", letsEncryptLifetime(production, 'shortlived'), { days: 4 }],
    ['a 90-day CA', lifetime(90 * 24), { days: 60 }],
    ['a 30-day CA', lifetime(30 * 24), { days: 20 }],
    ['a 7-day CA (112 h → 4 days)', lifetime(7 * 24), { days: 4 }],
    ['a 1-day CA', lifetime(24), { expression: 'rate(16 hours)' }],
    ['a 6-hour CA', lifetime(6), { expression: 'rate(4 hours)' }],
  ] as const)('%s', (_what, life, expected) => {
    const schedule = deriveSchedule(life as Lifetime);
    if ('days' in expected) {
      expect(schedule.automaticallyAfterDays).toBe(expected.days);
      expect(schedule.scheduleExpression).toBeUndefined();
      expect(schedule.intervalHours).toBe(expected.days * 24);
    } else {
      expect(schedule.scheduleExpression).toBe(expected.expression);
      expect(schedule.automaticallyAfterDays).toBeUndefined();
    }
    // Always strictly before the lifetime ends, with at least a quarter of it to spare.
    expect(schedule.intervalHours).toBeLessThanOrEqual(((life as Lifetime).hours * 2) / 3);
  });

  it('explains itself (the stack output)', () => {
    expect(deriveSchedule(letsEncryptLifetime(production, 'shortlived') as Lifetime).reason).toBe(
      "every 4 days: 2/3 of 160 hours (Let's Encrypt profile shortlived (160 hours from 2025-06-01)), rounded down",
    );
  });

  it.each([
    // lifetime, interval
    ['45 days', 45 * 24, 720],
    ['90 days', 90 * 24, 1440],
    ['160 hours', 160, 96],
    ['7 days', 7 * 24, 96],
    ['24 hours', 24, 16],
    ['6 hours', 6, 4],
  ])('rotates %s certificates (%i h) every %i h, the backstop under the watch', (_what, hours, interval) => {
    const schedule = deriveSchedule(lifetime(hours));
    expect(schedule.intervalHours).toBe(interval);
    // Renewed well before expiry: a third of the lifetime is left at the backstop.
    expect(hours - schedule.intervalHours).toBeGreaterThanOrEqual(hours / 3 - 1);
  });

  it("refuses lifetimes too short for Secrets Manager's 4-hour minimum", () => {
    expect(() => deriveSchedule(lifetime(5))).toThrow(ScheduleError);
    expect(() => deriveSchedule(lifetime(5))).toThrow(/rotation every 3 hours.*at most every 4 hours/);
  });
});

describe('schedule overrides', () => {
  const le = letsEncryptLifetime(production, undefined);

  it.each([
    ['20d', { automaticallyAfterDays: 20 }],
    ['12h', { scheduleExpression: 'rate(12 hours)' }],
    ['rate(10 days)', { automaticallyAfterDays: 10 }],
    ['rate(1 day)', { automaticallyAfterDays: 1 }],
    ['rate(6 hours)', { scheduleExpression: 'rate(6 hours)' }],
    ['48h', { automaticallyAfterDays: 2 }],
  ])('%s', (text, expected) => {
    const schedule = parseScheduleOverride(text, le);
    expect(schedule).toMatchObject(expected);
    expect(schedule.reason).toMatch(/\(configured\)$/);
  });

  it('passes cron expressions through, assuming the derived interval for the overdue check', () => {
    const schedule = parseScheduleOverride('cron(0 4 ? * MON *)', le);
    expect(schedule.scheduleExpression).toBe('cron(0 4 ? * MON *)');
    expect(schedule.automaticallyAfterDays).toBeUndefined();
    expect(schedule.intervalHours).toBe(30 * 24);
  });

  it.each([
    ['45d', /not shorter than the certificate lifetime \(45 days.*about 30 days is right/],
    ['3h', /more often than Secrets Manager allows/],
    ['rate(2 hours)', /more often than Secrets Manager allows/],
    ['36h', /must be whole days/],
    ['rate(2 day)', /write rate\(1 day\)/],
    ['rate(1 days)', /write rate\(1 day\)/],
    ['1001d', /longer than Secrets Manager's 1000 days/],
    ['weekly', /is not a schedule: use 30d, 12h/],
    ['cron(0 4 * *)', /is not a schedule/],
  ])('rejects %s', (text, message) => {
    expect(() => parseScheduleOverride(text, le)).toThrow(message);
  });

  it('accepts any interval under Secrets Manager limits when the lifetime is unknown', () => {
    expect(parseScheduleOverride('200d', undefined).automaticallyAfterDays).toBe(200);
  });
});

describe('the renewal watch schedule', () => {
  it.each([
    ['rate(1 hour)', 3600],
    ['rate(15 minutes)', 900],
    ['rate(12 hours)', 43_200],
    ['  rate( 30 minutes )  ', 1800],
    ['cron(0 * * * ? *)', 3600],
    ['cron(0 */2 * * ? *)', 7200],
    ['cron(0,30 * ? * * *)', 1800],
    // 06:00 and 18:00: twice a day.
    ['cron(0 6,18 * * ? *)', 43_200],
    // 08:00-20:00 hourly leaves the night: 12 hours from 20:00 to 08:00.
    ['cron(0 8-20 * * ? *)', 43_200],
    ['cron(5/20 * * * ? *)', 1200],
  ])('%s runs at most %i seconds apart', (expression, maxGapSeconds) => {
    expect(parseWatchSchedule(expression)).toEqual({ expression: expression.trim(), maxGapSeconds });
  });

  it.each([
    ['hourly', 'is not an EventBridge schedule expression: use rate(1 hour), rate(30 minutes) or cron(0 */2 * * ? *)'],
    ['rate(0 hours)', 'has a zero interval'],
    ['rate(2 hour)', 'EventBridge wants rate(1 hour) or rate(N hours)'],
    ['rate(1 minutes)', 'EventBridge wants rate(1 minute) or rate(N minutes)'],
    ['rate(1 day)', 'leaves 24 hours between runs: the watch must run at least every 12 hours'],
    ['rate(13 hours)', 'leaves 13 hours between runs'],
    ['rate(5 minutes)', 'runs 5 minutes apart: at most every 15 minutes'],
    ['cron(0 4 * * ? *)', 'leaves 24 hours between runs'],
    ['cron(0 8-17 * * ? *)', 'leaves 15 hours between runs'],
    ['cron(*/5 * * * ? *)', 'runs 5 minutes apart'],
    ['cron(0 * ? * MON-FRI *)', 'the watch must run every day'],
    ['cron(0 * 1 * ? *)', 'the watch must run every day'],
    ['cron(0 * * * * *)', 'the watch must run every day'],
    ['cron(0 25 * * ? *)', 'the minute and hour fields must be numbers, ranges, steps or lists of them'],
    ['cron(L * * * ? *)', 'the minute and hour fields must be'],
    ['cron(0 * * * ?)', 'is not an EventBridge schedule expression'],
  ])('refuses %s', (expression, message) => {
    expect(() => parseWatchSchedule(expression)).toThrow(ScheduleError);
    expect(() => parseWatchSchedule(expression)).toThrow(`${JSON.stringify(expression)}`);
    expect(() => parseWatchSchedule(expression)).toThrow(message);
  });
});
