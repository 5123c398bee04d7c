/**
 * The rotation function (one for every certificate): its environment, Secrets Manager's
 * permission to invoke it, the alarm on its errors, and its role's own (identity) policy. It runs
 * as a FunctionRole declared beforehand (lambda.ts): the secrets' policies name that role.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import {
  DEFAULT_ACME_TIMEOUT_SECONDS,
  DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
} from '../rotation/certificate/rules.js';
import { FUNCTION_TIMEOUT_SECONDS } from '../rotation/lib/deadline.js';
import { DEFAULT_METRIC_NAMESPACE as METRIC_NAMESPACE } from '../rotation/lib/metrics.js';
import { acmTargetStatement } from './acm.js';
import { route53Statements, type CertificateZones } from './hosted-zones.js';
import { policyDocument, rolePolicyJson, secretsKeyStatement, type PolicyStatement } from './iam.js';
import { ARCHITECTURE, RUNTIME, functionCode, rolePolicyOf, type AwsContext, type FunctionRole } from './lambda.js';
import { noticeAlarm, publishNoticesStatement, putEventsStatement } from './notices.js';
import type { Settings } from './settings.js';

// The role's policy.

export interface RotationRolePolicyArgs {
  partition: string;
  region: string;
  /** Log group of the function (ARN without `:*`). */
  logGroupArn: string;
  /** Every hosted zone of this account the certificates' challenges are written in. */
  zoneIds: readonly string[];
  /** Record-name patterns that `_acme-challenge` CNAMEs point to, and the zones holding them. */
  cnameTargets?: { names: readonly string[]; zoneIds: readonly string[] };
  /** Roles reaching hosted zones in other accounts (ROUTE53_ROLES): the function may assume exactly these. */
  route53RoleArns?: readonly string[];
  topicArn: string;
  eventBusArn?: string;
  /** Customer-managed KMS key of the secrets (none = the AWS-managed key, which needs no grant). */
  kmsKeyArn?: string;
  /** ACM certificates the rotation re-imports every new certificate into (none = no ACM grant). */
  acmCertificateArns?: readonly string[];
}

/** The rotation function's own (identity) policy. Secrets Manager grants live on the secrets. */
export function rotationRolePolicy(args: RotationRolePolicyArgs) {
  const roles = [...new Set(args.route53RoleArns ?? [])].sort();
  const route53 = route53Statements(args);
  if (route53.length === 0 && roles.length === 0) throw new Error('rotationRolePolicy: no hosted zones');
  const statements: PolicyStatement[] = [
    {
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: `${args.logGroupArn}:*`,
    },
    ...route53,
  ];
  if (roles.length > 0) {
    // Zones of other accounts: every Route 53 call for them is made as their role, so the
    // function holds no Route 53 grant for them here (they are not in this account).
    statements.push({
      Sid: 'AssumeHostedZoneRoles',
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: roles,
    });
  }
  statements.push(publishNoticesStatement(args.topicArn));
  const acm = acmTargetStatement(args.acmCertificateArns ?? []);
  if (acm) statements.push(acm);
  if (args.eventBusArn) statements.push(putEventsStatement(args.eventBusArn));
  if (args.kmsKeyArn)
    statements.push(
      secretsKeyStatement(
        'UseSecretsKeyThroughSecretsManager',
        ['kms:Decrypt', 'kms:GenerateDataKey'],
        args.kmsKeyArn,
        args.region,
      ),
    );
  return policyDocument(statements);
}

export function rotationRolePolicyJson(args: RotationRolePolicyArgs): string {
  return rolePolicyJson(rotationRolePolicy(args), 'the rotation function policy');
}

export interface RotationPolicyInputs {
  aws: AwsContext;
  zones: Pick<CertificateZones, 'own' | 'roles'>;
  topicArn: pulumi.Output<string>;
  /** Undefined without a bus. */
  eventBusArn: pulumi.Output<string> | undefined;
  /** Every ACM certificate the function imports into, de-duplicated and sorted. */
  acmArns: pulumi.Output<string[]>;
  kmsKeyArn: pulumi.Output<string | undefined>;
}

export function rotationRolePolicyOf(i: RotationPolicyInputs) {
  const inputs = {
    own: i.zones.own,
    roles: i.zones.roles,
    topicArn: i.topicArn,
    eventBusArn: i.eventBusArn,
    acmCertificateArns: i.acmArns,
    kmsKeyArn: i.kmsKeyArn,
  };
  return rolePolicyOf(i.aws, inputs, ({ partition, region, logGroupArn }, v) =>
    rotationRolePolicyJson({
      partition,
      region,
      logGroupArn,
      zoneIds: v.own.zoneIds,
      ...(v.own.cnameTargets ? { cnameTargets: v.own.cnameTargets } : {}),
      route53RoleArns: v.roles.map((role) => role.roleArn),
      topicArn: v.topicArn,
      ...(v.eventBusArn ? { eventBusArn: v.eventBusArn } : {}),
      ...(v.kmsKeyArn ? { kmsKeyArn: v.kmsKeyArn } : {}),
      acmCertificateArns: v.acmCertificateArns,
    }),
  );
}

// The function.

export const ROTATION_FUNCTION_TYPE = 'acme-rotation:index:RotationFunction';

export interface RotationFunctionArgs {
  settings: Pick<
    Settings,
    | 'namePrefix'
    | 'cas'
    | 'directoryUrl'
    | 'email'
    | 'eventBus'
    | 'dnsResolvers'
    | 'dnsPropagationTimeoutSeconds'
    | 'acmeTimeoutSeconds'
    | 'preferredChain'
    | 'maxCertificateLifetimeDays'
    | 'caRootsPem'
    | 'logLevel'
    | 'memoryMb'
    | 'route53ExternalId'
    | 'tags'
  >;
  /** `namespace/stack`, for descriptions. */
  stackLabel: string;
  identity: FunctionRole;
  /** Absolute path of the built rotation bundle directory (dist/rotation). */
  bundleDir: string;
  accountId: pulumi.Output<string>;
  topicArn: pulumi.Output<string>;
  /** Persistent accounts only. */
  accountSecretArn?: pulumi.Output<string>;
  /** ROUTE53_ROLES, `ZONE_ID=ROLE_ARN,…` of the zones in other accounts; '' or absent = none. */
  route53Roles?: pulumi.Output<string>;
}

export class RotationFunction extends pulumi.ComponentResource {
  readonly function: aws.lambda.Function;
  readonly invokePermission: aws.lambda.Permission;
  readonly errorsAlarm: aws.cloudwatch.MetricAlarm;

  /** Named like AcmeRotation: its resources are <name>-rotation, <name>-rotation-invoke and <name>-rotation-errors. */
  constructor(name: string, args: RotationFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ROTATION_FUNCTION_TYPE, name, {}, opts);
    const s = args.settings;
    const child = { parent: this };
    const tags = s.tags;

    const environment: Record<string, pulumi.Input<string>> = {
      ACME_DIRECTORY_URL: s.directoryUrl,
      NOTIFICATION_TOPIC_ARN: args.topicArn,
      DNS_PROPAGATION_TIMEOUT_SECONDS: String(
        s.dnsPropagationTimeoutSeconds ?? DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
      ),
      ACME_TIMEOUT_SECONDS: String(s.acmeTimeoutSeconds ?? DEFAULT_ACME_TIMEOUT_SECONDS),
      LOG_LEVEL: s.logLevel,
      // The bundle is minified; its source maps turn a crash's stack into file:line.
      NODE_OPTIONS: '--enable-source-maps',
    };
    if (s.email) environment.ACME_EMAIL = s.email;
    // One CA: the one-CA variables. Several (or a CA's own profile): ACME_CAS, which replaces them;
    // ACME_DIRECTORY_URL stays, the first CA's, for whoever reads only it.
    const cas = s.cas ?? [];
    if (cas.length > 1 || cas.some((ca) => ca.profile)) {
      // Persistent accounts: the first CA's secret by ARN (as ACME_ACCOUNT_SECRET_ID), the others'
      // by their names (AcmeAccount creates them under settings.cas[i].accountSecretName).
      const first = args.accountSecretArn ?? pulumi.output('');
      environment.ACME_CAS = first.apply((firstArn) =>
        JSON.stringify(
          cas.map((ca, i) => {
            const account = !args.accountSecretArn ? undefined : i === 0 ? firstArn : ca.accountSecretName;
            return {
              name: ca.name,
              directoryUrl: ca.directoryUrl,
              ...(account ? { accountSecretId: account } : {}),
              ...(ca.profile ? { profile: ca.profile } : {}),
              ...(ca.preferredChain ? { preferredChain: ca.preferredChain } : {}),
            };
          }),
        ),
      );
    } else {
      if (args.accountSecretArn) environment.ACME_ACCOUNT_SECRET_ID = args.accountSecretArn;
      if (s.preferredChain) environment.ACME_PREFERRED_CHAIN = s.preferredChain;
    }
    // Per-CA metrics (CertificatesIssued, CaFallbacks) in the watch's namespace, under its Stack.
    environment.METRIC_NAMESPACE = METRIC_NAMESPACE;
    environment.METRIC_STACK = args.stackLabel;
    if (s.eventBus) environment.EVENT_BUS_NAME = s.eventBus;
    if (s.dnsResolvers) environment.DNS_RESOLVERS = s.dnsResolvers;
    if (s.maxCertificateLifetimeDays !== undefined) {
      environment.MAX_CERTIFICATE_LIFETIME_DAYS = String(s.maxCertificateLifetimeDays);
    }
    const { code, environment: trust } = functionCode(args.bundleDir, s.caRootsPem);
    Object.assign(environment, trust);
    // Zones in other accounts: the function assumes each one's role for every call about it.
    // (The variable is set only when a zone has a role: resolved at deploy time, hence the apply.)
    const environmentVariables = pulumi
      .all([pulumi.output(environment), args.route53Roles ?? pulumi.output('')])
      .apply(([env, roles]) => ({
        ...env,
        ...(roles ? { ROUTE53_ROLES: roles } : {}),
        ...(roles && s.route53ExternalId ? { ROUTE53_EXTERNAL_ID: s.route53ExternalId } : {}),
      }));

    const { logGroup, role, rolePolicy } = args.identity;
    this.function = new aws.lambda.Function(
      `${name}-rotation`,
      {
        name: args.identity.functionName,
        description: `acme-rotation ${args.stackLabel}: ACME DNS-01 certificate rotation for Secrets Manager`,
        runtime: RUNTIME,
        architectures: [ARCHITECTURE],
        handler: 'index.handler',
        code,
        role: role.arn,
        memorySize: s.memoryMb,
        timeout: FUNCTION_TIMEOUT_SECONDS,
        environment: { variables: environmentVariables },
        loggingConfig: { logFormat: 'JSON', logGroup: logGroup.name },
        tags,
      },
      { parent: this, dependsOn: [logGroup, rolePolicy] },
    );
    this.invokePermission = new aws.lambda.Permission(
      `${name}-rotation-invoke`,
      {
        action: 'lambda:InvokeFunction',
        function: this.function.name,
        principal: 'secretsmanager.amazonaws.com',
        sourceAccount: args.accountId,
      },
      child,
    );
    this.errorsAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-rotation-errors`,
      {
        name: `${s.namePrefix}-rotation-errors`,
        alarmDescription:
          'A certificate rotation step failed. The failure notice names the certificate and the error; ' +
          'Secrets Manager retries the rotation.',
        ...noticeAlarm(
          {
            namespace: 'AWS/Lambda',
            metricName: 'Errors',
            dimensions: { FunctionName: this.function.name },
            statistic: 'Sum',
            period: 300,
          },
          'notBreaching',
          args.topicArn,
          tags,
        ),
      },
      child,
    );

    this.registerOutputs({ functionName: this.function.name, functionArn: this.function.arn });
  }
}
