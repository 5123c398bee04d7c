import { RENEWAL_TAG } from '../../rotation/certificate/tags.js';
import { describe, expect, it } from 'vitest';
import { parseRenewalInfo } from '../../rotation/acme/renewal-info.js';
import { RateGate, startPaced } from '../../rotation/watch/pace.js';
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
import { readRenewalState, renewalTags, tagLimitProblem } from '../../rotation/watch/tags.js';

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
  const window = { start: at(50 * DAY), end: at(52 * DAY) };

  it('a uniformly random moment in the window, chosen once per window and kept across answers', () => {
    const s1 = withAnswer({}, c, { ...window, retryAfterMs: 6 * HOUR }, at(DAY), () => 0.25);
    expect(s1.renewAt).toEqual(at(50.5 * DAY));
    expect(s1.checkAfter).toEqual(at(DAY + 6 * HOUR));
    // The same window again: the moment stays, whatever the random source says now.
    const s2 = withAnswer(s1, c, { ...window, retryAfterMs: 6 * HOUR }, at(2 * DAY), () => 0.9);
    expect(s2.renewAt).toEqual(s1.renewAt);
    // A moved window: a new moment in it.
    const moved = { start: at(30 * DAY), end: at(31 * DAY) };
    expect(withAnswer(s2, c, moved, at(3 * DAY), () => 0.5).renewAt).toEqual(at(30.5 * DAY));
    expect(assess(s1, c, at(50.4 * DAY))).toMatchObject({ verdict: 'ok', basis: 'ari' });
    expect(assess(s1, c, at(50.5 * DAY))).toMatchObject({ verdict: 'due', basis: 'ari' });
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

  it('the lifetime backstop stays in force with ARI state: a window beyond it, or beyond notAfter, cannot hold a renewal back', () => {
    const late = withAnswer({}, c, { start: at(88 * DAY), end: at(95 * DAY) }, at(DAY), () => 0.5);
    expect(assess(late, c, at(59 * DAY))).toMatchObject({ verdict: 'ok', basis: 'lifetime-backstop' });
    expect(assess(late, c, at(60 * DAY))).toMatchObject({ verdict: 'due', basis: 'lifetime-backstop' });
    expect(assess(late, c, at(60 * DAY)).renewAt).toEqual(at(60 * DAY));
    // A window starting at the backstop (Let's Encrypt's): renewed at the window's start, inside it.
    const atBackstop = withAnswer({}, c, { start: at(60 * DAY), end: at(62 * DAY) }, at(DAY), () => 0.5);
    expect(assess(atBackstop, c, at(60 * DAY)).verdict).toBe('due');
  });

  it('renews now when the moment falls before the next run (§4.2), not otherwise', () => {
    const s = withAnswer({}, c, { ...window, retryAfterMs: 6 * HOUR }, at(DAY), () => 0.5); // 51 d
    expect(assess(s, c, at(51 * DAY - 30 * 60_000), HOUR).verdict).toBe('due');
    expect(assess(s, c, at(51 * DAY - 2 * HOUR), HOUR).verdict).toBe('ok');
    expect(assess({}, c, at(60 * DAY - 59 * 60_000), HOUR)).toMatchObject({ verdict: 'due', basis: 'lifetime' });
  });

  it('never asks about an expired certificate (§4.3)', () => {
    expect(shouldAskCa({}, c, at(90 * DAY - 1))).toBe(true);
    expect(shouldAskCa({}, c, at(90 * DAY))).toBe(false);
    expect(shouldAskCa({}, c, at(100 * DAY))).toBe(false);
  });

  it('Retry-After is clamped to 1/20 of a short lifetime: never a large part of it', () => {
    const short = cert(160 * HOUR);
    const s = withAnswer(
      {},
      short,
      { start: at(80 * HOUR), end: at(90 * HOUR), retryAfterMs: 7 * DAY },
      at(HOUR),
      () => 0,
    );
    expect(s.checkAfter).toEqual(at(HOUR + 8 * HOUR));
    const day = cert(24 * HOUR);
    const d = withAnswer({}, day, { start: at(12 * HOUR), end: at(13 * HOUR), retryAfterMs: 6 * HOUR }, at(0), () => 0);
    expect(d.checkAfter).toEqual(at(1.2 * HOUR));
  });

  it('backs off exponentially per failure in a row, never sooner than the CA asked, within the bounds', () => {
    let s = withAnswer({}, c, { ...window, retryAfterMs: HOUR }, at(DAY), () => 0.5);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const now = at(2 * DAY + i * DAY);
      s = withAriError(s, c, 'HTTP 500', now, () => 0.5);
      waits.push((s.checkAfter?.getTime() ?? 0) - now.getTime());
    }
    expect(waits.map((w) => w / HOUR)).toEqual([1, 2, 4, 8, 12, 12]);
    expect(s.failures).toBe(6);
    const limited = withAriError({}, c, 'HTTP 429', at(DAY), () => 0.5, 3 * HOUR);
    expect(limited.checkAfter).toEqual(at(DAY + 3 * HOUR));
    // An answer ends the run of failures.
    expect(withAnswer(s, c, { ...window }, at(9 * DAY), () => 0.5).failures).toBeUndefined();
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
  it('round-trips, clips to 255 characters, cleans error text, and says which keys to remove', () => {
    const state = {
      certId: 'abc.def',
      window: { start: at(DAY), end: at(2 * DAY) },
      renewAt: at(1.5 * DAY),
      checkAfter: at(HOUR),
      explanation: 'https://ca.example/incidents/2027-01-01',
      error: `HTTP 503 {"detail": "${'x'.repeat(300)}"}`,
    };
    const { set, remove } = renewalTags(state);
    expect(set[RENEWAL_TAG.window]).toBe('2027-01-02T00:00:00.000Z/2027-01-03T00:00:00.000Z');
    expect(set[RENEWAL_TAG.error]).toHaveLength(255);
    expect(set[RENEWAL_TAG.error]).toMatch(/^HTTP 503 +detail +: +x+\.\.\.$/);
    expect(set[RENEWAL_TAG.explanation]).toBe('https://ca.example/incidents/2027-01-01');
    expect(remove).toEqual([RENEWAL_TAG.started, RENEWAL_TAG.failures]);
    // Every value within TagResource's limit, counted in Unicode characters.
    const wide = renewalTags({ error: '€'.repeat(400) }).set[RENEWAL_TAG.error] ?? '';
    expect([...wide]).toHaveLength(255);
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

describe('the explanation URL and the 50-tag limit', () => {
  it('keeps the URL intact or does not store it', () => {
    const tag = (explanation: string) => renewalTags({ explanation }).set[RENEWAL_TAG.explanation];
    expect(tag('https://letsencrypt.org/2027/01/01/incident')).toBe('https://letsencrypt.org/2027/01/01/incident');
    expect(tag('https://ca.example/why?id=1#x')).toBeUndefined();
    expect(tag('https://ca.example/a%20b')).toBeUndefined();
    expect(tag(`https://ca.example/${'a'.repeat(240)}`)).toBeUndefined();
    expect(renewalTags({ explanation: 'https://ca.example/why?id=1' }).remove).toContain(RENEWAL_TAG.explanation);
  });

  it('says when a write would take the secret past 50 tags; aws: keys and replaced keys do not count', () => {
    const tags = (n: number, prefix = 'team:') =>
      Array.from({ length: n }, (_, i) => ({ Key: `${prefix}${i}`, Value: 'x' }));
    expect(tagLimitProblem(tags(45), { a: '1', b: '2', c: '3', d: '4', e: '5' }, [])).toBeUndefined();
    expect(tagLimitProblem(tags(46), { a: '1', b: '2', c: '3', d: '4', e: '5' }, [])).toBe(
      'the renewal state needs 5 more tag(s) but the secret has 46 of the 50 Secrets Manager allows; remove tags the certificate does not need',
    );
    expect(tagLimitProblem([...tags(46), ...tags(5, 'aws:')], { a: '1', b: '2', c: '3', d: '4' }, [])).toBeUndefined();
    expect(tagLimitProblem([...tags(49), { Key: 'a', Value: '0' }], { a: '1' }, [])).toBeUndefined();
    expect(tagLimitProblem([...tags(49), { Key: 'a', Value: '0' }], { b: '1' }, ['a'])).toBeUndefined();
  });
});

describe('RateGate: writes at most N a second, in order', () => {
  it('spaces the calls and counts them', async () => {
    let clock = 0;
    const gate = new RateGate(
      10,
      () => clock,
      async (ms) => {
        clock += ms;
      },
    );
    const at: number[] = [];
    for (let i = 0; i < 25; i++) {
      await gate.take();
      at.push(clock);
    }
    expect(at.slice(0, 3)).toEqual([0, 100, 200]);
    expect(at.at(-1)).toBe(2400);
    expect(gate.taken).toBe(25);
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
    expect(result).toEqual({ started: [2], inProgress: [], skipped: [], failed: [1], deferred: [] });
    expect(errors).toEqual([1]);
  });
});
