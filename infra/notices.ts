/**
 * Notices: where the stack tells its operators what happened. The SNS topic (and its optional
 * e-mail subscription), Secrets Manager's own rotation failure events routed to it, the EventBridge
 * bus the functions may publish their events to, who may publish to the topic (the TopicPolicy,
 * once the alarms exist), the statements that let a function publish, and the shape of the stack's
 * alarms on the topic.
 *
 * Secrets Manager's failure events are "AWS Service Event via CloudTrail" events from source
 * aws.secretsmanager (CloudTrail's non-API events RotationFailed, RotationAbandoned and
 * TestRotationFailed), delivered to the account's default bus on a best-effort basis. They cover
 * failures where the function never ran or could not report (no permission to invoke it,
 * throttling, a crash before its own failure notice); the function's notices cover the rest.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { allow, policyDocument, policyJson, type PolicyDocument, type PolicyStatement } from './iam.js';
import type { AwsContext } from './lambda.js';

// The failure rule's pattern and notice (pure).

export const ROTATION_FAILURE_EVENTS = ['RotationFailed', 'RotationAbandoned', 'TestRotationFailed'] as const;

/**
 * Matches only this stack's certificate secrets, by ARN prefix (the events carry the secret's
 * ARN in additionalEventData.SecretId). A prefix, not a list: an event pattern is limited in size,
 * and a list of 1,000 ARNs would not fit.
 */
export function rotationFailurePattern(secretArnPrefix: string): Record<string, unknown> {
  return {
    source: ['aws.secretsmanager'],
    'detail-type': ['AWS Service Event via CloudTrail'],
    detail: {
      eventSource: ['secretsmanager.amazonaws.com'],
      eventName: [...ROTATION_FAILURE_EVENTS],
      additionalEventData: { SecretId: [{ prefix: secretArnPrefix }] },
    },
  };
}

/** `arn:aws:secretsmanager:eu-west-1:123456789012:secret:certs/` */
export function secretArnPrefix(partition: string, region: string, accountId: string, namePrefix: string): string {
  return `arn:${partition}:secretsmanager:${region}:${accountId}:secret:${namePrefix}`;
}

/**
 * The notice sent to SNS: the same shape as the function's own failure notice where the event
 * has the facts (status, secret, error), so one mail filter handles both.
 */
export const ROTATION_FAILURE_INPUT = {
  inputPaths: {
    event: '$.detail.eventName',
    secret: '$.detail.additionalEventData.SecretId',
    time: '$.time',
    region: '$.region',
  },
  inputTemplate:
    '{"status":"failed","source":"aws.secretsmanager","event":<event>,"secret_arn":<secret>,"time":<time>,"region":<region>,' +
    '"error":"Secrets Manager reported a failed or abandoned rotation; see the rotation function log group"}',
};

// Who may publish: the topic's policy, the functions' statements, the alarms' shape.

/** Topic policy: the account keeps its usual rights; EventBridge and the alarms may publish. */
export function topicPolicy(args: {
  partition: string;
  accountId: string;
  topicArn: string;
  ruleArn: string;
  alarmArns: readonly string[];
}): PolicyDocument {
  const publish = ['sns:Publish'];
  return policyDocument([
    allow(
      'AccountOwnsTopic',
      [
        'sns:GetTopicAttributes',
        'sns:SetTopicAttributes',
        'sns:AddPermission',
        'sns:RemovePermission',
        'sns:DeleteTopic',
        'sns:Subscribe',
        'sns:ListSubscriptionsByTopic',
        'sns:Publish',
      ],
      args.topicArn,
      { principal: { AWS: `arn:${args.partition}:iam::${args.accountId}:root` } },
    ),
    allow('RotationFailureRulePublishes', publish, args.topicArn, {
      principal: { Service: 'events.amazonaws.com' },
      condition: { ArnEquals: { 'aws:SourceArn': args.ruleArn } },
    }),
    allow('AlarmsPublish', publish, args.topicArn, {
      principal: { Service: 'cloudwatch.amazonaws.com' },
      condition: {
        ArnEquals: { 'aws:SourceArn': [...args.alarmArns] },
        StringEquals: { 'aws:SourceAccount': args.accountId },
      },
    }),
  ]);
}

/** The success, failure and DeliveryFailed events, on the configured bus only. */
export function putEventsStatement(eventBusArn: string): PolicyStatement {
  return allow('PutRotationEvents', ['events:PutEvents'], eventBusArn);
}

/** What a function needs to send notices: publishing to the topic. */
export function publishNoticesStatement(topicArn: string): PolicyStatement {
  return allow('PublishNotices', ['sns:Publish'], topicArn);
}

/**
 * An alarm of the stack on the notices topic: it fires when the metric reaches 1 in one period,
 * and the topic hears when it fires and when it clears.
 */
export function noticeAlarm(
  metric: {
    namespace: string;
    metricName: string;
    dimensions: Record<string, pulumi.Input<string>>;
    statistic: string;
    period: number;
    /** The data points that must breach (one period is evaluated: 1 when set). */
    datapointsToAlarm?: number;
  },
  treatMissingData: 'breaching' | 'notBreaching',
  topicArn: pulumi.Input<string>,
  tags: Record<string, string>,
) {
  return {
    ...metric,
    evaluationPeriods: 1,
    threshold: 1,
    comparisonOperator: 'GreaterThanOrEqualToThreshold',
    treatMissingData,
    alarmActions: [topicArn],
    okActions: [topicArn],
    tags,
  };
}

// The resources.

export const NOTICES_TYPE = 'acme-rotation:index:Notices';

export interface NoticesArgs {
  aws: AwsContext;
  namePrefix: string;
  /** `namespace/stack`, for descriptions. */
  stackLabel: string;
  /** The certificate secrets' name prefix: failures of these secrets are routed to the topic. */
  secretNamePrefix: string;
  notificationEmail?: string;
  /** An existing topic to use instead of creating one (its policy is its owner's). */
  topicArn?: pulumi.Input<string>;
  /** A bus name or ARN, as configured (or an Output of either). */
  eventBus?: pulumi.Input<string>;
  tags: Record<string, string>;
}

export class Notices extends pulumi.ComponentResource {
  /** The topic created here; undefined when an existing one is used. */
  readonly topic: aws.sns.Topic | undefined;
  /** The notices topic: the one created here, or the existing one given. */
  readonly topicArn: pulumi.Output<string>;
  readonly emailSubscription: aws.sns.TopicSubscription | undefined;
  /** Secrets Manager's RotationFailed / RotationAbandoned / TestRotationFailed of our secrets. */
  readonly failureRule: aws.cloudwatch.EventRule;
  readonly failureTarget: aws.cloudwatch.EventTarget;
  /** The bus the rotation function publishes its events to; undefined without one. */
  readonly eventBusArn: pulumi.Output<string> | undefined;

  /** Named like AcmeRotation: its resources are <name>-notices (-email) and <name>-rotation-failures (-notice). */
  constructor(name: string, args: NoticesArgs, opts?: pulumi.ComponentResourceOptions) {
    super(NOTICES_TYPE, name, {}, opts);
    const child = { parent: this };
    const { partition, region, accountId } = args.aws;
    const tags = args.tags;

    this.topic =
      args.topicArn === undefined
        ? new aws.sns.Topic(`${name}-notices`, { name: `${args.namePrefix}-notices`, tags }, child)
        : undefined;
    this.topicArn = this.topic ? this.topic.arn : pulumi.output(args.topicArn as pulumi.Input<string>);
    this.emailSubscription = args.notificationEmail
      ? new aws.sns.TopicSubscription(
          `${name}-notices-email`,
          { topic: this.topicArn, protocol: 'email', endpoint: args.notificationEmail },
          child,
        )
      : undefined;

    this.failureRule = new aws.cloudwatch.EventRule(
      `${name}-rotation-failures`,
      {
        name: `${args.namePrefix}-rotation-failures`,
        description: `acme-rotation ${args.stackLabel}: Secrets Manager rotation failures of the certificate secrets`,
        eventPattern: pulumi
          .all([partition, region, accountId])
          .apply(([p, r, a]) =>
            JSON.stringify(rotationFailurePattern(secretArnPrefix(p, r, a, args.secretNamePrefix))),
          ),
        tags,
      },
      child,
    );
    this.failureTarget = new aws.cloudwatch.EventTarget(
      `${name}-rotation-failures-notice`,
      { rule: this.failureRule.name, arn: this.topicArn, inputTransformer: ROTATION_FAILURE_INPUT },
      child,
    );

    const bus = args.eventBus;
    this.eventBusArn =
      bus === undefined
        ? undefined
        : typeof bus === 'string'
          ? bus.startsWith('arn:')
            ? pulumi.output(bus)
            : pulumi.interpolate`arn:${partition}:events:${region}:${accountId}:event-bus/${bus}`
          : pulumi
              .all([bus, partition, region, accountId])
              .apply(([b, p, r, a]) => (b.startsWith('arn:') ? b : `arn:${p}:events:${r}:${a}:event-bus/${b}`));

    this.registerOutputs({ topicArn: this.topicArn, eventBusArn: this.eventBusArn });
  }
}

/**
 * Who may publish to the notices topic: only the failure rule and the given alarms. Undefined with
 * an existing topic: it keeps its owner's policy (a TopicPolicy here would replace it whole).
 *
 * Declared with the caller's options, not inside Notices: it names alarms declared after
 * Notices, and it is AcmeRotation's own resource (its URN names AcmeRotation as its parent).
 */
export function noticesTopicPolicy(
  name: string,
  args: { notices: Notices; aws: AwsContext; alarmArns: pulumi.Output<string>[] },
  opts: pulumi.CustomResourceOptions,
): aws.sns.TopicPolicy | undefined {
  const { notices } = args;
  if (notices.topic === undefined) return undefined;
  const { partition, accountId } = args.aws;
  return new aws.sns.TopicPolicy(
    `${name}-notices-policy`,
    {
      arn: notices.topicArn,
      policy: pulumi
        .all([partition, accountId, notices.topicArn, notices.failureRule.arn, pulumi.all(args.alarmArns)])
        .apply(([p, a, topic, ruleArn, alarmArns]) =>
          policyJson(topicPolicy({ partition: p, accountId: a, topicArn: topic, ruleArn, alarmArns })),
        ),
    },
    opts,
  );
}
