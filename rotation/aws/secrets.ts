/**
 * The one Secrets Manager adapter of the three programs: the rotation function's reads and writes,
 * the renewal watch's listing, RotateSecret and version dates (watch/secrets.ts builds on it), and
 * the fetch command's read of AWSCURRENT. Every call goes through the AWS call layer
 * (aws/calls.ts): counted by operation, SDK errors mapped to AwsServiceError. The client is
 * injectable (tests use the local endpoint's model in process).
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { AwsServiceError, BinaryValueError } from '../lib/errors.js';
import { AwsCalls } from './calls.js';

export interface SecretDescription {
  arn: string;
  name: string;
  rotationEnabled: boolean;
  /** Version id → staging labels. */
  versionStages: Record<string, string[]>;
  tags: { Key?: string; Value?: string }[];
  /** When a rotation last promoted a version (absent before the first). */
  lastRotatedAt?: Date;
}

/** The version that holds `stage` (e.g. AWSCURRENT), if any. */
export function versionWithStage(secret: SecretDescription, stage: string): string | undefined {
  return Object.entries(secret.versionStages).find(([, stages]) => stages.includes(stage))?.[0];
}

/** Which version a read asks for: by id and/or by staging label. */
export interface VersionSelect {
  versionId?: string;
  stage?: string;
}

function isNotFound(err: unknown): boolean {
  return err instanceof AwsServiceError && err.awsCode === 'ResourceNotFoundException';
}

/** A version as GetSecretValue answers it. */
export interface SecretVersion {
  versionId: string | undefined;
  /** SecretString; undefined when the version holds SecretBinary or no value (the AWSPENDING stub). */
  value: string | undefined;
  /** Bytes of SecretBinary, when the version holds that instead of a SecretString. */
  binaryBytes?: number;
  stages: string[];
  createdDate?: Date;
}

/** A secret as ListSecrets answers it. */
export interface ListedSecretEntry {
  arn: string;
  name: string;
  rotationEnabled: boolean;
  rotationLambdaArn?: string;
  createdAt?: Date;
  /** Version id → staging labels. */
  versions: Record<string, string[]>;
  tags: { Key?: string; Value?: string }[];
}

/** A version as ListSecretVersionIds answers it. */
export interface VersionEntry {
  versionId: string;
  stages: string[];
  createdDate?: Date;
}

export type RotateOutcome = 'started' | 'in-progress';

/**
 * One adapter serves one invocation (one run of the watch, one fetch): its call counts are that
 * invocation's, and reads started early (prefetch) are answered from its memo. The SDK client
 * behind it is shared.
 */
export class SecretsAdapter {
  private readonly aws = new AwsCalls('SecretsManager');

  /** Reads started early, each taken (once) by the next getValue of the same secret and version. */
  private prefetched: {
    secretId: string;
    select: VersionSelect;
    read: Promise<GetSecretValueCommandOutput | undefined>;
  }[] = [];

  /** Ids known to name the same secret (what DescribeSecret answered), mapped to its ARN. */
  private readonly arnOf = new Map<string, string>();

  constructor(private readonly client: SecretsManagerClient = new SecretsManagerClient({})) {}

  /** Calls made, by operation, for the per-invocation call count in the logs. */
  get calls(): Readonly<Record<string, number>> {
    return this.aws.calls;
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.aws.run(operation, fn);
  }

  async describe(secretId: string): Promise<SecretDescription> {
    const out = await this.call('DescribeSecret', () =>
      this.client.send(new DescribeSecretCommand({ SecretId: secretId })),
    );
    const arn = out.ARN ?? secretId;
    // The event's id (a name or an ARN) and the ARN the steps read by now name one secret.
    this.arnOf.set(secretId, arn);
    this.arnOf.set(arn, arn);
    return {
      arn,
      name: out.Name ?? secretId,
      rotationEnabled: out.RotationEnabled === true,
      versionStages: out.VersionIdsToStages ?? {},
      tags: out.Tags ?? [],
      ...(out.LastRotatedDate ? { lastRotatedAt: out.LastRotatedDate } : {}),
    };
  }

  private getSecretValue(secretId: string, select: VersionSelect): Promise<GetSecretValueCommandOutput> {
    return this.call('GetSecretValue', () =>
      this.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionId: select.versionId, VersionStage: select.stage }),
      ),
    );
  }

  /** GetSecretValue; undefined when the version does not exist. */
  private async read(secretId: string, select: VersionSelect): Promise<GetSecretValueCommandOutput | undefined> {
    try {
      return await this.getSecretValue(secretId, select);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * A version (by id and/or stage) as it is, binary or not; a version or secret that does not
   * exist is an AwsServiceError (ResourceNotFoundException), for a caller that says so itself.
   */
  async readVersion(secretId: string, select: VersionSelect): Promise<SecretVersion> {
    return toVersion(await this.getSecretValue(secretId, select));
  }

  /** A version as readVersion answers it; undefined when it does not exist. */
  async findVersion(secretId: string, select: VersionSelect): Promise<SecretVersion | undefined> {
    const out = await this.read(secretId, select);
    return out === undefined ? undefined : toVersion(out);
  }

  /**
   * Start reading a version now, so the round trip overlaps other work (the handler starts the
   * step's reads beside DescribeSecret). The next getValue of that version of that secret (by
   * the id given here, or by the ARN DescribeSecret answered for it) takes the answer; reads of
   * any other secret never do. A read nobody takes is dropped without a word (a refused event),
   * and its failure surfaces only in the getValue that takes it.
   */
  prefetch(secretId: string, select: { versionId: string } | { stage: string }): void {
    const read = this.read(secretId, select);
    read.catch(() => undefined);
    this.prefetched.push({ secretId, select, read });
  }

  private sameSecret(a: string, b: string): boolean {
    return a === b || (this.arnOf.get(a) ?? a) === (this.arnOf.get(b) ?? b);
  }

  /** The prefetched read that answers this getValue, taken out (once), if any. */
  private takePrefetched(secretId: string, select: VersionSelect) {
    const i = this.prefetched.findIndex(
      (p) =>
        this.sameSecret(p.secretId, secretId) &&
        (p.select.versionId !== undefined
          ? p.select.versionId === select.versionId
          : select.versionId === undefined && p.select.stage === select.stage),
    );
    return i < 0 ? undefined : this.prefetched.splice(i, 1)[0];
  }

  /**
   * The SecretString of a version (by id and/or stage), or undefined when that version has no
   * value (the empty AWSPENDING stub) or does not exist. A version holding SecretBinary instead
   * throws BinaryValueError: reading it as "no value" would let a rotation replace it.
   */
  async getValue(secretId: string, select: VersionSelect): Promise<string | undefined> {
    const early = this.takePrefetched(secretId, select);
    let out: GetSecretValueCommandOutput | undefined;
    if (early) {
      out = await early.read;
      // A version read without a stage: when the stage asked for is not on it, let Secrets Manager answer.
      if (out && select.stage && !out.VersionStages?.includes(select.stage)) out = await this.read(secretId, select);
    } else {
      out = await this.read(secretId, select);
    }
    if (out === undefined) return undefined;
    if (out.SecretString === undefined && out.SecretBinary !== undefined) {
      const stage = select.stage ?? (select.versionId ? undefined : 'AWSCURRENT');
      throw new BinaryValueError(out.VersionId ?? select.versionId, out.SecretBinary.byteLength, stage);
    }
    return out.SecretString;
  }

  /** Write a new immutable version with the given labels (default: none = AWSPENDING for rotation). */
  async putValue(
    secretId: string,
    token: string,
    value: string,
    stages: string[],
    rotationToken?: string,
  ): Promise<void> {
    await this.call('PutSecretValue', () =>
      this.client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: value,
          VersionStages: stages,
          // Required for rotation through an assumed role or across accounts; never logged.
          ...(rotationToken ? { RotationToken: rotationToken } : {}),
        }),
      ),
    );
  }

  async moveStage(secretId: string, stage: string, to: string | undefined, from: string | undefined): Promise<void> {
    await this.call('UpdateSecretVersionStage', () =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: stage,
          MoveToVersionId: to,
          RemoveFromVersionId: from,
        }),
      ),
    );
  }

  async tag(secretId: string, tags: Record<string, string>): Promise<void> {
    const list = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    if (list.length === 0) return;
    await this.call('TagResource', () => this.client.send(new TagResourceCommand({ SecretId: secretId, Tags: list })));
  }

  async untag(secretId: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.call('UntagResource', () =>
      this.client.send(new UntagResourceCommand({ SecretId: secretId, TagKeys: keys })),
    );
  }

  /** Every secret with the tag key `tagKey` (ListSecrets' filter is a prefix match; exact keys kept), all pages. */
  async list(tagKey: string): Promise<ListedSecretEntry[]> {
    const out: ListedSecretEntry[] = [];
    let next: string | undefined;
    do {
      const page = await this.call('ListSecrets', () =>
        this.client.send(
          new ListSecretsCommand({ Filters: [{ Key: 'tag-key', Values: [tagKey] }], MaxResults: 100, NextToken: next }),
        ),
      );
      for (const s of page.SecretList ?? []) {
        if (!s.ARN || !s.Name) continue;
        // The filter is a prefix match: `acme:domains` also finds `acme:domains-old`.
        if (!(s.Tags ?? []).some((t) => t.Key === tagKey)) continue;
        out.push({
          arn: s.ARN,
          name: s.Name,
          rotationEnabled: s.RotationEnabled === true,
          ...(s.RotationLambdaARN ? { rotationLambdaArn: s.RotationLambdaARN } : {}),
          ...(s.CreatedDate ? { createdAt: s.CreatedDate } : {}),
          versions: s.SecretVersionsToStages ?? {},
          tags: s.Tags ?? [],
        });
      }
      next = page.NextToken;
    } while (next);
    return out;
  }

  /** RotateSecret with the SecretId only: the rotation configured on the secret runs. */
  async rotate(secretId: string): Promise<RotateOutcome> {
    try {
      await this.call('RotateSecret', () => this.client.send(new RotateSecretCommand({ SecretId: secretId })));
      return 'started';
    } catch (err) {
      // Secrets Manager refuses a second rotation while one is in progress: it is not ours to force.
      if (err instanceof AwsServiceError && /previous rotation isn't complete/i.test(err.detail)) return 'in-progress';
      throw err;
    }
  }

  /** The versions (ListSecretVersionIds, one page of 100), with their CreatedDate. */
  async versions(secretId: string): Promise<VersionEntry[]> {
    const out = await this.call('ListSecretVersionIds', () =>
      this.client.send(new ListSecretVersionIdsCommand({ SecretId: secretId, MaxResults: 100 })),
    );
    return (out.Versions ?? []).flatMap((v) =>
      v.VersionId
        ? [
            {
              versionId: v.VersionId,
              stages: v.VersionStages ?? [],
              ...(v.CreatedDate ? { createdDate: v.CreatedDate } : {}),
            },
          ]
        : [],
    );
  }
}

function toVersion(out: GetSecretValueCommandOutput): SecretVersion {
  return {
    versionId: out.VersionId,
    value: out.SecretString,
    ...(out.SecretString === undefined && out.SecretBinary !== undefined
      ? { binaryBytes: out.SecretBinary.byteLength }
      : {}),
    stages: out.VersionStages ?? [],
    ...(out.CreatedDate ? { createdDate: out.CreatedDate } : {}),
  };
}
