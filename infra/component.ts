/**
 * AcmeRotation: everything one stack deploys, as a Pulumi ComponentResource composed of smaller
 * ones (each feature's module), each parented to it, so `pulumi stack` shows one tree: Notices (the
 * topic, the failure rule, the bus); AcmCertificates per certificate deployed to ACM (declared
 * first: the rotation role's policy names their ARNs); FunctionRole ×2, the rotation function's
 * and the watch's (declared before the secrets: their resource policies name the roles);
 * AcmeAccount (the optional ACME account secret); RotationFunction; CertificateSecret per
 * certificate (native rotation that runs immediately: the first `pulumi up` issues the first
 * certificate); RenewalWatch (the scheduled watch, the at-risk alarm, the dashboard); per
 * certificate deployed to ACM, the wait for its first certificate (watch.ts, run in the watch's
 * waiter function; the certificate's `acmArns` resolve after it); and, parented here, the
 * topic policy naming the failure rule and both alarms.
 *
 * Here: the wiring, in declaration order, with the args checked before anything is registered
 * and the outputs registered with the engine; each feature's settings, resources and policies live
 * in its module (certificates.ts, hosted-zones.ts, acm.ts, ca.ts, rotation.ts, watch.ts, notices.ts).
 */
import type * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { AcmCertificates, allAcmArns } from './acm.js';
import type { AcmeRotationArgs } from './args.js';
import { bundleDirs } from './bundle.js';
import { AcmeAccount } from './ca.js';
import { CertificateSecret, ignoreTagsProblems, type CertificateOutputs } from './certificates.js';
import {
  resolveCertificateZones,
  route53RoleOutputs,
  route53RolesSetting,
  type Route53RoleOutputs,
} from './hosted-zones.js';
import { FunctionRole, awsContext } from './lambda.js';
import { Notices, noticesTopicPolicy } from './notices.js';
import { RotationFunction, rotationRolePolicyOf } from './rotation.js';
import type { Settings } from './settings.js';
import { StackConfigError, validateArgs } from './validate.js';
import { RenewalWatch, awaitFirstCertificate, watchRolePolicyOf } from './watch.js';

export type { CertificateOutputs } from './certificates.js';
export type { Route53RoleOutputs } from './hosted-zones.js';
export type { AcmeRotationArgs } from './args.js';

export const COMPONENT_TYPE = 'acme-rotation:index:AcmeRotation';

// The args, checked.

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
export function settingsOf(
  name: string,
  args: AcmeRotationArgs,
  opts: pulumi.ComponentResourceOptions | undefined,
): Settings {
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

// The outputs.

export const OUTPUT_KEYS = [
  'functionName',
  'functionArn',
  'topicArn',
  'accountSecretArn',
  'watchFunctionName',
  'dashboardName',
  'dashboardUrl',
  'certificates',
  'route53Roles',
] as const;
export type OutputKey = (typeof OUTPUT_KEYS)[number];

/** `component`'s outputs, in OUTPUT_KEYS order, for `registerOutputs`. */
export function registeredOutputs(component: Record<OutputKey, unknown>): pulumi.Inputs {
  return Object.fromEntries(OUTPUT_KEYS.map((key) => [key, component[key]]));
}

// The component.

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
  /** Per certificate deployed to ACM: the wait for its first certificate behind every ARN. */
  readonly firstCertificates: Record<string, aws.lambda.Invocation> = {};
  /** Who may publish to the topic; undefined with an existing topic (its policy is its owner's). */
  readonly topicPolicy: aws.sns.TopicPolicy | undefined;

  constructor(name: string, args: AcmeRotationArgs<Name>, opts?: pulumi.ComponentResourceOptions) {
    // Validated before anything is registered: invalid args declare nothing.
    const s = settingsOf(name, args, opts);
    super(COMPONENT_TYPE, name, {}, opts);
    this.settings = s;
    this.certificates = {} as Record<Name, CertificateOutputs>;
    const bundleDir = bundleDirs(args, (message) => pulumi.log.info(message, this));
    const parent = { parent: this };
    const tags = s.tags;
    const stackLabel = `${s.namespace}/${s.stack}`;

    const ctx = awsContext(parent);
    const zones = resolveCertificateZones(s, parent);

    this.notices = new Notices(
      name,
      {
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

    for (const cert of s.certificates) {
      if (cert.acm.length === 0) continue;
      const acm = { certificate: cert, aws: ctx, tags };
      this.acmCertificates[cert.name] = new AcmCertificates(`${name}-cert-${cert.name}`, acm, parent);
    }
    const acmArns = allAcmArns(Object.values(this.acmCertificates));

    this.rotationRole = new FunctionRole(
      `${name}-rotation`,
      {
        functionName: `${s.namePrefix}-rotation`,
        description: `acme-rotation ${stackLabel}: the certificate rotation function`,
        logRetentionDays: s.logRetentionDays,
        policy: rotationRolePolicyOf({
          aws: ctx,
          zones,
          topicArn,
          eventBusArn: this.notices.eventBusArn,
          acmArns,
          kmsKeyArn,
        }),
        tags,
      },
      parent,
    );
    const firstHmacKey = args.cas?.[0]?.eabHmacKey ?? args.eabHmacKey;
    const firstEab = s.eabKid && firstHmacKey !== undefined ? { kid: s.eabKid, hmacKey: firstHmacKey } : undefined;
    this.account = s.persistentAccount
      ? new AcmeAccount(
          name,
          {
            secretName: s.accountSecretName,
            stackLabel,
            ...(s.kmsKeyArn ? { kmsKeyArn: s.kmsKeyArn } : {}),
            recoveryWindowDays: s.recoveryWindowDays,
            rotationRoleArn: this.rotationRole.role.arn,
            ...(firstEab ? { eab: firstEab } : {}),
            // One account per further CA of `cas`, each with its own EAB credentials when the CA asks for them.
            fallbacks: s.cas.slice(1).map((ca, i) => {
              const hmacKey = args.cas?.[i + 1]?.eabHmacKey;
              return {
                secretName: ca.accountSecretName,
                caName: ca.name,
                ...(ca.eabKid && hmacKey !== undefined ? { eab: { kid: ca.eabKid, hmacKey } } : {}),
              };
            }),
            tags,
          },
          parent,
        )
      : undefined;

    this.rotation = new RotationFunction(
      name,
      {
        settings: s,
        stackLabel,
        identity: this.rotationRole,
        bundleDir: bundleDir.rotation,
        accountId: ctx.accountId,
        topicArn,
        ...(this.account ? { accountSecretArn: this.account.secret.arn } : {}),
        route53Roles: route53RolesSetting(zones.roles),
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
        policy: watchRolePolicyOf({
          aws: ctx,
          watchFunctionName: watchName,
          rotationFunctionArn: fn.arn,
          kmsKeyArn,
          acmArns,
          topicArn,
          eventBusArn: this.notices.eventBusArn,
        }),
        tags,
      },
      parent,
    );

    for (const cert of s.certificates) {
      const certificate = new CertificateSecret(
        `${name}-cert-${cert.name}`,
        {
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
        settings: s,
        stackLabel,
        identity: this.watchRole,
        aws: ctx,
        bundleDir: bundleDir.watch,
        rotationLogGroupName: this.rotationRole.logGroup.name,
        rotationFunctionArn: fn.arn,
        topicArn,
        readsAfter: Object.values(this.certificateSecrets).map((c) => c.secretPolicy),
      },
      parent,
    );

    // A certificate's ACM ARNs resolve once its first certificate is behind them (after the watch:
    // the waiter runs in it).
    for (const cert of s.certificates) {
      const acm = this.acmCertificates[cert.name];
      const secret = this.certificateSecrets[cert.name];
      if (!acm || !secret) continue;
      const first = awaitFirstCertificate(
        `${name}-cert-${cert.name}`,
        {
          watchFunctionName: this.watch.waiter.name,
          secretArn: secret.secret.arn,
          acmArns: acm.arns,
          acmArnsByRegion: acm.arnsByRegion,
          waitAfter: [secret.rotation, secret.secretPolicy, this.watchRole.rolePolicy],
        },
        { parent: secret },
      );
      this.firstCertificates[cert.name] = first.invocation;
      this.certificates[cert.name as Name] = { ...secret.outputs, acmArns: first.acmArnsByRegion };
    }

    const alarmArns = [this.rotation.errorsAlarm.arn, this.watch.atRiskAlarm.arn];
    this.topicPolicy = noticesTopicPolicy(name, { notices: this.notices, aws: ctx, alarmArns }, parent);
    this.route53Roles = route53RoleOutputs(zones.roles, this.rotationRole.role.arn, s.route53ExternalId);

    this.functionName = fn.name;
    this.functionArn = fn.arn;
    this.topicArn = topicArn;
    this.accountSecretArn = this.account?.secret.arn;
    this.watchFunctionName = this.watch.function.name;
    this.dashboardName = this.watch.dashboardName;
    this.dashboardUrl = this.watch.dashboardUrl;
    this.registerOutputs(registeredOutputs(this));
  }
}
