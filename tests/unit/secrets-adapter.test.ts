/**
 * The Secrets Manager adapter's per-invocation memo: the handler starts reading the token's
 * version beside DescribeSecret (prefetch), and the step's read of that version takes the answer
 * once, instead of a second round trip. The adapter counts every call it makes.
 */
import { describe, expect, it } from 'vitest';
import { SecretsAdapter } from '../../rotation/aws/secrets.js';
import { AwsServiceError } from '../../rotation/lib/errors.js';
import { FakeSecretsManager } from './fakes.js';

const NAME = 'acme/read-ahead';
const TOKEN = '11111111-2222-4333-8444-555555555555';
const OLD = '00000000-aaaa-4bbb-8ccc-dddddddddddd';
const ACCOUNT_VERSION = '0a0a0a0a-1111-4222-8333-444444444444';

/** The token's version holds `value` (null: the value-less AWSPENDING stub). */
function setup(stages: string[] = ['AWSPENDING'], value: string | null = 'first') {
  const sm = new FakeSecretsManager();
  const secret = sm.addSecret({
    name: NAME,
    versions: { [OLD]: { value: '{}', stages: ['AWSCURRENT'] }, [TOKEN]: { value: value ?? undefined, stages } },
  });
  return { sm, secret, secrets: new SecretsAdapter(sm.client) };
}

describe('SecretsAdapter prefetch', () => {
  it('answers the next read of that version by the ARN DescribeSecret answered, once, and counts every call', async () => {
    // The prefetch finds the stub; another invocation then stores the value (the one change a
    // version can undergo), so a read that reaches Secrets Manager sees it and the prefetch does not.
    const { sm, secret, secrets } = setup(['AWSPENDING'], null);
    secrets.prefetch(NAME, { versionId: TOKEN });
    expect((await secrets.describe(NAME)).arn).toBe(secret.arn); // answered after the prefetch
    sm.putVersion(secret.arn, TOKEN, { value: 'stored after the prefetch', stages: ['AWSPENDING'] });
    expect(await secrets.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' })).toBeUndefined();
    // Taken once: the next read asks Secrets Manager again.
    expect(await secrets.getValue(secret.arn, { versionId: TOKEN })).toBe('stored after the prefetch');
    expect(sm.gets()).toHaveLength(2);
    expect(secrets.calls).toEqual({ GetSecretValue: 2, DescribeSecret: 1 });
  });

  it('answers a read by the id the prefetch was started with, without DescribeSecret', async () => {
    const { sm, secrets } = setup();
    secrets.prefetch(NAME, { versionId: TOKEN });
    expect(await secrets.getValue(NAME, { versionId: TOKEN })).toBe('first');
    expect(sm.gets()).toHaveLength(1);
    expect(secrets.calls).toEqual({ GetSecretValue: 1 });
  });

  it('leaves reads of other versions alone', async () => {
    const { sm, secret, secrets } = setup();
    secrets.prefetch(NAME, { versionId: TOKEN });
    await secrets.describe(NAME);
    expect(await secrets.getValue(secret.arn, { stage: 'AWSCURRENT' })).toBe('{}');
    expect(await secrets.getValue(secret.arn, { versionId: TOKEN })).toBe('first');
    expect(sm.gets()).toHaveLength(2); // the prefetch and the AWSCURRENT read
  });

  it("matches a stage read only for the same secret: another secret's AWSCURRENT is read for real", async () => {
    const { sm, secret, secrets } = setup();
    sm.addSecret({
      name: 'acme/account',
      versions: { [ACCOUNT_VERSION]: { value: 'account', stages: ['AWSCURRENT'] } },
    });
    secrets.prefetch(NAME, { stage: 'AWSCURRENT' });
    await secrets.describe(NAME);
    expect(await secrets.getValue('acme/account', { stage: 'AWSCURRENT' })).toBe('account');
    expect(await secrets.getValue(secret.arn, { stage: 'AWSCURRENT' })).toBe('{}');
    expect(sm.gets()).toHaveLength(2); // the prefetch and the account read
  });

  it("never answers this secret's read with another secret's prefetch", async () => {
    const { sm, secret, secrets } = setup();
    sm.addSecret({
      name: 'acme/account',
      versions: { [ACCOUNT_VERSION]: { value: 'account', stages: ['AWSCURRENT'] } },
    });
    secrets.prefetch('acme/account', { stage: 'AWSCURRENT' });
    await secrets.describe(NAME);
    expect(await secrets.getValue(secret.arn, { stage: 'AWSCURRENT' })).toBe('{}');
    expect(await secrets.getValue('acme/account', { stage: 'AWSCURRENT' })).toBe('account');
    expect(sm.gets()).toHaveLength(2); // the account prefetch and this secret's read
  });

  it('asks Secrets Manager itself when the version does not carry the stage asked for', async () => {
    const { sm, secret, secrets } = setup(['AWSPREVIOUS']);
    secrets.prefetch(NAME, { versionId: TOKEN });
    await secrets.describe(NAME);
    // Secrets Manager's own answer (a version id and a label it does not carry: InvalidRequestException),
    // not the value the prefetch found without a label.
    const err = await secrets.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AwsServiceError);
    expect((err as AwsServiceError).awsCode).toBe('InvalidRequestException');
    expect(sm.gets()).toEqual([
      { SecretId: NAME, VersionId: TOKEN, VersionStage: undefined },
      { SecretId: secret.arn, VersionId: TOKEN, VersionStage: 'AWSPENDING' },
    ]);
    expect(secrets.calls.GetSecretValue).toBe(2);
  });

  it('surfaces a failed prefetch as the step read would, mapped, when the step takes it', async () => {
    const { sm, secret, secrets } = setup();
    sm.before = (op) => {
      if (op === 'GetSecretValue') throw Object.assign(new Error('rate exceeded'), { name: 'ThrottlingException' });
    };
    secrets.prefetch(NAME, { versionId: TOKEN });
    sm.before = undefined;
    await secrets.describe(NAME);
    const err = await secrets.getValue(secret.arn, { versionId: TOKEN }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AwsServiceError);
    expect((err as AwsServiceError).message).toBe(
      'SecretsManager GetSecretValue failed (ThrottlingException): rate exceeded',
    );
  });

  it('drops a failed prefetch nobody takes without a word (a refused event)', async () => {
    const { sm, secrets } = setup();
    sm.before = (op) => {
      if (op === 'GetSecretValue') throw Object.assign(new Error('rate exceeded'), { name: 'ThrottlingException' });
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      secrets.prefetch(NAME, { versionId: TOKEN });
      await secrets.describe(NAME);
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(sm.gets()).toHaveLength(1);
  });

  it('reads a version without a value (the AWSPENDING stub) as undefined', async () => {
    const { secret, secrets } = setup(['AWSPENDING'], null);
    secrets.prefetch(NAME, { versionId: TOKEN });
    await secrets.describe(NAME);
    expect(await secrets.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' })).toBeUndefined();
  });
});
