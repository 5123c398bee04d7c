/**
 * Credentials of a role in another account (hosted zones there, ROUTE53_ROLES), from STS
 * AssumeRole: kept for the container's life and renewed five minutes before they expire, so a
 * long rotation never signs with a session that ends under it. The SDK's own client for STS is
 * made here, in a module loaded only when roles are configured.
 *
 * The SDK's fromTemporaryCredentials (@aws-sdk/credential-providers) would do the same, but that
 * package is not among the dependencies, and bundled it moves STS and credential-chain code into
 * what every cold start of the function loads, roles or not. AssumeRole itself is a few lines.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { AwsServiceError } from '../lib/errors.js';
import { AwsCalls } from './calls.js';

export interface RoleSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** Renewed this long before the session ends. */
const REFRESH_BEFORE_MS = 5 * 60_000;
/** Sessions asked for: an hour (the longest a role allows by default), far beyond a rotation. */
const SESSION_SECONDS = 3_600;

export function newStsClient(config: object): STSClient {
  return new STSClient(config);
}

export class RoleCredentials {
  private session: RoleSession | undefined;
  private pending: Promise<RoleSession> | undefined;
  /** Its own call scope: an AssumeRole made under a Route 53 call is not counted as Route 53's. */
  private readonly aws = new AwsCalls('STS');

  constructor(
    private readonly sts: STSClient,
    readonly roleArn: string,
    private readonly externalId: string | undefined,
    private readonly sessionName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The role's credentials, assumed or renewed when needed; a failure is an AwsServiceError of STS. */
  get(): Promise<RoleSession> {
    if (this.session && this.session.expiration.getTime() - REFRESH_BEFORE_MS > this.now()) {
      return Promise.resolve(this.session);
    }
    this.pending ??= this.assume().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async assume(): Promise<RoleSession> {
    const out = await this.aws.run('AssumeRole', () =>
      this.sts.send(
        new AssumeRoleCommand({
          RoleArn: this.roleArn,
          RoleSessionName: this.sessionName,
          DurationSeconds: SESSION_SECONDS,
          ...(this.externalId ? { ExternalId: this.externalId } : {}),
        }),
      ),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new AwsServiceError('STS', 'AssumeRole', 'IncompleteCredentials', `no credentials for ${this.roleArn}`);
    }
    this.session = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration,
    };
    return this.session;
  }
}
