/**
 * The one Secrets Manager adapter (rotation/aws/secrets.ts) as the renewal watch and the fetch
 * command use it, through the real SDK client answered in process by the local endpoint's model
 * (tests/local/aws/secretsmanager.ts): listing by exact tag key over pages, RotateSecret and its
 * refusal while a rotation is in progress, version dates, AWSPENDING taken off, reads of
 * AWSCURRENT (binary, missing), every call counted under its operation.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeEach, describe, expect, it } from 'vitest';

import { SecretsAdapter } from '../../rotation/aws/secrets.js';
import { AwsServiceError } from '../../rotation/lib/errors.js';
import { WatchSecrets, pendingVersion, rotationInProgress } from '../../rotation/watch/secrets.js';
import { inProcessHandler } from '../local/aws/in-process.js';
import { SecretsManagerService } from '../local/aws/secretsmanager.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const LAMBDA = 'arn:aws:lambda:us-east-1:123456789012:function:acme-rotation';

let service: SecretsManagerService;
let client: SecretsManagerClient;

beforeEach(() => {
  let now = Date.parse('2026-03-01T00:00:00Z');
  service = new SecretsManagerService({ accountId: '123456789012', region: 'us-east-1', now: () => (now += 1_000) });
  client = new SecretsManagerClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: inProcessHandler({ secretsmanager: service }),
  });
});

function certificateSecret(name: string, tags: Record<string, string> = { 'acme:domains': 'example.com' }) {
  return service.seedSecret({
    name,
    rotationEnabled: true,
    rotationLambdaArn: LAMBDA,
    tags,
    versions: { [V1]: { value: '{"certificate":"…"}', stages: ['AWSCURRENT'] } },
  });
}

describe('SecretsAdapter for the watch', () => {
  it('lists the secrets carrying the exact tag key, over every page', async () => {
    for (let i = 0; i < 105; i++) certificateSecret(`certs/${String(i).padStart(3, '0')}`);
    certificateSecret('certs/prefix-only', { 'acme:domains-old': 'example.com' });
    service.seedSecret({ name: 'other/untagged' });
    const secrets = new SecretsAdapter(client);

    const listed = await secrets.list('acme:domains');

    expect(listed).toHaveLength(105);
    expect(listed.map((s) => s.name)).not.toContain('certs/prefix-only');
    expect(listed[0]).toMatchObject({
      rotationEnabled: true,
      rotationLambdaArn: LAMBDA,
      versions: { [V1]: ['AWSCURRENT'] },
      tags: [{ Key: 'acme:domains', Value: 'example.com' }],
    });
    expect(secrets.calls).toEqual({ ListSecrets: 2 }); // 100 a page
  });

  it('starts a rotation, answers "in-progress" for a second one, and dates the pending version', async () => {
    const secret = certificateSecret('certs/web');
    const secrets = new SecretsAdapter(client);

    expect(await secrets.rotate(secret.arn)).toBe('started');
    expect(await secrets.rotate(secret.arn)).toBe('in-progress');

    const d = await secrets.describe(secret.arn);
    expect(rotationInProgress(d.versionStages)).toBe(true);
    const pending = pendingVersion(d.versionStages) as string;
    const versions = await secrets.versions(secret.arn);
    expect(versions.map((v) => [v.versionId, v.stages])).toEqual([
      [V1, ['AWSCURRENT']],
      [pending, ['AWSPENDING']],
    ]);
    expect(versions[1]?.createdDate).toBeInstanceOf(Date);
    expect(secrets.calls).toEqual({ RotateSecret: 2, DescribeSecret: 1, ListSecretVersionIds: 1 });
  });

  it('refuses RotateSecret without a rotation function with the AWS error, mapped', async () => {
    const bare = service.seedSecret({
      name: 'certs/no-lambda',
      versions: { [V1]: { value: '{}', stages: ['AWSCURRENT'] } },
    });
    const err = await new SecretsAdapter(client).rotate(bare.arn).catch((e: unknown) => e as AwsServiceError);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({
      code: 'AwsSecretsManagerError',
      operation: 'RotateSecret',
      awsCode: 'InvalidRequestException',
    });
  });

  it('WatchSecrets on the adapter: the pending version with its date, cleared; tags set and removed', async () => {
    const secret = certificateSecret('certs/web', { 'acme:domains': 'example.com', 'acme:renewal': 'due' });
    const watch = new WatchSecrets(client);
    expect(await watch.rotate(secret.arn)).toBe('started');
    const pending = await watch.pending(secret.arn);
    expect(pending?.createdAt).toBeInstanceOf(Date);

    await watch.clearPending(secret.arn, pending?.versionId as string);
    await watch.tag(secret.arn, { 'acme:renewal': 'started' }, ['acme:renewal-old']);
    await watch.tag(secret.arn, {}, ['acme:renewal']);

    const now = await watch.describe(secret.arn);
    expect(rotationInProgress(now.versions)).toBe(false);
    expect(now.versions[V1]).toEqual(['AWSCURRENT']);
    expect(now.tags).toEqual([{ Key: 'acme:domains', Value: 'example.com' }]);
    expect(await watch.current(secret.arn)).toBe('{"certificate":"…"}');
    expect(watch.calls).toEqual({
      RotateSecret: 1,
      ListSecretVersionIds: 1,
      UpdateSecretVersionStage: 1,
      TagResource: 1,
      UntagResource: 2,
      DescribeSecret: 1,
      GetSecretValue: 1,
    });
  });
});

describe('SecretsAdapter reads for the fetch command', () => {
  it('reads AWSCURRENT as it is, a binary value by its size', async () => {
    const secret = service.seedSecret({
      name: 'certs/binary',
      versions: { [V1]: { binary: Buffer.from([1, 2, 3]).toString('base64'), stages: ['AWSCURRENT'] } },
    });
    const v = await new SecretsAdapter(client).readVersion(secret.arn, { stage: 'AWSCURRENT' });
    expect(v).toMatchObject({ versionId: V1, value: undefined, binaryBytes: 3, stages: ['AWSCURRENT'] });
  });

  it('a missing secret or version: readVersion throws ResourceNotFoundException, findVersion answers undefined', async () => {
    const secret = service.seedSecret({ name: 'certs/empty' });
    const secrets = new SecretsAdapter(client);
    const err = await secrets.readVersion('certs/nope', { stage: 'AWSCURRENT' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'AwsSecretsManagerError', awsCode: 'ResourceNotFoundException' });
    expect(await secrets.findVersion(secret.arn, { stage: 'AWSCURRENT' })).toBeUndefined();
    expect(await secrets.findVersion(secret.arn, { versionId: V2 })).toBeUndefined();
    expect(secrets.calls).toEqual({ GetSecretValue: 3 });
  });
});
