/**
 * The local Secrets Manager, driven through the real SDK v3 client over HTTP: staging labels
 * after each operation, immutable versions, the rotation stub and the real error names.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { startLocalAws, type LocalAws } from './aws/server.js';
import { SecretsManagerService, type RotateInfo } from './aws/secretsmanager.js';

const LAMBDA_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:rotate-cert';

let aws: LocalAws;
let sm: SecretsManagerClient;
let counter = 0;

/** Unique per test: the server is shared across the file. */
function uniqueName(): string {
  counter += 1;
  return `test/secret-${counter}`;
}

/** A 32+ character ClientRequestToken. */
function token(label: string): string {
  return `${label}-${'0'.repeat(36)}`.slice(0, 40);
}

/** The SDK error a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail');
}

async function stages(secretId: string): Promise<Record<string, string[]>> {
  const d = await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
  const out: Record<string, string[]> = {};
  for (const [id, labels] of Object.entries(d.VersionIdsToStages ?? {})) out[id] = [...labels].sort();
  return out;
}

async function create(value?: string, tokenValue?: string): Promise<{ name: string; arn: string }> {
  const name = uniqueName();
  const out = await sm.send(
    new CreateSecretCommand({
      Name: name,
      ...(value === undefined ? {} : { SecretString: value }),
      ...(tokenValue === undefined ? {} : { ClientRequestToken: tokenValue }),
    }),
  );
  return { name, arn: out.ARN! };
}

beforeAll(async () => {
  aws = await startLocalAws();
  sm = new SecretsManagerClient({
    endpoint: aws.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  sm.destroy();
  await aws.stop();
});

beforeEach(() => {
  aws.secrets.onRotate = undefined;
});

describe('CreateSecret / DescribeSecret / GetSecretValue', () => {
  it('creates a first AWSCURRENT version and describes it as the real API does', async () => {
    const name = uniqueName();
    const created = await sm.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: '{"a":1}',
        ClientRequestToken: token('v1'),
        Description: 'cert',
        Tags: [
          { Key: 'acme:domains', Value: 'example.com,*.example.com' },
          { Key: 'owner', Value: 'team' },
        ],
      }),
    );
    expect(created.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-[A-Za-z0-9]{6}$`),
    );
    expect(created.Name).toBe(name);
    expect(created.VersionId).toBe(token('v1'));

    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.ARN).toBe(created.ARN);
    expect(d.Description).toBe('cert');
    expect(d.RotationEnabled).toBe(false);
    expect(d.VersionIdsToStages).toEqual({ [token('v1')]: ['AWSCURRENT'] });
    expect(d.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs(d.CreatedDate!.getTime() - Date.now())).toBeLessThan(60_000);
    expect(d.LastChangedDate).toBeInstanceOf(Date);
    expect(d.Tags).toEqual([
      { Key: 'acme:domains', Value: 'example.com,*.example.com' },
      { Key: 'owner', Value: 'team' },
    ]);

    for (const id of [name, created.ARN!, created.ARN!.slice(0, -7)]) {
      const v = await sm.send(new GetSecretValueCommand({ SecretId: id }));
      expect(v.SecretString).toBe('{"a":1}');
      expect(v.VersionId).toBe(token('v1'));
      expect(v.VersionStages).toEqual(['AWSCURRENT']);
      expect(v.ARN).toBe(created.ARN);
    }
    // Direct state helpers.
    expect(aws.secrets.get(name)?.arn).toBe(created.ARN);
    expect(aws.secrets.stagesOf(created.ARN!)).toEqual({ [token('v1')]: ['AWSCURRENT'] });
    expect(aws.secrets.valueAt(name, 'AWSCURRENT')).toBe('{"a":1}');
    expect(aws.secrets.tagsOf(name)).toEqual({ 'acme:domains': 'example.com,*.example.com', owner: 'team' });
  });

  it('creates no version without SecretString', async () => {
    const { name } = await create();
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.VersionIdsToStages ?? {}).toEqual({});
    expect(aws.secrets.get(name)?.versions.size).toBe(0);
    const err = await failure(sm.send(new GetSecretValueCommand({ SecretId: name })));
    expect(err.name).toBe('ResourceNotFoundException');
    expect(err.message).toBe("Secrets Manager can't find the specified secret value for staging label: AWSCURRENT");
  });

  it('rejects a duplicate name and unknown secrets', async () => {
    const { name } = await create('x');
    const dup = await failure(sm.send(new CreateSecretCommand({ Name: name, SecretString: 'y' })));
    expect(dup.name).toBe('ResourceExistsException');
    expect(dup.$metadata?.httpStatusCode).toBe(400);

    for (const id of ['no/such/secret', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:no/such-AbCdEf']) {
      const err = await failure(sm.send(new GetSecretValueCommand({ SecretId: id })));
      expect(err.name).toBe('ResourceNotFoundException');
      expect(err.message).toBe("Secrets Manager can't find the specified secret.");
      const err2 = await failure(sm.send(new DescribeSecretCommand({ SecretId: id })));
      expect(err2.name).toBe('ResourceNotFoundException');
    }
  });

  it('GetSecretValue by VersionId and by a missing label', async () => {
    const { name } = await create('one', token('a'));
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two', ClientRequestToken: token('b') }));
    const old = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: token('a') }));
    expect(old.SecretString).toBe('one');
    expect(old.VersionStages).toEqual(['AWSPREVIOUS']);
    const prev = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));
    expect(prev.VersionId).toBe(token('a'));

    const noVersion = await failure(sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: token('zzz') })));
    expect(noVersion.name).toBe('ResourceNotFoundException');
    expect(noVersion.message).toBe(
      `Secrets Manager can't find the specified secret value for VersionId: ${token('zzz')}`,
    );
    const noLabel = await failure(sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' })));
    expect(noLabel.name).toBe('ResourceNotFoundException');
  });
});

describe('PutSecretValue', () => {
  it('moves AWSCURRENT by default; the old current becomes AWSPREVIOUS, older ones deprecated', async () => {
    const { name } = await create('v1', token('v1'));
    const put2 = await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token('v2') }),
    );
    expect(put2.VersionId).toBe(token('v2'));
    expect(put2.VersionStages).toEqual(['AWSCURRENT']);
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSPREVIOUS'],
      [token('v2')]: ['AWSCURRENT'],
    });

    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v3', ClientRequestToken: token('v3') }));
    expect(await stages(name)).toEqual({
      [token('v2')]: ['AWSPREVIOUS'],
      [token('v3')]: ['AWSCURRENT'],
    });
    // v1 still exists (immutable, deprecated): listed only with IncludeDeprecated, readable by id.
    const listed = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    expect(listed.Versions?.map((v) => v.VersionId).sort()).toEqual([token('v2'), token('v3')]);
    const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    expect(all.Versions?.map((v) => v.VersionId).sort()).toEqual([token('v1'), token('v2'), token('v3')]);
    expect(all.Versions?.find((v) => v.VersionId === token('v1'))?.VersionStages).toEqual([]);
    const v1 = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: token('v1') }));
    expect(v1.SecretString).toBe('v1');
  });

  it('is idempotent for the same token and value, and rejects a changed value', async () => {
    const { name } = await create('v1', token('v1'));
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token('v2') }));
    const again = await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token('v2') }),
    );
    expect(again.VersionId).toBe(token('v2'));
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSPREVIOUS'],
      [token('v2')]: ['AWSCURRENT'],
    });

    const changed = await failure(
      sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'other', ClientRequestToken: token('v2') })),
    );
    expect(changed.name).toBe('ResourceExistsException');
    expect(changed.message).toBe("You can't modify an existing version, you can only create a new version.");
    // The first version too: the same token with a different value fails.
    const first = await failure(
      sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'x', ClientRequestToken: token('v1') })),
    );
    expect(first.name).toBe('ResourceExistsException');
    expect(aws.secrets.valueAt(name, 'AWSCURRENT')).toBe('v2');
  });

  it('attaches only the given labels, moving each from its holder', async () => {
    const { name } = await create('v1', token('v1'));
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'p1',
        ClientRequestToken: token('p1'),
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSCURRENT'],
      [token('p1')]: ['AWSPENDING'],
    });
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'p2',
        ClientRequestToken: token('p2'),
        VersionStages: ['AWSPENDING', 'CUSTOM'],
      }),
    );
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSCURRENT'],
      [token('p2')]: ['AWSPENDING', 'CUSTOM'],
    });
  });

  it('keeps at most 100 versions, pruning the oldest unlabelled ones', async () => {
    const { name } = await create('v0', token('v0'));
    for (let i = 1; i <= 105; i++) {
      aws.secrets.handle('PutSecretValue', {
        SecretId: name,
        SecretString: `v${i}`,
        ClientRequestToken: token(`v${i}`),
      });
    }
    const versions = aws.secrets.get(name)!.versions;
    expect(versions.size).toBe(100);
    expect(versions.has(token('v0'))).toBe(false);
    expect(versions.has(token('v5'))).toBe(false);
    expect(versions.has(token('v6'))).toBe(true);
    expect(aws.secrets.stagesOf(name)).toEqual({
      [token('v104')]: ['AWSPREVIOUS'],
      [token('v105')]: ['AWSCURRENT'],
    });
    // A pruned token is a new version again: it would replace AWSCURRENT.
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v0', ClientRequestToken: token('v0') }));
    expect(aws.secrets.valueAt(name, 'AWSCURRENT')).toBe('v0');
  });
});

describe('UpdateSecretVersionStage', () => {
  it('requires RemoveFromVersionId when the label sits on another version', async () => {
    const { name } = await create('v1', token('v1'));
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'v2',
        ClientRequestToken: token('v2'),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const err = await failure(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token('v2'),
        }),
      ),
    );
    expect(err.name).toBe('InvalidParameterException');
    expect(err.message).toBe(
      `The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version ${token('v1')}, so you must explicitly reference that version in RemoveFromVersionId.`,
    );
    const wrong = await failure(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token('v2'),
          RemoveFromVersionId: token('v2'),
        }),
      ),
    );
    expect(wrong.name).toBe('InvalidParameterException');
    expect(await stages(name)).toEqual({ [token('v1')]: ['AWSCURRENT'], [token('v2')]: ['AWSPENDING'] });

    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token('v2'),
        RemoveFromVersionId: token('v1'),
      }),
    );
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSPREVIOUS'],
      [token('v2')]: ['AWSCURRENT', 'AWSPENDING'],
    });

    // Already there: a no-op success, even without RemoveFromVersionId.
    await sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: token('v2') }),
    );
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSPREVIOUS'],
      [token('v2')]: ['AWSCURRENT', 'AWSPENDING'],
    });

    // Rolling back: AWSCURRENT returns to v1, AWSPREVIOUS goes to v2.
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token('v1'),
        RemoveFromVersionId: token('v2'),
      }),
    );
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSCURRENT'],
      [token('v2')]: ['AWSPENDING', 'AWSPREVIOUS'],
    });
  });

  it('removes a label with RemoveFromVersionId alone; unknown versions are not found', async () => {
    const { name } = await create('v1', token('v1'));
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'v2',
        ClientRequestToken: token('v2'),
        VersionStages: ['AWSPENDING'],
      }),
    );
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: token('v2'),
      }),
    );
    expect(await stages(name)).toEqual({ [token('v1')]: ['AWSCURRENT'] });

    const removeCurrent = await failure(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          RemoveFromVersionId: token('v1'),
        }),
      ),
    );
    expect(removeCurrent.name).toBe('InvalidParameterException');

    const unknown = await failure(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token('nope'),
          RemoveFromVersionId: token('v1'),
        }),
      ),
    );
    expect(unknown.name).toBe('ResourceNotFoundException');
    // A label nobody holds moves without RemoveFromVersionId.
    await sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'MINE', MoveToVersionId: token('v2') }),
    );
    expect(await stages(name)).toEqual({ [token('v1')]: ['AWSCURRENT'], [token('v2')]: ['MINE'] });
  });
});

describe('RotateSecret', () => {
  it('needs a rotation function', async () => {
    const { name } = await create('v1');
    const err = await failure(sm.send(new RotateSecretCommand({ SecretId: name })));
    expect(err.name).toBe('InvalidRequestException');
    expect(aws.secrets.get(name)?.rotationEnabled).toBe(false);
  });

  it('creates the value-less AWSPENDING stub, refuses overlapping rotations, completes by label moves', async () => {
    const { name, arn } = await create('cert-1', token('v1'));
    const rotations: RotateInfo[] = [];
    aws.secrets.onRotate = (info) => rotations.push(info);

    const rotated = await sm.send(
      new RotateSecretCommand({
        SecretId: name,
        ClientRequestToken: token('r1'),
        RotationLambdaARN: LAMBDA_ARN,
        RotationRules: { ScheduleExpression: 'rate(30 days)', Duration: '3h' },
      }),
    );
    expect(rotated).toMatchObject({ ARN: arn, Name: name, VersionId: token('r1') });
    expect(rotations).toEqual([{ arn, token: token('r1'), rotateImmediately: true }]);
    expect(await stages(name)).toEqual({ [token('v1')]: ['AWSCURRENT'], [token('r1')]: ['AWSPENDING'] });
    expect(aws.secrets.get(name)?.versions.get(token('r1'))?.value).toBeUndefined();

    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.RotationEnabled).toBe(true);
    expect(d.RotationLambdaARN).toBe(LAMBDA_ARN);
    expect(d.RotationRules).toEqual({ ScheduleExpression: 'rate(30 days)', Duration: '3h' });
    expect(d.LastRotatedDate).toBeUndefined();

    // The stub has no value.
    const stub = await failure(sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' })));
    expect(stub.name).toBe('ResourceNotFoundException');
    expect(stub.message).toBe(`Secrets Manager can't find the specified secret value for VersionId: ${token('r1')}`);
    const stubById = await failure(sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: token('r1') })));
    expect(stubById.name).toBe('ResourceNotFoundException');

    // Another rotation while this one is incomplete.
    const overlap = await failure(
      sm.send(new RotateSecretCommand({ SecretId: name, ClientRequestToken: token('r9') })),
    );
    expect(overlap.name).toBe('InvalidRequestException');
    expect(overlap.message).toBe("A previous rotation isn't complete. That rotation will be reattempted.");

    // createSecret: PutSecretValue with the rotation token fills the stub.
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'cert-2',
        ClientRequestToken: token('r1'),
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(await stages(name)).toEqual({ [token('v1')]: ['AWSCURRENT'], [token('r1')]: ['AWSPENDING'] });
    const pending = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }));
    expect(pending.SecretString).toBe('cert-2');
    expect(pending.VersionId).toBe(token('r1'));
    // ... a retry of createSecret is idempotent; a different value is refused.
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'cert-2',
        ClientRequestToken: token('r1'),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const changed = await failure(
      sm.send(
        new PutSecretValueCommand({
          SecretId: name,
          SecretString: 'cert-3',
          ClientRequestToken: token('r1'),
          VersionStages: ['AWSPENDING'],
        }),
      ),
    );
    expect(changed.name).toBe('ResourceExistsException');

    // finishSecret.
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token('r1'),
        RemoveFromVersionId: token('v1'),
      }),
    );
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSPREVIOUS'],
      [token('r1')]: ['AWSCURRENT', 'AWSPENDING'],
    });
    expect(aws.secrets.valueAt(name, 'AWSCURRENT')).toBe('cert-2');
    const after = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(after.LastRotatedDate).toBeInstanceOf(Date);

    // AWSPENDING on the current version does not block the next rotation; the lambda ARN is kept.
    await sm.send(new RotateSecretCommand({ SecretId: name, ClientRequestToken: token('r2') }));
    expect(await stages(name)).toEqual({
      [token('v1')]: ['AWSPREVIOUS'],
      [token('r1')]: ['AWSCURRENT'],
      [token('r2')]: ['AWSPENDING'],
    });
    expect(rotations.map((r) => r.token)).toEqual([token('r1'), token('r2')]);
  });

  it('RotateImmediately=false: the pending version holds the current value', async () => {
    const { name } = await create('cert-1', token('v1'));
    const rotations: RotateInfo[] = [];
    aws.secrets.onRotate = (info) => rotations.push(info);
    await sm.send(
      new RotateSecretCommand({
        SecretId: name,
        ClientRequestToken: token('t1'),
        RotationLambdaARN: LAMBDA_ARN,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    expect(rotations[0]?.rotateImmediately).toBe(false);
    const pending = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }));
    expect(pending.SecretString).toBe('cert-1');
    expect(pending.VersionId).toBe(token('t1'));
    expect(await stages(name)).toEqual({ [token('v1')]: ['AWSCURRENT'], [token('t1')]: ['AWSPENDING'] });
    // What Secrets Manager does after testSecret: the test version loses AWSPENDING.
    aws.secrets.removeStage(name, token('t1'), 'AWSPENDING');
    expect(await stages(name)).toEqual({ [token('v1')]: ['AWSCURRENT'] });
  });
});

describe('tags', () => {
  it('TagResource merges, UntagResource removes; commas and * are accepted', async () => {
    const { name } = await create('x');
    await sm.send(
      new TagResourceCommand({
        SecretId: name,
        Tags: [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '*.example.com,example.com' },
        ],
      }),
    );
    await sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'a', Value: '2' }] }));
    expect(aws.secrets.tagsOf(name)).toEqual({ a: '2', b: '*.example.com,example.com' });
    await sm.send(new UntagResourceCommand({ SecretId: name, TagKeys: ['a', 'missing'] }));
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.Tags).toEqual([{ Key: 'b', Value: '*.example.com,example.com' }]);
  });

  it('enforces the tag limits with the real error names', async () => {
    const { name } = await create('x');
    const reserved = await failure(
      sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'aws:x', Value: '1' }] })),
    );
    expect(reserved.name).toBe('InvalidParameterException');
    const longKey = await failure(
      sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'k'.repeat(129), Value: '1' }] })),
    );
    expect(longKey.name).toBe('ValidationException');
    // TagResource: "Maximum value length: 255 Unicode characters" (counted in characters, not bytes).
    const longValue = await failure(
      sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'k', Value: 'v'.repeat(256) }] })),
    );
    expect(longValue.name).toBe('ValidationException');
    // The limits themselves are fine.
    await sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'k'.repeat(128), Value: 'v'.repeat(255) }] }));
    await sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'k'.repeat(128), Value: '€'.repeat(255) }] }));

    const fifty = Array.from({ length: 49 }, (_, i) => ({ Key: `t${i}`, Value: String(i) }));
    await sm.send(new TagResourceCommand({ SecretId: name, Tags: fifty }));
    expect(Object.keys(aws.secrets.tagsOf(name))).toHaveLength(50);
    const tooMany = await failure(
      sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'one-more', Value: '1' }] })),
    );
    expect(tooMany.name).toBe('InvalidParameterException');
    expect(Object.keys(aws.secrets.tagsOf(name))).toHaveLength(50);

    const createTooMany = await failure(
      sm.send(
        new CreateSecretCommand({
          Name: uniqueName(),
          SecretString: 'x',
          Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `t${i}`, Value: '' })),
        }),
      ),
    );
    expect(createTooMany.name).toBe('InvalidParameterException');
  });
});

describe('the tagging rate', () => {
  it('TagResource and UntagResource share 50 requests/s per account; the excess gets ThrottlingException', () => {
    let clock = 1_000_000;
    const service = new SecretsManagerService({ now: () => clock });
    service.seedSecret({ name: 'rate/x', versions: { [token('v1')]: { value: 'x', stages: ['AWSCURRENT'] } } });
    const tag = () => service.handle('TagResource', { SecretId: 'rate/x', Tags: [{ Key: 'a', Value: String(clock) }] });
    const untag = () => service.handle('UntagResource', { SecretId: 'rate/x', TagKeys: ['a'] });
    for (let i = 0; i < 25; i++) {
      tag();
      untag();
    }
    expect(() => tag()).toThrow(expect.objectContaining({ code: 'ThrottlingException', message: 'Rate exceeded' }));
    expect(() => untag()).toThrow(expect.objectContaining({ code: 'ThrottlingException' }));
    clock += 100; // 5 tokens back
    for (let i = 0; i < 5; i++) tag();
    expect(() => tag()).toThrow(expect.objectContaining({ code: 'ThrottlingException' }));
    expect(service.tagWrites).toHaveLength(55);
    expect(service.tagThrottled).toBe(3);
  });

  it('answers the excess over HTTP with the error name the SDK surfaces', async () => {
    const { name } = await create('x');
    const results = await Promise.allSettled(
      Array.from({ length: 80 }, (_, i) =>
        sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: `k${i % 10}`, Value: String(i) }] })),
      ),
    );
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((r) => (r.reason as Error).name))).toEqual(new Set(['ThrottlingException']));
  });
});

describe('DeleteSecret / ListSecrets', () => {
  it('a secret scheduled for deletion refuses access until restored', async () => {
    const { name } = await create('x');
    const del = await sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    expect(del.DeletionDate).toBeInstanceOf(Date);
    const err = await failure(sm.send(new GetSecretValueCommand({ SecretId: name })));
    expect(err.name).toBe('InvalidRequestException');
    expect(err.message).toBe("You can't perform this operation on the secret because it was marked for deletion.");
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.DeletedDate).toBeInstanceOf(Date);
    const listed = await sm.send(new ListSecretsCommand({}));
    expect(listed.SecretList?.some((s) => s.Name === name)).toBe(false);
    const recreate = await failure(sm.send(new CreateSecretCommand({ Name: name, SecretString: 'y' })));
    expect(recreate.name).toBe('InvalidRequestException');

    await sm.send(new RestoreSecretCommand({ SecretId: name }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('x');
  });

  it('ForceDeleteWithoutRecovery removes it at once', async () => {
    const { name } = await create('x');
    await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    const err = await failure(sm.send(new GetSecretValueCommand({ SecretId: name })));
    expect(err.name).toBe('ResourceNotFoundException');
    expect(aws.secrets.get(name)).toBeUndefined();
  });

  it('ListSecrets lists live secrets with their stages', async () => {
    const { name, arn } = await create('x', token('l1'));
    const listed = await sm.send(new ListSecretsCommand({}));
    const entry = listed.SecretList?.find((s) => s.Name === name);
    expect(entry?.ARN).toBe(arn);
    expect(entry?.SecretVersionsToStages).toEqual({ [token('l1')]: ['AWSCURRENT'] });
  });

  it('ListSecrets filters by tag key (prefix, case-sensitive, ! negates) and pages with NextToken', async () => {
    const marker = `watch${++counter}`;
    const tagged: string[] = [];
    for (let i = 0; i < 5; i++) {
      const name = uniqueName();
      tagged.push(name);
      await sm.send(
        new CreateSecretCommand({
          Name: name,
          Tags: [
            { Key: `${marker}:domains`, Value: `n${i}.example.com` },
            ...(i === 0 ? [{ Key: `${marker}:domains:2`, Value: 'more.example.com' }] : []),
          ],
        }),
      );
    }
    await sm.send(new CreateSecretCommand({ Name: uniqueName(), Tags: [{ Key: marker.toUpperCase(), Value: 'x' }] }));
    const pages: string[][] = [];
    let next: string | undefined;
    do {
      const out = await sm.send(
        new ListSecretsCommand({
          Filters: [{ Key: 'tag-key', Values: [`${marker}:domains`] }],
          MaxResults: 2,
          NextToken: next,
        }),
      );
      pages.push((out.SecretList ?? []).map((e) => e.Name ?? ''));
      next = out.NextToken;
    } while (next);
    // Every tagged secret once (the one with two matching keys too), none of the upper-case key's.
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(tagged);
    const negated = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'tag-key', Values: [`!${marker}`] }] }));
    expect(negated.SecretList?.some((e) => tagged.includes(e.Name ?? ''))).toBe(false);
    const bad = await failure(sm.send(new ListSecretsCommand({ MaxResults: 101 })));
    expect(bad.name).toBe('ValidationException');
    const badToken = await failure(sm.send(new ListSecretsCommand({ NextToken: 'garbage' })));
    expect(badToken.name).toBe('InvalidParameterException');
  });
});
