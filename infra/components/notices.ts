/**
 * Where the stack's notices go: the SNS topic (and its optional e-mail subscription), Secrets
 * Manager's rotation failure events routed to it, and the EventBridge bus the function may
 * publish rotation events to; and who may publish to the topic (the TopicPolicy), once the
 * alarms exist.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { ROTATION_FAILURE_INPUT, rotationFailurePattern, secretArnPrefix } from '../events.js';
import { policyJson, topicPolicy } from '../policies.js';
import type { AwsContext } from './common.js';

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
