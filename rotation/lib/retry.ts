/**
 * The two waiting loops of a rotation, each bounded by the time the invocation has left:
 *
 * - `retry`: run an attempt again after a failure worth retrying (a CA rate limit, a
 *   compare-and-swap conflict), waiting in between (AWS throttling is waited out inside the SDK's
 *   own retry loop instead: aws/calls.ts);
 * - `pollUntil`: look again until an answer is final (an ACME order's status, a Route 53 change,
 *   a TXT record on a name server).
 *
 * Callers say what differs (which failures to retry, how long each wait is, which error to throw
 * on giving up); the helpers own the order of the checks, so every loop gives up the same way.
 * Waits go through an injectable `sleep`, and polls read an injectable clock, so tests run these
 * loops without real time.
 */

/** Why `retry` gave up, for RetryPolicy.giveUp to choose the error thrown. */
export type GiveUp =
  /** The failure is not one to retry (RetryPolicy.retryable said no). */
  | { reason: 'final'; attempt: number }
  /** `maxAttempts` attempts were made. */
  | { reason: 'attempts'; attempt: number }
  /** The next wait would not fit in the time left. */
  | { reason: 'time'; attempt: number; waitMs: number; remainingMs: number };

export interface RetryPolicy {
  /** Whether the failure of attempt `attempt` (the first is 1) is worth another attempt. */
  retryable(err: unknown, attempt: number): boolean;
  /**
   * How long to wait after the failure of attempt `attempt` before the next one (ms). Asked only
   * when another attempt is allowed, just before the time left is read.
   */
  waitMs(err: unknown, attempt: number): number;
  /** Attempts in all, the first included. Default: unbounded (the time left bounds them). */
  maxAttempts?: number;
  /** Milliseconds still available for waiting, read once per wait. Default: unbounded. */
  remainingMs?: () => number;
  /** The error to throw on giving up. Default: the failure itself, unchanged. */
  giveUp?: (err: unknown, why: GiveUp) => unknown;
  /** Told of each wait just before it starts (to log it). */
  onWait?: (err: unknown, attempt: number, waitMs: number) => void;
  /**
   * Waits `ms`. Default: a timer. A sleep that throws (Deadline.sleep when the wait would cross
   * the deadline) ends the retries with its own error.
   */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs `attempt` (given its number, the first is 1) until it succeeds. After a failure, in this
 * order: a failure that is not retryable, the last of `maxAttempts`, or a wait longer than the time
 * left each give up with the error `giveUp` chooses; otherwise `onWait` is told, the wait is slept,
 * and the next attempt runs.
 */
export async function retry<T>(attempt: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const sleep = policy.sleep ?? timer;
  const giveUp = policy.giveUp ?? ((err: unknown) => err);
  const maxAttempts = policy.maxAttempts ?? Infinity;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!policy.retryable(err, n)) throw giveUp(err, { reason: 'final', attempt: n });
      if (n >= maxAttempts) throw giveUp(err, { reason: 'attempts', attempt: n });
      const waitMs = policy.waitMs(err, n);
      const remainingMs = policy.remainingMs?.() ?? Infinity;
      if (waitMs > remainingMs) throw giveUp(err, { reason: 'time', attempt: n, waitMs, remainingMs });
      policy.onWait?.(err, n, waitMs);
      await sleep(waitMs);
    }
  }
}

export interface PollSchedule {
  /**
   * How long to wait before the next look (ms), from the looks made so far (0 before the first
   * one when `waitFirst`) and the milliseconds since the poll started.
   */
  delayMs(looks: number, waitedMs: number): number;
  /** Wait before the first look too (a change just submitted is never done at once). Default false. */
  waitFirst?: boolean;
  /**
   * Milliseconds left before the deadline, read before each wait and before `delayMs`: a wait is
   * cut to what is left, and nothing left ends the poll undone ('expired'). Default: unbounded.
   */
  remainingMs?: () => number;
  /** Asked before each wait and each look: true ends the poll undone ('cancelled'). */
  cancelled?: () => boolean;
  /** Waits `ms`. Default: a timer. A sleep that throws ends the poll with its error. */
  sleep?: (ms: number) => Promise<void>;
  /** The clock `waitedMs` is read from. Default Date.now. */
  now?: () => number;
}

export type PollOutcome<T> =
  { done: true; value: T; looks: number } | { done: false; reason: 'expired' | 'cancelled'; looks: number };

/**
 * Looks (`fetch`) until `done` says the answer is final, waiting `schedule.delayMs` between looks.
 * Errors of `fetch` and `done` end the poll as they are: a look that may fail and be retried
 * catches its own failure and returns it as an answer that is not done.
 */
export async function pollUntil<T>(
  fetch: () => Promise<T>,
  done: (value: T) => boolean,
  schedule: PollSchedule,
): Promise<PollOutcome<T>> {
  const sleep = schedule.sleep ?? timer;
  const now = schedule.now ?? Date.now;
  const started = now();
  for (let looks = 0; ;) {
    if (looks > 0 || schedule.waitFirst) {
      if (schedule.cancelled?.()) return { done: false, reason: 'cancelled', looks };
      const remaining = schedule.remainingMs?.() ?? Infinity;
      if (remaining <= 0) return { done: false, reason: 'expired', looks };
      await sleep(Math.min(schedule.delayMs(looks, now() - started), remaining));
    }
    if (schedule.cancelled?.()) return { done: false, reason: 'cancelled', looks };
    const value = await fetch();
    looks++;
    if (done(value)) return { done: true, value, looks };
  }
}

function timer(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
