/**
 * Resource policies: each certificate secret, the ACME account secret, the notices topic.
 */
import {
  ACCOUNT_SECRET_ACTIONS,
  CA_FAILED_TAG,
  CERTIFICATE_SECRET_ACTIONS,
  CERTIFICATE_TAG_ACTIONS,
  INFLIGHT_TAG_PREFIX,
  RENEWAL_TAG_PREFIX,
  ROTATION_FAILURE_TAG,
  STATUS_TAG_KEYS,
  WATCH_CLEAR_PENDING_ACTIONS,
  WATCH_SECRET_ACTIONS,
} from './actions.js';
import { checkedJson, SECRET_POLICY_LIMIT, type PolicyDocument } from './document.js';

/**
 * Resource policy of one certificate secret: the rotation role may read and write its versions
 * and write only the status, in-flight, last-failure and failed-CA tags (never the `acme:*` spec tags); the renewal watch
 * may read it, start its rotation and write only its own `acme-rotation:renewal-*` tags.
 */
export function certificateSecretPolicy(args: {
  secretArn: string;
  rotationRoleArn: string;
  watchRoleArn: string;
}): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'RotationReadsAndWritesVersions',
        Effect: 'Allow',
        Principal: { AWS: args.rotationRoleArn },
        Action: CERTIFICATE_SECRET_ACTIONS,
        Resource: args.secretArn,
      },
      {
        Sid: 'RotationWritesStatusTagsOnly',
        Effect: 'Allow',
        Principal: { AWS: args.rotationRoleArn },
        Action: CERTIFICATE_TAG_ACTIONS,
        Resource: args.secretArn,
        Condition: {
          'ForAllValues:StringLike': {
            'aws:TagKeys': [
              ...STATUS_TAG_KEYS,
              INFLIGHT_TAG_PREFIX,
              `${INFLIGHT_TAG_PREFIX}:*`,
              ROTATION_FAILURE_TAG,
              CA_FAILED_TAG,
            ],
          },
          Null: { 'aws:TagKeys': 'false' },
        },
      },
      {
        Sid: 'WatchReadsAndStartsRotation',
        Effect: 'Allow',
        Principal: { AWS: args.watchRoleArn },
        Action: WATCH_SECRET_ACTIONS,
        Resource: args.secretArn,
      },
      {
        // A rotation whose AWSPENDING outlived the function's timeout failed; the watch removes
        // that label so the next renewal can start (rotation/watch/run.ts). The condition keeps
        // it from moving AWSCURRENT or AWSPREVIOUS: were the key not evaluated for this action,
        // the call is refused and the watch reports the secret at risk with the command to run.
        Sid: 'WatchClearsFailedRotation',
        Effect: 'Allow',
        Principal: { AWS: args.watchRoleArn },
        Action: WATCH_CLEAR_PENDING_ACTIONS,
        Resource: args.secretArn,
        Condition: { StringEquals: { 'secretsmanager:VersionStage': 'AWSPENDING' } },
      },
      {
        // The watch sets its state tags and removes the ones that no longer apply (a cleared
        // error, a window the CA withdrew); never the spec, status or in-flight tags.
        Sid: 'WatchWritesRenewalTagsOnly',
        Effect: 'Allow',
        Principal: { AWS: args.watchRoleArn },
        Action: CERTIFICATE_TAG_ACTIONS,
        Resource: args.secretArn,
        Condition: {
          'ForAllValues:StringLike': { 'aws:TagKeys': [`${RENEWAL_TAG_PREFIX}-*`] },
          Null: { 'aws:TagKeys': 'false' },
        },
      },
    ],
  };
}

export function certificateSecretPolicyJson(args: Parameters<typeof certificateSecretPolicy>[0]): string {
  return checkedJson(certificateSecretPolicy(args), SECRET_POLICY_LIMIT, 'a certificate secret policy');
}

/** Resource policy of the ACME account secret: the rotation reads it and stores a new account. */
export function accountSecretPolicy(args: { secretArn: string; rotationRoleArn: string }): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'RotationUsesAcmeAccount',
        Effect: 'Allow',
        Principal: { AWS: args.rotationRoleArn },
        Action: ACCOUNT_SECRET_ACTIONS,
        Resource: args.secretArn,
      },
    ],
  };
}

/** Topic policy: the account keeps its usual rights; EventBridge and the alarms may publish. */
export function topicPolicy(args: {
  partition: string;
  accountId: string;
  topicArn: string;
  ruleArn: string;
  alarmArns: readonly string[];
}): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AccountOwnsTopic',
        Effect: 'Allow',
        Principal: { AWS: `arn:${args.partition}:iam::${args.accountId}:root` },
        Action: [
          'sns:GetTopicAttributes',
          'sns:SetTopicAttributes',
          'sns:AddPermission',
          'sns:RemovePermission',
          'sns:DeleteTopic',
          'sns:Subscribe',
          'sns:ListSubscriptionsByTopic',
          'sns:Publish',
        ],
        Resource: args.topicArn,
      },
      {
        Sid: 'RotationFailureRulePublishes',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['sns:Publish'],
        Resource: args.topicArn,
        Condition: { ArnEquals: { 'aws:SourceArn': args.ruleArn } },
      },
      {
        Sid: 'AlarmsPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['sns:Publish'],
        Resource: args.topicArn,
        Condition: {
          ArnEquals: { 'aws:SourceArn': [...args.alarmArns] },
          StringEquals: { 'aws:SourceAccount': args.accountId },
        },
      },
    ],
  };
}
