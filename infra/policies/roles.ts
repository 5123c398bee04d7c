/**
 * The identity policies of the two functions' roles: the rotation (Route 53, ACM, the roles of
 * other accounts' zones, KMS) and the renewal watch (list, rotate, its own tags).
 */
import { UNSCOPABLE_ACTIONS } from './actions.js';
import { checkedJson, INLINE_ROLE_POLICY_LIMIT, type PolicyDocument, type PolicyStatement } from './document.js';
import { route53Statements } from '../hosted-zones.js';

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

/** What the rotation does with an ACM certificate: check it can take the key, then re-import. */
export const ACM_TARGET_ACTIONS = ['acm:DescribeCertificate', 'acm:ImportCertificate'];

/**
 * Deployment to ACM, on exactly the certificates listed: no `acm:*`, no wildcard. Import into an
 * existing ARN needs no other action (no tags are set on re-import); without an ARN it would
 * create certificates, which the policy cannot allow since it names every resource.
 */
/** The success, failure and DeliveryFailed events, on the configured bus only. */
function putEventsStatement(eventBusArn: string) {
  return { Sid: 'PutRotationEvents', Effect: 'Allow' as const, Action: ['events:PutEvents'], Resource: eventBusArn };
}

export function acmTargetStatement(arns: readonly string[]): PolicyStatement | undefined {
  const list = [...new Set(arns)].sort();
  if (list.length === 0) return undefined;
  return { Sid: 'DeliverToAcmCertificates', Effect: 'Allow', Action: [...ACM_TARGET_ACTIONS], Resource: list };
}

/** The rotation function's own (identity) policy. Secrets Manager grants live on the secrets. */
export function rotationRolePolicy(args: RotationRolePolicyArgs): PolicyDocument {
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
  statements.push({
    Sid: 'PublishNotices',
    Effect: 'Allow',
    Action: ['sns:Publish'],
    Resource: args.topicArn,
  });
  const acm = acmTargetStatement(args.acmCertificateArns ?? []);
  if (acm) statements.push(acm);
  if (args.eventBusArn) statements.push(putEventsStatement(args.eventBusArn));
  if (args.kmsKeyArn) {
    statements.push({
      Sid: 'UseSecretsKeyThroughSecretsManager',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: args.kmsKeyArn,
      Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${args.region}.amazonaws.com` } },
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

export function rotationRolePolicyJson(args: RotationRolePolicyArgs): string {
  return checkedJson(rotationRolePolicy(args), INLINE_ROLE_POLICY_LIMIT, 'the rotation function policy');
}

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
export function watchRolePolicy(args: WatchRolePolicyArgs): PolicyDocument {
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
      statements.push({ Sid: 'PublishNotices', Effect: 'Allow', Action: ['sns:Publish'], Resource: args.topicArn });
    }
    if (args.eventBusArn) statements.push(putEventsStatement(args.eventBusArn));
  }
  if (args.kmsKeyArn) {
    statements.push({
      Sid: 'ReadSecretsKeyThroughSecretsManager',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: args.kmsKeyArn,
      Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${args.region}.amazonaws.com` } },
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

export function watchRolePolicyJson(args: WatchRolePolicyArgs): string {
  return checkedJson(watchRolePolicy(args), INLINE_ROLE_POLICY_LIMIT, 'the renewal watch policy');
}
