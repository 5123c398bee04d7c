import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { AwsServiceError, BinaryValueError, sdkErrorMessage, type AwsService } from '../lib/errors.js';

export interface SecretDescription {
  arn: string;
  name: string;
  rotationEnabled: boolean;
  /** Version id → staging labels. */
  versionStages: Record<string, string[]>;
  tags: { Key?: string; Value?: string }[];
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

/** Map any SDK error to AwsServiceError, keeping the SDK error as cause. */
export function mapAwsError(service: AwsService, operation: string, err: unknown): AwsServiceError {
  const name = err instanceof Error ? err.name : 'UnknownError';
  const message = sdkErrorMessage(err);
  return new AwsServiceError(service, operation, name, message, { cause: err });
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && err.name === 'ResourceNotFoundException';
}

/**
 * Thin Secrets Manager adapter: the calls the rotation needs, with SDK errors mapped to
 * AwsServiceError. The client is injectable (tests use the local endpoint's model in process).
 *
 * One adapter serves one invocation: its call counts are that invocation's, and reads started
 * early (prefetch) are answered from its memo. The SDK client behind it is shared.
 */
export class SecretsAdapter {
  /** Calls made, by operation, for the per-invocation call count in the logs. */
  readonly calls: Record<string, number> = {};

  /** Reads started early, each taken (once) by the next getValue of the same secret and version. */
  private prefetched: {
    secretId: string;
    select: VersionSelect;
    read: Promise<GetSecretValueCommandOutput | undefined>;
  }[] = [];

  /** Ids known to name the same secret (what DescribeSecret answered), mapped to its ARN. */
  private readonly arnOf = new Map<string, string>();

  constructor(private readonly client: SecretsManagerClient = new SecretsManagerClient({})) {}

  private count(operation: string): void {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.count(operation);
    try {
      return await fn();
    } catch (err) {
      throw mapAwsError('SecretsManager', operation, err);
    }
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
    };
  }

  /** GetSecretValue (counted); undefined when the version has no value or does not exist. */
  private async read(secretId: string, select: VersionSelect): Promise<GetSecretValueCommandOutput | undefined> {
    this.count('GetSecretValue');
    try {
      return await this.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionId: select.versionId, VersionStage: select.stage }),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw mapAwsError('SecretsManager', 'GetSecretValue', err);
    }
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
}
