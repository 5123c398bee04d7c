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

function setup(stages: string[] = ['AWSPENDING']) {
  const sm = new FakeSecretsManager();
  const secret = sm.addSecret({
    name: NAME,
    versions: { [TOKEN]: { value: 'first', stages }, old: { value: '{}', stages: ['AWSCURRENT'] } },
  });
  return { sm, secret, handlerSide: new SecretsAdapter(sm.client), stepSide: new SecretsAdapter(sm.client) };
}

describe('SecretsAdapter read-ahead', () => {
  it('answers the next read of that version from the read-ahead, once, and counts it for the step', async () => {
    const { sm, secret, handlerSide, stepSide } = setup();
    stepSide.adopt(handlerSide.readAhead(NAME, { versionId: TOKEN }), secret.arn);
    secret.versions.get(TOKEN)!.value = 'changed after the read-ahead';
    expect(await stepSide.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' })).toBe('first');
    // Taken once: the next read asks Secrets Manager again.
    expect(await stepSide.getValue(secret.arn, { versionId: TOKEN })).toBe('changed after the read-ahead');
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
    sm.addSecret({ name: 'acme/account', versions: { acct: { value: 'account', stages: ['AWSCURRENT'] } } });
    stepSide.adopt(handlerSide.readAhead(NAME, { stage: 'AWSCURRENT' }), secret.arn);
    expect(await stepSide.getValue('acme/account', { stage: 'AWSCURRENT' })).toBe('account');
    expect(await stepSide.getValue(secret.arn, { stage: 'AWSCURRENT' })).toBe('{}');
    expect(sm.gets()).toHaveLength(2); // the read-ahead and the account read
  });

  it('asks Secrets Manager itself when the version does not carry the stage asked for', async () => {
    const { sm, secret, handlerSide, stepSide } = setup(['AWSPREVIOUS']);
    stepSide.adopt(handlerSide.readAhead(NAME, { versionId: TOKEN }), secret.arn);
    // Secrets Manager's own answer (this fake: not found for that version and label, so no value),
    // not the value the read-ahead found without a label.
    expect(await stepSide.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' })).toBeUndefined();
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
    const { secret, handlerSide, stepSide } = setup();
    secret.versions.get(TOKEN)!.value = undefined;
    stepSide.adopt(handlerSide.readAhead(NAME, { versionId: TOKEN }), secret.arn);
    expect(await stepSide.getValue(secret.arn, { versionId: TOKEN, stage: 'AWSPENDING' })).toBeUndefined();
  });
});
