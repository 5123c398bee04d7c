/**
 * Starting many renewals without stampeding Route 53 (5 requests/s per account). The watch keeps
 * at most `maxInFlight` rotations running — those it started and those already in progress — and
 * starts the next as one ends. A window over concurrency rather than a fixed start rate adapts to
 * what a rotation really costs: when Route 53 throttles, rotations take longer and fewer start;
 * when it answers fast, more do. The bound keeps every rotation's share of the request budget
 * large enough to finish well inside its Lambda timeout (docs/PERFORMANCE.md, the fleet benchmark).
 * What is not started before the time budget runs out is deferred to the next run.
 */

export interface PaceOptions<T> {
  maxInFlight: number;
  /** Rotations running when the run began (in progress before it): they hold slots until they end. */
  alreadyRunning: T[];
  /**
   * Start one renewal; 'in-progress' means Secrets Manager already had one running (it holds a
   * slot); 'skipped' means a re-read showed it must not start (it holds none).
   */
  start: (item: T) => Promise<'started' | 'in-progress' | 'skipped'>;
  /** Which of `running` are still running now. */
  stillRunning: (running: T[]) => Promise<T[]>;
  /** Time left for starting more (the run's budget minus what reporting needs). */
  timeLeftMs: () => number;
  /** How often running rotations are looked at. */
  pollMs: number;
  sleep: (ms: number) => Promise<void>;
  /** A start that failed: reported, the slot freed, the item not retried in this run. */
  onError: (item: T, err: unknown) => void;
}

export interface PaceResult<T> {
  started: T[];
  /** Secrets Manager said a rotation was already running. */
  inProgress: T[];
  /** Not started after a re-read (renewed or started elsewhere since the listing). */
  skipped: T[];
  failed: T[];
  /** Not started: no slot before the time budget ran out. */
  deferred: T[];
}

export async function startPaced<T>(queue: readonly T[], opts: PaceOptions<T>): Promise<PaceResult<T>> {
  const waiting = [...queue];
  const result: PaceResult<T> = { started: [], inProgress: [], skipped: [], failed: [], deferred: [] };
  let running = [...opts.alreadyRunning];
  while (waiting.length > 0 && opts.timeLeftMs() > 0) {
    if (running.length > 0) running = await opts.stillRunning(running);
    const free = Math.max(0, opts.maxInFlight - running.length);
    const batch = waiting.splice(0, free);
    const outcomes = await Promise.all(
      batch.map(async (item) => {
        try {
          return { item, outcome: await opts.start(item) };
        } catch (err) {
          opts.onError(item, err);
          return { item, outcome: 'failed' as const };
        }
      }),
    );
    for (const { item, outcome } of outcomes) {
      if (outcome === 'failed') result.failed.push(item);
      else if (outcome === 'skipped') result.skipped.push(item);
      else {
        (outcome === 'started' ? result.started : result.inProgress).push(item);
        running.push(item);
      }
    }
    if (waiting.length > 0 && opts.timeLeftMs() > 0) await opts.sleep(Math.min(opts.pollMs, opts.timeLeftMs()));
  }
  result.deferred = waiting;
  return result;
}

/**
 * A pace for calls that share an account-wide rate: at most `perSecond` a second, in the order
 * asked (Secrets Manager's TagResource and UntagResource share 50 requests/s per account and
 * region with the rotation function's own tag writes). Each `take` resolves when the call may go.
 */
export class RateGate {
  private next = 0;
  /** Calls let through. */
  taken = 0;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  async take(): Promise<void> {
    const at = Math.max(this.now(), this.next);
    this.next = at + 1000 / this.perSecond;
    this.taken++;
    const wait = at - this.now();
    if (wait > 0) await this.sleep(wait);
  }
}
