/**
 * One certificate: its secret, carrying the spec tags the rotation reads; the resource policy
 * that opens it to the rotation role and the renewal watch; and native rotation with our
 * function, started at once (the first `pulumi up` issues the first certificate).
 *
 * No placeholder version: the function treats a secret without AWSCURRENT as "no certificate
 * yet", and a placeholder managed by Pulumi could be written again later (after Secrets Manager
 * pruned the old version and a refresh dropped it from the state), replacing the live
 * certificate with `{}`.
 */
import { SPEC_TAGS } from '../../rotation/certificate/tags.js';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { acmArnTags, parseSpec } from '../../rotation/certificate/spec.js';
import type { CertificateSettings } from '../settings.js';
import { certificateSecretPolicyJson } from '../policies.js';

export const CERTIFICATE_SECRET_TYPE = 'acme-rotation:index:CertificateSecret';

export interface CertificateOutputs {
  secretArn: pulumi.Output<string>;
  secretName: pulumi.Output<string>;
  hostedZoneIds: pulumi.Output<string[]>;
  schedule: string;
  /** The ACM certificates it is deployed to, region → ARN (empty when none). */
  acmArns: pulumi.Output<Record<string, string>>;
}

export interface CertificateSecretArgs {
  certificate: CertificateSettings;
  /** The certificate's hosted zones, resolved at deploy time (its `acme:hosted-zone-ids` tag). */
  hostedZoneIds: pulumi.Output<string[]>;
  /** The ACM certificates the rotation re-imports into (their ARNs go into the spec tags). */
  acm?: { arns: pulumi.Output<string[]>; arnsByRegion: pulumi.Output<Record<string, string>> };
  /** The stack's tags; the spec tags are added to them. */
  stackTags: Record<string, string>;
  kmsKeyArn?: pulumi.Input<string>;
  recoveryWindowDays: number;
  rotationRoleArn: pulumi.Input<string>;
  watchRoleArn: pulumi.Input<string>;
  rotationFunctionArn: pulumi.Input<string>;
  /** What the first rotation needs in place besides this secret's policy (function, grants). */
  rotateAfter: pulumi.Resource[];
}

function rotationRules(cert: CertificateSettings): aws.types.input.secretsmanager.SecretRotationRotationRules {
  return cert.schedule.automaticallyAfterDays !== undefined
    ? { automaticallyAfterDays: cert.schedule.automaticallyAfterDays }
    : { scheduleExpression: cert.schedule.scheduleExpression };
}

export class CertificateSecret extends pulumi.ComponentResource {
  readonly secret: aws.secretsmanager.Secret;
  readonly secretPolicy: aws.secretsmanager.SecretPolicy;
  readonly rotation: aws.secretsmanager.SecretRotation;
  readonly outputs: CertificateOutputs;

  /** Named like the secret's resource: the policy and rotation are <name>-policy and <name>-rotation. */
  constructor(name: string, args: CertificateSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super(CERTIFICATE_SECRET_TYPE, name, {}, opts);
    const cert = args.certificate;
    const child = { parent: this };

    const acmArns = args.acm?.arns ?? pulumi.output<string[]>([]);
    const secretTags = pulumi.all([args.hostedZoneIds, acmArns]).apply(([ids, arns]) => {
      const all: Record<string, string> = {
        ...args.stackTags,
        ...cert.specTags,
        [SPEC_TAGS.hostedZoneIds]: ids.join(','),
      };
      for (const t of acmArnTags(arns)) all[t.Key] = t.Value;
      // The rotation's own parser: a tag set it would reject never reaches AWS.
      parseSpec(
        cert.secretName,
        Object.entries(all).map(([Key, Value]) => ({ Key, Value })),
      );
      return all;
    });
    this.secret = new aws.secretsmanager.Secret(
      name,
      {
        name: cert.secretName,
        description: cert.description,
        ...(args.kmsKeyArn ? { kmsKeyId: args.kmsKeyArn } : {}),
        recoveryWindowInDays: args.recoveryWindowDays,
        tags: secretTags,
      },
      child,
    );
    this.secretPolicy = new aws.secretsmanager.SecretPolicy(
      `${name}-policy`,
      {
        secretArn: this.secret.arn,
        policy: pulumi
          .all([this.secret.arn, args.rotationRoleArn, args.watchRoleArn])
          .apply(([secretArn, rotationRoleArn, watchRoleArn]) =>
            certificateSecretPolicyJson({ secretArn, rotationRoleArn, watchRoleArn }),
          ),
        blockPublicPolicy: true,
      },
      child,
    );
    this.rotation = new aws.secretsmanager.SecretRotation(
      `${name}-rotation`,
      {
        secretId: this.secret.id,
        rotationLambdaArn: args.rotationFunctionArn,
        rotationRules: rotationRules(cert),
        // The first certificate is issued now, by this `pulumi up` (Secrets Manager starts the
        // rotation asynchronously; the success or failure notice reports how it went).
        rotateImmediately: true,
      },
      { parent: this, dependsOn: [this.secretPolicy, ...args.rotateAfter] },
    );

    this.outputs = {
      secretArn: this.secret.arn,
      secretName: this.secret.name,
      hostedZoneIds: args.hostedZoneIds,
      schedule: cert.schedule.reason,
      acmArns: args.acm?.arnsByRegion ?? pulumi.output<Record<string, string>>({}),
    };
    this.registerOutputs({ secretArn: this.secret.arn, secretName: this.secret.name });
  }
}
