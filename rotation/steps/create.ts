import { ariCertId } from '../acme/ari.js';
import { versionWithStage } from '../aws/secrets.js';
import { issueCertificate } from '../acme/issue.js';
import {
  buildBundle,
  classifyCurrentValue,
  parseBundle,
  type CertificateBundle,
  type CurrentValue,
} from '../bundle.js';
import type { DnsProvider } from '../dns/provider.js';
import { AwsServiceError, BinaryValueError, RotationError, RotationStateError, errorMessage } from '../errors.js';
import { INFLIGHT_TAG, allInflightTagKeys, inflightTags, leftoverRecords, readInflight } from '../inflight.js';
import { challengeDomain, parseSpec, type CertificateSpec } from '../spec.js';
import type { StepContext } from './context.js';

/**
 * Remove TXT values a killed earlier attempt left behind (recorded in the in-flight tags).
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

/**
 * How to get out of a rotation whose pending version can never pass. Versions are immutable and
 * RotateSecret refuses to start while AWSPENDING sits on a version other than AWSCURRENT, so the
 * label has to go too (cancel-rotate-secret alone leaves it).
 */
export function cancelHint(secretName: string, token: string): string {
  return (
    'versions are immutable, so this rotation cannot succeed: run ' +
    `aws secretsmanager cancel-rotate-secret --secret-id ${secretName}, then ` +
    `${removePendingCommand(secretName, token)}, then aws secretsmanager rotate-secret --secret-id ${secretName}`
  );
}

/** The command that drops a leftover AWSPENDING label, so that RotateSecret can start a new rotation. */
export function removePendingCommand(secretName: string, versionId: string): string {
  return (
    `aws secretsmanager update-secret-version-stage --secret-id ${secretName} --version-stage AWSPENDING ` +
    `--remove-from-version-id ${versionId}`
  );
}

/** The current value is not ours to replace (another application's secret, garbage). */
export class CurrentValueError extends RotationError {
  override name = 'CurrentValueError';
  constructor(message: string) {
    super('UnexpectedCurrentValue', message);
  }
}

/** How to get out when AWSCURRENT holds something that is not ours to replace. */
export function foreignWayOut(secretName: string, retried: string): string {
  return (
    'If this secret is meant to hold the certificate, store {} as its value ' +
    `(aws secretsmanager put-secret-value --secret-id ${secretName} --secret-string '{}'); ` +
    `the next attempt of this rotation then ${retried}. ` +
    'If the value belongs to another application, take the acme:* tags and the rotation off this secret'
  );
}

/**
 * What AWSCURRENT holds (a SecretBinary value counts as foreign), with the version holding it;
 * undefined when no version holds it.
 */
export async function classifyCurrent(
  ctx: StepContext,
): Promise<{ versionId: string; value: CurrentValue } | undefined> {
  const { secret } = ctx;
  const versionId = versionWithStage(secret, 'AWSCURRENT');
  if (versionId === undefined) return undefined;
  const value = await ctx.secrets
    .getValue(secret.arn, { stage: 'AWSCURRENT' })
    .then(classifyCurrentValue, (err: unknown): CurrentValue => {
      if (!(err instanceof BinaryValueError)) throw err;
      return { kind: 'foreign', description: `a binary value (SecretBinary, ${err.bytes} bytes)` };
    });
  return { versionId, value };
}

/**
 * What AWSCURRENT holds, refusing (before anything is ordered) a value that is neither empty nor
 * a certificate bundle of ours: a rotation would replace it, and it may be another application's
 * secret. A damaged bundle of ours is replaced, with a warning (see classifyCurrentValue).
 */
async function readCurrent(ctx: StepContext): Promise<CertificateBundle | undefined> {
  const { secret } = ctx;
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
      throw new CurrentValueError(
        `secret "${secret.name}": the current value (AWSCURRENT, version ${versionId}) is not a certificate bundle: ` +
          `it is ${current.description}. A rotation would replace it, so nothing was ordered or changed. ` +
          foreignWayOut(secret.name, 'issues the certificate'),
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
      err.message +=
        `; a zone id in tag acme:hosted-zone-ids (${spec.hostedZoneIds.join(', ')}) does not exist in this account: ` +
        'correct the tag (aws route53 list-hosted-zones lists the zones)';
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
        `secret "${secret.name}": version ${token} (AWSPENDING) already holds a value that is not a certificate bundle; ` +
          cancelHint(secret.name, token),
      );
    }
    const mismatch = specMismatch(pending, spec);
    if (mismatch) {
      throw new RotationStateError(
        `secret "${secret.name}": the pending certificate (version ${token}) no longer matches the tags (${mismatch}); ` +
          cancelHint(secret.name, token),
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
  ctx.prefetchCa?.();
  const dns = ctx.dns(spec);
  await checkZones(ctx, spec, dns);
  const dnsDeadline = ctx.deadline.cap(ctx.config.dnsPropagationTimeoutMs, 'DNS_PROPAGATION_TIMEOUT_SECONDS');

  const ca = await ctx.ca();

  const replaces = replacedCertificate(ctx, current, spec, ca.accountUrl());

  const issued = await issueCertificate(spec, {
    ...(replaces ? { replaces } : {}),
    ...(ctx.config.preferredChain ? { preferredChain: ctx.config.preferredChain } : {}),
    secretName: secret.name,
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
