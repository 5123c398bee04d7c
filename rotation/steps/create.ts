import { issueCertificate } from '../acme/issue.js';
import { buildBundle, parseBundle } from '../bundle.js';
import { RotationStateError, errorMessage } from '../errors.js';
import { allInflightTagKeys, inflightTags, leftoverRecords, readInflight } from '../inflight.js';
import { challengeDomain, parseSpec } from '../spec.js';
import type { StepContext } from './context.js';

/** Remove TXT values a killed earlier attempt left behind (recorded in the in-flight tags). */
export async function cleanUpLeftovers(
  ctx: StepContext,
  spec = parseSpec(ctx.secret.name, ctx.secret.tags),
): Promise<void> {
  const inflight = readInflight(ctx.secret.tags);
  if (inflight.tagKeys.length === 0) return;
  const records = leftoverRecords(spec.domains.map(challengeDomain), inflight.values);
  ctx.logger.warn('found TXT values of an interrupted attempt; removing them', {
    inflightToken: inflight.token,
    values: inflight.values.length,
  });
  if (records.length > 0) {
    await ctx.logger.time('dns-cleanup-leftovers', () => ctx.dns(spec).cleanUp(records, ctx.deadline));
  }
  await ctx.secrets.untag(ctx.secret.arn, inflight.tagKeys);
}

/**
 * createSecret: ACME order + DNS-01 challenge, then the whole bundle stored once as AWSPENDING.
 * Safe to re-run: a pending version that already holds a bundle ends the step at once.
 */
export async function createSecret(ctx: StepContext): Promise<void> {
  const { secret, token, logger } = ctx;
  const spec = parseSpec(secret.name, secret.tags);

  await cleanUpLeftovers(ctx, spec);

  const pendingValue = await ctx.secrets.getValue(secret.arn, { versionId: token, stage: 'AWSPENDING' });
  if (pendingValue !== undefined) {
    if (parseBundle(pendingValue)) {
      logger.info('AWSPENDING already holds a certificate bundle; nothing to do');
      return;
    }
    throw new RotationStateError(
      `secret "${secret.name}": version ${token} (AWSPENDING) already holds a value that is not a certificate bundle; ` +
        'versions are immutable, so cancel this rotation (aws secretsmanager cancel-rotate-secret) and rotate again',
    );
  }

  const ca = await ctx.ca();
  const dns = ctx.dns(spec);
  const dnsDeadline = ctx.deadline.cap(ctx.config.dnsPropagationTimeoutMs, 'DNS_PROPAGATION_TIMEOUT_SECONDS');

  const issued = await issueCertificate(spec, {
    ca,
    dns,
    logger,
    dnsDeadline,
    waitForPropagation: (placed, deadline) => ctx.waitForPropagation(dns, placed, deadline),
    recordInFlight: (records) => ctx.secrets.tag(secret.arn, inflightTags(token, records)),
    clearInFlight: () => ctx.secrets.untag(secret.arn, allInflightTagKeys()),
    // The CA's budget starts when DNS is ready, so a slow propagation cannot starve validation.
    acmeDeadline: () => ctx.deadline.cap(ctx.config.acmeTimeoutMs, 'ACME_TIMEOUT_SECONDS'),
  });

  const bundle = buildBundle({
    certificatePem: issued.certificatePem,
    privateKeyPem: issued.privateKeyPem,
    keyType: spec.keyType,
    domains: spec.domains,
    issuedAt: ctx.now(),
  });
  try {
    await ctx.secrets.putValue(secret.arn, token, JSON.stringify(bundle), ['AWSPENDING']);
  } catch (err) {
    throw new RotationStateError(
      `secret "${secret.name}": could not store the new certificate as AWSPENDING (${errorMessage(err)})`,
      { cause: err },
    );
  }
  logger.info('stored the new certificate as AWSPENDING', {
    serial: bundle.serial,
    expiry: bundle.expiry,
    issuer: bundle.issuer,
    domains: bundle.domains,
    caCalls: ca.calls,
    route53Calls: ctx.route53Calls?.(),
  });
}
