import { CA_FAILED_TAG } from '../../certificate/tags.js';
import { checkAcmTargets } from '../../acm/deliver.js';
import { ariCertId } from '../../acme/ari.js';
import type { CaClient } from '../../acme/ca.js';
import { chooseCas, type CaSettings } from '../../acme/choice.js';
import { caFailure, failedCasTag, readFailedCas, type CaFallback, type FailedCa } from '../../acme/fallback.js';
import { issueCertificate, type IssuedCertificate } from '../../acme/issue.js';
import { configuredCas } from '../../config/config.js';
import { buildBundle, parseBundle, type CertificateBundle } from '../../certificate/bundle.js';
import type { Dns01Solver } from '../../dns01/solver.js';
import { AwsServiceError, RotationError, RotationStateError, errorMessage } from '../../lib/errors.js';
import { cancelHint } from '../remedies.js';
import { parseSpec, type CertificateSpec } from '../../certificate/spec.js';
import { challengeDomain } from '../../dns01/names.js';
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
 * The solver's zones keep what they read for the real present, so this costs no extra Route 53 call.
 */
export async function checkZones(ctx: StepContext, spec: CertificateSpec, dns: Dns01Solver): Promise<void> {
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
 * account (the predecessor's, for one) is not known to qualify, so it is renewed plainly.
 */
function replacedCertificate(
  ctx: StepContext,
  current: CertificateBundle | undefined,
  spec: CertificateSpec,
  directoryUrl: string,
  accountUrl: string | undefined,
): string | undefined {
  if (!current || !current.domains.some((d) => spec.domains.includes(d))) return undefined;
  const sameCa = current.acme_directory_url === directoryUrl;
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

/**
 * Time an invocation must have left to order from the next CA after one failed: a DNS change,
 * its propagation and a validation take tens of seconds at the least. With less, the failure is
 * recorded and Secrets Manager's retry of the rotation starts at the next CA.
 */
export const MIN_FALLBACK_MS = 60_000;

interface Issued {
  issued: IssuedCertificate;
  ca: CaClient;
  settings: CaSettings;
  /** CAs fallen away from before this one (this attempt's and earlier attempts' of the rotation). */
  fallbacks: CaFallback[];
  /** Whether this invocation wrote the failed-CA tag. */
  failedTagWritten: boolean;
}

/**
 * Order from the CAs in turn (rotation/acme/choice.ts chooses them, CAA included): the first
 * one's certificate is taken; a CA's own failure to serve (rotation/acme/fallback.ts) moves on to
 * the next one, here when the invocation has time and the failed order's TXT values are gone,
 * else on Secrets Manager's retry (the failure is recorded in a tag for it). Any other failure is
 * the rotation's.
 */
async function issueWithFallback(
  ctx: StepContext,
  spec: CertificateSpec,
  current: CertificateBundle | undefined,
  dns: Dns01Solver,
): Promise<Issued> {
  const { secret, token, logger, config } = ctx;
  const cas = configuredCas(config);
  const failedBefore = readFailedCas(secret.tags, token);
  const choice = await chooseCas({
    cas,
    spec,
    secretName: secret.name,
    failedBefore,
    caa: ctx.ca.caa,
    caaIdentities: (ca) => ctx.ca.caaIdentities(ca),
    logger,
  });
  const failed: FailedCa[] = [...failedBefore];
  const fallbacks: CaFallback[] = failedBefore.map((f) => ({
    ca: cas[f.index]?.name ?? `#${f.index}`,
    directory_url: cas[f.index]?.directoryUrl ?? '',
    error_code: f.code,
    reason: `failed in an earlier attempt of this rotation (${f.code})`,
  }));
  if (failedBefore.length > 0) {
    logger.info('an earlier attempt of this rotation failed at some CAs; starting with the next one', {
      failed: fallbacks.map((f) => f.ca),
      order: choice.order.map((c) => c.settings.name),
    });
  }
  let failedTagWritten = false;
  for (const [position, candidate] of choice.order.entries()) {
    const { settings } = candidate;
    try {
      const ca = await ctx.ca.clientFor(settings);
      const replaces = replacedCertificate(ctx, current, spec, settings.directoryUrl, ca.accountUrl());
      const profile = spec.profile ?? settings.profile;
      const issued = await issueCertificate(profile ? { ...spec, profile } : spec, {
        ...(replaces ? { replaces } : {}),
        ...(settings.preferredChain ? { preferredChain: settings.preferredChain } : {}),
        secretName: secret.name,
        ca,
        dns,
        logger,
        dnsDeadline: ctx.deadline.cap(config.dnsPropagationTimeoutMs, 'DNS_PROPAGATION_TIMEOUT_SECONDS'),
        // The CA's budget starts when DNS is ready, so a slow propagation cannot starve validation.
        acmeDeadline: () => ctx.deadline.cap(config.acmeTimeoutMs, 'ACME_TIMEOUT_SECONDS'),
      });
      return {
        issued,
        ca,
        settings,
        fallbacks: fallbacks.filter((f) => f.ca !== settings.name),
        failedTagWritten,
      };
    } catch (err) {
      const why = caFailure(err);
      if (!why) throw err;
      const code = err instanceof RotationError ? err.code : 'InternalError';
      failed.push({ index: candidate.index, code });
      fallbacks.push({ ca: settings.name, directory_url: settings.directoryUrl, error_code: code, reason: why });
      const next = choice.order[position + 1];
      logger.warn("the CA failed to serve this order; it is the CA's failure, not ours", {
        ca: settings.name,
        why,
        errorCode: code,
        error: errorMessage(err),
        next: next?.settings.name ?? 'none',
      });
      const all = [...new Set(fallbacks.map((f) => f.ca))];
      if (!next) {
        // Every CA failed: the retry starts again at the first (its failures may be over by then).
        if (failedTagWritten || failedBefore.length > 0) {
          await ctx.secrets.untag(secret.arn, [CA_FAILED_TAG]).catch((tagError: unknown) => {
            logger.warn('could not remove the failed-CA tag; the retry starts with the CA that failed first', {
              error: tagError,
            });
          });
        }
        if (err instanceof RotationError && choice.order.length > 1) {
          err.withHint(
            `every CA this certificate may come from failed (${all.join(', ')}); Secrets Manager retries the rotation, starting again at the first`,
          );
        }
        throw err;
      }
      // Recorded before the next CA is asked, so a retry (this invocation failing or killed) starts there.
      try {
        await ctx.secrets.tag(secret.arn, failedCasTag(token, failed));
        failedTagWritten = true;
      } catch (tagError) {
        logger.error('could not record the failed CA; a retry may try it first again', { error: tagError });
      }
      const cannot = dns.inFlight
        ? "the failed order's TXT values could not be removed (the retry removes them first)"
        : ctx.deadline.remainingMs() < MIN_FALLBACK_MS
          ? `less than ${MIN_FALLBACK_MS / 1000} s of the invocation is left`
          : undefined;
      if (cannot) {
        if (err instanceof RotationError) {
          err.withHint(
            `${cannot}: Secrets Manager's retry of this rotation orders from the next CA, ${next.settings.name}`,
          );
        }
        throw err;
      }
      logger.warn('falling back to the next CA', { from: settings.name, to: next.settings.name, why });
    }
  }
  // Not reached: chooseCas returns at least one CA, and the last one's failure is thrown above.
  throw new RotationStateError('no CA was tried');
}

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
  const dns = ctx.dns.solverFor(spec);
  await checkZones(ctx, spec, dns);
  // Where the certificate will be delivered must be able to take it, before anything is ordered.
  await checkAcmTargets(ctx, spec);
  const issuedBy = await issueWithFallback(ctx, spec, current, dns);
  const { issued, ca, settings, fallbacks } = issuedBy;

  const bundle = buildBundle({
    certificatePem: issued.certificatePem,
    privateKeyPem: issued.privateKeyPem,
    keyType: spec.keyType,
    domains: spec.domains,
    issuedAt: ctx.now(),
    issuedBy: {
      directoryUrl: settings.directoryUrl,
      ca: settings.name,
      ...(ca.accountUrl() ? { accountUrl: ca.accountUrl() } : {}),
    },
    fallbacks,
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
  if (issuedBy.failedTagWritten || secret.tags.some((t) => t.Key === CA_FAILED_TAG)) {
    // The failures recorded for Secrets Manager's retry have served their purpose.
    await ctx.secrets
      .untag(secret.arn, [CA_FAILED_TAG])
      .catch((err: unknown) =>
        logger.warn('could not remove the failed-CA tag; the next rotation ignores it (another token)', { error: err }),
      );
  }
  logger.info('stored the new certificate as AWSPENDING', {
    serial: bundle.serial,
    expiry: bundle.expiry,
    issuer: bundle.issuer,
    domains: bundle.domains,
    ca: settings.name,
    ...(fallbacks.length > 0 ? { fallbacks } : {}),
    caCalls: ca.calls,
    route53Calls: ctx.dns.calls(),
  });
}
