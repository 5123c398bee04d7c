/**
 * What is in flight is what Secrets Manager says: a secret's AWSPENDING version dated by
 * ListSecretVersionIds. A young one is a rotation in flight (it holds a pacing slot, whoever started
 * it); an old one is a failed rotation, which the watch clears so the next renewal can start.
 */
import { errorMessage } from '../lib/errors.js';
import type { Item, Run } from './model.js';
import { pendingVersion, type PendingVersion } from './secrets.js';

/**
 * Dates the secret's AWSPENDING version. Young: a rotation in flight (it holds a slot, whichever run,
 * schedule or operator started it). Old: a failed rotation, which holds none.
 */
export async function datePending(item: Item, run: Run): Promise<void> {
  const { deps } = run;
  let pending: PendingVersion | undefined;
  try {
    pending = await deps.secrets.pending(item.secret.arn);
  } catch (err) {
    // Without its date, the watch's own record of starting it decides; else it counts as failed.
    const started = item.state.started?.getTime();
    if (started !== undefined && run.now.getTime() - started < run.inFlightMs) item.pending = { since: started };
    else item.undatedPending = pendingVersion(item.secret.versions);
    deps.logger.warn('could not date the pending version (ListSecretVersionIds)', {
      secretName: item.secret.name,
      error: err,
    });
    return;
  }
  if (!pending) return; // ended since the listing
  const age = run.now.getTime() - pending.createdAt.getTime();
  if (age < run.inFlightMs) {
    item.pending = { versionId: pending.versionId, since: pending.createdAt.getTime() };
    return;
  }
  await clearFailedRotation(item, pending, run);
}

/**
 * A failed rotation's AWSPENDING label blocks every later RotateSecret of the secret (the schedule's,
 * an operator's, the watch's). Older than the rotation function's timeout plus a margin, no step of
 * it is still running: the watch takes the label off that version (UpdateSecretVersionStage with
 * RemoveFromVersionId, nothing else; AWSCURRENT is never touched), so the next renewal can start.
 * Should a late retry of the old rotation still arrive, its standard checks find its token no longer
 * AWSPENDING and it stops before touching anything. If the role may not do it, the certificate is
 * reported at risk with the commands that do.
 */
async function clearFailedRotation(item: Item, pending: PendingVersion, run: Run): Promise<void> {
  const { deps } = run;
  const hours = Math.round(((run.now.getTime() - pending.createdAt.getTime()) / 3_600_000) * 10) / 10;
  const failed = { versionId: pending.versionId, createdAt: pending.createdAt, cleared: false };
  item.failedRotation = failed;
  try {
    await run.gate.take();
    await deps.secrets.clearPending(item.secret.arn, pending.versionId);
    failed.cleared = true;
    item.secret.versions = Object.fromEntries(
      Object.entries(item.secret.versions)
        .map(([id, stages]): [string, string[]] => [
          id,
          id === pending.versionId ? stages.filter((s) => s !== 'AWSPENDING') : stages,
        ])
        .filter(([, stages]) => stages.length > 0),
    );
    deps.logger.warn('a failed rotation was cleared: its AWSPENDING label is removed, a renewal may start', {
      secretName: item.secret.name,
      versionId: pending.versionId,
      pendingSince: pending.createdAt.toISOString(),
      hours,
    });
  } catch (err) {
    item.atRisk =
      `a rotation failed: AWSPENDING has been on version ${pending.versionId} since ` +
      `${pending.createdAt.toISOString()} (${hours} h, past the rotation's timeout) and blocks every renewal; ` +
      `the watch could not clear it (${errorMessage(err)}). Read the rotation function's log for that ` +
      `ClientRequestToken, fix the cause, then run: aws secretsmanager update-secret-version-stage ` +
      `--secret-id ${item.secret.arn} --version-stage AWSPENDING --remove-from-version-id ${pending.versionId} ` +
      `&& aws secretsmanager rotate-secret --secret-id ${item.secret.arn}`;
  }
}

/** Is this rotation still in flight? Secrets Manager's labels say; a pending version past the limit does not count. */
export async function stillInFlight(item: Item, run: Run): Promise<boolean> {
  const since = item.pending?.since ?? 0;
  if (run.deps.now().getTime() - since >= run.inFlightMs) return false;
  try {
    const fresh = await run.deps.secrets.describe(item.secret.arn);
    return pendingVersion(fresh.versions) !== undefined;
  } catch {
    return true; // unknown: keep holding the slot (until the limit) rather than overload Route 53
  }
}
