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
import { AwsServiceError, BinaryValueError, sdkErrorMessage } from '../errors.js';

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

/** A GetSecretValue started early (SecretsAdapter.readAhead): of a version id, or of a stage. */
export interface ReadAhead {
  select: { versionId: string } | { stage: string };
  read: Promise<GetSecretValueCommandOutput | undefined>;
}

/** Map any SDK error to AwsServiceError, keeping the SDK error as cause. */
export function mapAwsError(service: string, operation: string, err: unknown): AwsServiceError {
  const name = err instanceof Error ? err.name : 'UnknownError';
  const message = sdkErrorMessage(err);
  return new AwsServiceError(service, operation, name, message, { cause: err });
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && err.name === 'ResourceNotFoundException';
}

/**
 * Thin Secrets Manager adapter: the calls the rotation needs, with SDK errors mapped to
 * AwsServiceError. The client is injectable (tests use aws-sdk-client-mock).
 */
export class SecretsAdapter {
  /** Calls made, by operation, for the per-rotation call count in the logs. */
  readonly calls: Record<string, number> = {};

  constructor(private readonly client: SecretsManagerClient = new SecretsManagerClient({})) {}

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
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
    return {
      arn: out.ARN ?? secretId,
      name: out.Name ?? secretId,
      rotationEnabled: out.RotationEnabled === true,
      versionStages: out.VersionIdsToStages ?? {},
      tags: out.Tags ?? [],
    };
  }

  /** Reads started ahead, by the secret id the step uses; each taken by the next getValue of it. */
  private ahead: (ReadAhead & { secretId: string })[] = [];

  /** GetSecretValue; undefined when the version has no value or does not exist. */
  private async read(
    secretId: string,
    select: { versionId?: string; stage?: string },
    count = true,
  ): Promise<GetSecretValueCommandOutput | undefined> {
    if (count) this.calls.GetSecretValue = (this.calls.GetSecretValue ?? 0) + 1;
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
   * Start reading a version now (the handler does, beside DescribeSecret). The step's own adapter
   * adopts it, so the read belongs to one invocation and is counted there.
   */
  readAhead(secretId: string, select: ReadAhead['select']): ReadAhead {
    const read = this.read(secretId, select, false);
    read.catch(() => undefined); // surfaces when (if) a step takes it
    return { select, read };
  }

  /**
   * The next getValue of that version of `secretId` (the id the step reads it by: the ARN that
   * DescribeSecret answered for the id the read was started with) takes this answer instead of a
   * second round trip. Reads of any other secret never match it.
   */
  adopt(ahead: ReadAhead, secretId: string): void {
    this.calls.GetSecretValue = (this.calls.GetSecretValue ?? 0) + 1;
    this.ahead.push({ ...ahead, secretId });
  }

  /** The read started ahead for this secret and select, taken out (once), if any. */
  private takeAhead(secretId: string, select: { versionId?: string; stage?: string }): ReadAhead | undefined {
    const i = this.ahead.findIndex(
      (a) =>
        a.secretId === secretId &&
        ('versionId' in a.select
          ? a.select.versionId === select.versionId
          : select.versionId === undefined && a.select.stage === select.stage),
    );
    return i < 0 ? undefined : this.ahead.splice(i, 1)[0];
  }

  /**
   * The SecretString of a version (by id and/or stage), or undefined when that version has no
   * value (the empty AWSPENDING stub) or does not exist. A version holding SecretBinary instead
   * throws BinaryValueError: reading it as "no value" would let a rotation replace it.
   */
  async getValue(secretId: string, select: { versionId?: string; stage?: string }): Promise<string | undefined> {
    const ahead = this.takeAhead(secretId, select);
    let out: GetSecretValueCommandOutput | undefined;
    if (ahead) {
      out = await ahead.read;
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
