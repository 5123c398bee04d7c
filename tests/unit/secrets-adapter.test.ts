/**
 * The Secrets Manager adapter's read-ahead: the handler starts reading the token's version beside
 * DescribeSecret, and the step's adapter takes that answer once, instead of a second round trip.
 */
import { describe, expect, it } from 'vitest';
import { SecretsAdapter } from '../../rotation/aws/secrets.js';
import { AwsServiceError } from '../../rotation/errors.js';
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
  return { sm, secret, handlerSide: new SecretsAdapter(sm.client), stepSide: new SecretsAdapter(sm.client) };
}

describe('SecretsAdapter read-ahead', () => {
  it('answers the next read of that version from the read-ahead, once, and counts it for the step', async () => {
    // The read-ahead finds the stub; another invocation then stores the value (the one change a
    // version can undergo), so a read that reaches Secrets Manager sees it and the read-ahead does not.
    const { sm, secret, handlerSide, stepSide } = setup(['AWSPENDING'], null);
    const ahead = handlerSide.readAhead(NAME, { versionId: TOKEN });
    stepSide.adopt(ahead, secret.arn);
    await ahead.read; // answered by Secrets Manager before the value is stored
    sm.putVersion(secret.arn, TOKEN, { value: 'stored after the read-ahead', stages: ['AWSPENDING'] });
    expect(await stepSide.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' })).toBeUndefined();
    // Taken once: the next read asks Secrets Manager again.
    expect(await stepSide.getValue(secret.arn, { versionId: TOKEN })).toBe('stored after the read-ahead');
    expect(sm.gets()).toHaveLength(2);
    expect(stepSide.calls.GetSecretValue).toBe(2);
    expect(handlerSide.calls.GetSecretValue).toBeUndefined();
  });

  it('leaves reads of other versions alone', async () => {
    const { sm, secret, handlerSide, stepSide } = setup();
    stepSide.adopt(handlerSide.readAhead(NAME, { versionId: TOKEN }), secret.arn);
    expect(await stepSide.getValue(secret.arn, { stage: 'AWSCURRENT' })).toBe('{}');
    expect(await stepSide.getValue(secret.arn, { versionId: TOKEN })).toBe('first');
    expect(sm.gets()).toHaveLength(2); // the read-ahead and the AWSCURRENT read
  });

  it("matches a stage read only for the same secret: another secret's AWSCURRENT is read for real", async () => {
    const { sm, secret, handlerSide, stepSide } = setup();
    sm.addSecret({
      name: 'acme/account',
      versions: { [ACCOUNT_VERSION]: { value: 'account', stages: ['AWSCURRENT'] } },
    });
    stepSide.adopt(handlerSide.readAhead(NAME, { stage: 'AWSCURRENT' }), secret.arn);
    expect(await stepSide.getValue('acme/account', { stage: 'AWSCURRENT' })).toBe('account');
    expect(await stepSide.getValue(secret.arn, { stage: 'AWSCURRENT' })).toBe('{}');
    expect(sm.gets()).toHaveLength(2); // the read-ahead and the account read
  });

  it('asks Secrets Manager itself when the version does not carry the stage asked for', async () => {
    const { sm, secret, handlerSide, stepSide } = setup(['AWSPREVIOUS']);
    stepSide.adopt(handlerSide.readAhead(NAME, { versionId: TOKEN }), secret.arn);
    // Secrets Manager's own answer (a version id and a label it does not carry: InvalidRequestException),
    // not the value the read-ahead found without a label.
    const err = await stepSide.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AwsServiceError);
    expect((err as AwsServiceError).awsCode).toBe('InvalidRequestException');
    expect(sm.gets()).toEqual([
      { SecretId: NAME, VersionId: TOKEN, VersionStage: undefined },
      { SecretId: secret.arn, VersionId: TOKEN, VersionStage: 'AWSPENDING' },
    ]);
  });

  it('surfaces a failed read-ahead as the step read would, mapped, when the step takes it', async () => {
    const { sm, secret, handlerSide, stepSide } = setup();
    sm.before = (op) => {
      if (op === 'GetSecretValue') throw Object.assign(new Error('rate exceeded'), { name: 'ThrottlingException' });
    };
    stepSide.adopt(handlerSide.readAhead(NAME, { versionId: TOKEN }), secret.arn);
    sm.before = undefined;
    const err = await stepSide.getValue(secret.arn, { versionId: TOKEN }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AwsServiceError);
    expect((err as AwsServiceError).message).toBe(
      'SecretsManager GetSecretValue failed (ThrottlingException): rate exceeded',
    );
  });

  it('reads a version without a value (the AWSPENDING stub) as undefined', async () => {
    const { secret, handlerSide, stepSide } = setup(['AWSPENDING'], null);
    stepSide.adopt(handlerSide.readAhead(NAME, { versionId: TOKEN }), secret.arn);
    expect(await stepSide.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' })).toBeUndefined();
  });
});
