/**
 * End-to-end: every step safe to run again. A createSecret re-run after it succeeded does nothing;
 * a createSecret killed mid-flight (after its TXT values reached Route 53) leaves enough behind
 * for the retry to clean up and finish.
 */
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { retryRotation, rotate } from '../local/driver.js';
import type { LocalStack } from '../local/stack.js';
import {
  callsSince,
  changeBatches,
  expectConsistentBundle,
  noticesFor,
  parseStoredBundle,
  startE2eStack,
  txtRecordsIn,
  uniqueSecretName,
  uniqueZoneName,
  versionsWith,
  type E2eStack,
} from './helpers.js';

let e2e: E2eStack | undefined;
let stack: LocalStack;

beforeAll(async () => {
  e2e = await startE2eStack();
  stack = e2e.stack;
});

afterAll(async () => {
  await e2e?.stack.stop();
});

const NEW_ORDER = /POST \/order-plz/;

describe('createSecret re-run after it succeeded', () => {
  it('keeps the pending value and touches neither Route 53 nor the CA', async () => {
    const lambda = e2e!.notifyingLambda();
    const zoneName = uniqueZoneName('rerun');
    const zone = stack.aws.route53.createZone(zoneName);
    const domains = [zoneName, `*.${zoneName}`];
    const secret = await stack.createCertificateSecret(uniqueSecretName('rerun'), { domains }, { placeholder: '{}' });
    const [placeholderVersion] = versionsWith(stack.aws.secrets.stagesOf(secret.arn), 'AWSCURRENT');

    const rotation = await stack.sm.send(
      new RotateSecretCommand({ SecretId: secret.arn, RotationLambdaARN: lambda.functionArn }),
    );
    const token = rotation.VersionId as string;
    const event = { Step: 'createSecret', SecretId: secret.arn, ClientRequestToken: token };

    const first = await lambda.invoke(event);
    expect(first).toMatchObject({ ok: true });
    const pending = stack.aws.secrets.valueAt(secret.arn, 'AWSPENDING');
    expectConsistentBundle(parseStoredBundle(pending), domains, 'ecdsa-p256');
    expect(versionsWith(stack.aws.secrets.stagesOf(secret.arn), 'AWSPENDING')).toEqual([token]);
    const ordersBefore = stack.pebble.logs.filter((l) => NEW_ORDER.test(l)).length;
    expect(ordersBefore).toBeGreaterThan(0);
    const changesBefore = stack.aws.countCalls('route53', 'ChangeResourceRecordSets');

    // The same step again with the same token (Secrets Manager retrying it).
    const from = stack.aws.calls.length;
    const pebbleFrom = stack.pebble.logs.length;
    const again = await lambda.invoke(event);
    expect(again).toMatchObject({ ok: true });

    expect(stack.aws.secrets.valueAt(secret.arn, 'AWSPENDING')).toBe(pending);
    expect(stack.aws.countCalls('route53', 'ChangeResourceRecordSets')).toBe(changesBefore);
    // Read the secret, its pending value and (in the same round trip) its current value; nothing
    // else: no Route 53, no tags, no new version.
    expect(callsSince(stack.aws.calls, from)).toEqual({
      'secretsmanager:DescribeSecret': 1,
      'secretsmanager:GetSecretValue': 2,
    });
    expect(stack.pebble.logs.slice(pebbleFrom).filter((l) => NEW_ORDER.test(l))).toEqual([]);
    expect(stack.pebble.logs.filter((l) => NEW_ORDER.test(l))).toHaveLength(ordersBefore);

    // The rotation still completes with that very value.
    const run = await retryRotation({ client: stack.sm, lambda, secretId: secret.arn, token });
    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    expect(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')).toBe(pending);
    expect(stack.aws.secrets.stagesOf(secret.arn)).toEqual({
      [placeholderVersion as string]: ['AWSPREVIOUS'],
      [token]: ['AWSCURRENT'],
    });
    expect(stack.aws.countCalls('route53', 'ChangeResourceRecordSets')).toBe(changesBefore);
    expect(txtRecordsIn(stack, zone.id)).toEqual([]);
  });
});

describe('createSecret killed mid-flight', () => {
  it('leaves its TXT values and in-flight tags behind; the retry removes them and issues', async () => {
    const lambda = e2e!.notifyingLambda();
    const zoneName = uniqueZoneName('crash');
    const zone = stack.aws.route53.createZone(zoneName);
    const domains = [zoneName, `*.${zoneName}`];
    const secret = await stack.createCertificateSecret(uniqueSecretName('crash'), { domains }, { placeholder: '{}' });
    const [placeholderVersion] = versionsWith(stack.aws.secrets.stagesOf(secret.arn), 'AWSCURRENT');
    const placeholderValue = stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT');
    const challengeName = `_acme-challenge.${zoneName}`;

    // The first change for the zone (the one creating the TXT values) is applied, then the
    // function dies before it sees the answer.
    let hits = 0;
    const removeFault = stack.aws.addFault({
      service: 'route53',
      operation: 'ChangeResourceRecordSets',
      match: (input) => (input as { path: string }).path.includes(`/hostedzone/${zone.id}/`),
      action: { type: 'applyThenHang' },
      onHit: () => {
        hits++;
        lambda.kill();
      },
    });
    const from = stack.aws.calls.length;
    let run;
    try {
      run = await rotate({ client: stack.sm, lambda, secretId: secret.arn });
    } finally {
      removeFault();
    }
    expect(hits).toBe(1);
    expect(run.succeeded).toBe(false);
    expect(run.attempts).toHaveLength(1);
    expect(run.attempts[0]?.map((s) => s.step)).toEqual(['createSecret']);
    expect(run.attempts[0]?.[0]?.result).toMatchObject({ ok: false, crashed: true });
    const [created] = changeBatches(stack.aws.calls.slice(from), zone.id);
    expect(created?.actions).toEqual(['CREATE']);

    // At this moment the values are in the zone, and the secret's in-flight tags name them.
    const leftover = stack.aws.route53.txtValues(challengeName);
    expect(leftover).toHaveLength(2);
    expect([...leftover].sort()).toEqual([...(created?.values ?? [])].sort());
    const tagsAfterCrash = stack.aws.secrets.tagsOf(secret.arn);
    expect(tagsAfterCrash['acme-rotation:inflight']).toBe(run.token);
    const recorded = Object.entries(tagsAfterCrash)
      .filter(([k]) => k.startsWith('acme-rotation:inflight:'))
      .map(([, v]) => v)
      .join(' ');
    for (const value of leftover) expect(recorded.split(' ')).toContain(value);
    // Nothing was promoted; the rotation is still pending on the empty stub.
    expect(stack.aws.secrets.stagesOf(secret.arn)).toEqual({
      [placeholderVersion as string]: ['AWSCURRENT'],
      [run.token]: ['AWSPENDING'],
    });
    expect(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')).toBe(placeholderValue);

    // Secrets Manager retries the rotation with the same token.
    const retryFrom = stack.aws.calls.length;
    const retry = await retryRotation({ client: stack.sm, lambda, secretId: secret.arn, token: run.token });
    expect(retry.lastError).toBeUndefined();
    expect(retry.succeeded).toBe(true);
    expect(lambda.coldStarts).toBe(2);

    const current = parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT'));
    expectConsistentBundle(current, domains, 'ecdsa-p256');
    expect(versionsWith(stack.aws.secrets.stagesOf(secret.arn), 'AWSCURRENT')).toEqual([run.token]);

    // No TXT value left (neither the killed attempt's nor the retry's), no in-flight tags.
    expect(stack.aws.route53.txtValues(challengeName)).toEqual([]);
    expect(txtRecordsIn(stack, zone.id)).toEqual([]);
    expect(Object.keys(stack.aws.secrets.tagsOf(secret.arn)).filter((k) => k.startsWith('acme-rotation:'))).toEqual([]);
    // The retry removed the leftovers first, then added and removed its own values.
    const retryBatches = changeBatches(stack.aws.calls.slice(retryFrom), zone.id);
    expect(retryBatches.map((b) => b.actions)).toEqual([['DELETE'], ['CREATE'], ['DELETE']]);
    expect([...(retryBatches[0]?.values ?? [])].sort()).toEqual([...leftover].sort());
    expect(retryBatches[1]?.values.filter((v) => leftover.includes(v))).toEqual([]);

    expect(noticesFor(stack, secret.name).events.map((e) => e.detail.status)).toEqual(['success']);
  });
});
