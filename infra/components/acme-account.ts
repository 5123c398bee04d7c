/**
 * The ACME account secret (persistent accounts): created empty — the rotation function writes
 * the account key on first use — opened to the rotation role by a resource policy, and holding
 * the CA's External Account Binding credentials when configured.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { accountSecretPolicy, policyJson } from '../policies.js';

export const ACME_ACCOUNT_TYPE = 'acme-rotation:index:AcmeAccount';

export interface AcmeAccountArgs {
  secretName: string;
  /** `namespace/stack`, for the description. */
  stackLabel: string;
  kmsKeyArn?: pulumi.Input<string>;
  recoveryWindowDays: number;
  rotationRoleArn: pulumi.Input<string>;
  /** External Account Binding: the key id and the HMAC key (a secret Output); both or neither. */
  eab?: { kid: string; hmacKey: pulumi.Input<string> };
  /**
   * The account secrets of the CAs after the first (`cas`), in order: one account per CA, never
   * shared (a CA's account key means nothing to another CA).
   */
  fallbacks?: { secretName: string; caName: string; eab?: { kid: string; hmacKey: pulumi.Input<string> } }[];
  tags: Record<string, string>;
}

export class AcmeAccount extends pulumi.ComponentResource {
  readonly secret: aws.secretsmanager.Secret;
  readonly secretPolicy: aws.secretsmanager.SecretPolicy;
  readonly eabVersion: aws.secretsmanager.SecretVersion | undefined;
  /** The account secrets of the CAs after the first, in `cas` order. */
  readonly fallbackSecrets: aws.secretsmanager.Secret[];
  /** What a rotation must wait for: the account secret usable by the function. */
  readonly ready: pulumi.Resource[];

  /** Named like AcmeRotation: its resources are <name>-acme-account (-policy, -eab), then <name>-acme-account-<n>, … */
  constructor(name: string, args: AcmeAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ACME_ACCOUNT_TYPE, name, {}, opts);
    const child = { parent: this };

    const one = (
      id: string,
      secretName: string,
      what: string,
      eab: { kid: string; hmacKey: pulumi.Input<string> } | undefined,
    ) => {
      const secret = new aws.secretsmanager.Secret(
        id,
        {
          name: secretName,
          description: `acme-rotation ${args.stackLabel}: ACME account key${what} (written by the rotation function on first use)`,
          ...(args.kmsKeyArn ? { kmsKeyId: args.kmsKeyArn } : {}),
          recoveryWindowInDays: args.recoveryWindowDays,
          tags: args.tags,
        },
        child,
      );
      const secretPolicy = new aws.secretsmanager.SecretPolicy(
        `${id}-policy`,
        {
          secretArn: secret.arn,
          policy: pulumi
            .all([secret.arn, args.rotationRoleArn])
            .apply(([secretArn, roleArn]) => policyJson(accountSecretPolicy({ secretArn, rotationRoleArn: roleArn }))),
          blockPublicPolicy: true,
        },
        child,
      );
      // The CA's EAB credentials, where the function looks for them. Safe to write again: the
      // function keeps the registered account in its own version (one id per directory URL) and
      // only uses EAB to register a new account.
      const eabVersion = eab
        ? new aws.secretsmanager.SecretVersion(
            `${id}-eab`,
            {
              secretId: secret.id,
              secretString: pulumi
                .secret(eab.hmacKey)
                .apply((hmacKey) => JSON.stringify({ eab: { kid: eab.kid, hmac_key: hmacKey } })),
            },
            child,
          )
        : undefined;
      return { secret, secretPolicy, eabVersion };
    };

    const first = one(`${name}-acme-account`, args.secretName, '', args.eab);
    this.secret = first.secret;
    this.secretPolicy = first.secretPolicy;
    this.eabVersion = first.eabVersion;
    const more = (args.fallbacks ?? []).map((f, i) =>
      one(`${name}-acme-account-${i + 1}`, f.secretName, ` for CA ${f.caName}`, f.eab),
    );
    this.fallbackSecrets = more.map((m) => m.secret);
    this.ready = [first, ...more].flatMap((m) => [m.secretPolicy, ...(m.eabVersion ? [m.eabVersion] : [])]);

    this.registerOutputs({ secretArn: this.secret.arn });
  }
}
