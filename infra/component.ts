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

import type { AcmeRotationArgs } from './args.js';
import { locateBundles } from './bundle.js';
import { StackConfigError, ignoreTagsProblems, validateArgs, type Settings } from './config/index.js';
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

export type { AcmeRotationArgs } from './args.js';

/** Invalid AcmeRotation args: every problem, each naming its field. Shown without a stack trace. */
export class AcmeRotationArgsError extends pulumi.RunError {
  override name = 'AcmeRotationArgsError';
  constructor(
    readonly problems: string[],
    message: string,
  ) {
    super(message);
  }
}

/** Whether `opts` names an explicit AWS provider (its ignoreTags are not in the stack config). */
function explicitAwsProvider(opts: pulumi.ComponentResourceOptions | undefined): boolean {
  if (!opts) return false;
  if (opts.provider) return true;
  const providers = opts.providers;
  if (Array.isArray(providers)) return providers.length > 0;
  return providers !== undefined && Object.keys(providers).includes('aws');
}

/**
 * The args, validated (the stack's rules and messages), with the default AWS provider's
 * aws:ignoreTags checked as the stack does; throws AcmeRotationArgsError listing every problem.
 */
function settingsOf(name: string, args: AcmeRotationArgs, opts: pulumi.ComponentResourceOptions | undefined): Settings {
  const problems: string[] = [];
  let settings: Settings | undefined;
  try {
    settings = validateArgs(
      args,
      { project: pulumi.getProject(), stack: pulumi.getStack() },
      `AcmeRotation arguments of "${name}"`,
    );
  } catch (err) {
    if (!(err instanceof StackConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (!explicitAwsProvider(opts)) problems.push(...ignoreTagsProblems(new pulumi.Config('aws').get('ignoreTags')));
  if (problems.length > 0 || !settings) {
    const what = args.configNamespace ? 'stack configuration' : `AcmeRotation arguments of "${name}"`;
    throw new AcmeRotationArgsError(problems, new StackConfigError(problems, what).message);
  }
  return settings;
}

/**
 * Certificates from an ACME CA in Secrets Manager, renewed by native rotation (and deployed to
 * ACM when asked): `new AcmeRotation('certs', { certificates: [{ name: 'web', domains: […] }], … })`.
 * `Name` is the certificates' names: `rotation.certificates.web` is typed.
 */
export class AcmeRotation<Name extends string = string> extends pulumi.ComponentResource {
  readonly functionName: pulumi.Output<string>;
  readonly functionArn: pulumi.Output<string>;
  readonly topicArn: pulumi.Output<string>;
  readonly accountSecretArn: pulumi.Output<string> | undefined;
  readonly watchFunctionName: pulumi.Output<string>;
  readonly dashboardName: pulumi.Output<string>;
  readonly dashboardUrl: pulumi.Output<string>;
  /** Per certificate (by name): its secret's ARN and name, zones, schedule and ACM ARNs by region. */
  readonly certificates: Record<Name, CertificateOutputs>;
  /** The validated, normalised settings the resources were declared from. */
  readonly settings: Settings;
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
  /** Who may publish to the topic; undefined with an existing topic (its policy is its owner's). */
  readonly topicPolicy: aws.sns.TopicPolicy | undefined;

  constructor(name: string, args: AcmeRotationArgs<Name>, opts?: pulumi.ComponentResourceOptions) {
    // Validated before anything is registered: invalid args declare nothing.
    const s = settingsOf(name, args, opts);
    super(COMPONENT_TYPE, name, {}, opts);
    this.settings = s;
    this.certificates = {} as Record<Name, CertificateOutputs>;
    const bundles =
      args.rotationBundleDir !== undefined && args.watchBundleDir !== undefined ? undefined : locateBundles();
    for (const [what, bundle] of Object.entries(bundles ?? {})) {
      pulumi.log.info(bundle.built ? `built the ${what} bundle: ${bundle.reason}` : bundle.reason, this);
    }
    const rotationBundleDir = args.rotationBundleDir ?? (bundles?.rotation.dir as string);
    const watchBundleDir = args.watchBundleDir ?? (bundles?.watch.dir as string);
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
        ...(s.notificationTopicArn ? { topicArn: s.notificationTopicArn } : {}),
        ...(s.eventBus ? { eventBus: s.eventBus } : {}),
        tags,
      },
      parent,
    );
    const topicArn = this.notices.topicArn;
    const kmsKeyArn = pulumi.output(s.kmsKeyArn);
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
            .all([
              ctx.partition,
              ctx.region,
              logGroupArn,
              zones.own,
              zones.roles,
              topicArn,
              eventBusArn,
              pulumi.all([acmArns, kmsKeyArn]),
            ])
            .apply(([p, r, logArn, own, roles, topic, busArn, [acmCertificateArns, kmsKey]]) =>
              rotationRolePolicyJson({
                partition: p,
                region: r,
                logGroupArn: logArn,
                zoneIds: own.zoneIds,
                ...(own.cnameTargets ? { cnameTargets: own.cnameTargets } : {}),
                route53RoleArns: roles.map((role) => role.roleArn),
                topicArn: topic,
                ...(busArn ? { eventBusArn: busArn } : {}),
                ...(kmsKey ? { kmsKeyArn: kmsKey } : {}),
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
            ...(s.eabKid && args.eabHmacKey !== undefined ? { eab: { kid: s.eabKid, hmacKey: args.eabHmacKey } } : {}),
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
        bundleDir: rotationBundleDir,
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
            .all([ctx.partition, ctx.region, ctx.accountId, logGroupArn, fn.arn, kmsKeyArn])
            .apply(([p, r, a, logArn, rotationArn, kmsKey]) =>
              watchRolePolicyJson({
                partition: p,
                region: r,
                logGroupArn: logArn,
                rotationFunctionArn: rotationArn,
                // The function is declared after its role: its ARN follows from its name.
                watchFunctionArn: `arn:${p}:lambda:${r}:${a}:function:${watchName}`,
                ...(kmsKey ? { kmsKeyArn: kmsKey } : {}),
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
      this.certificates[cert.name as Name] = certificate.outputs;
    }

    this.watch = new RenewalWatch(
      name,
      {
        formerParent: this,
        settings: s,
        stackLabel,
        identity: this.watchRole,
        aws: ctx,
        bundleDir: watchBundleDir,
        rotationLogGroupName: this.rotationRole.logGroup.name,
        rotationFunctionArn: fn.arn,
        topicArn,
        readsAfter: Object.values(this.certificateSecrets).map((c) => c.secretPolicy),
      },
      parent,
    );

    // Only the failure rule and the two alarms may publish to the topic. An existing topic keeps
    // its owner's policy: a TopicPolicy here would replace it whole.
    const failureRuleArn = this.notices.failureRule.arn;
    const errorsAlarmArn = this.rotation.errorsAlarm.arn;
    const atRiskAlarmArn = this.watch.atRiskAlarm.arn;
    this.topicPolicy =
      this.notices.topic === undefined
        ? undefined
        : new aws.sns.TopicPolicy(
            `${name}-notices-policy`,
            {
              arn: topicArn,
              policy: pulumi
                .all([ctx.partition, ctx.accountId, topicArn, failureRuleArn, errorsAlarmArn, atRiskAlarmArn])
                .apply(([p, a, topic, ruleArn, errorsArn, atRiskArn]) =>
                  policyJson(
                    topicPolicy({
                      partition: p,
                      accountId: a,
                      topicArn: topic,
                      ruleArn,
                      alarmArns: [errorsArn, atRiskArn],
                    }),
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
