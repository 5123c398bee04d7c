import { describe, expect, it } from 'vitest';
import { PublishCommand } from '@aws-sdk/client-sns';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DETAIL_TYPES,
  Notifier,
  type DeliveryFailedEvent,
  type FailureEvent,
  type SuccessEvent,
} from '../../rotation/aws/notify.js';
import {
  BUS_NAME,
  EVENT_SOURCE,
  FakeEvents,
  FakeSns,
  SECRET_ARN,
  SECRET_NAME,
  TOKEN,
  TOPIC_ARN,
  captureLogger,
  type CapturedLog,
} from './fakes.js';
import { PKCS8_KEY_FOOTER, PKCS8_KEY_HEADER } from '../helpers/pem-markers.js';

const success: SuccessEvent = {
  status: 'success',
  domains: ['example.com', '*.example.com'],
  expiry: '2026-06-01T00:00:00.000Z',
  issued_at: '2026-03-03T00:00:00.000Z',
  secret_name: SECRET_NAME,
  secret_arn: SECRET_ARN,
  version_id: TOKEN,
  serial: '0ABC',
  issuer: 'CN=Fake ACME Intermediate',
  key_type: 'ecdsa-p256',
};

const failure: FailureEvent = {
  status: 'failed',
  domains: ['example.com'],
  error: 'the CA could not validate example.com',
  step: 'createSecret',
  secret_name: SECRET_NAME,
  version_id: TOKEN,
  error_code: 'ChallengeFailed',
};

const PEM_KEY = `${PKCS8_KEY_HEADER}\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSecretSecretSecret\n${PKCS8_KEY_FOOTER}\n`;

function setup(opts: { topic?: boolean; bus?: boolean } = {}): {
  sns: FakeSns;
  events: FakeEvents;
  log: CapturedLog;
  notifier: Notifier;
} {
  const sns = new FakeSns();
  const events = new FakeEvents();
  const log = captureLogger();
  const notifier = new Notifier({
    topicArn: opts.topic === false ? undefined : TOPIC_ARN,
    eventBusName: opts.bus === false ? undefined : BUS_NAME,
    source: EVENT_SOURCE,
    logger: log.logger,
    sns: sns.client,
    events: events.client,
  });
  return { sns, events, log, notifier };
}

describe('Notifier', () => {
  it('sends nothing when neither a topic nor a bus is configured', async () => {
    const s = setup({ topic: false, bus: false });
    await s.notifier.publish(success);
    expect(s.sns.mock.calls()).toEqual([]);
    expect(s.events.mock.calls()).toEqual([]);
  });

  it('publishes a success notice to SNS and an event to EventBridge with the same facts', async () => {
    const s = setup();
    await s.notifier.publish(success);

    const detail = JSON.stringify(success);
    expect(s.sns.publishes()).toEqual([
      {
        TopicArn: TOPIC_ARN,
        Subject: 'Certificate renewed: example.com, *.example.com',
        Message: detail,
        MessageAttributes: {
          status: { DataType: 'String', StringValue: 'success' },
          secret_name: { DataType: 'String', StringValue: SECRET_NAME },
        },
      },
    ]);
    expect(s.events.puts()).toEqual([
      {
        Entries: [
          {
            EventBusName: BUS_NAME,
            Source: EVENT_SOURCE,
            DetailType: 'Certificate Renewed',
            Detail: detail,
            Resources: [SECRET_ARN],
          },
        ],
      },
    ]);
    expect(Object.keys(JSON.parse(detail) as object).slice(0, 5)).toEqual([
      'status',
      'domains',
      'expiry',
      'issued_at',
      'secret_name',
    ]);
  });

  it('gives a FIFO topic the message group (the secret) and deduplication id it requires', async () => {
    const sns = new FakeSns();
    const notifier = new Notifier({
      topicArn: `${TOPIC_ARN}.fifo`,
      source: EVENT_SOURCE,
      logger: captureLogger().logger,
      sns: sns.client,
    });
    await notifier.publish(success);
    expect(sns.publishes()[0]).toMatchObject({
      TopicArn: `${TOPIC_ARN}.fifo`,
      MessageGroupId: SECRET_NAME,
      MessageDeduplicationId: `success-${success.version_id}`,
    });
  });

  it('publishes a failure with its own detail type and no resources when the ARN is unknown', async () => {
    const s = setup();
    await s.notifier.publish(failure);
    expect(s.sns.publishes()[0]).toMatchObject({
      Subject: 'Certificate renewal FAILED: example.com',
      MessageAttributes: { status: { DataType: 'String', StringValue: 'failed' } },
    });
    expect(s.events.puts()[0]!.Entries).toEqual([
      {
        EventBusName: BUS_NAME,
        Source: EVENT_SOURCE,
        DetailType: DETAIL_TYPES.failed,
        Detail: JSON.stringify(failure),
        Resources: [],
      },
    ]);
    expect(DETAIL_TYPES.failed).toBe('Certificate Renewal Failed');
  });

  it('publishes a DeliveryFailed notice per ACM target with its own detail type, subject and FIFO deduplication id', async () => {
    const arn = (region: string, id: string) => `arn:aws:acm:${region}:123456789012:certificate/${id}`;
    const delivery = (target: string): DeliveryFailedEvent => ({
      status: 'delivery_failed',
      domains: ['example.com'],
      error: `importing the certificate into ${target} failed: ACM ImportCertificate failed (AccessDeniedException): denied`,
      secret_name: SECRET_NAME,
      secret_arn: SECRET_ARN,
      version_id: TOKEN,
      acm_certificate_arn: target,
      serial: '0ABC',
      error_code: 'AcmImportFailed',
      aws_error_code: 'AccessDeniedException',
      remedy: 'grant acm:ImportCertificate',
      found: 'delivery',
    });
    const a = delivery(arn('ap-southeast-2', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'));
    const b = delivery(arn('eu-west-1', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'));
    const s = setup();
    await s.notifier.publish(a);
    expect(s.sns.publishes()[0]).toMatchObject({
      Subject: 'Certificate delivery to ACM FAILED: example.com',
      Message: JSON.stringify(a),
      MessageAttributes: { status: { DataType: 'String', StringValue: 'delivery_failed' } },
    });
    expect(s.events.puts()[0]!.Entries).toEqual([
      {
        EventBusName: BUS_NAME,
        Source: EVENT_SOURCE,
        DetailType: 'Certificate Delivery Failed',
        Detail: JSON.stringify(a),
        Resources: [SECRET_ARN],
      },
    ]);
    expect(DETAIL_TYPES.delivery_failed).toBe('Certificate Delivery Failed');

    // A FIFO topic would drop the second target's notice as a duplicate without the ARN in the id.
    const sns = new FakeSns();
    const fifo = new Notifier({
      topicArn: `${TOPIC_ARN}.fifo`,
      source: EVENT_SOURCE,
      logger: captureLogger().logger,
      sns: sns.client,
    });
    await fifo.publish(a);
    await fifo.publish(b);
    const ids = sns.publishes().map((p) => p.MessageDeduplicationId ?? '');
    expect(ids[0]).toBe(`delivery_failed-${TOKEN}-ap-southeast-2-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(128);
  });

  it('keeps the SNS subject within 100 printable ASCII characters', async () => {
    const s = setup();
    const domains = Array.from({ length: 12 }, (_, i) => `host-${i}.bücher.example`);
    await s.notifier.publish({ ...failure, domains });
    const subject = s.sns.publishes()[0]!.Subject as string;
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.startsWith('Certificate renewal FAILED: host-0.b?cher.example')).toBe(true);
  });

  it('uses the secret name in the subject when there are no domains', async () => {
    const s = setup();
    await s.notifier.publish({ ...failure, domains: [] });
    expect(s.sns.publishes()[0]!.Subject).toBe(`Certificate renewal FAILED: ${SECRET_NAME}`);
  });

  it('redacts a private key that slipped into an error message', async () => {
    const s = setup();
    await s.notifier.publish({ ...failure, error: `cannot parse ${PEM_KEY} as a key` });
    const payload = JSON.stringify([
      s.sns.mock.commandCalls(PublishCommand).map((c) => c.args[0].input),
      s.events.mock.commandCalls(PutEventsCommand).map((c) => c.args[0].input),
    ]);
    expect(payload).not.toContain(PKCS8_KEY_HEADER);
    expect(payload).not.toContain('SecretSecretSecret');
    const message = JSON.parse(s.sns.publishes()[0]!.Message as string) as FailureEvent;
    expect(message.error).toBe('cannot parse [REDACTED PRIVATE KEY]\n as a key');
  });

  it('keeps the message valid JSON when a truncated key slipped into it', async () => {
    const s = setup();
    const truncated = `${PKCS8_KEY_HEADER}\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEH`;
    await s.notifier.publish({ ...failure, error: `bad key: ${truncated}` });
    const message = s.sns.publishes()[0]!.Message as string;
    expect(message).not.toContain('MIGHAgEAMBMGByqGSM49');
    expect(() => JSON.parse(message) as unknown).not.toThrow();
    expect(JSON.parse(message)).toMatchObject({ status: 'failed', step: 'createSecret', secret_name: SECRET_NAME });
  });

  it('logs an SNS failure and still sends the EventBridge event', async () => {
    const s = setup();
    s.sns.mock.on(PublishCommand).rejects(new Error('Topic does not exist'));
    await expect(s.notifier.publish(success)).resolves.toBeUndefined();
    expect(s.log.find('SNS notification failed')).toMatchObject({
      level: 'error',
      topicArn: TOPIC_ARN,
      error: 'Topic does not exist',
    });
    expect(s.events.puts()).toHaveLength(1);
  });

  it('logs an EventBridge failure and still publishes to SNS', async () => {
    const s = setup();
    s.events.mock.on(PutEventsCommand).rejects(new Error('Bus not found'));
    await expect(s.notifier.publish(success)).resolves.toBeUndefined();
    expect(s.log.find('EventBridge event failed')).toMatchObject({ eventBusName: BUS_NAME, error: 'Bus not found' });
    expect(s.sns.publishes()).toHaveLength(1);
  });

  it('logs an event EventBridge accepted the call for but rejected', async () => {
    const s = setup();
    s.events.mock.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' }],
    });
    await s.notifier.publish(success);
    expect(s.log.find('EventBridge event rejected')).toMatchObject({
      level: 'error',
      eventBusName: BUS_NAME,
      errorCode: 'MalformedDetail',
      errorMessage: 'Detail is malformed.',
    });
  });
});
