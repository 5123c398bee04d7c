/**
 * The ACME account secret (persistent accounts): created empty — the rotation function writes
 * the account key on first use — opened to the rotation role by a resource policy, and holding
 * the CA's External Account Binding credentials when configured.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { accountSecretPolicy, policyJson } from '../policies.js';
import { childOptions, type Relocated } from './common.js';

export const ACME_ACCOUNT_TYPE = 'acme-rotation:index:AcmeAccount';

export interface AcmeAccountArgs extends Relocated {
  secretName: string;
  /** `namespace/stack`, for the description. */
  stackLabel: string;
  kmsKeyArn?: pulumi.Input<string>;
  recoveryWindowDays: number;
  rotationRoleArn: pulumi.Input<string>;
  /** External Account Binding: the key id and the HMAC key (a secret Output); both or neither. */
  eab?: { kid: string; hmacKey: pulumi.Input<string> };
  tags: Record<string, string>;
}

export class AcmeAccount extends pulumi.ComponentResource {
  readonly secret: aws.secretsmanager.Secret;
  readonly secretPolicy: aws.secretsmanager.SecretPolicy;
  readonly eabVersion: aws.secretsmanager.SecretVersion | undefined;
  /** What a rotation must wait for: the account secret usable by the function. */
  readonly ready: pulumi.Resource[];

  /** Named like AcmeRotation: its resources keep the names they had there. */
  constructor(name: string, args: AcmeAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ACME_ACCOUNT_TYPE, name, {}, opts);
    const child = childOptions(this, args.formerParent);

    this.secret = new aws.secretsmanager.Secret(
      `${name}-acme-account`,
      {
        name: args.secretName,
        description: `acme-rotation ${args.stackLabel}: ACME account key (written by the rotation function on first use)`,
        ...(args.kmsKeyArn ? { kmsKeyId: args.kmsKeyArn } : {}),
        recoveryWindowInDays: args.recoveryWindowDays,
        tags: args.tags,
      },
      child,
    );
    this.secretPolicy = new aws.secretsmanager.SecretPolicy(
      `${name}-acme-account-policy`,
      {
        secretArn: this.secret.arn,
        policy: pulumi
          .all([this.secret.arn, args.rotationRoleArn])
          .apply(([secretArn, roleArn]) => policyJson(accountSecretPolicy({ secretArn, rotationRoleArn: roleArn }))),
        blockPublicPolicy: true,
      },
      child,
    );
    // The CA's EAB credentials, where the function looks for them. Safe to write again: the
    // function keeps the registered account in its own version (one id per directory URL) and
    // only uses EAB to register a new account.
    const eab = args.eab;
    this.eabVersion = eab
      ? new aws.secretsmanager.SecretVersion(
          `${name}-acme-account-eab`,
          {
            secretId: this.secret.id,
            secretString: pulumi
              .secret(eab.hmacKey)
              .apply((hmacKey) => JSON.stringify({ eab: { kid: eab.kid, hmac_key: hmacKey } })),
          },
          child,
        )
      : undefined;
    this.ready = [this.secretPolicy, ...(this.eabVersion ? [this.eabVersion] : [])];

    this.registerOutputs({ secretArn: this.secret.arn });
  }
}
