import { describe, expect, it } from 'vitest';
import { parseRenewalInfo } from '../../rotation/watch/ari.js';
import { startPaced } from '../../rotation/watch/pace.js';
import {
  assess,
  ERROR_RECHECK_MS,
  lifetimeRenewalAt,
  MAX_RECHECK_MS,
  MIN_RECHECK_MS,
  shouldAskCa,
  withAnswer,
  withAriError,
  type CertificateFacts,
} from '../../rotation/watch/plan.js';
import { readRenewalState, RENEWAL_TAG, renewalTags } from '../../rotation/watch/tags.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = new Date('2027-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function cert(lifetimeMs: number, certId = 'aki.serial'): CertificateFacts {
  return { certId, notBefore: T0, notAfter: at(lifetimeMs) };
}

describe("when to renew without Renewal Information: from the certificate's own lifetime", () => {
  it('2/3 of the lifetime, 1/2 under 10 days', () => {
    expect(lifetimeRenewalAt(cert(90 * DAY))).toEqual(at(60 * DAY));
    expect(lifetimeRenewalAt(cert(45 * DAY))).toEqual(at(30 * DAY));
    expect(lifetimeRenewalAt(cert(160 * HOUR))).toEqual(at(80 * HOUR));
    expect(lifetimeRenewalAt(cert(24 * HOUR))).toEqual(at(12 * HOUR));
  });

  it('due at that point, at risk when overdue by a sixth of the lifetime or with a quarter (≤ 24 h) left', () => {
    const c = cert(90 * DAY);
    expect(assess({}, c, at(59 * DAY))).toMatchObject({ verdict: 'ok', basis: 'lifetime' });
    expect(assess({}, c, at(60 * DAY))).toMatchObject({ verdict: 'due', basis: 'lifetime' });
    expect(assess({}, c, at(62 * DAY)).atRisk).toBeUndefined(); // within 3 days of grace
    expect(assess({}, c, at(63 * DAY + HOUR)).atRisk).toMatch(/^renewal overdue since 2027-03-02/);
    const day = cert(24 * HOUR);
    expect(assess({}, day, at(13 * HOUR)).atRisk).toBeUndefined();
    expect(assess({}, day, at(16 * HOUR + 1)).atRisk).toMatch(/^renewal overdue/); // grace 4 h
    expect(assess({}, day, at(19 * HOUR)).atRisk).toBe('expires in 5 h'); // under 6 h left
    expect(assess({}, day, at(25 * HOUR)).atRisk).toBe('expired 1 h ago');
  });
});

describe('when to renew with Renewal Information (RFC 9773 §4.2)', () => {
  const c = cert(90 * DAY);
  const window = { start: at(60 * DAY), end: at(62 * DAY) };

  it('a uniformly random moment in the window, chosen once per window and kept across answers', () => {
    const s1 = withAnswer({}, c, { ...window, retryAfterMs: 6 * HOUR }, at(DAY), () => 0.25);
    expect(s1.renewAt).toEqual(at(60.5 * DAY));
    expect(s1.checkAfter).toEqual(at(DAY + 6 * HOUR));
    // The same window again: the moment stays, whatever the random source says now.
    const s2 = withAnswer(s1, c, { ...window, retryAfterMs: 6 * HOUR }, at(2 * DAY), () => 0.9);
    expect(s2.renewAt).toEqual(s1.renewAt);
    // A moved window: a new moment in it.
    const moved = { start: at(30 * DAY), end: at(31 * DAY) };
    expect(withAnswer(s2, c, moved, at(3 * DAY), () => 0.5).renewAt).toEqual(at(30.5 * DAY));
    expect(assess(s1, c, at(60.4 * DAY))).toMatchObject({ verdict: 'ok', basis: 'ari' });
    expect(assess(s1, c, at(60.5 * DAY))).toMatchObject({ verdict: 'due', basis: 'ari' });
  });

  it('a window already in the past means now, ahead of the lifetime backstop', () => {
    const revoked = withAnswer({}, c, { start: at(DAY), end: at(DAY + HOUR) }, at(2 * DAY), () => 0.99);
    expect(assess(revoked, c, at(2 * DAY))).toMatchObject({ verdict: 'due', basis: 'ari-window-passed' });
  });

  it('Retry-After is honoured within a minute and a week; 6 h without one', () => {
    const now = at(DAY);
    const after = (retryAfterMs?: number) =>
      withAnswer(
        {},
        c,
        { ...window, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
        now,
        () => 0,
      ).checkAfter?.getTime() ?? NaN;
    expect(after(10_000) - now.getTime()).toBe(MIN_RECHECK_MS);
    expect(after(30 * DAY) - now.getTime()).toBe(MAX_RECHECK_MS);
    expect(after(undefined) - now.getTime()).toBe(6 * HOUR);
    expect(after(2 * HOUR) - now.getTime()).toBe(2 * HOUR);
  });

  it('asks the CA for a new certificate at once, else only when checkAfter has passed', () => {
    const s = withAnswer({}, c, { ...window, retryAfterMs: HOUR }, at(DAY), () => 0);
    expect(shouldAskCa({}, c, at(DAY))).toBe(true);
    expect(shouldAskCa(s, c, at(DAY + HOUR - 1))).toBe(false);
    expect(shouldAskCa(s, c, at(DAY + HOUR))).toBe(true);
    expect(shouldAskCa(s, cert(90 * DAY, 'other.id'), at(DAY + 1))).toBe(true);
    expect(shouldAskCa({}, { ...c, certId: undefined }, at(DAY))).toBe(false);
  });

  it('a failed ask keeps what was known, never makes the certificate due, and retries in about an hour', () => {
    const s = withAnswer({}, c, { ...window, retryAfterMs: HOUR }, at(DAY), () => 0.5);
    const failed = withAriError(s, c, 'HTTP 503', at(2 * DAY), () => 0.5);
    expect(failed).toMatchObject({ renewAt: s.renewAt, window: s.window, error: 'HTTP 503' });
    expect(failed.checkAfter?.getTime()).toBe(at(2 * DAY).getTime() + ERROR_RECHECK_MS);
    const fresh = withAriError({}, c, 'timeout', at(2 * DAY), () => 0);
    expect(assess(fresh, c, at(2 * DAY)).verdict).toBe('ok');
  });
});

describe('the state in tags', () => {
  it('round-trips, clips to 256 characters, cleans what tags cannot hold, and says which keys to remove', () => {
    const state = {
      certId: 'abc.def',
      window: { start: at(DAY), end: at(2 * DAY) },
      renewAt: at(1.5 * DAY),
      checkAfter: at(HOUR),
      explanation: 'https://ca.example/why?id=1#x',
      error: 'x'.repeat(300),
    };
    const { set, remove } = renewalTags(state);
    expect(set[RENEWAL_TAG.window]).toBe('2027-01-02T00:00:00.000Z/2027-01-03T00:00:00.000Z');
    expect(set[RENEWAL_TAG.error]).toHaveLength(256);
    expect(set[RENEWAL_TAG.explanation]).toBe('https://ca.example/why id=1 x');
    expect(remove).toEqual([RENEWAL_TAG.started]);
    const back = readRenewalState(Object.entries(set).map(([Key, Value]) => ({ Key, Value })));
    expect(back).toMatchObject({
      certId: 'abc.def',
      window: state.window,
      renewAt: state.renewAt,
      checkAfter: state.checkAfter,
    });
    expect(
      readRenewalState([
        { Key: RENEWAL_TAG.window, Value: 'garbage' },
        { Key: RENEWAL_TAG.at, Value: 'soon' },
      ]),
    ).toEqual({});
  });
});

describe('RenewalInfo answers', () => {
  it('accepts a window and an explanation URL; refuses what is not one', () => {
    expect(
      parseRenewalInfo(
        '{"suggestedWindow":{"start":"2027-01-01T00:00:00Z","end":"2027-01-02T00:00:00Z"},"explanationURL":"https://x.test/e"}',
      ),
    ).toEqual({
      start: new Date('2027-01-01T00:00:00Z'),
      end: new Date('2027-01-02T00:00:00Z'),
      explanationUrl: 'https://x.test/e',
    });
    expect(parseRenewalInfo('<html>')).toMatch(/not JSON/);
    expect(parseRenewalInfo('{}')).toBe('the answer has no suggestedWindow object');
    expect(parseRenewalInfo('{"suggestedWindow":{"start":"soon","end":"later"}}')).toMatch(/not RFC 3339/);
    expect(
      parseRenewalInfo('{"suggestedWindow":{"start":"2027-01-02T00:00:00Z","end":"2027-01-01T00:00:00Z"}}'),
    ).toMatch(/ends .* before it starts/);
  });
});

describe('pacing: at most N rotations in flight, the rest deferred', () => {
  it('starts as slots free, counts rotations already running, defers what the time budget leaves', async () => {
    let clock = 0;
    const endsAt = new Map<number, number>();
    const startedAt: number[] = [];
    const result = await startPaced([1, 2, 3, 4, 5, 6, 7, 8], {
      maxInFlight: 3,
      alreadyRunning: [0],
      start: async (n) => {
        startedAt.push(clock);
        endsAt.set(n, clock + 10);
        return n === 4 ? 'in-progress' : 'started';
      },
      stillRunning: async (list) => list.filter((n) => (endsAt.get(n) ?? 15) > clock),
      timeLeftMs: () => 25 - clock,
      pollMs: 5,
      sleep: async (ms) => {
        clock += ms;
      },
      onError: () => undefined,
    });
    // The rotation already running holds a slot until t=15: two start at t=0; they end at 10 and
    // two more start (4 was already running: it holds its slot too); 0 ends at 15: one more; 3 and
    // 4 end at 20: two more; at 25 the time is up and 8 is carried over.
    expect(startedAt).toEqual([0, 0, 10, 10, 15, 20, 20]);
    expect(result.started).toEqual([1, 2, 3, 5, 6, 7]);
    expect(result.inProgress).toEqual([4]);
    expect(result.deferred).toEqual([8]);
  });

  it('a start that fails frees its slot and is reported, not retried', async () => {
    const errors: number[] = [];
    const result = await startPaced([1, 2], {
      maxInFlight: 5,
      alreadyRunning: [],
      start: async (n) => {
        if (n === 1) throw new Error('AccessDenied');
        return 'started';
      },
      stillRunning: async (l) => l,
      timeLeftMs: () => 1_000,
      pollMs: 5,
      sleep: async () => undefined,
      onError: (n) => errors.push(n),
    });
    expect(result).toEqual({ started: [2], inProgress: [], failed: [1], deferred: [] });
    expect(errors).toEqual([1]);
  });
});
