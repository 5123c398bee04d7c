// The SDK clients load on the first notice (types only here): most invocations send none.
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { errorMessage } from '../lib/errors.js';
import { sdkClientConfig } from './client-config.js';
import { redactDeep, type Logger } from '../lib/log.js';

/** A notice must not hang the function: a stuck connection fails after the timeout and is logged. */
const noticeClientConfig = (requestTimeoutMs = 10_000) => sdkClientConfig(requestTimeoutMs, 2, 'standard');

/** Success notice: the predecessor's fields first, then ours. Never carries key material. */
export interface SuccessEvent {
  status: 'success';
  domains: string[];
  expiry: string;
  issued_at: string;
  secret_name: string;
  secret_arn: string;
  version_id: string;
  serial: string;
  issuer: string;
  key_type: string;
  /** The ACM certificates that now hold it (acme:acm-certificate-arns). */
  acm_certificate_arns?: string[];
  /** The issuing CA's name (ACME_CAS `name`, else its directory's host) and directory. */
  ca?: string;
  ca_directory_url?: string;
  /** The CAs the rotation fell back from, in order, each with why (their own failure to serve). */
  ca_fallbacks?: { ca: string; directory_url: string; error_code: string; reason: string }[];
  /** The ACM certificates that did not take it (each has its own DeliveryFailed notice). */
  acm_delivery_failed_arns?: string[];
}

/** Failure notice: the predecessor's fields first, then the step and the cause. */
export interface FailureEvent {
  status: 'failed';
  domains: string[];
  error: string;
  step: string;
  secret_name: string;
  secret_arn?: string;
  version_id: string;
  error_code: string;
}

/**
 * One ACM target did not take the certificate (rotation/acm/report.ts). The certificate itself is
 * fine (AWSCURRENT, or about to be ordered); this target lags until the cause is fixed.
 */
export interface DeliveryFailedEvent {
  status: 'delivery_failed';
  domains: string[];
  /** What happened, AWS's own message included when AWS answered. */
  error: string;
  secret_name: string;
  secret_arn: string;
  version_id: string;
  acm_certificate_arn: string;
  /** The certificate's serial; absent when found before ordering. */
  serial?: string;
  error_code: string;
  /** AWS's error name (ResourceNotFoundException, ValidationException, …), when AWS answered. */
  aws_error_code?: string;
  /** What to do. */
  remedy: string;
  /** Where it was found: createSecret before ordering, finishSecret's delivery, the watch's reconciliation. */
  found: 'before-ordering' | 'delivery' | 'reconciliation';
}

export type RotationEvent = SuccessEvent | FailureEvent | DeliveryFailedEvent;

export const DETAIL_TYPES = {
  success: 'Certificate Renewed',
  failed: 'Certificate Renewal Failed',
  delivery_failed: 'Certificate Delivery Failed',
} as const;

/**
 * Publishes success/failure notices to SNS and events to EventBridge when configured.
 * A failure to notify is logged, never thrown: it must not turn a good rotation into a failed one
 * or hide the error that a failure notice reports.
 */
export class Notifier {
  constructor(
    private readonly opts: {
      topicArn?: string;
      eventBusName?: string;
      source: string;
      logger: Logger;
      sns?: SNSClient;
      events?: EventBridgeClient;
      /** Bound on one request (API_TIMEOUT_SECONDS); default 10 s. */
      requestTimeoutMs?: number;
    },
  ) {}

  /**
   * A notifier straight from the environment (NOTIFICATION_TOPIC_ARN, EVENT_BUS_NAME, EVENT_SOURCE),
   * for the watch and for a configuration too broken to load: `defaultSource` names the function
   * when neither EVENT_SOURCE nor the Lambda's own name is set.
   */
  static fromEnv(
    logger: Logger,
    defaultSource: string,
    env: Record<string, string | undefined> = process.env,
  ): Notifier {
    return new Notifier({
      topicArn: env.NOTIFICATION_TOPIC_ARN?.trim() || undefined,
      eventBusName: env.EVENT_BUS_NAME?.trim() || undefined,
      source: env.EVENT_SOURCE?.trim() || env.AWS_LAMBDA_FUNCTION_NAME || defaultSource,
      logger,
    });
  }

  private snsClient?: SNSClient;
  private eventsClient?: EventBridgeClient;

  async publish(event: RotationEvent): Promise<void> {
    const detail = JSON.stringify(redactDeep(event));
    await Promise.all([this.toSns(event, detail), this.toEventBridge(event, detail)]);
  }

  private subject(event: RotationEvent): string {
    const names = event.domains.join(', ') || event.secret_name;
    const text =
      event.status === 'success'
        ? `Certificate renewed: ${names}`
        : event.status === 'delivery_failed'
          ? `Certificate delivery to ACM FAILED: ${names}`
          : `Certificate renewal FAILED: ${names}`;
    // SNS subjects: at most 100 printable ASCII characters, no newlines.
    return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
  }

  private async toSns(event: RotationEvent, detail: string): Promise<void> {
    if (!this.opts.topicArn) return;
    try {
      const { PublishCommand, SNSClient } = await import('./notify-sdk.js');
      this.snsClient ??= this.opts.sns ?? new SNSClient(noticeClientConfig(this.opts.requestTimeoutMs));
      await this.snsClient.send(
        new PublishCommand({
          TopicArn: this.opts.topicArn,
          Subject: this.subject(event),
          Message: detail,
          MessageAttributes: {
            status: { DataType: 'String', StringValue: event.status },
            secret_name: { DataType: 'String', StringValue: event.secret_name },
          },
          // A FIFO topic refuses a message without a group; one group per secret keeps its notices
          // in order, and the version and outcome tell a repeated notice from a new one.
          ...(this.opts.topicArn?.endsWith('.fifo')
            ? {
                MessageGroupId: event.secret_name || 'acme-rotation',
                MessageDeduplicationId: `${event.status}-${event.version_id || Date.now()}${
                  // One notice per target: the ARN's region and certificate id tell them apart.
                  event.status === 'delivery_failed'
                    ? `-${event.acm_certificate_arn.split(':')[3]}-${event.acm_certificate_arn.split('/').pop()}`
                    : ''
                }`.slice(0, 128),
              }
            : {}),
        }),
      );
    } catch (err) {
      this.opts.logger.error('SNS notification failed', { topicArn: this.opts.topicArn, error: errorMessage(err) });
    }
  }

  private async toEventBridge(event: RotationEvent, detail: string): Promise<void> {
    if (!this.opts.eventBusName) return;
    try {
      const { EventBridgeClient, PutEventsCommand } = await import('./notify-sdk.js');
      this.eventsClient ??= this.opts.events ?? new EventBridgeClient(noticeClientConfig(this.opts.requestTimeoutMs));
      const out = await this.eventsClient.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.opts.eventBusName,
              Source: this.opts.source,
              DetailType: DETAIL_TYPES[event.status],
              Detail: detail,
              Resources: event.secret_arn ? [event.secret_arn] : [],
            },
          ],
        }),
      );
      if (out.FailedEntryCount) {
        const entry = out.Entries?.[0];
        this.opts.logger.error('EventBridge event rejected', {
          eventBusName: this.opts.eventBusName,
          errorCode: entry?.ErrorCode,
          errorMessage: entry?.ErrorMessage,
        });
      }
    } catch (err) {
      this.opts.logger.error('EventBridge event failed', {
        eventBusName: this.opts.eventBusName,
        error: errorMessage(err),
      });
    }
  }
}
