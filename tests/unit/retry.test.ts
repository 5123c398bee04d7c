import { describe, expect, it, vi } from 'vitest';
import { pollUntil, retry, type GiveUp, type RetryPolicy } from '../../rotation/lib/retry.js';

/** A clock that only moves when something sleeps on it, and the waits it saw. */
function fakeTime(start = 1_000) {
  let now = start;
  const waits: number[] = [];
  return {
    now: () => now,
    waits,
    sleep: vi.fn((ms: number) => {
      waits.push(ms);
      now += ms;
      return Promise.resolve();
    }),
  };
}

/** An attempt that fails with `errors` in turn, then answers `value`; it records the attempt numbers. */
function failingThen<T>(errors: unknown[], value: T) {
  const seen: number[] = [];
  const attempt = (n: number): Promise<T> => {
    seen.push(n);
    const err = errors[n - 1];
    return err === undefined ? Promise.resolve(value) : Promise.reject(err);
  };
  return { attempt, seen };
}

class Busy extends Error {}

describe('retry', () => {
  const policy = (time: ReturnType<typeof fakeTime>, extra: Partial<RetryPolicy> = {}): RetryPolicy => ({
    retryable: (err) => err instanceof Busy,
    waitMs: (_err, attempt) => 10 * attempt,
    sleep: time.sleep,
    ...extra,
  });

  it('returns the first answer without waiting', async () => {
    const time = fakeTime();
    const { attempt, seen } = failingThen([], 'ok');
    const retryable = vi.fn(() => true);

    expect(await retry(attempt, policy(time, { retryable }))).toBe('ok');
    expect(seen).toEqual([1]);
    expect(retryable).not.toHaveBeenCalled();
    expect(time.waits).toEqual([]);
  });

  it('waits as the policy says after each retryable failure, telling onWait, until an attempt succeeds', async () => {
    const time = fakeTime();
    const first = new Busy('first');
    const second = new Busy('second');
    const { attempt, seen } = failingThen([first, second], 'ok');
    const onWait = vi.fn();

    expect(await retry(attempt, policy(time, { onWait, maxAttempts: 3 }))).toBe('ok');
    expect(seen).toEqual([1, 2, 3]);
    expect(time.waits).toEqual([10, 20]);
    expect(onWait.mock.calls).toEqual([
      [first, 1, 10],
      [second, 2, 20],
    ]);
  });

  it('gives up when the next wait does not fit in the time left, with the error giveUp chooses', async () => {
    const time = fakeTime();
    const last = new Busy('still busy');
    const { attempt, seen } = failingThen([new Busy('busy'), last, new Busy('never')], 'never');
    const remainingMs = vi.fn(() => 15);
    const giveUp = vi.fn(
      (err: unknown, why: GiveUp) => new Error(`gave up (${why.reason}): ${(err as Error).message}`),
    );

    const err = await retry(attempt, policy(time, { remainingMs, giveUp })).catch((e: unknown) => e);

    expect((err as Error).message).toBe('gave up (time): still busy');
    expect(giveUp).toHaveBeenCalledWith(last, { reason: 'time', attempt: 2, waitMs: 20, remainingMs: 15 });
    expect(seen).toEqual([1, 2]);
    expect(time.waits).toEqual([10]); // 10 fits in 15; 20 does not
    expect(remainingMs).toHaveBeenCalledTimes(2); // once per wait considered
  });

  it('gives up after maxAttempts without asking how long to wait after the last', async () => {
    const time = fakeTime();
    const last = new Busy('third');
    const { attempt, seen } = failingThen([new Busy('first'), new Busy('second'), last], 'never');
    const waitMs = vi.fn((_err: unknown, n: number) => 10 * n);
    const giveUp = vi.fn(
      (err: unknown, why: GiveUp) => new Error(`${why.reason} after ${why.attempt}`, { cause: err }),
    );

    const err = await retry(attempt, policy(time, { maxAttempts: 3, waitMs, giveUp })).catch((e: unknown) => e);

    expect((err as Error).message).toBe('attempts after 3');
    expect((err as Error).cause).toBe(last);
    expect(seen).toEqual([1, 2, 3]);
    expect(waitMs.mock.calls.map((c) => c[1])).toEqual([1, 2]);
    expect(time.waits).toEqual([10, 20]);
  });

  it('passes a failure that is not retryable through unchanged, at once', async () => {
    const time = fakeTime();
    const fatal = new Error('no such zone');
    const { attempt, seen } = failingThen([fatal], 'never');

    await expect(retry(attempt, policy(time))).rejects.toBe(fatal);
    expect(seen).toEqual([1]);
    expect(time.waits).toEqual([]);
  });

  it('judges a failure not worth retrying as final even on the last attempt', async () => {
    const time = fakeTime();
    const fatal = new Error('rejected');
    const { attempt } = failingThen([new Busy('busy'), fatal], 'never');
    const giveUp = vi.fn((err: unknown) => err);

    await expect(retry(attempt, policy(time, { maxAttempts: 2, giveUp }))).rejects.toBe(fatal);
    expect(giveUp).toHaveBeenCalledWith(fatal, { reason: 'final', attempt: 2 });
  });

  it('ends with the error of a sleep that refuses to wait', async () => {
    const { attempt, seen } = failingThen([new Busy('busy')], 'never');
    const refused = new Error('not enough time left');

    const err = await retry(attempt, {
      retryable: () => true,
      waitMs: () => 10,
      sleep: () => Promise.reject(refused),
    }).catch((e: unknown) => e);

    expect(err).toBe(refused);
    expect(seen).toEqual([1]);
  });
});

describe('pollUntil', () => {
  /** Answers `answers` in turn, the last one from then on. */
  function answering<T>(answers: T[]) {
    let n = 0;
    return vi.fn(() => Promise.resolve(answers[Math.min(n++, answers.length - 1)] as T));
  }

  it('returns the first answer when it is done, without waiting', async () => {
    const time = fakeTime();
    const fetch = answering(['ready']);
    const delayMs = vi.fn(() => 10);

    const outcome = await pollUntil(fetch, (s) => s === 'ready', { delayMs, sleep: time.sleep, now: time.now });

    expect(outcome).toEqual({ done: true, value: 'ready', looks: 1 });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(delayMs).not.toHaveBeenCalled();
    expect(time.waits).toEqual([]);
  });

  it('looks again after each delay the schedule gives from the looks made and the time waited', async () => {
    const time = fakeTime();
    const fetch = answering(['pending', 'pending', 'pending', 'ready']);
    const delayMs = vi.fn((looks: number) => 5 * looks);

    const outcome = await pollUntil(fetch, (s) => s === 'ready', { delayMs, sleep: time.sleep, now: time.now });

    expect(outcome).toEqual({ done: true, value: 'ready', looks: 4 });
    expect(delayMs.mock.calls).toEqual([
      [1, 0],
      [2, 5],
      [3, 15],
    ]);
    expect(time.waits).toEqual([5, 10, 15]);
  });

  it('waits before the first look when asked to', async () => {
    const time = fakeTime();
    const fetch = answering(['ready']);
    const delayMs = vi.fn(() => 7);

    const outcome = await pollUntil(fetch, (s) => s === 'ready', {
      waitFirst: true,
      delayMs,
      sleep: time.sleep,
      now: time.now,
    });

    expect(outcome).toEqual({ done: true, value: 'ready', looks: 1 });
    expect(delayMs.mock.calls).toEqual([[0, 0]]);
    expect(time.waits).toEqual([7]);
  });

  it('cuts the last wait to the time left and ends undone once the deadline has passed', async () => {
    const time = fakeTime();
    const endsAt = time.now() + 25;
    const fetch = answering(['pending']);

    const outcome = await pollUntil(fetch, (s) => s === 'ready', {
      delayMs: () => 10,
      remainingMs: () => Math.max(0, endsAt - time.now()),
      sleep: time.sleep,
      now: time.now,
    });

    expect(outcome).toEqual({ done: false, reason: 'expired', looks: 4 });
    expect(time.waits).toEqual([10, 10, 5]);
    expect(fetch).toHaveBeenCalledTimes(4); // one look at the deadline itself
  });

  it('ends undone, without another look, once cancelled', async () => {
    const time = fakeTime();
    const control = { stopped: false };
    const fetch = vi.fn(() => {
      if (fetch.mock.calls.length === 2) control.stopped = true; // a sibling failed meanwhile
      return Promise.resolve('pending');
    });

    const outcome = await pollUntil(fetch, (s) => s === 'ready', {
      delayMs: () => 10,
      cancelled: () => control.stopped,
      sleep: time.sleep,
      now: time.now,
    });

    expect(outcome).toEqual({ done: false, reason: 'cancelled', looks: 2 });
    expect(time.waits).toEqual([10]);
  });

  it('ends with the error of a look, of done, or of a sleep, as it is', async () => {
    const time = fakeTime();
    const lookFailed = new Error('SERVFAIL');
    const orderInvalid = new Error('the order is invalid');
    const refused = new Error('not enough time left');

    await expect(
      pollUntil(
        () => Promise.reject(lookFailed),
        () => true,
        { delayMs: () => 1, sleep: time.sleep },
      ),
    ).rejects.toBe(lookFailed);
    await expect(
      pollUntil(
        () => Promise.resolve('invalid'),
        () => {
          throw orderInvalid;
        },
        { delayMs: () => 1, sleep: time.sleep },
      ),
    ).rejects.toBe(orderInvalid);
    await expect(
      pollUntil(
        () => Promise.resolve('pending'),
        () => false,
        { delayMs: () => 1, sleep: () => Promise.reject(refused) },
      ),
    ).rejects.toBe(refused);
  });
});
