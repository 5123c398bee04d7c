import { afterEach, describe, expect, it, vi } from 'vitest';
import { Deadline, backoffDelay } from '../../rotation/lib/deadline.js';
import { DeadlineError } from '../../rotation/lib/errors.js';

/** A manual clock. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function deadlineError(fn: () => void): DeadlineError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DeadlineError);
    return err as DeadlineError;
  }
  throw new Error('expected a DeadlineError');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Deadline', () => {
  it('keeps the reserve back and never goes negative', () => {
    const c = clock();
    const d = new Deadline(60_000, 20_000, c.now);
    expect(d.remainingMs()).toBe(40_000);
    c.advance(30_000);
    expect(d.remainingMs()).toBe(10_000);
    c.advance(30_000);
    expect(d.remainingMs()).toBe(0);
    c.advance(60_000);
    expect(d.remainingMs()).toBe(0);
  });

  it("takes the Lambda's remaining time from the context, 900 s without one", () => {
    const d = Deadline.fromContext({ getRemainingTimeInMillis: () => 120_000 }, 0);
    expect(d.remainingMs()).toBeLessThanOrEqual(120_000);
    expect(d.remainingMs()).toBeGreaterThan(119_000);
    const fallback = Deadline.fromContext(undefined);
    expect(fallback.remainingMs()).toBeLessThanOrEqual(880_000);
    expect(fallback.remainingMs()).toBeGreaterThan(879_000);
    expect(Deadline.fromContext({}).remainingMs()).toBeGreaterThan(879_000);
  });

  it('cap: the earlier of the parent deadline and the cap, with the same reserve', () => {
    const c = clock();
    const parent = new Deadline(100_000, 10_000, c.now);
    const short = parent.cap(30_000);
    expect(short.remainingMs()).toBe(30_000);
    const long = parent.cap(500_000);
    expect(long.remainingMs()).toBe(90_000);
    c.advance(40_000);
    expect(short.remainingMs()).toBe(0);
    expect(long.remainingMs()).toBe(50_000);
    expect(parent.remainingMs()).toBe(50_000);
    // A cap taken later starts from then.
    expect(parent.cap(30_000).remainingMs()).toBe(30_000);
    expect(parent.cap(60_000).remainingMs()).toBe(50_000);
  });

  it('require: passes with enough time, else names the wait and the numbers', () => {
    const c = clock();
    const d = new Deadline(10_000, 2_000, c.now);
    expect(() => d.require(8_000, 'anything')).not.toThrow();
    const err = deadlineError(() => d.require(8_001, 'Route 53 to report INSYNC'));
    expect(err.code).toBe('DeadlineExceeded');
    expect(err.message).toContain('not enough time left for Route 53 to report INSYNC: 8000 ms usable, 8001 ms needed');
    expect(err.message).toContain('the limit is the function timeout');
  });

  it('names the setting that ends a capped wait, or the function timeout when that ends first', () => {
    const c = clock();
    const d = new Deadline(100_000, 0, c.now);
    const acme = deadlineError(() => d.cap(10_000, 'ACME_TIMEOUT_SECONDS').require(20_000, 'the CA'));
    expect(acme.message).toContain('the limit is ACME_TIMEOUT_SECONDS');
    const lambda = deadlineError(() => d.cap(500_000, 'ACME_TIMEOUT_SECONDS').require(200_000, 'the CA'));
    expect(lambda.message).toContain('the limit is the function timeout');
  });

  it('sleep: waits when there is time', async () => {
    vi.useFakeTimers();
    const d = new Deadline(10_000, 0);
    let done = false;
    const p = d.sleep(5_000, 'a wait').then(() => (done = true));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect(done).toBe(true);
  });

  it('sleep: throws at once instead of sleeping past the deadline', async () => {
    vi.useFakeTimers();
    const d = new Deadline(10_000, 0);
    const started = Date.now();
    await expect(d.sleep(10_001, 'the CA')).rejects.toThrow(DeadlineError);
    expect(Date.now()).toBe(started);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('backoffDelay', () => {
  it('starts at the minimum and is capped at the maximum', () => {
    expect(backoffDelay(0, 250, 2_000, () => 0)).toBe(250);
    expect(backoffDelay(0, 250, 2_000, () => 1)).toBe(250);
    expect(backoffDelay(1, 250, 2_000, () => 1)).toBe(500);
    expect(backoffDelay(2, 250, 2_000, () => 1)).toBe(1_000);
    expect(backoffDelay(3, 250, 2_000, () => 1)).toBe(2_000);
    expect(backoffDelay(30, 250, 2_000, () => 1)).toBe(2_000);
    expect(backoffDelay(30, 250, 2_000, () => 0)).toBe(250);
  });

  it('jitters between the minimum and the ceiling', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      for (let i = 0; i < 20; i++) {
        const d = backoffDelay(attempt, 100, 1_000);
        expect(d).toBeGreaterThanOrEqual(100);
        expect(d).toBeLessThanOrEqual(Math.min(1_000, 100 * 2 ** attempt));
      }
    }
    expect(backoffDelay(3, 100, 1_000, () => 0.5)).toBe(450);
  });
});
