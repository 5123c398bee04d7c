/**
 * AcmeRotation: everything one stack deploys, as a Pulumi ComponentResource composed of smaller
 * ones (infra/components/), each parented to it, so `pulumi stack` shows one tree:
 *
 * - Notices: the SNS topic (e-mail subscription), Secrets Manager's rotation failure events
 *   routed to it, the optional EventBridge bus;
 * - AcmCertificates per certificate deployed to ACM: the ACM certificates created with a
 *   placeholder (declared first: the rotation role's policy names their ARNs);
 * - FunctionRole ×2: log group, role and inline policy of the rotation function and of the
 *   renewal watch (declared before the secrets: their resource policies name the roles);
 * - AcmeAccount: the optional ACME account secret (no initial version: the function creates the
 *   account), its policy, the EAB credentials;
 * - RotationFunction: one function for every certificate (nodejs22.x, arm64, JSON logs), the
 *   permission Secrets Manager invokes it with, the alarm on its errors;
 * - CertificateSecret per certificate: the secret carrying the spec tags, its resource policy,
 *   native rotation that runs immediately (the first `pulumi up` issues the first certificate);
 * - RenewalWatch: the scheduled watch that starts renewals when the CA's renewal information or
 *   the certificate's age says so, the alarm on certificates at risk, and the dashboard;
 * - and here, the topic policy: it names the failure rule and both alarms.
 *
 * These resources were once all declared here, directly. They keep their logical names and
 * types; each carries an alias to this component as its former parent, so a stack deployed
 * before keeps every resource (no replacement).
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { Settings } from './config.js';
import { AcmCertificates } from './components/acm-certificates.js';
import { AcmeAccount } from './components/acme-account.js';
import { CertificateSecret, type CertificateOutputs } from './components/certificate-secret.js';
import type { AwsContext } from './components/common.js';
import { FunctionRole } from './components/function-role.js';
import { resolveCertificateZones } from './components/hosted-zones.js';
import { Notices } from './components/notices.js';
import { RenewalWatch } from './components/renewal-watch.js';
import { RotationFunction } from './components/rotation-function.js';
import {
  policyJson,
  rotationRolePolicyJson,
  route53RolePolicy,
  route53RoleTrustPolicy,
  topicPolicy,
  watchRolePolicyJson,
  type PolicyDocument,
} from './policies.js';

export { ARCHITECTURE, RUNTIME } from './components/common.js';
export { METRIC_NAMESPACE, atRiskAlarmPeriodSeconds } from './components/renewal-watch.js';
export type { CertificateOutputs } from './components/certificate-secret.js';

export const COMPONENT_TYPE = 'acme-rotation:index:AcmeRotation';

/** What the account holding a hosted zone needs to create the role the function assumes. */
export interface Route53RoleOutputs {
  zoneIds: string[];
  /** The role's permissions policy (IAM JSON, as an object). */
  policy: PolicyDocument;
  /** The role's trust policy: the rotation function's role, with the external id when set. */
  trustPolicy: PolicyDocument;
}

export interface AcmeRotationArgs {
  settings: Settings;
  /** Absolute path of the built rotation bundle directory (dist/rotation). */
  rotationBundleDir: string;
  /** Absolute path of the built watch bundle directory (dist/watch). */
  watchBundleDir: string;
  /** The EAB HMAC key, a secret Output from the stack config (only with settings.eabKid). */
  eabHmacKey?: pulumi.Input<string>;
}

export class AcmeRotation extends pulumi.ComponentResource {
  readonly functionName: pulumi.Output<string>;
  readonly functionArn: pulumi.Output<string>;
  readonly topicArn: pulumi.Output<string>;
  readonly accountSecretArn: pulumi.Output<string> | undefined;
  readonly watchFunctionName: pulumi.Output<string>;
  readonly dashboardName: pulumi.Output<string>;
  readonly dashboardUrl: pulumi.Output<string>;
  readonly certificates: Record<string, CertificateOutputs> = {};
  /**
   * Per role reaching hosted zones in another account (by role ARN): its zones, the policy it
   * needs there and its trust policy naming the rotation function's role, for the DNS team.
   */
  readonly route53Roles: pulumi.Output<Record<string, Route53RoleOutputs>>;

  readonly acmCertificates: Record<string, AcmCertificates> = {};
  readonly notices: Notices;
  readonly rotationRole: FunctionRole;
  readonly watchRole: FunctionRole;
  readonly account: AcmeAccount | undefined;
  readonly rotation: RotationFunction;
  readonly certificateSecrets: Record<string, CertificateSecret> = {};
  readonly watch: RenewalWatch;
  readonly topicPolicy: aws.sns.TopicPolicy;

  constructor(name: string, args: AcmeRotationArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE, name, {}, opts);
    const s = args.settings;
    const parent = { parent: this };
    // Every child component's resources were once declared here: alias them to this component.
    const moved = { formerParent: this };
    const tags = s.tags;
    const stackLabel = `${s.namespace}/${s.stack}`;

    const ctx: AwsContext = {
      partition: aws.getPartitionOutput({}, parent).partition,
      region: aws.getRegionOutput({}, parent).region,
      accountId: aws.getCallerIdentityOutput({}, parent).accountId,
    };
    const zones = resolveCertificateZones(s, parent);

    this.notices = new Notices(
      name,
      {
        ...moved,
        aws: ctx,
        namePrefix: s.namePrefix,
        stackLabel,
        secretNamePrefix: s.secretNamePrefix,
        ...(s.notificationEmail ? { notificationEmail: s.notificationEmail } : {}),
        ...(s.eventBus ? { eventBus: s.eventBus } : {}),
        tags,
      },
      parent,
    );
    const topicArn = this.notices.topic.arn;
    const eventBusArn = this.notices.eventBusArn;

    for (const cert of s.certificates) {
      if (cert.acm.length === 0) continue;
      this.acmCertificates[cert.name] = new AcmCertificates(
        `${name}-cert-${cert.name}`,
        { certificate: cert, aws: ctx, tags },
        parent,
      );
    }
    const acmArns = pulumi
      .all(Object.values(this.acmCertificates).map((a) => a.arns))
      .apply((lists) => [...new Set(lists.flat())].sort());

    this.rotationRole = new FunctionRole(
      `${name}-rotation`,
      {
        ...moved,
        functionName: `${s.namePrefix}-rotation`,
        description: `acme-rotation ${stackLabel}: the certificate rotation function`,
        logRetentionDays: s.logRetentionDays,
        policy: (logGroupArn) =>
          pulumi
            .all([ctx.partition, ctx.region, logGroupArn, zones.own, zones.roles, topicArn, eventBusArn, acmArns])
            .apply(([p, r, logArn, own, roles, topic, busArn, acmCertificateArns]) =>
              rotationRolePolicyJson({
                partition: p,
                region: r,
                logGroupArn: logArn,
                zoneIds: own.zoneIds,
                ...(own.cnameTargets ? { cnameTargets: own.cnameTargets } : {}),
                route53RoleArns: roles.map((role) => role.roleArn),
                topicArn: topic,
                ...(busArn ? { eventBusArn: busArn } : {}),
                ...(s.kmsKeyArn ? { kmsKeyArn: s.kmsKeyArn } : {}),
                acmCertificateArns,
              }),
            ),
        tags,
      },
      parent,
    );
    this.account = s.persistentAccount
      ? new AcmeAccount(
          name,
          {
            ...moved,
            secretName: s.accountSecretName,
            stackLabel,
            ...(s.kmsKeyArn ? { kmsKeyArn: s.kmsKeyArn } : {}),
            recoveryWindowDays: s.recoveryWindowDays,
            rotationRoleArn: this.rotationRole.role.arn,
            ...(s.eabKid && args.eabHmacKey ? { eab: { kid: s.eabKid, hmacKey: args.eabHmacKey } } : {}),
            tags,
          },
          parent,
        )
      : undefined;

    this.rotation = new RotationFunction(
      name,
      {
        ...moved,
        settings: s,
        stackLabel,
        identity: this.rotationRole,
        bundleDir: args.rotationBundleDir,
        accountId: ctx.accountId,
        topicArn,
        ...(this.account ? { accountSecretArn: this.account.secret.arn } : {}),
        route53Roles: zones.roles.apply((roles) =>
          roles.flatMap((role) => role.zoneIds.map((id) => `${id}=${role.roleArn}`)).join(','),
        ),
      },
      parent,
    );
    const fn = this.rotation.function;

    // Declared after the rotation function (its policy names it), before the secrets (their
    // policies name this role).
    const watchName = `${s.namePrefix}-watch`;
    this.watchRole = new FunctionRole(
      `${name}-watch`,
      {
        functionName: watchName,
        description: `acme-rotation ${stackLabel}: the renewal watch`,
        logRetentionDays: s.logRetentionDays,
        policy: (logGroupArn) =>
          pulumi
            .all([ctx.partition, ctx.region, ctx.accountId, logGroupArn, fn.arn])
            .apply(([p, r, a, logArn, rotationArn]) =>
              watchRolePolicyJson({
                partition: p,
                region: r,
                logGroupArn: logArn,
                rotationFunctionArn: rotationArn,
                // The function is declared after its role: its ARN follows from its name.
                watchFunctionArn: `arn:${p}:lambda:${r}:${a}:function:${watchName}`,
                ...(s.kmsKeyArn ? { kmsKeyArn: s.kmsKeyArn } : {}),
              }),
            ),
        tags,
      },
      parent,
    );

    for (const cert of s.certificates) {
      const certificate = new CertificateSecret(
        `${name}-cert-${cert.name}`,
        {
          ...moved,
          certificate: cert,
          hostedZoneIds: zones.byCertificate.get(cert.name) as pulumi.Output<string[]>,
          ...(this.acmCertificates[cert.name] ? { acm: this.acmCertificates[cert.name] } : {}),
          stackTags: tags,
          ...(s.kmsKeyArn ? { kmsKeyArn: s.kmsKeyArn } : {}),
          recoveryWindowDays: s.recoveryWindowDays,
          rotationRoleArn: this.rotationRole.role.arn,
          watchRoleArn: this.watchRole.role.arn,
          rotationFunctionArn: fn.arn,
          rotateAfter: [
            this.rotation.invokePermission,
            this.rotationRole.rolePolicy,
            fn,
            ...(this.account?.ready ?? []),
          ],
        },
        parent,
      );
      this.certificateSecrets[cert.name] = certificate;
      this.certificates[cert.name] = certificate.outputs;
    }

    this.watch = new RenewalWatch(
      name,
      {
        formerParent: this,
        settings: s,
        stackLabel,
        identity: this.watchRole,
        aws: ctx,
        bundleDir: args.watchBundleDir,
        rotationLogGroupName: this.rotationRole.logGroup.name,
        rotationFunctionArn: fn.arn,
        topicArn,
        readsAfter: Object.values(this.certificateSecrets).map((c) => c.secretPolicy),
      },
      parent,
    );

    // Only the failure rule and the two alarms may publish to the topic.
    const failureRuleArn = this.notices.failureRule.arn;
    const errorsAlarmArn = this.rotation.errorsAlarm.arn;
    const atRiskAlarmArn = this.watch.atRiskAlarm.arn;
    this.topicPolicy = new aws.sns.TopicPolicy(
      `${name}-notices-policy`,
      {
        arn: topicArn,
        policy: pulumi
          .all([ctx.partition, ctx.accountId, topicArn, failureRuleArn, errorsAlarmArn, atRiskAlarmArn])
          .apply(([p, a, topic, ruleArn, errorsArn, atRiskArn]) =>
            policyJson(
              topicPolicy({ partition: p, accountId: a, topicArn: topic, ruleArn, alarmArns: [errorsArn, atRiskArn] }),
            ),
          ),
      },
      parent,
    );

    const rotationRoleArn = this.rotationRole.role.arn;
    this.route53Roles = pulumi.all([zones.roles, rotationRoleArn]).apply(([roles, roleArn]) =>
      Object.fromEntries(
        roles.map((role) => [
          role.roleArn,
          {
            zoneIds: role.zoneIds,
            policy: route53RolePolicy(role),
            trustPolicy: route53RoleTrustPolicy({
              rotationRoleArn: roleArn,
              ...(s.route53ExternalId ? { externalId: s.route53ExternalId } : {}),
            }),
          },
        ]),
      ),
    );

    this.functionName = fn.name;
    this.functionArn = fn.arn;
    this.topicArn = topicArn;
    this.accountSecretArn = this.account?.secret.arn;
    this.watchFunctionName = this.watch.function.name;
    this.dashboardName = this.watch.dashboardName;
    this.dashboardUrl = this.watch.dashboardUrl;
    this.registerOutputs({
      functionName: this.functionName,
      functionArn: this.functionArn,
      topicArn: this.topicArn,
      accountSecretArn: this.accountSecretArn,
      watchFunctionName: this.watchFunctionName,
      dashboardName: this.dashboardName,
      dashboardUrl: this.dashboardUrl,
      certificates: this.certificates,
      route53Roles: this.route53Roles,
    });
  }
}
