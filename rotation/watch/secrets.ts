/**
 * The Secrets Manager calls the watch makes, on the shared adapter (aws/secrets.ts: counted, mapped
 * to AwsServiceError): list the certificate secrets by tag key, read AWSCURRENT, write the watch's
 * tags, re-read a secret right before starting its rotation, start it, and date an AWSPENDING
 * version. What the watch reads into the answers (a rotation in progress, the pending version) is here.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsAdapter, type ListedSecretEntry, type RotateOutcome } from '../aws/secrets.js';

export type { RotateOutcome };

/** What the watch knows of a certificate secret from the listing. */
export type ListedSecret = ListedSecretEntry;

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
  private readonly secrets: SecretsAdapter;

  constructor(client: SecretsManagerClient) {
    this.secrets = new SecretsAdapter(client);
  }

  /** Calls made, by operation (reported in the summary). */
  get calls(): Readonly<Record<string, number>> {
    return this.secrets.calls;
  }

  /** Every secret with the tag key `tagKey` (exact key), all pages. */
  list(tagKey: string): Promise<ListedSecret[]> {
    return this.secrets.list(tagKey);
  }

  /** AWSCURRENT's SecretString; undefined when there is none (no version, or a binary one). */
  async current(arn: string): Promise<string | undefined> {
    return (await this.secrets.findVersion(arn, { stage: 'AWSCURRENT' }))?.value;
  }

  async tag(arn: string, set: Record<string, string>, remove: string[]): Promise<void> {
    await this.secrets.tag(arn, set);
    await this.secrets.untag(arn, remove);
  }

  /** RotateSecret: 'in-progress' when Secrets Manager refuses because a rotation is not complete. */
  rotate(arn: string): Promise<RotateOutcome> {
    return this.secrets.rotate(arn);
  }

  /** The secret now: right before RotateSecret, and to see whether a started rotation has ended. */
  async describe(arn: string): Promise<FreshSecret> {
    const d = await this.secrets.describe(arn);
    return {
      rotationEnabled: d.rotationEnabled,
      versions: d.versionStages,
      tags: d.tags,
      ...(d.lastRotatedAt ? { lastRotatedAt: d.lastRotatedAt } : {}),
    };
  }

  /**
   * The pending version and its CreatedDate (ListSecretVersionIds; DescribeSecret gives no dates):
   * how long a rotation has been going is what Secrets Manager says, whichever run started it.
   */
  async pending(arn: string): Promise<PendingVersion | undefined> {
    for (const v of await this.secrets.versions(arn)) {
      if (v.createdDate && v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT')) {
        return { versionId: v.versionId, createdAt: v.createdDate };
      }
    }
    return undefined;
  }

  /** Takes AWSPENDING off a failed rotation's version (only that label; AWSCURRENT is not touched). */
  clearPending(arn: string, versionId: string): Promise<void> {
    return this.secrets.moveStage(arn, 'AWSPENDING', undefined, versionId);
  }
}
