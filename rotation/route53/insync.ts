/**
 * The wait for submitted Route 53 changes to reach INSYNC: GetChange polls on a schedule that
 * grows with the time waited, every change of an order at once, within the deadline.
 */
import { DeadlineError } from '../lib/errors.js';
import { pollDelay, type Deadline } from '../lib/deadline.js';
import type { Logger } from '../lib/log.js';
import type { Route53Adapter } from './adapter.js';
import { pollUntil } from '../lib/retry.js';

export interface InsyncWaitOptions {
  route53: Pick<Route53Adapter, 'getChange'>;
  logger: Logger;
  /** First look after this long, and never sooner between looks (ms). */
  pollMinMs: number;
  /** Never longer between looks (ms). */
  pollMaxMs: number;
}

/** A submitted change still to be seen INSYNC. */
export interface PendingChange {
  zoneId: string;
  changeId: string;
}

/**
 * Waits until every change is INSYNC, polling them concurrently. When one wait fails (the
 * deadline, a GetChange error) the others stop polling.
 */
export async function waitAllInsync(
  changes: readonly PendingChange[],
  deadline: Deadline,
  opts: InsyncWaitOptions,
): Promise<void> {
  const control = { stopped: false };
  try {
    await Promise.all(changes.map((c) => waitInsync(c, deadline, opts, control)));
  } finally {
    control.stopped = true;
  }
}

async function waitInsync(
  { zoneId, changeId }: PendingChange,
  deadline: Deadline,
  opts: InsyncWaitOptions,
  control: { stopped: boolean },
): Promise<void> {
  const what = `Route 53 change ${changeId} (zone ${zoneId}) to reach INSYNC`;
  let polls = 0;
  /** The deadline's error, naming the change and how often it was seen PENDING. */
  const stillPending = (err: unknown): unknown =>
    err instanceof DeadlineError
      ? new DeadlineError(
          `Route 53 change ${changeId} (zone ${zoneId}) still PENDING after ${polls} polls: ${err.message}`,
          {
            cause: err,
          },
        )
      : err;
  const outcome = await pollUntil(
    () => {
      polls++;
      return opts.route53.getChange(changeId);
    },
    (status) => status === 'INSYNC',
    {
      // A new change is PENDING: the first look comes after pollMinMs, later ones every 15% of
      // the time waited so far, so the overshoot past the change's real delay stays small.
      waitFirst: true,
      delayMs: (_looks, waitedMs) => pollDelay(waitedMs, opts.pollMinMs, opts.pollMaxMs, 0.15),
      remainingMs: () => deadline.remainingMs(),
      cancelled: () => control.stopped,
      sleep: async (ms) => {
        try {
          await deadline.sleep(ms, what);
        } catch (err) {
          throw stillPending(err);
        }
      },
    },
  );
  if (outcome.done) {
    opts.logger.debug('route53 change INSYNC', { zoneId, changeId, polls });
  } else if (outcome.reason === 'expired') {
    // No time left: the deadline's own error names the limit that ended the wait.
    try {
      deadline.require(1, what);
    } catch (err) {
      throw stillPending(err);
    }
  }
}
