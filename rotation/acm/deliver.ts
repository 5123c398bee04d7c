/**
 * Deployment to ACM (`acme:acm-certificate-arns`): every new certificate is re-imported into each
 * listed certificate, in its own region, so its ARN — and every load balancer, distribution or
 * API attached to it — stays the same.
 *
 * When: ACM has no "pending" stage; an import is live at once, so only a certificate that passed
 * testSecret may reach it. finishSecret promotes first and delivers after: AWSCURRENT is the
 * truth, and hosts, tasks and every other ARN must not wait for a target that refuses (deleted,
 * ACM's re-import rules, throttled for hours). A target that does not take the certificate gets
 * its own DeliveryFailed report (report.ts) and never fails the rotation; the renewal watch
 * re-delivers wherever an ARN's serial differs from AWSCURRENT's (rotation/watch/reconcile.ts),
 * so every ARN converges. A re-run leaves an ARN that already holds the serial alone.
 *
 * What ACM would refuse is named before it is tried where it can be known: another account, a
 * missing certificate, an ACM-issued one, another key algorithm, a key CloudFront cannot serve
 * (certificate/acm-arns.ts), and the KeyUsage / ExtendedKeyUsage re-import rule (usages.ts).
 */
import { X509Certificate } from 'node:crypto';
import { normaliseSerial, type CertificateBundle } from '../certificate/bundle.js';
import type { KeyType } from '../certificate/key-types.js';
import { AwsServiceError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { CertificateSpec } from '../certificate/spec.js';
import type { Deadline } from '../lib/deadline.js';
import type { AcmPort } from './session.js';
import { accountOfArn, parseAcmArn, targetProblem } from '../certificate/acm-arns.js';
import { deliveryFailedEvent, reporterOf, type DeliveryFailure, type DeliverySubject } from './report.js';
import { reimportUsageProblem } from './usages.js';

/** The ACM calls delivery makes (an AcmPort of rotation/acm/session.ts). */
export type AcmCalls = Pick<AcmPort, 'describe' | 'import'>;

/** What delivery needs of a rotation step: the secret and version it delivers, ACM, and the invocation's deadline and logger. */
export interface DeliveryContext {
  secret: { name: string; arn: string };
  token: string;
  acm: AcmPort;
  logger: Logger;
  deadline: Deadline;
}

/** What became of one target. */
export type TargetOutcome =
  | { arn: string; status: 'held' }
  | { arn: string; status: 'delivered'; previousSerial?: string }
  /** The certificate stopped being the one to deliver before the import (stillCurrent said so). */
  | { arn: string; status: 'superseded' }
  | { arn: string; status: 'failed'; failure: DeliveryFailure };

/** The outcome of a target that did not take the certificate (the failure names the ARN). */
const failedOutcome = (failure: DeliveryFailure): TargetOutcome => ({ arn: failure.arn, status: 'failed', failure });

/** What finishSecret's delivery did. */
export interface DeliveryResult {
  /** ARNs that hold the certificate (delivered now, or already). */
  holding: string[];
  /** ARNs that did not take it (each reported on its own). */
  failed: string[];
}

/** Time finishSecret keeps after delivery for the TXT clean-up retry and removing AWSPENDING. */
export const FINISH_TAIL_MS = 30_000;

const THROTTLING = /Throttl|TooManyRequests|RequestLimitExceeded/;

/** What to do when ImportCertificate itself failed, by AWS's error name. */
function importRemedy(awsCode: string | undefined): string {
  if (awsCode === 'AccessDeniedException') {
    return 'grant acm:ImportCertificate on this ARN to the rotation function and the renewal watch (the stack grants it for the ARNs it declares); the watch delivers on its next run';
  }
  if (awsCode === 'ResourceNotFoundException') {
    return 'the certificate was deleted: remove its ARN from acme:acm-certificate-arns, or import a certificate and name its ARN there';
  }
  if (awsCode === 'LimitExceededException') {
    return "ACM's import quota for the region is reached (imported certificates, or imports in the last 365 days): raise it in Service Quotas; the renewal watch delivers on its next run";
  }
  if (awsCode !== undefined && THROTTLING.test(awsCode)) {
    return 'ACM kept throttling imports; nothing to do unless it lasts: the renewal watch delivers on its next run';
  }
  return "fix what ACM's message says; the renewal watch delivers on its next run (or rotate the secret again)";
}

/**
 * What ACM says of an ARN, or why it cannot take a certificate of `keyType`, found without
 * importing anything. An ARN that already holds `serial` needs nothing, and is not judged.
 */
async function inspect(
  acm: AcmCalls,
  arn: string,
  keyType: KeyType,
  account: string | undefined,
  serial?: string,
): Promise<{ failure: DeliveryFailure } | { info: Awaited<ReturnType<AcmCalls['describe']>> }> {
  const target = parseAcmArn(arn);
  const unusable = (error: string, remedy: string, awsCode?: string) => ({
    failure: { arn, code: 'AcmTargetUnusable' as const, error, remedy, ...(awsCode ? { awsCode } : {}) },
  });
  if (typeof target === 'string') return unusable(`${arn} is not an ACM certificate ARN`, target);
  if (account && target.account !== account) {
    return unusable(
      `${arn} is in account ${target.account}, and this function works in ${account}`,
      'ACM certificates are imported in their own account: name a certificate of this account in acme:acm-certificate-arns',
    );
  }
  let info;
  try {
    info = await acm.describe(arn);
  } catch (err) {
    const awsCode = err instanceof AwsServiceError ? err.awsCode : undefined;
    if (awsCode === 'ResourceNotFoundException') {
      return unusable(
        `${arn}: no such certificate in ${target.region} (${errorMessage(err)})`,
        'remove the ARN from acme:acm-certificate-arns, or import a certificate (deleted, or a wrong ARN) and name its ARN there',
        awsCode,
      );
    }
    return {
      failure: {
        arn,
        code: 'AcmImportFailed',
        error: `could not look at ${arn} before importing: ${errorMessage(err)}`,
        ...(awsCode ? { awsCode } : {}),
        remedy: importRemedy(awsCode),
      },
    };
  }
  if (serial !== undefined && info.serial !== undefined && normaliseSerial(info.serial) === serial) return { info };
  const problem = targetProblem(target, info, keyType);
  if (problem) return unusable(`${arn} cannot take a ${keyType} certificate: ${problem.problem}`, problem.remedy);
  return { info };
}

/**
 * Deliver `bundle` to one ARN: left alone when it holds the serial already, refused by name when
 * ACM would refuse it (nothing is imported then), imported otherwise. Never throws.
 */
export async function deliverToTarget(
  acm: AcmCalls,
  logger: Logger,
  arn: string,
  bundle: CertificateBundle,
  opts: {
    account?: string;
    /** Asked just before importing: false when another certificate has become the one to deliver. */
    stillCurrent?: () => Promise<boolean>;
  } = {},
): Promise<TargetOutcome> {
  const serial = normaliseSerial(bundle.serial);
  const seen = await inspect(acm, arn, bundle.key_type, opts.account, serial);
  if ('failure' in seen) return failedOutcome(seen.failure);
  const held = seen.info.serial;
  if (held !== undefined && normaliseSerial(held) === serial) {
    logger.info('ACM already holds this certificate', { acmCertificateArn: arn, serial });
    return { arn, status: 'held' };
  }
  const usage = reimportUsageProblem(
    seen.info,
    new X509Certificate(bundle.certificate),
    bundle.key_type.startsWith('ecdsa'),
  );
  if (usage) {
    return failedOutcome({
      arn,
      code: 'AcmKeyUsageConflict',
      error: `ACM would refuse to re-import the certificate into ${arn}, so no import was tried: ${usage.problem}`,
      remedy: usage.remedy,
    });
  }
  if (opts.stillCurrent && !(await opts.stillCurrent().catch(() => true))) {
    logger.info('not importing: another certificate became current meanwhile', { acmCertificateArn: arn, serial });
    return { arn, status: 'superseded' };
  }
  try {
    await logger.time(
      'acm-import',
      () => acm.import(arn, { certificate: bundle.certificate, chain: bundle.chain, privateKey: bundle.private_key }),
      { acmCertificateArn: arn },
    );
  } catch (err) {
    const awsCode = err instanceof AwsServiceError ? err.awsCode : undefined;
    return failedOutcome({
      arn,
      code: 'AcmImportFailed',
      error: `importing the certificate into ${arn} failed: ${errorMessage(err)}`,
      ...(awsCode ? { awsCode } : {}),
      remedy: importRemedy(awsCode),
    });
  }
  logger.info('imported into ACM', { acmCertificateArn: arn, serial, previousSerial: held });
  return { arn, status: 'delivered', ...(held ? { previousSerial: held } : {}) };
}

function subjectOf(ctx: DeliveryContext, domains: string[], serial?: string): DeliverySubject {
  return {
    secretName: ctx.secret.name,
    secretArn: ctx.secret.arn,
    versionId: ctx.token,
    domains,
    ...(serial ? { serial } : {}),
  };
}

/**
 * Before anything is ordered: a target that cannot take a certificate of the spec's key type
 * (another account, missing, ACM-issued, another key algorithm, a key CloudFront refuses) is
 * reported and skipped. It stops neither the renewal nor the other targets. A target that could
 * not be looked at (throttled, denied) is only logged here: delivery looks again and reports it.
 */
export async function checkAcmTargets(ctx: DeliveryContext, spec: CertificateSpec): Promise<void> {
  if (spec.acmCertificateArns.length === 0) return;
  const account = accountOfArn(ctx.secret.arn);
  const report = reporterOf(ctx);
  await Promise.all(
    spec.acmCertificateArns.map(async (arn) => {
      const seen = await inspect(ctx.acm, arn, spec.keyType, account);
      if (!('failure' in seen)) return;
      const { failure } = seen;
      if (failure.code !== 'AcmTargetUnusable') {
        ctx.logger.warn('could not check an ACM target before ordering; delivery looks again', {
          acmCertificateArn: arn,
          error: failure.error,
        });
        return;
      }
      await report(
        deliveryFailedEvent(
          subjectOf(ctx, spec.domains),
          { ...failure, error: `found before ordering: ${failure.error}; the renewal goes on without it` },
          'before-ordering',
        ),
      );
    }),
  );
}

/**
 * Deliver the promoted certificate to every ARN, within the step's time: a target still busy when
 * the time is up (a hung ACM) is reported and left to the renewal watch, so the step goes on to
 * remove AWSPENDING. Never throws.
 */
export async function deliverToAcm(
  ctx: DeliveryContext,
  spec: CertificateSpec,
  bundle: CertificateBundle,
): Promise<DeliveryResult> {
  if (spec.acmCertificateArns.length === 0) return { holding: [], failed: [] };
  const account = accountOfArn(ctx.secret.arn);
  const report = reporterOf(ctx);
  const budgetMs = Math.max(0, ctx.deadline.remainingMs() - FINISH_TAIL_MS);
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<'time-up'>((resolve) => {
    timer = setTimeout(() => resolve('time-up'), budgetMs);
    timer.unref?.();
  });
  try {
    const outcomes = await Promise.all(
      spec.acmCertificateArns.map(async (arn): Promise<TargetOutcome> => {
        const done = await Promise.race([
          deliverToTarget(ctx.acm, ctx.logger, arn, bundle, account ? { account } : {}),
          timeUp,
        ]);
        if (done !== 'time-up') return done;
        return failedOutcome({
          arn,
          code: 'AcmImportFailed',
          error: `ACM did not answer for ${arn} within the ${Math.round(budgetMs / 1000)} s finishSecret had left for delivery`,
          remedy: 'the certificate is AWSCURRENT; the renewal watch delivers it to this ARN on its next run',
        });
      }),
    );
    const failed: string[] = [];
    for (const o of outcomes) {
      if (o.status !== 'failed') continue;
      failed.push(o.arn);
      await report(deliveryFailedEvent(subjectOf(ctx, bundle.domains, bundle.serial), o.failure, 'delivery'));
    }
    return {
      holding: outcomes.filter((o) => o.status === 'held' || o.status === 'delivered').map((o) => o.arn),
      failed,
    };
  } finally {
    clearTimeout(timer);
  }
}
