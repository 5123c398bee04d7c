/**
 * EventBridge pieces (pure; no Pulumi): the rule that turns Secrets Manager's own rotation
 * failure events into notices. These events are "AWS Service Event via CloudTrail" events from
 * source aws.secretsmanager (CloudTrail's non-API events RotationFailed, RotationAbandoned and
 * TestRotationFailed), delivered to the account's default bus on a best-effort basis. They cover
 * failures where the function never ran or could not report (no permission to invoke it,
 * throttling, a crash before its own failure notice); the function's notices cover the rest.
 */

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
