import { ariCertId } from '../acme/ari.js';
import { issueCertificate } from '../acme/issue.js';
import { buildBundle, parseBundle, type CertificateBundle } from '../bundle.js';
import { AwsServiceError, RotationStateError, errorMessage } from '../errors.js';
import { INFLIGHT_TAG, allInflightTagKeys, inflightTags, leftoverRecords, readInflight } from '../inflight.js';
import { challengeDomain, parseSpec, type CertificateSpec } from '../spec.js';
import type { StepContext } from './context.js';

/**
 * Remove TXT values a killed earlier attempt left behind (recorded in the in-flight tags).
 * `bestEffort`: log a failure instead of throwing (used where the rotation can go on without it).
 */
export async function cleanUpLeftovers(
  ctx: StepContext,
  spec = parseSpec(ctx.secret.name, ctx.secret.tags),
  bestEffort = false,
): Promise<void> {
  const inflight = readInflight(ctx.secret.tags);
  if (inflight.tagKeys.length === 0) return;
  const records = leftoverRecords(spec.domains.map(challengeDomain), inflight.values);
  ctx.logger.warn('found TXT values of an interrupted attempt; removing them', {
    inflightToken: inflight.token,
    values: inflight.values.length,
  });
  try {
    if (records.length > 0) {
      await ctx.logger.time('dns-cleanup-leftovers', () => ctx.dns(spec).cleanUp(records, ctx.deadline));
    }
    await ctx.secrets.untag(ctx.secret.arn, inflight.tagKeys);
  } catch (err) {
    if (!bestEffort) throw err;
    ctx.logger.error('could not remove the TXT values of an interrupted attempt; will retry at the next step', {
      error: err,
    });
  }
}

/** Why a stored bundle no longer matches the spec (names or key type), or undefined. */
export function specMismatch(bundle: CertificateBundle, spec: CertificateSpec): string | undefined {
  const want = new Set(spec.domains);
  const have = new Set(bundle.domains);
  const missing = [...want].filter((d) => !have.has(d));
  const extra = [...have].filter((d) => !want.has(d));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${missing.join(', ')}`);
  if (extra.length) problems.push(`not in the spec any more: ${extra.join(', ')}`);
  if (bundle.key_type !== spec.keyType) problems.push(`key type ${bundle.key_type}, spec asks ${spec.keyType}`);
  return problems.length ? problems.join('; ') : undefined;
}

export function cancelHint(secretName: string): string {
  return (
    'versions are immutable, so this rotation cannot succeed: run ' +
    `aws secretsmanager cancel-rotate-secret --secret-id ${secretName} and then rotate-secret`
  );
}

/** Max tags on a secret (Secrets Manager's limit). */
const MAX_TAGS = 50;

/**
 * createSecret: ACME order + DNS-01 challenge, then the whole bundle stored once as AWSPENDING.
 * Safe to re-run: a pending version that already holds a bundle for the current spec ends the step.
 */
export async function createSecret(ctx: StepContext): Promise<void> {
  const { secret, token, logger } = ctx;
  const spec = parseSpec(secret.name, secret.tags);

  const pendingValue = await ctx.secrets.getValue(secret.arn, { versionId: token, stage: 'AWSPENDING' });
  if (pendingValue !== undefined) {
    const pending = parseBundle(pendingValue);
    if (!pending) {
      throw new RotationStateError(
        `secret "${secret.name}": version ${token} (AWSPENDING) already holds a value that is not a certificate bundle; ` +
          cancelHint(secret.name),
      );
    }
    const mismatch = specMismatch(pending, spec);
    if (mismatch) {
      throw new RotationStateError(
        `secret "${secret.name}": the pending certificate (version ${token}) no longer matches the tags (${mismatch}); ` +
          cancelHint(secret.name),
      );
    }
    await cleanUpLeftovers(ctx, spec, true);
    logger.info('AWSPENDING already holds a certificate bundle; nothing to do');
    return;
  }

  await cleanUpLeftovers(ctx, spec);

  const ca = await ctx.ca();
  const dns = ctx.dns(spec);
  const dnsDeadline = ctx.deadline.cap(ctx.config.dnsPropagationTimeoutMs, 'DNS_PROPAGATION_TIMEOUT_SECONDS');

  // A renewal names the certificate it replaces (ARI), when the current one shares a name with the spec.
  const current = parseBundle(await ctx.secrets.getValue(secret.arn, { stage: 'AWSCURRENT' }));
  const replaces =
    current && current.domains.some((d) => spec.domains.includes(d)) ? ariCertId(current.certificate) : undefined;

  const issued = await issueCertificate(spec, {
    ...(replaces ? { replaces } : {}),
    ca,
    dns,
    logger,
    dnsDeadline,
    waitForPropagation: (placed, deadline) => ctx.waitForPropagation(dns, placed, deadline),
    recordInFlight: async (records) => {
      const tags = inflightTags(token, records);
      const others = secret.tags.filter((t) => !t.Key?.startsWith(INFLIGHT_TAG)).length;
      if (others + Object.keys(tags).length > MAX_TAGS) {
        throw new RotationStateError(
          `secret "${secret.name}": recording ${records.length} challenge values needs ${Object.keys(tags).length} tags, ` +
            `but the secret already has ${others} of the ${MAX_TAGS} allowed; remove unrelated tags or split the certificate`,
        );
      }
      await ctx.secrets.tag(secret.arn, tags);
    },
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
    await ctx.secrets.putValue(secret.arn, token, JSON.stringify(bundle), ['AWSPENDING'], ctx.rotationToken);
  } catch (err) {
    // A concurrent duplicate invocation may have stored its bundle first: that is success.
    if (err instanceof AwsServiceError && err.awsCode === 'ResourceExistsException') {
      const stored = parseBundle(await ctx.secrets.getValue(secret.arn, { versionId: token }));
      if (stored && !specMismatch(stored, spec)) {
        logger.warn('another invocation stored the pending certificate first; keeping it', { serial: stored.serial });
        return;
      }
    }
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
