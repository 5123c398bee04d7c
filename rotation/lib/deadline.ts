import { DeadlineError } from './errors.js';

/** The function's timeout: Lambda's maximum. */
export const FUNCTION_TIMEOUT_SECONDS = 900;
/** Seconds the rotation keeps back for clean-up and the failure notice. */
export const CLEANUP_RESERVE_SECONDS = 20;

/** What the programs read of the Lambda context (all optional: tests and local runs pass less). */
export interface LambdaContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
  functionName?: string;
  invokedFunctionArn?: string;
}

/**
 * The Lambda's remaining time, as a budget every wait draws from. `reserveMs` is kept back so
 * clean-up (deleting TXT records, sending the failure event) still has time after a wait gives up.
 */
export class Deadline {
  private readonly endsAt: number;

  constructor(
    remainingMs: number,
    private readonly reserveMs = CLEANUP_RESERVE_SECONDS * 1000,
    private readonly now: () => number = Date.now,
    /** The setting that bounds this deadline, named in the error message. */
    private readonly setting = 'the function timeout',
  ) {
    this.endsAt = now() + remainingMs;
  }

  static fromContext(context: LambdaContext | undefined, reserveMs?: number): Deadline {
    const remaining = context?.getRemainingTimeInMillis?.() ?? FUNCTION_TIMEOUT_SECONDS * 1000;
    return new Deadline(remaining, reserveMs);
  }

  /** Milliseconds usable for work before the reserve. Never negative. */
  remainingMs(): number {
    return Math.max(0, this.endsAt - this.reserveMs - this.now());
  }

  /** Milliseconds until the function's end, the clean-up reserve included. Never negative. */
  untilEndMs(): number {
    return Math.max(0, this.endsAt - this.now());
  }

  /**
   * How long an AWS call may still wait out throttling: until 5 s before the function's end, so
   * the failure it ends in is still reported.
   */
  throttleBudgetMs(): number {
    return this.untilEndMs() - 5_000;
  }

  /** A deadline that ends at the earlier of this one and `ms` from now. */
  cap(ms: number, setting?: string): Deadline {
    const lambdaLeft = this.endsAt - this.now();
    const bound = ms + this.reserveMs;
    // Name whichever limit actually ends the wait.
    const name = bound < lambdaLeft && setting ? setting : this.setting;
    return new Deadline(Math.min(lambdaLeft, bound), this.reserveMs, this.now, name);
  }

  /** Throw DeadlineError unless at least `ms` remain; `what` names the wait for the message. */
  require(ms: number, what: string): void {
    if (this.remainingMs() < ms) {
      throw new DeadlineError(
        `not enough time left for ${what}: ${this.remainingMs()} ms usable, ${ms} ms needed ` +
          `(the limit is ${this.setting}; raise it if the wait is expected to take longer)`,
      );
    }
  }

  /** Sleep `ms`, or throw DeadlineError if that would cross the deadline. */
  async sleep(ms: number, what: string): Promise<void> {
    this.require(ms, what);
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/** Exponential backoff with full jitter between `min` and the capped exponential. */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
  return Math.round(minMs + random() * (ceiling - minMs));
}

/**
 * Interval of a status poll after `elapsedMs` of waiting: 20% (`factor`) of the time waited so far, within
 * [minMs, maxMs]. A wait that ends at D is seen at most max(minMs, 20% of D) late, with O(log D)
 * polls — unlike doubling intervals, which can overshoot by 100%.
 */
export function pollDelay(elapsedMs: number, minMs: number, maxMs: number, factor = 0.2): number {
  return Math.round(Math.min(maxMs, Math.max(minMs, elapsedMs * factor)));
}
