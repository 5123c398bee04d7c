import { checkAcmTargets } from '../acm/deliver.js';
import { ariCertId } from '../acme/ari.js';
import { issueCertificate } from '../acme/issue.js';
import { buildBundle, parseBundle, type CertificateBundle } from '../bundle.js';
import type { DnsProvider } from '../dns/provider.js';
import { AwsServiceError, RotationStateError, errorMessage } from '../errors.js';
import { INFLIGHT_TAG, allInflightTagKeys, inflightTags } from '../inflight.js';
import { cancelHint } from '../remedies.js';
import { challengeDomain, parseSpec, type CertificateSpec } from '../spec.js';
import type { StepContext } from './context.js';
import { classifyCurrent, foreignCurrent } from './current.js';
import { cleanUpLeftovers } from './leftovers.js';

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

/**
 * What AWSCURRENT holds, refusing (before anything is ordered) a value that is neither empty nor
 * a certificate bundle of ours: a rotation would replace it, and it may be another application's
 * secret. A damaged bundle of ours is replaced, with a warning (see classifyCurrentValue).
 */
async function readCurrent(ctx: StepContext): Promise<CertificateBundle | undefined> {
  const found = await classifyCurrent(ctx);
  if (!found) return undefined;
  const { versionId, value: current } = found;
  switch (current.kind) {
    case 'empty':
      return undefined;
    case 'bundle':
      return current.bundle;
    case 'damaged':
      ctx.logger.warn(
        'AWSCURRENT holds a damaged certificate bundle; issuing a new certificate to replace it (the damaged value stays as AWSPREVIOUS)',
        { currentVersion: versionId, problem: current.problem },
      );
      return undefined;
    case 'foreign':
      throw foreignCurrent(
        ctx,
        { versionId, description: current.description },
        'A rotation would replace it, so nothing was ordered or changed',
        'issues the certificate',
      );
  }
}

/**
 * Find the hosted zone of every name before ordering: a name outside every zone (or a zone id
 * that does not exist) then fails without an order at the CA, which would be left pending.
 * The provider keeps what it read for the real present, so this costs no extra Route 53 call.
 */
export async function checkZones(ctx: StepContext, spec: CertificateSpec, dns: DnsProvider): Promise<void> {
  const domains = [...new Set(spec.domains.map(challengeDomain))];
  try {
    await ctx.logger.time('dns-zone-check', () => dns.locate(domains), { names: domains.length });
  } catch (err) {
    if (err instanceof AwsServiceError && err.awsCode === 'NoSuchHostedZone') {
      err.withHint(
        `a zone id in tag acme:hosted-zone-ids (${spec.hostedZoneIds.join(', ')}) does not exist in this account: ` +
          'correct the tag (aws route53 list-hosted-zones lists the zones), or, for a zone in another account, ' +
          'name the role that reaches it in ROUTE53_ROLES',
      );
    }
    throw err;
  }
}

/**
 * The ARI id (RFC 9773) of the certificate this renewal replaces, sent as `replaces`: only for a
 * certificate of the same CA (directory URL) and the same account, sharing a name with the spec.
 * A CA refuses to let an account replace another's certificate, and without a kept account
 * (ACME_ACCOUNT_SECRET_ID) every rotation has a new one. A bundle that does not record its CA and
 * account (written before they were recorded) is not known to qualify, so it is renewed plainly.
 */
function replacedCertificate(
  ctx: StepContext,
  current: CertificateBundle | undefined,
  spec: CertificateSpec,
  accountUrl: string | undefined,
): string | undefined {
  if (!current || !current.domains.some((d) => spec.domains.includes(d))) return undefined;
  const sameCa = current.acme_directory_url === ctx.config.directoryUrl;
  const sameAccount = accountUrl !== undefined && current.acme_account_url === accountUrl;
  if (!sameCa || !sameAccount) {
    ctx.logger.info("renewing without replaces: the current certificate is not known to be this CA account's", {
      currentCa: current.acme_directory_url ?? 'not recorded',
      sameCa,
      sameAccount,
    });
    return undefined;
  }
  return ariCertId(current.certificate);
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

  // Both reads at once (one round trip); the pending version decides first, so the current value
  // only matters (and its refusal only surfaces) when this step still has work to do.
  const currentRead = readCurrent(ctx);
  currentRead.catch(() => undefined);
  const pendingValue = await ctx.secrets.getValue(secret.arn, { versionId: token, stage: 'AWSPENDING' });
  if (pendingValue !== undefined) {
    const pending = parseBundle(pendingValue);
    if (!pending) {
      throw new RotationStateError(
        `version ${token} (AWSPENDING) already holds a value that is not a certificate bundle`,
        { hint: cancelHint(secret.name, token) },
      );
    }
    const mismatch = specMismatch(pending, spec);
    if (mismatch) {
      throw new RotationStateError(
        `the pending certificate (version ${token}) no longer matches the tags (${mismatch})`,
        { hint: cancelHint(secret.name, token) },
      );
    }
    await cleanUpLeftovers(ctx, spec, true);
    logger.info('AWSPENDING already holds a certificate bundle; nothing to do');
    return;
  }

  // Before anything is ordered or written: a value that is not ours stops the rotation.
  const current = await currentRead;

  await cleanUpLeftovers(ctx, spec);

  // The account secret's read (and the CA modules) overlap the zone check; the account is only
  // registered, on first use, once the zones are known to exist.
  ctx.ca.prefetch();
  const dns = ctx.dns.forSpec(spec);
  await checkZones(ctx, spec, dns);
  // Where the certificate will be delivered must be able to take it, before anything is ordered.
  await checkAcmTargets(ctx, spec);
  const dnsDeadline = ctx.deadline.cap(ctx.config.dnsPropagationTimeoutMs, 'DNS_PROPAGATION_TIMEOUT_SECONDS');

  const ca = await ctx.ca.client();

  const replaces = replacedCertificate(ctx, current, spec, ca.accountUrl());

  const issued = await issueCertificate(spec, {
    ...(replaces ? { replaces } : {}),
    ...(ctx.config.preferredChain ? { preferredChain: ctx.config.preferredChain } : {}),
    secretName: secret.name,
    ca,
    dns,
    logger,
    dnsDeadline,
    waitForPropagation: (placed, deadline) => ctx.dns.waitForPropagation(dns, placed, deadline),
    recordInFlight: async (records) => {
      const tags = inflightTags(token, records);
      const others = secret.tags.filter((t) => !t.Key?.startsWith(INFLIGHT_TAG)).length;
      if (others + Object.keys(tags).length > MAX_TAGS) {
        throw new RotationStateError(
          `recording ${records.length} challenge values needs ${Object.keys(tags).length} tags, ` +
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
    issuedBy: { directoryUrl: ctx.config.directoryUrl, ...(ca.accountUrl() ? { accountUrl: ca.accountUrl() } : {}) },
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
    throw new RotationStateError(`could not store the new certificate as AWSPENDING (${errorMessage(err)})`, {
      cause: err,
    });
  }
  logger.info('stored the new certificate as AWSPENDING', {
    serial: bundle.serial,
    expiry: bundle.expiry,
    issuer: bundle.issuer,
    domains: bundle.domains,
    caCalls: ca.calls,
    route53Calls: ctx.dns.calls(),
  });
}
