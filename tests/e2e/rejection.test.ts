/**
 * End-to-end: rotations that must fail without touching AWSCURRENT — a tampered pending bundle
 * rejected by testSecret, and a bad certificate spec rejected by createSecret before any DNS call.
 */
import {
  PutSecretValueCommand,
  RotateSecretCommand,
  TagResourceCommand,
  type Tag,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateKey, keyPem } from '../helpers/certs.js';
import { retryRotation, rotate, type RotationRun } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import type { LocalStack } from '../local/stack.js';
import {
  BUS_NAME,
  FUNCTION_NAME,
  callsSince,
  expectNoKeyMaterial,
  noticesFor,
  parseStoredBundle,
  startE2eStack,
  uniqueSecretName,
  uniqueZoneName,
  versionsWith,
  type E2eStack,
} from './helpers.js';

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

interface Current {
  versionId: string;
  value: string | undefined;
}

function currentOf(arn: string): Current {
  const ids = versionsWith(stack.aws.secrets.stagesOf(arn), 'AWSCURRENT');
  expect(ids).toHaveLength(1);
  return { versionId: ids[0] as string, value: stack.aws.secrets.valueAt(arn, 'AWSCURRENT') };
}

/** A failed rotation's failure notice: on SNS and EventBridge, same facts, seed fields first. */
function expectFailureNotice(
  secret: { arn: string; name: string },
  run: RotationRun,
  step: string,
  domains: string[],
  errorCode: string,
): void {
  const notices = noticesFor(stack, secret.name);
  const failedSns = notices.sns.filter((m) => m.message.status === 'failed');
  const failedEvents = notices.events.filter((e) => e.detail.status === 'failed');
  expect(failedSns).toHaveLength(1);
  expect(failedEvents).toHaveLength(1);
  const expected = {
    status: 'failed',
    domains,
    error: run.lastError?.message,
    step,
    secret_name: secret.name,
    secret_arn: secret.arn,
    version_id: run.token,
    error_code: errorCode,
  };
  for (const notice of [failedSns[0]?.message, failedEvents[0]?.detail]) {
    expect(notice).toEqual(expected);
    expect(Object.keys(notice ?? {}).slice(0, 5)).toEqual(['status', 'domains', 'error', 'step', 'secret_name']);
  }
  expect(failedEvents[0]).toMatchObject({
    detailType: 'Certificate Renewal Failed',
    source: FUNCTION_NAME,
    busName: BUS_NAME,
    resources: [secret.arn],
  });
  expect(failedSns[0]?.subject).toMatch(/FAILED/);
}

/** A certificate secret with a real certificate as AWSCURRENT (one successful rotation). */
async function issuedSecret(prefix: string, domains: string[]) {
  const secret = await stack.createCertificateSecret(uniqueSecretName(prefix), { domains }, { placeholder: '{}' });
  const run = await rotate({ client: stack.sm, lambda, secretId: secret.arn });
  expect(run.lastError).toBeUndefined();
  expect(run.succeeded).toBe(true);
  return secret;
}

/** RotateSecret by hand, then a value of our own in the AWSPENDING stub; returns the token. */
async function rotationWithPendingValue(arn: string, value: string): Promise<string> {
  const rotation = await stack.sm.send(
    new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: lambda.functionArn }),
  );
  const token = rotation.VersionId as string;
  await stack.sm.send(
    new PutSecretValueCommand({
      SecretId: arn,
      ClientRequestToken: token,
      SecretString: value,
      VersionStages: ['AWSPENDING'],
    }),
  );
  return token;
}

describe('testSecret rejects a tampered pending bundle', () => {
  it('rejects a bundle whose private key belongs to another key pair', async () => {
    const zoneName = uniqueZoneName('wrongkey');
    stack.aws.route53.createZone(zoneName);
    const domains = [zoneName];
    const secret = await issuedSecret('wrongkey', domains);
    const before = currentOf(secret.arn);

    // The real Pebble certificate, with a private key of the right type that is not its own.
    const real = parseStoredBundle(before.value);
    const tampered = { ...real.bundle, private_key: keyPem(generateKey('ecdsa-p256')) };
    const token = await rotationWithPendingValue(secret.arn, JSON.stringify(tampered));

    const run = await retryRotation({ client: stack.sm, lambda, secretId: secret.arn, token });

    expect(run.succeeded).toBe(false);
    expect(run.attempts[0]?.map((s) => s.step)).toEqual(['createSecret', 'setSecret', 'testSecret']);
    expect(run.lastError).toMatchObject({ step: 'testSecret', name: 'VerificationError' });
    expect(run.lastError?.message).toMatch(/private key .*does not match the leaf certificate's public key/);

    expect(currentOf(secret.arn)).toEqual(before);
    expect(versionsWith(stack.aws.secrets.stagesOf(secret.arn), 'AWSPENDING')).toEqual([token]);
    expectFailureNotice(secret, run, 'testSecret', domains, 'VerificationFailed');
    expectNoKeyMaterial(stack, [lambda]);
  });

  it('rejects a bundle missing a name of the spec, naming it', async () => {
    const zoneName = uniqueZoneName('missing');
    stack.aws.route53.createZone(zoneName);
    const secret = await issuedSecret('missing', [zoneName]);
    const before = currentOf(secret.arn);

    // The spec grows a name; the pending bundle is the (valid, real) certificate without it.
    const domains = [zoneName, `www.${zoneName}`];
    await stack.sm.send(
      new TagResourceCommand({ SecretId: secret.arn, Tags: [{ Key: 'acme:domains', Value: domains.join(',') }] }),
    );
    const token = await rotationWithPendingValue(secret.arn, before.value as string);

    const run = await retryRotation({ client: stack.sm, lambda, secretId: secret.arn, token });

    // createSecret already sees that the pending bundle cannot satisfy the spec, and says how to
    // get unstuck (the version is immutable).
    expect(run.succeeded).toBe(false);
    expect(run.lastError).toMatchObject({ step: 'createSecret', name: 'RotationStateError' });
    expect(run.lastError?.message).toContain(`missing www.${zoneName}`);
    expect(run.lastError?.message).toContain('cancel-rotate-secret');
    expect(currentOf(secret.arn)).toEqual(before);
    expectFailureNotice(secret, run, 'createSecret', domains, 'InvalidRotationState');

    // testSecret on its own rejects it too, naming the missing name.
    const tested = await lambda.invoke({ Step: 'testSecret', SecretId: secret.arn, ClientRequestToken: token });
    expect(tested.ok).toBe(false);
    if (!tested.ok) {
      expect(tested.error.name).toBe('VerificationError');
      expect(tested.error.message).toContain(`missing www.${zoneName}`);
    }
    expect(currentOf(secret.arn)).toEqual(before);
    expectNoKeyMaterial(stack, [lambda]);
  });
});

describe('createSecret rejects a bad certificate spec', () => {
  it.each([
    {
      what: 'a wildcard that is not the leftmost label',
      spec: (zone: string) => ({ domains: [`a.*.${zone}`], extraTags: [] as Tag[] }),
      message: (zone: string) => [`tag acme:domains value "a.*.${zone}" is invalid`, 'wildcard'],
    },
    {
      what: 'an unknown acme: tag (a typo of acme:domains)',
      spec: (zone: string) => ({ domains: [zone], extraTags: [{ Key: 'acme:domain', Value: zone }] as Tag[] }),
      message: () => ['tag acme:domain is not a known acme: tag'],
    },
  ])('fails on $what before any DNS change', async ({ spec, message }) => {
    const zoneName = uniqueZoneName('badspec');
    stack.aws.route53.createZone(zoneName);
    const { domains, extraTags } = spec(zoneName);
    const secret = await stack.createCertificateSecret(
      uniqueSecretName('badspec'),
      { domains },
      { placeholder: '{}', extraTags },
    );
    const before = currentOf(secret.arn);
    const from = stack.aws.calls.length;

    const run = await rotate({ client: stack.sm, lambda, secretId: secret.arn });

    expect(run.succeeded).toBe(false);
    expect(run.attempts[0]?.map((s) => s.step)).toEqual(['createSecret']);
    expect(run.lastError).toMatchObject({ step: 'createSecret', name: 'SpecError' });
    for (const part of message(zoneName)) expect(run.lastError?.message).toContain(part);
    expect(run.lastError?.message).toContain(secret.name);

    expect(currentOf(secret.arn)).toEqual(before);
    expect(stack.aws.secrets.stagesOf(secret.arn)).toEqual({
      [before.versionId]: ['AWSCURRENT'],
      [run.token]: ['AWSPENDING'],
    });
    const calls = callsSince(stack.aws.calls, from);
    expect(calls['route53:ChangeResourceRecordSets']).toBeUndefined();
    expect(Object.keys(calls).filter((k) => k.startsWith('route53:'))).toEqual([]);
    // The spec cannot be read, so the notice has no domains.
    expectFailureNotice(secret, run, 'createSecret', [], 'InvalidSpec');
  });
});
