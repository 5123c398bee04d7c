/**
 * End-to-end: how the rotation meets Route 53 misbehaving, on an endpoint throttled to
 * 3 requests/second for the whole file (real `Throttling` errors, as Route 53 answers them):
 * - throttling is ridden out (the SDK's retries, then the adapter's deadline-bounded waits);
 * - InvalidChangeBatch: a clean failure carrying Route 53's message, nothing left behind;
 * - a change stuck PENDING past DNS_PROPAGATION_TIMEOUT_SECONDS: a clean failure, the TXT values
 *   removed, and the retry succeeds once Route 53 syncs again;
 * - a change whose answer is lost after Route 53 applied it: not submitted a second time.
 * Every scenario ends with the robustness invariants (tests/e2e/invariants.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { retryRotation, rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { BUS_NAME, TOPIC_NAME, changeBatches, noticesFor, uniqueSecretName, uniqueZoneName } from './helpers.js';
import { expectInvariants, snapshotSecret } from './invariants.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const RATE = 3;
let stack: LocalStack;
let topicArn: string;

beforeAll(async () => {
  stack = await startLocalStack({ route53ChangeDelayMs: 200, route53RateLimitPerSecond: RATE });
  topicArn = stack.aws.sns.createTopic(TOPIC_NAME);
  stack.aws.events.createEventBus(BUS_NAME);
});

afterAll(async () => {
  await stack?.stop();
});

function lambdaWith(env: Record<string, string> = {}): LocalLambda {
  return stack.newLambda({ NOTIFICATION_TOPIC_ARN: topicArn, EVENT_BUS_NAME: BUS_NAME, ...env });
}

async function certificate(prefix: string): Promise<{ arn: string; name: string; domains: string[]; zoneId: string }> {
  const zoneName = uniqueZoneName(prefix);
  const zone = stack.aws.route53.createZone(zoneName);
  const domains = [zoneName, `*.${zoneName}`];
  const secret = await stack.createCertificateSecret(uniqueSecretName(prefix), { domains }, { placeholder: '{}' });
  return { ...secret, domains, zoneId: zone.id };
}

describe('Route 53 throttling', () => {
  it('is ridden out: the rotation succeeds first time although requests were throttled', async () => {
    const lambda = lambdaWith();
    const cert = await certificate('throttle');
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    // Use up the bucket so the rotation's first Route 53 requests meet Throttling.
    const from = stack.aws.calls.length;
    const drain = Array.from({ length: RATE * 3 }, () =>
      fetch(`${stack.aws.url}/2013-04-01/hostedzone/${cert.zoneId}`, { method: 'GET' }).then((r) => r.text()),
    );
    await Promise.all(drain);

    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });

    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    expect(run.attempts).toHaveLength(1);
    const throttled = stack.aws.calls.slice(from + drain.length).filter((c) => c.error === 'Throttling');
    expect(throttled.length).toBeGreaterThan(0);
    // The function reports what it met.
    const stepLine = lambda.logs.find((l) => l.includes('"step":"createSecret"') && l.includes('step succeeded'));
    expect(stepLine).toBeDefined();
    const counts = JSON.parse(stepLine as string).route53Calls as Record<string, number>;
    const logical = [
      'ListHostedZonesByName',
      'GetHostedZone',
      'ListResourceRecordSets',
      'ChangeResourceRecordSets',
      'GetChange',
    ]
      .map((op) => counts[op] ?? 0)
      .reduce((a, b) => a + b, 0);
    expect(counts.attempts).toBeGreaterThan(logical); // the retries that rode the throttling
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });
});

describe('Route 53 refusing a change batch (InvalidChangeBatch)', () => {
  it('fails cleanly with Route 53 message, then succeeds on retry', async () => {
    const lambda = lambdaWith();
    const cert = await certificate('icb');
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const message = `RRSet with DNS name _acme-challenge.${cert.domains[0]}. is not permitted in zone ${cert.domains[0]}.`;
    const remove = stack.aws.addFault({
      service: 'route53',
      operation: 'ChangeResourceRecordSets',
      action: { type: 'error', error: { code: 'InvalidChangeBatch', message } },
    });

    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    remove();

    expect(run.succeeded).toBe(false);
    expect(run.lastError?.step).toBe('createSecret');
    expect(run.lastError?.message).toContain(
      `secret "${cert.name}" createSecret: Route 53 rejected the present change batch for zone ${cert.zoneId}: `,
    );
    expect(run.lastError?.message).toContain('is not permitted in zone');
    const failed = noticesFor(stack, cert.name).events.map((e) => e.detail);
    expect(failed).toEqual([
      expect.objectContaining({ status: 'failed', step: 'createSecret', error_code: 'ChangeRejected' }),
    ]);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });

    const retry = await retryRotation({ client: stack.sm, lambda, secretId: cert.arn, token: run.token });
    expect(retry.succeeded).toBe(true);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });
});

describe('a Route 53 change stuck PENDING', () => {
  it('fails cleanly at DNS_PROPAGATION_TIMEOUT_SECONDS with nothing left behind; the retry succeeds', async () => {
    const lambda = lambdaWith({ DNS_PROPAGATION_TIMEOUT_SECONDS: '2' });
    const cert = await certificate('stuck');
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    stack.aws.route53.holdChanges(true);
    let run;
    try {
      run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    } finally {
      stack.aws.route53.holdChanges(false);
    }

    expect(run.succeeded).toBe(false);
    expect(run.lastError?.message).toMatch(
      new RegExp(
        `^secret "${cert.name}" createSecret: Route 53 change \\S+ \\(zone ${cert.zoneId}\\) still PENDING after \\d+ polls: .*DNS_PROPAGATION_TIMEOUT_SECONDS`,
      ),
    );
    const failed = noticesFor(stack, cert.name).events.map((e) => e.detail);
    expect(failed).toEqual([expect.objectContaining({ status: 'failed', error_code: 'DeadlineExceeded' })]);
    // The clean-up change was accepted (Route 53's API view holds no TXT value) even though it
    // cannot sync yet.
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });

    const retry = await retryRotation({ client: stack.sm, lambda, secretId: cert.arn, token: run.token });
    expect(retry.lastError).toBeUndefined();
    expect(retry.succeeded).toBe(true);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });
});

describe('a change whose answer is lost after Route 53 applied it', () => {
  it('is recognised on the retry and not submitted a second time', async () => {
    const lambda = lambdaWith({ API_TIMEOUT_SECONDS: '1' });
    const cert = await certificate('lost');
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const from = stack.aws.calls.length;
    stack.aws.addFault({
      service: 'route53',
      operation: 'ChangeResourceRecordSets',
      action: { type: 'applyThenHang' },
    });

    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });

    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    // (Requests the throttled endpoint turned away never reached Route 53's logic: left out.)
    const batches = changeBatches(stack.aws.calls.slice(from), cert.zoneId).filter((b) => b.error !== 'Throttling');
    // Applied once (answer lost), the SDK's retry conflicted with it, then the clean-up.
    expect(batches.map((b) => [b.actions, b.error ?? 'ok'])).toEqual([
      [['CREATE'], 'ok'],
      [['CREATE'], 'InvalidChangeBatch'],
      [['DELETE'], 'ok'],
    ]);
    expect(lambda.logs.some((l) => l.includes('not resubmitting'))).toBe(true);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });
});
