/**
 * A target that did not take the certificate is told about on its own: a DeliveryFailed notice and
 * event (the secret, the ARN, AWS's message, what to do; never a key), an error log line, and an
 * `AcmDeliveryFailures` metric with the ARN as dimension (rotation/lib/metrics.ts), so an alarm can
 * name the target. The rotation function, before ordering and in finishSecret, and the renewal
 * watch's reconciliation report the same way.
 */
import type { DeliveryFailedEvent } from '../aws/notify.js';
import type { ErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { METRICS, metricLine, metricNames, type MetricNames, type MetricSink } from '../lib/metrics.js';

/** Where a failed delivery was found. */
export type DeliveryPhase = DeliveryFailedEvent['found'];

/** Why one target did not take (or will not be able to take) the certificate. */
export interface DeliveryFailure {
  arn: string;
  code: Extract<ErrorCode, 'AcmTargetUnusable' | 'AcmKeyUsageConflict' | 'AcmImportFailed'>;
  /** What happened, AWS's own message included when AWS answered. */
  error: string;
  /** AWS's error name (ResourceNotFoundException, ValidationException, …), when AWS answered. */
  awsCode?: string;
  remedy: string;
}

/** The certificate secret and the certificate a failure concerns. */
export interface DeliverySubject {
  secretName: string;
  secretArn: string;
  /** The version delivered (AWSCURRENT's, or the pending one before ordering). */
  versionId: string;
  domains: string[];
  /** The certificate's serial; absent when nothing is issued yet (found before ordering). */
  serial?: string;
}

export function deliveryFailedEvent(
  subject: DeliverySubject,
  failure: DeliveryFailure,
  found: DeliveryPhase,
): DeliveryFailedEvent {
  return {
    status: 'delivery_failed',
    domains: subject.domains,
    error: failure.error,
    secret_name: subject.secretName,
    secret_arn: subject.secretArn,
    version_id: subject.versionId,
    acm_certificate_arn: failure.arn,
    ...(subject.serial ? { serial: subject.serial } : {}),
    error_code: failure.code,
    ...(failure.awsCode ? { aws_error_code: failure.awsCode } : {}),
    remedy: failure.remedy,
    found,
  };
}

/** Sends one DeliveryFailed report (notice, event, metric, log line). Never throws. */
export type DeliveryReporter = (event: DeliveryFailedEvent) => Promise<void>;

export function deliveryReporter(opts: {
  /** SNS + EventBridge (Notifier.publish, which logs its own failures). */
  publish: (event: DeliveryFailedEvent) => Promise<void>;
  metrics: MetricSink;
  logger: Logger;
  names?: MetricNames;
  now?: () => Date;
}): DeliveryReporter {
  const names = opts.names ?? metricNames();
  return async (event) => {
    opts.logger.error('ACM target did not take the certificate', {
      acmCertificateArn: event.acm_certificate_arn,
      errorCode: event.error_code,
      awsErrorCode: event.aws_error_code,
      error: event.error,
      remedy: event.remedy,
      found: event.found,
    });
    try {
      opts.metrics(
        metricLine(names, [{ name: METRICS.acmDeliveryFailures, value: 1 }], {
          dimensions: { CertificateArn: event.acm_certificate_arn },
          fields: { secretName: event.secret_name, errorCode: event.error_code },
          ...(opts.now ? { now: opts.now() } : {}),
          message: 'ACM delivery failed',
        }),
      );
    } catch (err) {
      opts.logger.error('could not write the delivery failure metric', { error: err });
    }
    await opts.publish(event);
  };
}

/**
 * The reporter of a step's invocation. Kept beside the StepContext (which the steps already take)
 * rather than threaded through every call: the handler attaches its notifier's once per invocation,
 * and checkAcmTargets (createSecret) and deliverToAcm (finishSecret) find it here. A context the
 * handler did not attach one to (a step driven directly) logs the failure only.
 */
/** A rotation step's context, as far as reporting needs it. */
export interface ReportingContext {
  logger: Logger;
}

const reporters = new WeakMap<ReportingContext, DeliveryReporter>();

export function reportDeliveriesThrough(ctx: ReportingContext, reporter: DeliveryReporter): void {
  reporters.set(ctx, reporter);
}

export function reporterOf(ctx: ReportingContext): DeliveryReporter {
  return (
    reporters.get(ctx) ??
    ((event) => {
      ctx.logger.error('ACM target did not take the certificate', {
        acmCertificateArn: event.acm_certificate_arn,
        errorCode: event.error_code,
        error: event.error,
        remedy: event.remedy,
        found: event.found,
      });
      return Promise.resolve();
    })
  );
}
