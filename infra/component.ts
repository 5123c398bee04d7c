/**
 * AcmeRotation: everything one stack deploys, as a Pulumi ComponentResource (children are
 * parented to it, so `pulumi stack` shows one tree and `registerOutputs` closes it).
 *
 * - one rotation function for every certificate (nodejs22.x, arm64, JSON logs, own log group);
 * - per certificate: a secret carrying the spec tags, its resource policy, and native rotation
 *   that runs immediately (the first `pulumi up` issues the first certificate);
 * - an optional ACME account secret (no initial version: the function creates the account);
 * - an SNS topic for notices, Secrets Manager's rotation failure events routed to it;
 * - alarms: function errors, and certificates at risk (reported by the scheduled expiry check).
 *
 * No secret gets a placeholder version. The function treats a secret without AWSCURRENT as "no
 * certificate yet", and Secrets Manager starts a rotation on such a secret (it creates the
 * AWSPENDING version itself). A placeholder managed by Pulumi could be written again later —
 * e.g. after Secrets Manager pruned the old version and a refresh dropped it from the state —
 * and would then replace the live certificate with `{}`.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { TAGS, parseSpec } from '../rotation/spec.js';
import { FUNCTION_TIMEOUT_SECONDS, type CertificateSettings, type Settings } from './config.js';
import { ROTATION_FAILURE_INPUT, rotationFailurePattern, secretArnPrefix } from './events.js';
import type { CheckConfig } from './expiry-check/check.js';
import {
  accountSecretPolicy,
  certificateSecretPolicyJson,
  expiryCheckRolePolicy,
  lambdaAssumeRolePolicy,
  policyJson,
  rotationRolePolicyJson,
  topicPolicy,
} from './policies.js';
import { checkCoverage, matchZones, type ResolvedZone, type ZoneRef } from './zones.js';

export const COMPONENT_TYPE = 'acme-rotation:index:AcmeRotation';
export const RUNTIME = 'nodejs22.x';
export const ARCHITECTURE = 'arm64';
/** Namespace of the expiry check's metrics. */
export const METRIC_NAMESPACE = 'AcmeRotation';
/** How often the expiry check runs, and the alarm period that matches it. */
export const EXPIRY_CHECK_SCHEDULE = 'rate(6 hours)';
export const EXPIRY_CHECK_PERIOD_SECONDS = 6 * 3600;

export interface AcmeRotationArgs {
  settings: Settings;
  /** Absolute path of the built rotation bundle directory (dist/rotation). */
  rotationBundleDir: string;
  /** The expiry check's bundled code (index.mjs). */
  expiryCheckCode: string;
  /** The EAB HMAC key, a secret Output from the stack config (only with settings.eabKid). */
  eabHmacKey?: pulumi.Input<string>;
}

export interface CertificateOutputs {
  secretArn: pulumi.Output<string>;
  secretName: pulumi.Output<string>;
  hostedZoneIds: pulumi.Output<string[]>;
  schedule: string;
}

function zoneOf(r: aws.route53.GetZoneResult): ResolvedZone {
  return { id: r.zoneId, name: r.name, privateZone: r.privateZone ?? false };
}

function rotationRules(cert: CertificateSettings): aws.types.input.secretsmanager.SecretRotationRotationRules {
  return cert.schedule.automaticallyAfterDays !== undefined
    ? { automaticallyAfterDays: cert.schedule.automaticallyAfterDays }
    : { scheduleExpression: cert.schedule.scheduleExpression };
}

export class AcmeRotation extends pulumi.ComponentResource {
  readonly functionName: pulumi.Output<string>;
  readonly functionArn: pulumi.Output<string>;
  readonly topicArn: pulumi.Output<string>;
  readonly accountSecretArn: pulumi.Output<string> | undefined;
  readonly expiryCheckFunctionName: pulumi.Output<string>;
  readonly certificates: Record<string, CertificateOutputs> = {};

  constructor(name: string, args: AcmeRotationArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE, name, {}, opts);
    const s = args.settings;
    const parent = { parent: this };
    const tags = s.tags;
    const stackLabel = `${s.namespace}/${s.stack}`;

    const partition = aws.getPartitionOutput({}, parent).partition;
    const region = aws.getRegionOutput({}, parent).region;
    const accountId = aws.getCallerIdentityOutput({}, parent).accountId;

    // ---- Hosted zones: resolved once per distinct reference -------------------------------
    const zoneCache = new Map<string, pulumi.Output<ResolvedZone>>();
    const resolveZone = (ref: ZoneRef): pulumi.Output<ResolvedZone> => {
      const key = ref.kind === 'id' ? `id:${ref.id}` : `name:${ref.name}`;
      let zone = zoneCache.get(key);
      if (!zone) {
        const found =
          ref.kind === 'id'
            ? aws.route53.getZoneOutput({ zoneId: ref.id }, parent)
            : aws.route53.getZoneOutput({ name: ref.name, privateZone: false }, parent);
        zone = found.apply(zoneOf);
        zoneCache.set(key, zone);
      }
      return zone;
    };
    const stackZones = pulumi.all(s.hostedZones.map(resolveZone));
    const certZoneIds = new Map<string, pulumi.Output<string[]>>();
    s.certificates.forEach((cert, i) => {
      const what = `${s.namespace}:certificates[${i}] (${cert.name})`;
      const explicit = cert.hostedZoneIds;
      const ids = explicit
        ? pulumi.all(explicit.map((id) => resolveZone({ kind: 'id', id }))).apply((zones) => {
            checkCoverage(cert.domains, zones, what);
            return explicit;
          })
        : stackZones.apply((zones) => matchZones(cert.domains, zones, what));
      certZoneIds.set(cert.name, ids);
    });
    const allZoneIds = pulumi.all([...certZoneIds.values()]).apply((lists) => [...new Set(lists.flat())].sort());
    const cnameCerts = s.certificates.filter((c) => c.cnameTargets.length > 0);
    const cnameTargets =
      cnameCerts.length > 0
        ? pulumi.all(cnameCerts.map((c) => certZoneIds.get(c.name) as pulumi.Output<string[]>)).apply((lists) => ({
            names: [...new Set(cnameCerts.flatMap((c) => c.cnameTargets))],
            zoneIds: [...new Set(lists.flat())],
          }))
        : undefined;

    // ---- Notices ------------------------------------------------------------------------------
    const topic = new aws.sns.Topic(`${name}-notices`, { name: `${s.namePrefix}-notices`, tags }, parent);
    if (s.notificationEmail) {
      new aws.sns.TopicSubscription(
        `${name}-notices-email`,
        { topic: topic.arn, protocol: 'email', endpoint: s.notificationEmail },
        parent,
      );
    }

    // ---- Rotation function: role, log group, function -----------------------------------------
    const functionName = `${s.namePrefix}-rotation`;
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-rotation-logs`,
      { name: `/aws/lambda/${functionName}`, retentionInDays: s.logRetentionDays, tags },
      parent,
    );
    const role = new aws.iam.Role(
      `${name}-rotation-role`,
      {
        name: `${s.namePrefix}-rotation`,
        description: `acme-rotation ${stackLabel}: the certificate rotation function`,
        assumeRolePolicy: policyJson(lambdaAssumeRolePolicy()),
        tags,
      },
      parent,
    );
    const eventBusArn = s.eventBus
      ? s.eventBus.startsWith('arn:')
        ? pulumi.output(s.eventBus)
        : pulumi.interpolate`arn:${partition}:events:${region}:${accountId}:event-bus/${s.eventBus}`
      : undefined;
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-rotation-policy`,
      {
        role: role.id,
        policy: pulumi
          .all([partition, region, logGroup.arn, allZoneIds, topic.arn, eventBusArn, cnameTargets])
          .apply(([p, r, logArn, zoneIds, topicArn, busArn, cname]) =>
            rotationRolePolicyJson({
              partition: p,
              region: r,
              logGroupArn: logArn,
              zoneIds,
              topicArn,
              ...(busArn ? { eventBusArn: busArn } : {}),
              ...(cname ? { cnameTargets: cname } : {}),
              ...(s.kmsKeyArn ? { kmsKeyArn: s.kmsKeyArn } : {}),
            }),
          ),
      },
      parent,
    );

    let accountSecret: aws.secretsmanager.Secret | undefined;
    const accountDeps: pulumi.Resource[] = [];
    if (s.persistentAccount) {
      accountSecret = new aws.secretsmanager.Secret(
        `${name}-acme-account`,
        {
          name: s.accountSecretName,
          description: `acme-rotation ${stackLabel}: ACME account key (written by the rotation function on first use)`,
          ...(s.kmsKeyArn ? { kmsKeyId: s.kmsKeyArn } : {}),
          recoveryWindowInDays: s.recoveryWindowDays,
          tags,
        },
        parent,
      );
      accountDeps.push(
        new aws.secretsmanager.SecretPolicy(
          `${name}-acme-account-policy`,
          {
            secretArn: accountSecret.arn,
            policy: pulumi
              .all([accountSecret.arn, role.arn])
              .apply(([secretArn, roleArn]) =>
                policyJson(accountSecretPolicy({ secretArn, rotationRoleArn: roleArn })),
              ),
            blockPublicPolicy: true,
          },
          parent,
        ),
      );
      if (s.eabKid && args.eabHmacKey) {
        // The CA's EAB credentials, where the function looks for them. Safe to write again: the
        // function keeps the registered account in its own version (one id per directory URL)
        // and only uses EAB to register a new account.
        const kid = s.eabKid;
        accountDeps.push(
          new aws.secretsmanager.SecretVersion(
            `${name}-acme-account-eab`,
            {
              secretId: accountSecret.id,
              secretString: pulumi
                .secret(args.eabHmacKey)
                .apply((hmacKey) => JSON.stringify({ eab: { kid, hmac_key: hmacKey } })),
            },
            parent,
          ),
        );
      }
    }

    const environment: Record<string, pulumi.Input<string>> = {
      ACME_DIRECTORY_URL: s.directoryUrl,
      NOTIFICATION_TOPIC_ARN: topic.arn,
      DNS_PROPAGATION_TIMEOUT_SECONDS: String(s.dnsPropagationTimeoutSeconds ?? 300),
      ACME_TIMEOUT_SECONDS: String(s.acmeTimeoutSeconds ?? 180),
      LOG_LEVEL: s.logLevel,
      // The bundle is minified; its source maps turn a crash's stack into file:line.
      NODE_OPTIONS: '--enable-source-maps',
    };
    if (s.email) environment.ACME_EMAIL = s.email;
    if (accountSecret) environment.ACME_ACCOUNT_SECRET_ID = accountSecret.arn;
    if (s.eventBus) environment.EVENT_BUS_NAME = s.eventBus;
    if (s.dnsResolvers) environment.DNS_RESOLVERS = s.dnsResolvers;

    const fn = new aws.lambda.Function(
      `${name}-rotation`,
      {
        name: functionName,
        description: `acme-rotation ${stackLabel}: ACME DNS-01 certificate rotation for Secrets Manager`,
        runtime: RUNTIME,
        architectures: [ARCHITECTURE],
        handler: 'index.handler',
        code: new pulumi.asset.FileArchive(args.rotationBundleDir),
        role: role.arn,
        memorySize: s.memoryMb,
        timeout: FUNCTION_TIMEOUT_SECONDS,
        environment: { variables: environment },
        loggingConfig: { logFormat: 'JSON', logGroup: logGroup.name },
        tags,
      },
      { parent: this, dependsOn: [logGroup, rolePolicy] },
    );
    const invokePermission = new aws.lambda.Permission(
      `${name}-rotation-invoke`,
      {
        action: 'lambda:InvokeFunction',
        function: fn.name,
        principal: 'secretsmanager.amazonaws.com',
        sourceAccount: accountId,
      },
      parent,
    );

    // ---- Expiry check: role, log group, function, schedule -------------------------------------
    const checkName = `${s.namePrefix}-expiry-check`;
    const checkLogGroup = new aws.cloudwatch.LogGroup(
      `${name}-expiry-check-logs`,
      { name: `/aws/lambda/${checkName}`, retentionInDays: s.logRetentionDays, tags },
      parent,
    );
    const checkRole = new aws.iam.Role(
      `${name}-expiry-check-role`,
      {
        name: checkName,
        description: `acme-rotation ${stackLabel}: the certificate expiry check`,
        assumeRolePolicy: policyJson(lambdaAssumeRolePolicy()),
        tags,
      },
      parent,
    );
    const checkRolePolicy = new aws.iam.RolePolicy(
      `${name}-expiry-check-policy`,
      { role: checkRole.id, policy: checkLogGroup.arn.apply((arn) => policyJson(expiryCheckRolePolicy(arn))) },
      parent,
    );

    // ---- Certificates ----------------------------------------------------------------------------
    const secretPolicies: pulumi.Resource[] = [];
    for (const cert of s.certificates) {
      const zoneIds = certZoneIds.get(cert.name) as pulumi.Output<string[]>;
      const secretTags = zoneIds.apply((ids) => {
        const all = { ...tags, ...cert.specTags, [TAGS.hostedZoneIds]: ids.join(',') };
        // The rotation's own parser: a tag set it would reject never reaches AWS.
        parseSpec(
          cert.secretName,
          Object.entries(all).map(([Key, Value]) => ({ Key, Value })),
        );
        return all;
      });
      const secret = new aws.secretsmanager.Secret(
        `${name}-cert-${cert.name}`,
        {
          name: cert.secretName,
          description: cert.description,
          ...(s.kmsKeyArn ? { kmsKeyId: s.kmsKeyArn } : {}),
          recoveryWindowInDays: s.recoveryWindowDays,
          tags: secretTags,
        },
        parent,
      );
      const secretPolicy = new aws.secretsmanager.SecretPolicy(
        `${name}-cert-${cert.name}-policy`,
        {
          secretArn: secret.arn,
          policy: pulumi
            .all([secret.arn, role.arn, checkRole.arn])
            .apply(([secretArn, rotationRoleArn, expiryCheckRoleArn]) =>
              certificateSecretPolicyJson({ secretArn, rotationRoleArn, expiryCheckRoleArn }),
            ),
          blockPublicPolicy: true,
        },
        parent,
      );
      secretPolicies.push(secretPolicy);
      new aws.secretsmanager.SecretRotation(
        `${name}-cert-${cert.name}-rotation`,
        {
          secretId: secret.id,
          rotationLambdaArn: fn.arn,
          rotationRules: rotationRules(cert),
          // The first certificate is issued now, by this `pulumi up` (Secrets Manager starts the
          // rotation asynchronously; the success or failure notice reports how it went).
          rotateImmediately: true,
        },
        { parent: this, dependsOn: [invokePermission, secretPolicy, rolePolicy, fn, ...accountDeps] },
      );
      this.certificates[cert.name] = {
        secretArn: secret.arn,
        secretName: secret.name,
        hostedZoneIds: zoneIds,
        schedule: cert.schedule.reason,
      };
    }

    const checkConfig: CheckConfig = {
      namespace: METRIC_NAMESPACE,
      dimensions: { Stack: stackLabel },
      certificates: s.certificates.map((c) => ({
        secretName: c.secretName,
        maxAgeHours: c.schedule.maxAgeHours,
        minHoursLeft: c.schedule.minHoursLeft,
      })),
    };
    const checkFn = new aws.lambda.Function(
      `${name}-expiry-check`,
      {
        name: checkName,
        description: `acme-rotation ${stackLabel}: reports certificates at risk of expiring (metric ${METRIC_NAMESPACE}/CertificatesAtRisk)`,
        runtime: RUNTIME,
        architectures: [ARCHITECTURE],
        handler: 'index.handler',
        code: new pulumi.asset.AssetArchive({
          'index.mjs': new pulumi.asset.StringAsset(args.expiryCheckCode),
          'certificates.json': new pulumi.asset.StringAsset(JSON.stringify(checkConfig)),
        }),
        role: checkRole.arn,
        memorySize: 128,
        timeout: 300,
        // Text, not JSON: the metrics line must reach CloudWatch Logs as written (EMF).
        loggingConfig: { logFormat: 'Text', logGroup: checkLogGroup.name },
        tags,
      },
      { parent: this, dependsOn: [checkLogGroup, checkRolePolicy, ...secretPolicies] },
    );
    const checkSchedule = new aws.cloudwatch.EventRule(
      `${name}-expiry-check-schedule`,
      {
        name: `${checkName}-schedule`,
        description: `acme-rotation ${stackLabel}: runs the certificate expiry check`,
        scheduleExpression: EXPIRY_CHECK_SCHEDULE,
        tags,
      },
      parent,
    );
    new aws.lambda.Permission(
      `${name}-expiry-check-invoke`,
      {
        action: 'lambda:InvokeFunction',
        function: checkFn.name,
        principal: 'events.amazonaws.com',
        sourceArn: checkSchedule.arn,
      },
      parent,
    );
    new aws.cloudwatch.EventTarget(
      `${name}-expiry-check-target`,
      { rule: checkSchedule.name, arn: checkFn.arn },
      parent,
    );

    // ---- Secrets Manager's rotation failure events → notices ------------------------------------
    const failureRule = new aws.cloudwatch.EventRule(
      `${name}-rotation-failures`,
      {
        name: `${s.namePrefix}-rotation-failures`,
        description: `acme-rotation ${stackLabel}: Secrets Manager rotation failures of the certificate secrets`,
        eventPattern: pulumi
          .all([partition, region, accountId])
          .apply(([p, r, a]) => JSON.stringify(rotationFailurePattern(secretArnPrefix(p, r, a, s.secretNamePrefix)))),
        tags,
      },
      parent,
    );
    new aws.cloudwatch.EventTarget(
      `${name}-rotation-failures-notice`,
      { rule: failureRule.name, arn: topic.arn, inputTransformer: ROTATION_FAILURE_INPUT },
      parent,
    );

    // ---- Alarms -----------------------------------------------------------------------------------
    const errorsAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-rotation-errors`,
      {
        name: `${s.namePrefix}-rotation-errors`,
        alarmDescription:
          'A certificate rotation step failed. The failure notice names the certificate and the error; ' +
          'Secrets Manager retries the rotation.',
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        dimensions: { FunctionName: fn.name },
        statistic: 'Sum',
        period: 300,
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        tags,
      },
      parent,
    );
    const expiryAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-certificates-at-risk`,
      {
        name: `${s.namePrefix}-certificates-at-risk`,
        alarmDescription:
          'A certificate expires within a day (less for day-long certificates), is overdue for renewal, never got its first certificate, or cannot ' +
          `be read. The "certificate at risk" lines in /aws/lambda/${checkName} name it. No data = the check is not running.`,
        namespace: METRIC_NAMESPACE,
        metricName: 'CertificatesAtRisk',
        dimensions: { Stack: stackLabel },
        statistic: 'Maximum',
        period: EXPIRY_CHECK_PERIOD_SECONDS,
        // Two periods, one datapoint: a check that lands late in its period is not "missing".
        evaluationPeriods: 2,
        datapointsToAlarm: 1,
        threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        treatMissingData: 'missing',
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        insufficientDataActions: [topic.arn],
        tags,
      },
      parent,
    );

    new aws.sns.TopicPolicy(
      `${name}-notices-policy`,
      {
        arn: topic.arn,
        policy: pulumi
          .all([partition, accountId, topic.arn, failureRule.arn, errorsAlarm.arn, expiryAlarm.arn])
          .apply(([p, a, topicArn, ruleArn, errorsArn, expiryArn]) =>
            policyJson(
              topicPolicy({ partition: p, accountId: a, topicArn, ruleArn, alarmArns: [errorsArn, expiryArn] }),
            ),
          ),
      },
      parent,
    );

    this.functionName = fn.name;
    this.functionArn = fn.arn;
    this.topicArn = topic.arn;
    this.accountSecretArn = accountSecret?.arn;
    this.expiryCheckFunctionName = checkFn.name;
    this.registerOutputs({
      functionName: this.functionName,
      functionArn: this.functionArn,
      topicArn: this.topicArn,
      accountSecretArn: this.accountSecretArn,
      expiryCheckFunctionName: this.expiryCheckFunctionName,
      certificates: this.certificates,
    });
  }
}
