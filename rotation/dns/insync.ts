/**
 * The wait for submitted Route 53 changes to reach INSYNC: GetChange polls on a schedule that
 * grows with the time waited, every change of an order at once, within the deadline.
 */
import { DeadlineError } from '../errors.js';
import { pollDelay, type Deadline } from '../deadline.js';
import type { Logger } from '../log.js';
import type { Route53Adapter } from '../aws/route53.js';

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
  const started = Date.now();
  let polls = 0;
  while (!control.stopped) {
    // A new change is PENDING: the first look comes after pollMinMs, later ones every 15% of
    // the time waited so far, so the overshoot past the change's real delay stays small.
    const delay = pollDelay(Date.now() - started, opts.pollMinMs, opts.pollMaxMs, 0.15);
    const remaining = deadline.remainingMs();
    try {
      if (remaining <= 0) deadline.require(1, what);
      await deadline.sleep(Math.min(delay, remaining), what);
    } catch (err) {
      if (err instanceof DeadlineError) {
        throw new DeadlineError(
          `Route 53 change ${changeId} (zone ${zoneId}) still PENDING after ${polls} polls: ${err.message}`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
    if (control.stopped) return;
    polls++;
    const status = await opts.route53.getChange(changeId);
    if (status === 'INSYNC') {
      opts.logger.debug('route53 change INSYNC', { zoneId, changeId, polls });
      return;
    }
  }
}
