/**
 * The scheduled expiry check: a small function that reads every certificate secret's status
 * tags and reports the certificates at risk as a metric, run every 6 hours, and the alarm on
 * that metric (which also fires when the check stops reporting). It runs as a FunctionRole
 * declared beforehand, because the certificate secrets' policies name that role.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { CertificateSettings } from '../config.js';
import type { CheckConfig } from '../expiry-check/check.js';
import { ARCHITECTURE, RUNTIME, childOptions, type Relocated } from './common.js';
import type { FunctionRole } from './function-role.js';

export const EXPIRY_CHECK_TYPE = 'acme-rotation:index:ExpiryCheck';
/** Namespace of the expiry check's metrics. */
export const METRIC_NAMESPACE = 'AcmeRotation';
/** How often the expiry check runs, and the alarm period that matches it. */
export const EXPIRY_CHECK_SCHEDULE = 'rate(6 hours)';
export const EXPIRY_CHECK_PERIOD_SECONDS = 6 * 3600;

export interface ExpiryCheckArgs extends Relocated {
  namePrefix: string;
  /** `namespace/stack`: descriptions, and the metric's Stack dimension. */
  stackLabel: string;
  identity: FunctionRole;
  /** The bundled check (index.mjs). */
  code: string;
  certificates: CertificateSettings[];
  topicArn: pulumi.Output<string>;
  /** The grants the check needs before its first run (the certificate secrets' policies). */
  readsAfter: pulumi.Resource[];
  tags: Record<string, string>;
}

export class ExpiryCheck extends pulumi.ComponentResource {
  readonly function: aws.lambda.Function;
  readonly schedule: aws.cloudwatch.EventRule;
  readonly invokePermission: aws.lambda.Permission;
  readonly scheduleTarget: aws.cloudwatch.EventTarget;
  readonly atRiskAlarm: aws.cloudwatch.MetricAlarm;

  /** Named like AcmeRotation: its resources keep the names they had there. */
  constructor(name: string, args: ExpiryCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    super(EXPIRY_CHECK_TYPE, name, {}, opts);
    const child = childOptions(this, args.formerParent);
    const { stackLabel, tags, topicArn } = args;
    const checkName = `${args.namePrefix}-expiry-check`;
    const { logGroup, role, rolePolicy } = args.identity;

    const checkConfig: CheckConfig = {
      namespace: METRIC_NAMESPACE,
      dimensions: { Stack: stackLabel },
      certificates: args.certificates.map((c) => ({
        secretName: c.secretName,
        maxAgeHours: c.schedule.maxAgeHours,
        minHoursLeft: c.schedule.minHoursLeft,
      })),
    };
    this.function = new aws.lambda.Function(
      `${name}-expiry-check`,
      {
        name: checkName,
        description: `acme-rotation ${stackLabel}: reports certificates at risk of expiring (metric ${METRIC_NAMESPACE}/CertificatesAtRisk)`,
        runtime: RUNTIME,
        architectures: [ARCHITECTURE],
        handler: 'index.handler',
        code: new pulumi.asset.AssetArchive({
          'index.mjs': new pulumi.asset.StringAsset(args.code),
          'certificates.json': new pulumi.asset.StringAsset(JSON.stringify(checkConfig)),
        }),
        role: role.arn,
        memorySize: 128,
        timeout: 300,
        // Text, not JSON: the metrics line must reach CloudWatch Logs as written (EMF).
        loggingConfig: { logFormat: 'Text', logGroup: logGroup.name },
        tags,
      },
      childOptions(this, args.formerParent, { dependsOn: [logGroup, rolePolicy, ...args.readsAfter] }),
    );
    this.schedule = new aws.cloudwatch.EventRule(
      `${name}-expiry-check-schedule`,
      {
        name: `${checkName}-schedule`,
        description: `acme-rotation ${stackLabel}: runs the certificate expiry check`,
        scheduleExpression: EXPIRY_CHECK_SCHEDULE,
        tags,
      },
      child,
    );
    this.invokePermission = new aws.lambda.Permission(
      `${name}-expiry-check-invoke`,
      {
        action: 'lambda:InvokeFunction',
        function: this.function.name,
        principal: 'events.amazonaws.com',
        sourceArn: this.schedule.arn,
      },
      child,
    );
    this.scheduleTarget = new aws.cloudwatch.EventTarget(
      `${name}-expiry-check-target`,
      { rule: this.schedule.name, arn: this.function.arn },
      child,
    );

    this.atRiskAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-certificates-at-risk`,
      {
        name: `${args.namePrefix}-certificates-at-risk`,
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
        alarmActions: [topicArn],
        okActions: [topicArn],
        insufficientDataActions: [topicArn],
        tags,
      },
      child,
    );

    this.registerOutputs({ functionName: this.function.name });
  }
}
