import { parseSpec, type CertificateSpec } from '../../certificate/spec.js';
import { readInflight } from '../../dns01/inflight.js';
import type { StepContext } from './context.js';

/**
 * Remove TXT values a killed earlier attempt left behind (recorded in the in-flight tags), through
 * the certificate's DNS-01 solver. createSecret runs it before a new order, finishSecret again so a
 * rotation leaves nothing in DNS. The spec is read only when something was recorded.
 * `bestEffort`: log a failure instead of throwing (used where the rotation can go on without it).
 */
export async function cleanUpLeftovers(
  ctx: StepContext,
  knownSpec?: CertificateSpec,
  bestEffort = false,
): Promise<void> {
  if (readInflight(ctx.secret.tags).tagKeys.length === 0) return;
  const spec = knownSpec ?? parseSpec(ctx.secret.name, ctx.secret.tags);
  try {
    await ctx.dns.solverFor(spec).cleanUpLeftovers(ctx.deadline);
  } catch (err) {
    if (!bestEffort) throw err;
    ctx.logger.error('could not remove the TXT values of an interrupted attempt; will retry at the next step', {
      error: err,
    });
  }
}
