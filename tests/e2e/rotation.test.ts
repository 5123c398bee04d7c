/**
 * End-to-end: certificate rotations on the local stack (real Pebble, the local AWS endpoint through
 * the real SDK clients, the built Lambda bundle). First issuance, apex + wildcard, delegated
 * sub-zones, renewal, key types. Outcomes only: versions and labels, certificate contents, zone
 * contents, Route 53 change batches, notices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import type { LocalStack } from '../local/stack.js';
import {
  BUS_NAME,
  FUNCTION_NAME,
  changeBatches,
  expectConsistentBundle,
  expectNoKeyMaterial,
  noticesFor,
  parseStoredBundle,
  startE2eStack,
  txtRecordsIn,
  uniqueSecretName,
  uniqueZoneName,
  versionsWith,
  type E2eStack,
} from './helpers.js';

const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

let e2e: E2eStack | undefined;
let stack: LocalStack;
let lambda: LocalLambda;

beforeAll(async () => {
  e2e = await startE2eStack();
  stack = e2e.stack;
  lambda = e2e.notifyingLambda();
});

afterAll(async () => {
  await e2e?.stack.stop();
});

/** Runs a whole rotation and fails the test with the step's error when it did not succeed. */
async function rotateOk(secretId: string) {
  const run = await rotate({ client: stack.sm, lambda, secretId });
  expect(run.lastError).toBeUndefined();
  expect(run.succeeded).toBe(true);
  expect(run.attempts.map((a) => a.map((s) => s.step))).toEqual([STEPS]);
  return run;
}

describe('first issuance on a placeholder secret', () => {
  it.each([
    ['an ARN', 'arn'],
    ['a name', 'name'],
  ] as const)('issues the first certificate (SecretId given as %s)', async (_what, by) => {
    const zoneName = uniqueZoneName(`first-${by}`);
    const zone = stack.aws.route53.createZone(zoneName);
    const domains = [zoneName, `www.${zoneName}`];
    const secret = await stack.createCertificateSecret(
      uniqueSecretName(`first-${by}`),
      { domains },
      { placeholder: '{}' },
    );
    const [placeholderVersion] = versionsWith(stack.aws.secrets.stagesOf(secret.arn), 'AWSCURRENT');
    expect(placeholderVersion).toBeDefined();

    const run = await rotateOk(by === 'arn' ? secret.arn : secret.name);

    // Versions: the new one is AWSCURRENT, the placeholder AWSPREVIOUS, nothing pending.
    expect(stack.aws.secrets.stagesOf(secret.arn)).toEqual({
      [placeholderVersion as string]: ['AWSPREVIOUS'],
      [run.token]: ['AWSCURRENT'],
    });
    expect(stack.aws.secrets.valueAt(secret.arn, 'AWSPREVIOUS')).toBe('{}');

    // The certificate: right SANs, default key type, key matches, issued by Pebble.
    const current = parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT'));
    expectConsistentBundle(current, domains, 'ecdsa-p256');

    // Status tags (seed-compatible), no in-flight tags, no TXT left behind.
    const tags = stack.aws.secrets.tagsOf(secret.arn);
    expect(tags).toMatchObject({
      ExpirationDate: current.bundle.expiry,
      IssuedAt: current.bundle.issued_at,
      Domains: domains.join(','),
      'acme:domains': domains.join(','),
    });
    expect(Object.keys(tags).filter((k) => k.startsWith('acme-rotation:'))).toEqual([]);
    expect(txtRecordsIn(stack, zone.id)).toEqual([]);

    // One success notice on SNS and one event on EventBridge, seed fields first.
    const notices = noticesFor(stack, secret.name);
    expect(notices.sns).toHaveLength(1);
    expect(notices.events).toHaveLength(1);
    const expected = {
      status: 'success',
      domains,
      expiry: current.bundle.expiry,
      issued_at: current.bundle.issued_at,
      secret_name: secret.name,
      secret_arn: secret.arn,
      version_id: run.token,
      serial: current.bundle.serial,
      key_type: 'ecdsa-p256',
    };
    for (const notice of [notices.sns[0]?.message, notices.events[0]?.detail]) {
      expect(notice).toMatchObject(expected);
      expect(Object.keys(notice ?? {}).slice(0, 5)).toEqual([
        'status',
        'domains',
        'expiry',
        'issued_at',
        'secret_name',
      ]);
    }
    expect(notices.events[0]).toMatchObject({
      detailType: 'Certificate Renewed',
      source: FUNCTION_NAME,
      busName: BUS_NAME,
      resources: [secret.arn],
    });
    expect(notices.sns[0]?.subject).toContain(zoneName);

    expectNoKeyMaterial(stack, [lambda]);
  });
});

describe('DNS-01 on Route 53', () => {
  it('issues apex + wildcard in one certificate with one change to create and one to clean up', async () => {
    const zoneName = uniqueZoneName('wild');
    const zone = stack.aws.route53.createZone(zoneName);
    const domains = [zoneName, `*.${zoneName}`];
    const secret = await stack.createCertificateSecret(uniqueSecretName('wild'), { domains }, { placeholder: '{}' });
    const from = stack.aws.calls.length;

    await rotateOk(secret.arn);

    const current = parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT'));
    expectConsistentBundle(current, domains, 'ecdsa-p256');
    expect(current.sans).toContain(zoneName);
    expect(current.sans).toContain(`*.${zoneName}`);

    // Both TXT values in one record set at _acme-challenge.<apex>, added in one batch and
    // removed in one batch; no other zone was touched.
    const calls = stack.aws.calls.slice(from);
    const batches = changeBatches(calls, zone.id);
    expect(changeBatches(calls)).toHaveLength(2);
    expect(batches.map((b) => b.actions)).toEqual([['CREATE'], ['DELETE']]);
    expect(batches.map((b) => b.error)).toEqual([undefined, undefined]);
    expect(batches[0]?.names).toEqual([`_acme-challenge.${zoneName}`]);
    const values = batches[0]?.values ?? [];
    expect(new Set(values).size).toBe(2);
    expect([...(batches[1]?.values ?? [])].sort()).toEqual([...values].sort());
    expect(txtRecordsIn(stack, zone.id)).toEqual([]);
  });

  it('issues names across a zone and its delegated sub-zone, one change per zone', async () => {
    const parentName = uniqueZoneName('deleg');
    const childName = `sub.${parentName}`;
    const parent = stack.aws.route53.createZone(parentName);
    const child = stack.aws.route53.createZone(childName);
    // The delegation, as the parent zone would have it.
    stack.aws.route53.changeRecords(parent.id, [
      { action: 'CREATE', record: { name: childName, type: 'NS', ttl: 172800, values: child.nameServers } },
    ]);
    const domains = [parentName, `www.${childName}`];
    const secret = await stack.createCertificateSecret(uniqueSecretName('deleg'), { domains }, { placeholder: '{}' });
    const from = stack.aws.calls.length;

    await rotateOk(secret.name);

    const current = parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT'));
    expectConsistentBundle(current, domains, 'ecdsa-p256');

    const calls = stack.aws.calls.slice(from);
    const parentBatches = changeBatches(calls, parent.id);
    const childBatches = changeBatches(calls, child.id);
    expect(changeBatches(calls)).toHaveLength(4);
    // Exactly one change creating TXT values in each zone, each at its own name; then one clean-up each.
    expect(parentBatches.map((b) => b.actions)).toEqual([['CREATE'], ['DELETE']]);
    expect(childBatches.map((b) => b.actions)).toEqual([['CREATE'], ['DELETE']]);
    expect(parentBatches[0]?.names).toEqual([`_acme-challenge.${parentName}`]);
    expect(childBatches[0]?.names).toEqual([`_acme-challenge.www.${childName}`]);
    expect(txtRecordsIn(stack, parent.id)).toEqual([]);
    expect(txtRecordsIn(stack, child.id)).toEqual([]);
  });
});

describe('renewal', () => {
  it('gives a new serial and a new key; the old version becomes AWSPREVIOUS', async () => {
    const zoneName = uniqueZoneName('renew');
    const zone = stack.aws.route53.createZone(zoneName);
    const domains = [zoneName];
    const secret = await stack.createCertificateSecret(uniqueSecretName('renew'), { domains }, { placeholder: '{}' });

    const run1 = await rotateOk(secret.arn);
    const value1 = stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT');
    const first = parseStoredBundle(value1);

    const run2 = await rotateOk(secret.name);
    const value2 = stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT');
    const second = parseStoredBundle(value2);
    expectConsistentBundle(second, domains, 'ecdsa-p256');

    expect(second.bundle.serial).not.toBe(first.bundle.serial);
    expect(second.cert.fingerprint256).not.toBe(first.cert.fingerprint256);
    expect(second.bundle.private_key).not.toBe(first.bundle.private_key);
    const spki = (p: typeof first) => p.cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    expect(spki(second)).not.toBe(spki(first));

    const stages = stack.aws.secrets.stagesOf(secret.arn);
    expect(versionsWith(stages, 'AWSCURRENT')).toEqual([run2.token]);
    expect(versionsWith(stages, 'AWSPREVIOUS')).toEqual([run1.token]);
    expect(stack.aws.secrets.valueAt(secret.arn, 'AWSPREVIOUS')).toBe(value1);
    expect(versionsWith(stages, 'AWSPENDING').filter((id) => id !== run2.token)).toEqual([]);
    expect(stages[run2.token]).toEqual(['AWSCURRENT']);

    expect(stack.aws.secrets.tagsOf(secret.arn)).toMatchObject({
      ExpirationDate: second.bundle.expiry,
      IssuedAt: second.bundle.issued_at,
    });
    const notices = noticesFor(stack, secret.name);
    expect(notices.events.map((e) => [e.detail.status, e.detail.version_id, e.detail.serial])).toEqual([
      ['success', run1.token, first.bundle.serial],
      ['success', run2.token, second.bundle.serial],
    ]);
    expect(notices.sns.map((m) => m.message.version_id)).toEqual([run1.token, run2.token]);
    expect(txtRecordsIn(stack, zone.id)).toEqual([]);
  });
});

describe('key types', () => {
  it.each(['rsa-2048', 'ecdsa-p384'])('issues a %s certificate', async (keyType) => {
    const zoneName = uniqueZoneName(keyType);
    stack.aws.route53.createZone(zoneName);
    const domains = [zoneName, `*.${zoneName}`];
    const secret = await stack.createCertificateSecret(
      uniqueSecretName(keyType),
      { domains, keyType },
      { placeholder: '{}' },
    );

    await rotateOk(secret.arn);

    const current = parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT'));
    expectConsistentBundle(current, domains, keyType);
    expect(noticesFor(stack, secret.name).events[0]?.detail).toMatchObject({ status: 'success', key_type: keyType });
  });
});
