import { parseSpec, type CertificateSpec } from '../../certificate/spec.js';
import { challengeDomain } from '../../dns01/names.js';
import { leftoverRecords, readInflight } from '../../dns01/inflight.js';
import type { StepContext } from './context.js';

/**
 * Remove TXT values a killed earlier attempt left behind (recorded in the in-flight tags).
 * createSecret runs it before a new order, finishSecret again so a rotation leaves nothing in DNS.
 * `bestEffort`: log a failure instead of throwing (used where the rotation can go on without it).
 */
export async function cleanUpLeftovers(
  ctx: StepContext,
  knownSpec?: CertificateSpec,
  bestEffort = false,
): Promise<void> {
  const inflight = readInflight(ctx.secret.tags);
  if (inflight.tagKeys.length === 0) return;
  const spec = knownSpec ?? parseSpec(ctx.secret.name, ctx.secret.tags);
  const records = leftoverRecords(spec.domains.map(challengeDomain), inflight.values);
  ctx.logger.warn('found TXT values of an interrupted attempt; removing them', {
    inflightToken: inflight.token,
    values: inflight.values.length,
  });
  try {
    if (records.length > 0) {
      await ctx.logger.time('dns-cleanup-leftovers', () => ctx.dns.forSpec(spec).cleanUp(records, ctx.deadline));
    }
    await ctx.secrets.untag(ctx.secret.arn, inflight.tagKeys);
  } catch (err) {
    if (!bestEffort) throw err;
    ctx.logger.error('could not remove the TXT values of an interrupted attempt; will retry at the next step', {
      error: err,
    });
  }
}
