/**
 * The renewal watch: the one scheduled function. It finds the certificate secrets by their spec
 * tag, asks the CA's renewal information for each current certificate and starts renewals with
 * RotateSecret, paced for the fleet. Here: the function (from dist/watch), its schedule, the
 * alarm on certificates at risk (which also fires when the watch stops reporting), and the
 * stack's dashboard. It runs as a FunctionRole declared beforehand (lambda.ts), because the
 * certificate secrets' policies name that role.
 *
 * Also here: the watch role's own (identity) policy, and the deployment's wait for each first
 * certificate behind its ACM ARNs, which runs in the watch's code (its waiter function).
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { acmTargetStatement } from './acm.js';
import { dashboardBody, dashboardUrl } from './dashboard.js';
import {
  UNSCOPABLE_ACTIONS,
  policyDocument,
  rolePolicyJson,
  secretsKeyStatement,
  type PolicyStatement,
} from './iam.js';
import { ARCHITECTURE, RUNTIME, functionCode, rolePolicyOf, type AwsContext, type FunctionRole } from './lambda.js';
import { noticeAlarm, publishNoticesStatement, putEventsStatement } from './notices.js';
import type { Settings } from './settings.js';
import { METRICS } from '../rotation/lib/metrics.js';

// The role's policy.

export interface WatchRolePolicyArgs {
  partition: string;
  region: string;
  /** Log group of the watch (ARN without `:*`). */
  logGroupArn: string;
  /** The rotation function: RotateSecret is refused to a caller that may not invoke it. */
  rotationFunctionArn: string;
  /** The watch itself, when it may go on in a new invocation (WATCH_CONTINUE). */
  watchFunctionArn?: string;
  /** Customer-managed KMS key of the secrets (none = the AWS-managed key, which needs no grant). */
  kmsKeyArn?: string;
  /**
   * The ACM certificates of every certificate: the watch compares their serials with AWSCURRENT
   * (the deployment's waiter, the reconciliation) and re-imports where one lags.
   */
  acmCertificateArns?: readonly string[];
  /** Where a target's refusal is announced (DeliveryFailed), as the rotation announces it. */
  topicArn?: string;
  eventBusArn?: string;
}

/**
 * The renewal watch's own (identity) policy. Its per-secret grants (read, rotate, its own tags)
 * live on the secrets, like the rotation's; no Route 53, no account secret, no version writes.
 * On ACM, the rotation's own two actions on exactly the stack's ACM certificates, and then the
 * topic and bus its DeliveryFailed notices go to.
 */
export function watchRolePolicy(args: WatchRolePolicyArgs) {
  const invokable = [args.rotationFunctionArn, ...(args.watchFunctionArn ? [args.watchFunctionArn] : [])];
  const statements: PolicyStatement[] = [
    {
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: `${args.logGroupArn}:*`,
    },
    {
      // ListSecrets has no resource type: IAM only accepts it on "*". It returns names, ARNs and
      // tags, never a value; the watch filters by the spec's tag key.
      Sid: 'FindCertificateSecrets',
      Effect: 'Allow',
      Action: [...UNSCOPABLE_ACTIONS],
      Resource: '*',
    },
    {
      // RotateSecret needs the caller to be allowed to invoke the secret's rotation function;
      // the watch's own ARN is for going on in a new invocation when a run's time is up.
      Sid: 'StartRotationsAndContinue',
      Effect: 'Allow',
      Action: ['lambda:InvokeFunction'],
      Resource: invokable.length === 1 ? args.rotationFunctionArn : invokable,
    },
  ];
  const acm = acmTargetStatement(args.acmCertificateArns ?? []);
  if (acm) {
    statements.push(acm);
    // Only a watch that re-imports has refusals to announce.
    if (args.topicArn) {
      statements.push(publishNoticesStatement(args.topicArn));
    }
    if (args.eventBusArn) statements.push(putEventsStatement(args.eventBusArn));
  }
  if (args.kmsKeyArn)
    statements.push(
      secretsKeyStatement('ReadSecretsKeyThroughSecretsManager', ['kms:Decrypt'], args.kmsKeyArn, args.region),
    );
  return policyDocument(statements);
}

export function watchRolePolicyJson(args: WatchRolePolicyArgs): string {
  return rolePolicyJson(watchRolePolicy(args), 'the renewal watch policy');
}

export interface WatchPolicyInputs {
  aws: AwsContext;
  /** The watch function's name: it is declared after its role, so its ARN follows from it. */
  watchFunctionName: string;
  rotationFunctionArn: pulumi.Output<string>;
  kmsKeyArn: pulumi.Output<string | undefined>;
  /** Every ACM certificate of the stack: the watch checks their serials and re-imports where one lags. */
  acmArns: pulumi.Output<string[]>;
  /** Where a refusing ACM target is announced; the bus is undefined without one. */
  topicArn: pulumi.Output<string>;
  eventBusArn: pulumi.Output<string> | undefined;
}

export function watchRolePolicyOf(i: WatchPolicyInputs) {
  const inputs = {
    rotationFunctionArn: i.rotationFunctionArn,
    kmsKeyArn: i.kmsKeyArn,
    acmCertificateArns: i.acmArns,
    topicArn: i.topicArn,
    eventBusArn: i.eventBusArn,
  };
  return rolePolicyOf(i.aws, inputs, ({ partition, region, accountId, logGroupArn }, v) =>
    watchRolePolicyJson({
      partition,
      region,
      logGroupArn,
      rotationFunctionArn: v.rotationFunctionArn,
      // The function is declared after its role: its ARN follows from its name.
      watchFunctionArn: `arn:${partition}:lambda:${region}:${accountId}:function:${i.watchFunctionName}`,
      ...(v.kmsKeyArn ? { kmsKeyArn: v.kmsKeyArn } : {}),
      acmCertificateArns: v.acmCertificateArns,
      topicArn: v.topicArn,
      ...(v.eventBusArn ? { eventBusArn: v.eventBusArn } : {}),
    }),
  );
}

// The watch.

export const RENEWAL_WATCH_TYPE = 'acme-rotation:index:RenewalWatch';
/** Namespace of the watch's metrics (WATCH_METRIC_NAMESPACE). */
export const METRIC_NAMESPACE = 'AcmeRotation';
/** The watch may take Lambda's longest run: it paces renewals and carries the rest over. */
export const WATCH_TIMEOUT_SECONDS = 900;
export const WATCH_MEMORY_MB = 256;
/**
 * One run at a time. A continuation (up to 24 × 15 min) overlaps the schedule, and two runs that
 * meet would each admit the full number of rotations, breaking the Route 53 budget behind the
 * bound. Reserved concurrency 1 is Lambda's own lock: a second invocation (the schedule, a
 * continuation, a retry) is throttled and, being asynchronous, queued and retried by Lambda until
 * the running one ends — nothing is lost and nothing needs a lease (Secrets Manager has no
 * conditional write to build one on; a tag written then read back is not atomic). Lambda's retry
 * of a failed asynchronous invocation waits for its slot the same way, and repeats nothing harmful:
 * a run keeps no state of its own (the handler never throws, and its budget ends before the
 * timeout, so retries are rare anyway). It also caps the watch's own cost. The run counts what is
 * in flight from Secrets Manager's state, so a run that follows another sees its rotations.
 */
export const WATCH_RESERVED_CONCURRENCY = 1;

/**
 * The at-risk alarm's period: two of the schedule's longest gaps (rounded up to whole minutes, as
 * CloudWatch wants), so every period holds at least one run even when runs land late. One
 * period is evaluated; no data in it counts as breaching.
 */
export function atRiskAlarmPeriodSeconds(watchGapSeconds: number): number {
  return Math.ceil((2 * watchGapSeconds) / 60) * 60;
}

export interface RenewalWatchArgs {
  settings: Pick<
    Settings,
    | 'namePrefix'
    | 'directoryUrl'
    | 'caRootsPem'
    | 'logLevel'
    | 'watchSchedule'
    | 'watchMaxConcurrentRotations'
    | 'tags'
    | 'eventBus'
  >;
  /** `namespace/stack`: descriptions, and the metrics' Stack dimension. */
  stackLabel: string;
  identity: FunctionRole;
  aws: Pick<AwsContext, 'partition' | 'region'>;
  /** Absolute path of the built watch bundle directory (dist/watch). */
  bundleDir: string;
  /** The rotation function's log group, for the dashboard's rotations widget. */
  rotationLogGroupName: pulumi.Input<string>;
  /** The rotation function: the watch handles only the secrets it rotates (other stacks' are not its own). */
  rotationFunctionArn: pulumi.Input<string>;
  topicArn: pulumi.Output<string>;
  /** The grants the watch needs before its first run (the certificate secrets' policies). */
  readsAfter: pulumi.Resource[];
}

export class RenewalWatch extends pulumi.ComponentResource {
  readonly function: aws.lambda.Function;
  /**
   * The same code and role as a second function, for the deployment's first-certificate waits
   * (awaitFirstCertificate, below). Not the watch itself: its reserved concurrency of 1 would throttle a
   * synchronous wait made while a scheduled run (or a continuation) holds the slot, and the waits
   * of several certificates run at once. A wait starts no renewal (the rotation does), so nothing
   * the one-run-at-a-time rule protects is at stake.
   */
  readonly waiter: aws.lambda.Function;
  readonly acmLagAlarm: aws.cloudwatch.MetricAlarm;
  readonly schedule: aws.cloudwatch.EventRule;
  readonly invokePermission: aws.lambda.Permission;
  readonly scheduleTarget: aws.cloudwatch.EventTarget;
  readonly atRiskAlarm: aws.cloudwatch.MetricAlarm;
  readonly dashboard: aws.cloudwatch.Dashboard;
  readonly dashboardName: pulumi.Output<string>;
  readonly dashboardUrl: pulumi.Output<string>;

  /** Named like AcmeRotation: its resources are <name>-watch…, the alarm <name>-certificates-at-risk. */
  constructor(name: string, args: RenewalWatchArgs, opts?: pulumi.ComponentResourceOptions) {
    super(RENEWAL_WATCH_TYPE, name, {}, opts);
    const s = args.settings;
    const child = { parent: this };
    const { stackLabel, topicArn } = args;
    const tags = s.tags;
    const watchName = args.identity.functionName;
    const { logGroup, role, rolePolicy } = args.identity;

    const environment: Record<string, pulumi.Input<string>> = {
      ACME_DIRECTORY_URL: s.directoryUrl,
      LOG_LEVEL: s.logLevel,
      WATCH_METRIC_NAMESPACE: METRIC_NAMESPACE,
      WATCH_METRIC_STACK: stackLabel,
      // A run that is out of time with renewals left invokes itself to go on (the role allows it).
      WATCH_CONTINUE: 'true',
      WATCH_ROTATION_FUNCTION_ARN: args.rotationFunctionArn,
      // The schedule's longest gap: a renewal moment before the next run is due now (RFC 9773 §4.2).
      WATCH_INTERVAL_SECONDS: String(s.watchSchedule.maxGapSeconds),
      // The bundle is minified; its source maps turn a crash's stack into file:line.
      NODE_OPTIONS: '--enable-source-maps',
    };
    // DeliveryFailed notices of the reconciliation go where the rotation's go.
    environment.NOTIFICATION_TOPIC_ARN = topicArn;
    if (s.eventBus) environment.EVENT_BUS_NAME = s.eventBus;
    if (s.watchMaxConcurrentRotations !== undefined) {
      environment.WATCH_MAX_CONCURRENT_ROTATIONS = String(s.watchMaxConcurrentRotations);
    }
    // The watch talks to the CA too: a private CA's roots travel in its package as well.
    const { code, environment: trust } = functionCode(args.bundleDir, s.caRootsPem);
    Object.assign(environment, trust);

    // The watch and its waiter: one bundle, role, environment and log group.
    const shared = {
      runtime: RUNTIME,
      architectures: [ARCHITECTURE],
      handler: 'index.handler',
      code,
      role: role.arn,
      memorySize: WATCH_MEMORY_MB,
      timeout: WATCH_TIMEOUT_SECONDS,
      environment: { variables: environment },
      // Text, not JSON: the summary's metrics line must reach CloudWatch Logs as written (EMF),
      // and the per-certificate lines stay plain JSON for Logs Insights.
      loggingConfig: { logFormat: 'Text', logGroup: logGroup.name },
      tags,
    };
    const fnOptions = { parent: this, dependsOn: [logGroup, rolePolicy, ...args.readsAfter] };
    this.function = new aws.lambda.Function(
      `${name}-watch`,
      {
        ...shared,
        name: watchName,
        description: `acme-rotation ${stackLabel}: renewal watch (ACME renewal information, paced renewals, metric ${METRIC_NAMESPACE}/CertificatesAtRisk)`,
        reservedConcurrentExecutions: WATCH_RESERVED_CONCURRENCY,
      },
      fnOptions,
    );
    this.waiter = new aws.lambda.Function(
      `${name}-watch-await`,
      {
        ...shared,
        name: `${watchName}-await`,
        description: `acme-rotation ${stackLabel}: waits during a deployment until a first certificate is in AWSCURRENT and every ACM ARN`,
      },
      fnOptions,
    );
    this.schedule = new aws.cloudwatch.EventRule(
      `${name}-watch-schedule`,
      {
        name: `${watchName}-schedule`,
        description: `acme-rotation ${stackLabel}: runs the renewal watch`,
        scheduleExpression: s.watchSchedule.expression,
        tags,
      },
      child,
    );
    this.invokePermission = new aws.lambda.Permission(
      `${name}-watch-invoke`,
      {
        action: 'lambda:InvokeFunction',
        function: this.function.name,
        principal: 'events.amazonaws.com',
        sourceArn: this.schedule.arn,
      },
      child,
    );
    this.scheduleTarget = new aws.cloudwatch.EventTarget(
      `${name}-watch-target`,
      { rule: this.schedule.name, arn: this.function.arn },
      { parent: this, dependsOn: [this.invokePermission] },
    );

    const alarmName = `${name}-certificates-at-risk`;
    // Both alarms: the watch's metric of this stack at 1 or more, on the notice topic, evaluated
    // over two schedule gaps (one run may be late).
    const watchAlarm = (metricName: string, treatMissingData: 'breaching' | 'notBreaching') =>
      noticeAlarm(
        {
          namespace: METRIC_NAMESPACE,
          metricName,
          dimensions: { Stack: stackLabel },
          statistic: 'Maximum',
          period: atRiskAlarmPeriodSeconds(s.watchSchedule.maxGapSeconds),
          datapointsToAlarm: 1,
        },
        treatMissingData,
        topicArn,
        tags,
      );
    this.atRiskAlarm = new aws.cloudwatch.MetricAlarm(
      alarmName,
      {
        name: `${s.namePrefix}-certificates-at-risk`,
        alarmDescription:
          'A certificate expires within a day (less for short-lived certificates), is overdue for renewal, never got ' +
          `its first certificate, or cannot be read. The "at-risk" lines in /aws/lambda/${watchName} name it, and ` +
          'the dashboard lists every certificate. No data = the watch is not running.',
        ...watchAlarm(METRICS.certificatesAtRisk, 'breaching'),
      },
      child,
    );

    // An ARN still behind AWSCURRENT after ACM_LAG_THRESHOLD_MS (6 h: five or six hourly
    // re-deliveries failed) while the certificate it holds keeps ageing; rotation/watch/reconcile.ts says why 6 h.
    this.acmLagAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-acm-targets-lagging`,
      {
        name: `${s.namePrefix}-acm-targets-lagging`,
        alarmDescription:
          'An ACM certificate named in acme:acm-certificate-arns has not held the AWSCURRENT certificate for more than ' +
          `6 hours: every re-delivery failed. The "Certificate Delivery Failed" notices and /aws/lambda/${watchName} ` +
          "name the ARN and AWS's refusal. No data = no certificate is delivered to ACM.",
        ...watchAlarm(METRICS.acmTargetsLagging, 'notBreaching'),
      },
      child,
    );

    const dashboardName = `${s.namePrefix}-certificates`;
    this.dashboard = new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      {
        dashboardName,
        dashboardBody: pulumi
          .all([args.aws.region, logGroup.name, args.rotationLogGroupName])
          .apply(([region, watchLogGroup, rotationLogGroup]) =>
            JSON.stringify(
              dashboardBody({
                region,
                namespace: METRIC_NAMESPACE,
                stackLabel,
                watchLogGroup,
                rotationLogGroup,
                watchGapSeconds: s.watchSchedule.maxGapSeconds,
              }),
            ),
          ),
      },
      child,
    );
    this.dashboardName = this.dashboard.dashboardName;
    this.dashboardUrl = pulumi
      .all([args.aws.partition, args.aws.region, this.dashboard.dashboardName])
      .apply(([partition, region, dashboard]) => dashboardUrl(partition, region, dashboard));

    this.registerOutputs({
      functionName: this.function.name,
      dashboardName: this.dashboardName,
      dashboardUrl: this.dashboardUrl,
    });
  }
}

// The first certificate.

/**
 * The ACM ARNs a stack hands out resolve only once a real certificate is behind them, in the
 * spirit of aws.acm.CertificateValidation: until the first rotation has issued a certificate and
 * delivered it to every ACM certificate of its `acme:acm-certificate-arns`, an ARN holds the
 * self-signed placeholder, which CloudFront refuses outright and a load balancer would serve.
 *
 * The wait is an aws.lambda.Invocation of the renewal watch's code (its waiter function, without
 * the watch's reserved concurrency of 1, so waits run side by side and beside a scheduled run) with the waiter event
 * (rotation/watch/await.ts), made by the AWS provider during `pulumi up`: it returns when the
 * certificate is in AWSCURRENT and under every ARN, and fails the deployment with the rotation's
 * last failure when none comes within the watch function's time. A consumer's program has only
 * the Pulumi peers installed (no AWS SDK for a dynamic provider to call AWS with), and the watch
 * function already holds the grants the wait needs, so an Invocation needs nothing more.
 *
 * It runs when created and again whenever its triggers change: a region or an ARN added later
 * makes it run once more, and the waiter re-imports the current certificate into the new ARN at
 * once (the watch's reconciliation) instead of leaving it on the placeholder until the next
 * renewal.
 */
/**
 * How long the deployment waits for a first certificate: the watch function's whole timeout but
 * a minute, which the waiter keeps to report. A first issuance with Let's Encrypt takes one to a
 * few minutes, most of it DNS propagation.
 */
export const FIRST_CERTIFICATE_TIMEOUT_SECONDS = WATCH_TIMEOUT_SECONDS - 60;

export interface FirstCertificateArgs {
  /** The function that runs the waiter (RenewalWatch.waiter: the watch's code and role). */
  watchFunctionName: pulumi.Input<string>;
  secretArn: pulumi.Output<string>;
  /** The ACM certificates the secret's tags name (sorted ARNs), and the same by region. */
  acmArns: pulumi.Output<string[]>;
  acmArnsByRegion: pulumi.Output<Record<string, string>>;
  /** What must exist before the wait can succeed: the rotation started, the watch's grants. */
  waitAfter: pulumi.Resource[];
}

export interface FirstCertificate {
  invocation: aws.lambda.Invocation;
  /** Region → ARN, known only once the invocation returned: what listeners and distributions take. */
  acmArnsByRegion: pulumi.Output<Record<string, string>>;
}

/**
 * The waiter's event for these secrets. Its key is AWAIT_EVENT_KEY of rotation/watch/await.ts,
 * written out here: that module loads the AWS SDK, which a consumer's install does not have (the
 * infra tests parse this event with the waiter's own parser).
 */
export function awaitEvent(secretIds: string[], timeoutSeconds = FIRST_CERTIFICATE_TIMEOUT_SECONDS): string {
  return JSON.stringify({ acmeRotationAwait: { secretIds, timeoutSeconds } });
}

/** Named like the certificate's secret: the invocation is <name>-first-certificate. */
export function awaitFirstCertificate(
  name: string,
  args: FirstCertificateArgs,
  opts: { parent: pulumi.Resource },
): FirstCertificate {
  const invocation = new aws.lambda.Invocation(
    `${name}-first-certificate`,
    {
      functionName: args.watchFunctionName,
      input: args.secretArn.apply((arn) => awaitEvent([arn])),
      // A new secret or another set of ARNs waits (and delivers) again; nothing else does.
      triggers: {
        secretArn: args.secretArn,
        acmCertificateArns: args.acmArns.apply((arns) => arns.join(',')),
      },
    },
    { parent: opts.parent, dependsOn: args.waitAfter },
  );
  return {
    invocation,
    acmArnsByRegion: pulumi.all([invocation.result, args.acmArnsByRegion]).apply(([, byRegion]) => byRegion),
  };
}
