import { MAX_TAG_VALUE, ROTATION_FAILURE_TAG, STATUS_TAGS } from '../../certificate/tags.js';
import { deliverToAcm } from '../../acm/deliver.js';
import { parseSpec } from '../../certificate/spec.js';
import { versionWithStage } from '../../aws/secrets.js';
import { parseBundle } from '../../certificate/bundle.js';
import type { CertificateBundle } from '../../certificate/bundle.js';
import { DnsError, SpecError, VerificationError, errorMessage } from '../../lib/errors.js';
import type { CertificateSpec } from '../../certificate/spec.js';
import type { StepContext } from './context.js';
import { classifyCurrent, foreignCurrent } from './current.js';
import { cleanUpLeftovers } from './leftovers.js';

/** Status tags on the secret: readable without decrypting it. */
export function statusTags(bundle: CertificateBundle): Record<string, string> {
  const domains = bundle.domains.join(',');
  return {
    [STATUS_TAGS.expirationDate]: bundle.expiry,
    [STATUS_TAGS.issuedAt]: bundle.issued_at,
    // TagResource takes values of at most 255 characters (its Tag type says 256; the call refuses 256).
    [STATUS_TAGS.domains]: domains.length <= MAX_TAG_VALUE ? domains : `${domains.slice(0, MAX_TAG_VALUE - 4)},...`,
  };
}

/** What a finished rotation hands to the success notice. */
export interface Promoted {
  bundle: CertificateBundle;
  /** The ACM certificates that hold it (acme:acm-certificate-arns). */
  acmCertificateArns: string[];
  /** The ACM certificates that did not take it (each reported on its own). */
  acmDeliveryFailed: string[];
}

/**
 * finishSecret: version promotion, then delivery. Once testSecret passed, AWSCURRENT is the truth:
 * AWSCURRENT moves to the token (the old version keeps AWSPREVIOUS), status tags are written and
 * the last failure's tag removed, the certificate is delivered to each ACM target (a target that
 * refuses is reported and never fails the step: rotation/acm/deliver.ts), the TXT clean-up is
 * retried, and AWSPENDING is removed from the token last. A re-run after a crash at any point
 * converges: the promotion and tags are idempotent, an ARN that holds the serial is left alone.
 */
export async function finishSecret(ctx: StepContext): Promise<Promoted> {
  const { secret, token, logger } = ctx;
  const current = versionWithStage(secret, 'AWSCURRENT');
  // The value promotion replaces is checked again here: createSecret checked it, but another
  // application may have written AWSCURRENT since (both reads were started beside DescribeSecret).
  const [raw, replaced] = await Promise.all([
    ctx.secrets.getValue(secret.arn, { versionId: token }),
    current !== token ? classifyCurrent(ctx) : undefined,
  ]);
  const bundle = parseBundle(raw);
  if (!bundle) {
    throw new VerificationError(
      `version ${token} holds no certificate bundle; refusing to promote it ` +
        '(createSecret and testSecret must succeed first; Secrets Manager runs the steps in order)',
    );
  }
  if (replaced?.value.kind === 'foreign') {
    throw foreignCurrent(
      ctx,
      { versionId: replaced.versionId, description: replaced.value.description },
      'Promoting the new certificate would replace it, so nothing was promoted',
      'promotes the new certificate',
    );
  }
  if (current !== token) {
    await ctx.secrets.moveStage(secret.arn, 'AWSCURRENT', token, current);
    logger.info('promoted to AWSCURRENT', { previousVersion: current });
  }
  try {
    await ctx.secrets.tag(secret.arn, statusTags(bundle));
  } catch (err) {
    // The certificate is already current; a tag failure must not fail the rotation.
    logger.error('could not write status tags', { error: err });
  }
  // A certificate is current: the last failure no longer explains anything (rotation/function/handler.ts).
  if (secret.tags.some((t) => t.Key === ROTATION_FAILURE_TAG)) {
    try {
      await ctx.secrets.untag(secret.arn, [ROTATION_FAILURE_TAG]);
    } catch (err) {
      logger.error(`could not remove the ${ROTATION_FAILURE_TAG} tag`, { error: err });
    }
  }
  // Verified by testSecret and promoted: now it may go where it is served at once.
  let spec: CertificateSpec | undefined;
  try {
    spec = parseSpec(secret.name, secret.tags);
  } catch (err) {
    // Tags edited into garbage after createSecret: which ARNs is unknown; the watch delivers once fixed.
    logger.error('could not deliver to ACM: the spec tags are invalid', { error: err });
  }
  const delivery = spec ? await deliverToAcm(ctx, spec, bundle) : { holding: [], failed: [] };
  // A clean-up that failed in createSecret is retried here, so this rotation leaves nothing in DNS.
  // If it fails again the step fails after the promotion: the certificate is in service, and
  // Secrets Manager's retry of finishSecret (AWSPENDING is still on the token) cleans up then.
  try {
    await cleanUpLeftovers(ctx);
  } catch (err) {
    // Spec tags edited into garbage: the names are unknown, the values stay recorded for later.
    if (err instanceof SpecError)
      logger.error('could not retry the TXT clean-up: the spec tags are invalid', { error: err });
    else {
      throw new DnsError(
        'CleanUpFailed',
        `the new certificate is in service (AWSCURRENT), but removing the DNS-01 TXT values failed: ${errorMessage(err)}; ` +
          'the step fails so that Secrets Manager retries it, and the retry removes them',
        { cause: err },
      );
    }
  }
  // Last: remove AWSPENDING from the token. Until then a re-run (after a crash here) still sees
  // the token as AWSPENDING and finishes the tags and the notice.
  if (secret.versionStages[token]?.includes('AWSPENDING')) {
    await ctx.secrets.moveStage(secret.arn, 'AWSPENDING', undefined, token);
  }
  return { bundle, acmCertificateArns: delivery.holding, acmDeliveryFailed: delivery.failed };
}
