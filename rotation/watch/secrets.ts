/**
 * The Secrets Manager calls the watch makes, mapped to AwsServiceError like the rotation's own
 * adapter: list the certificate secrets by tag key, read AWSCURRENT, write the watch's tags,
 * re-read a secret right before starting its rotation, start it, and date an AWSPENDING version.
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  RotateSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mapAwsError } from '../aws/secrets.js';

/** What the watch knows of a certificate secret from the listing. */
export interface ListedSecret {
  arn: string;
  name: string;
  rotationEnabled: boolean;
  /** The function configured to rotate it. */
  rotationLambdaArn?: string;
  createdAt?: Date;
  /** Version id → staging labels. */
  versions: Record<string, string[]>;
  tags: { Key?: string; Value?: string }[];
}

/** A rotation is in progress (or failed and awaits Secrets Manager's retry): AWSPENDING is off AWSCURRENT. */
export function rotationInProgress(versions: Record<string, string[]>): boolean {
  return Object.values(versions).some((stages) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'));
}

export function currentVersion(versions: Record<string, string[]>): string | undefined {
  return Object.entries(versions).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
}

export function pendingVersion(versions: Record<string, string[]>): string | undefined {
  return Object.entries(versions).find(([, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'))?.[0];
}

export type RotateOutcome = 'started' | 'in-progress';

/** A secret as DescribeSecret says it is now (ListSecrets may lag by minutes). */
export interface FreshSecret {
  rotationEnabled: boolean;
  versions: Record<string, string[]>;
  tags: { Key?: string; Value?: string }[];
  lastRotatedAt?: Date;
}

/** The AWSPENDING version off AWSCURRENT and when Secrets Manager created it (RotateSecret's moment). */
export interface PendingVersion {
  versionId: string;
  createdAt: Date;
}

export class WatchSecrets {
  /** Calls made, by operation (reported in the summary). */
  readonly calls: Record<string, number> = {};

  constructor(private readonly client: SecretsManagerClient) {}

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    try {
      return await fn();
    } catch (err) {
      throw mapAwsError('SecretsManager', operation, err);
    }
  }

  /** Every secret with the tag key `tagKey` (prefix match, as ListSecrets filters), all pages. */
  async list(tagKey: string): Promise<ListedSecret[]> {
    const out: ListedSecret[] = [];
    let next: string | undefined;
    do {
      const page = await this.call('ListSecrets', () =>
        this.client.send(
          new ListSecretsCommand({ Filters: [{ Key: 'tag-key', Values: [tagKey] }], MaxResults: 100, NextToken: next }),
        ),
      );
      for (const s of page.SecretList ?? []) {
        if (!s.ARN || !s.Name) continue;
        // The filter is a prefix match: `acme:domains` also finds `acme:domains-old`; keep exact keys.
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

  /** AWSCURRENT's SecretString; undefined when there is none (no version, or a binary one). */
  async current(arn: string): Promise<string | undefined> {
    try {
      const out = await this.call('GetSecretValue', () =>
        this.client.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' })),
      );
      return out.SecretString;
    } catch (err) {
      if ((err as { awsCode?: string }).awsCode === 'ResourceNotFoundException') return undefined;
      throw err;
    }
  }

  async tag(arn: string, set: Record<string, string>, remove: string[]): Promise<void> {
    const tags = Object.entries(set).map(([Key, Value]) => ({ Key, Value }));
    if (tags.length > 0) {
      await this.call('TagResource', () => this.client.send(new TagResourceCommand({ SecretId: arn, Tags: tags })));
    }
    if (remove.length > 0) {
      await this.call('UntagResource', () =>
        this.client.send(new UntagResourceCommand({ SecretId: arn, TagKeys: remove })),
      );
    }
  }

  /** RotateSecret with the SecretId only: the rotation configured on the secret runs. */
  async rotate(arn: string): Promise<RotateOutcome> {
    try {
      await this.call('RotateSecret', () => this.client.send(new RotateSecretCommand({ SecretId: arn })));
      return 'started';
    } catch (err) {
      // Secrets Manager refuses a second rotation while one is in progress: it is not ours to force.
      if (/previous rotation isn't complete/i.test((err as Error).message)) return 'in-progress';
      throw err;
    }
  }

  /** The secret now: right before RotateSecret, and to see whether a started rotation has ended. */
  async describe(arn: string): Promise<FreshSecret> {
    const out = await this.call('DescribeSecret', () => this.client.send(new DescribeSecretCommand({ SecretId: arn })));
    return {
      rotationEnabled: out.RotationEnabled === true,
      versions: out.VersionIdsToStages ?? {},
      tags: out.Tags ?? [],
      ...(out.LastRotatedDate ? { lastRotatedAt: out.LastRotatedDate } : {}),
    };
  }

  /**
   * The pending version and its CreatedDate (ListSecretVersionIds; DescribeSecret gives no dates):
   * how long a rotation has been going is what Secrets Manager says, whichever run started it.
   */
  async pending(arn: string): Promise<PendingVersion | undefined> {
    const out = await this.call('ListSecretVersionIds', () =>
      this.client.send(new ListSecretVersionIdsCommand({ SecretId: arn, MaxResults: 100 })),
    );
    for (const v of out.Versions ?? []) {
      const stages = v.VersionStages ?? [];
      if (v.VersionId && v.CreatedDate && stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT')) {
        return { versionId: v.VersionId, createdAt: v.CreatedDate };
      }
    }
    return undefined;
  }

  /** Takes AWSPENDING off a failed rotation's version (only that label; AWSCURRENT is not touched). */
  async clearPending(arn: string, versionId: string): Promise<void> {
    await this.call('UpdateSecretVersionStage', () =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: versionId,
        }),
      ),
    );
  }
}
