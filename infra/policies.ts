/**
 * IAM policy documents (pure; no Pulumi). Every statement names the exact resources it needs;
 * the tests assert there is no `*` action, no secret wildcard and no `route53:*`.
 *
 * Secrets Manager access is granted by a resource policy ON EACH SECRET (that secret's exact ARN,
 * the rotation role as principal), not by the role's own policy. An inline role policy holds at
 * most 10,240 characters, i.e. about 90 secret ARNs; per-secret resource policies scale to any
 * number of certificates and keep each grant next to the secret it opens.
 */
import { INFLIGHT_TAG } from '../rotation/inflight.js';
import { RENEWAL_TAG_KEYS, RENEWAL_TAG_PREFIX } from '../rotation/watch/tags.js';

export type ConditionBlock = Record<string, Record<string, string | string[]>>;

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Principal?: { AWS: string | string[] } | { Service: string | string[] };
  Action: string[];
  /** Absent only in trust policies, which must not have one. */
  Resource?: string | string[];
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** AWS's limit for all inline policies of one role together. */
export const INLINE_ROLE_POLICY_LIMIT = 10_240;
/** Secrets Manager's limit for a secret's resource policy. */
export const SECRET_POLICY_LIMIT = 20_480;

/** The status tags the rotation writes after each promotion (README: "Tags the Lambda writes"). */
export const STATUS_TAG_KEYS = ['ExpirationDate', 'IssuedAt', 'Domains'] as const;
/** Prefix of the in-flight tags the rotation writes while TXT records are in DNS. */
export const INFLIGHT_TAG_PREFIX = INFLIGHT_TAG;
/** The renewal watch's status tags (rotation/watch/tags.ts): all start with this prefix. */
export { RENEWAL_TAG_KEYS, RENEWAL_TAG_PREFIX };

/** The Secrets Manager actions the rotation needs on a certificate secret. */
export const CERTIFICATE_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
];
export const CERTIFICATE_TAG_ACTIONS = ['secretsmanager:TagResource', 'secretsmanager:UntagResource'];
/** What the renewal watch does with a certificate secret: read it, and start its rotation. */
export const WATCH_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:RotateSecret',
];
/** Actions that cannot be scoped to a resource: IAM accepts them only on `*`. */
export const UNSCOPABLE_ACTIONS = ['secretsmanager:ListSecrets'] as const;
export const ACCOUNT_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
];

export function policyJson(doc: PolicyDocument): string {
  return JSON.stringify(doc);
}

export class PolicyTooLargeError extends Error {
  override name = 'PolicyTooLargeError';
}

function checkedJson(doc: PolicyDocument, limit: number, what: string): string {
  const json = policyJson(doc);
  // AWS counts the policy without whitespace; JSON.stringify writes none.
  if (json.length > limit) {
    throw new PolicyTooLargeError(
      `${what} is ${json.length} characters, more than AWS's ${limit}; ` +
        'split the certificates across stacks or use fewer hosted zones per stack',
    );
  }
  return json;
}

export function lambdaAssumeRolePolicy(): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'LambdaAssumesThisRole',
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
        Action: ['sts:AssumeRole'],
      },
    ],
  };
}

export function hostedZoneArn(partition: string, zoneId: string): string {
  return `arn:${partition}:route53:::hostedzone/${zoneId}`;
}

/**
 * A record name or `*` pattern in the form IAM compares with
 * `route53:ChangeResourceRecordSetsNormalizedRecordNames`: lower case, no trailing dot, and every
 * character other than a-z, 0-9, `-`, `_`, `.` written as a three-digit octal escape (`*` stays
 * a glob here because the patterns are used with StringLike).
 */
export function normalisedRecordNamePattern(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/[^a-z0-9\-_.*]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

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
export function acmTargetStatement(arns: readonly string[]): PolicyStatement | undefined {
  const list = [...new Set(arns)].sort();
  if (list.length === 0) return undefined;
  return { Sid: 'DeliverToAcmCertificates', Effect: 'Allow', Action: [...ACM_TARGET_ACTIONS], Resource: list };
}

/**
 * Challenge writes: only TXT, only CREATE and DELETE, only the given names.
 *
 * Why not UPSERT: the rotation changes a TXT record set as a compare-and-swap — DELETE of the
 * exact current record plus CREATE of the merged one, in one atomic batch. If another rotation
 * changed the record in between, the DELETE no longer matches and Route 53 rejects the whole
 * batch, so the loser re-reads and retries. UPSERT would overwrite the other rotation's values
 * silently; denying it makes that impossible even for a buggy or compromised function.
 *
 * `ForAllValues` checks every change in the batch; the `Null` test makes sure the keys are
 * present (ForAllValues on a missing key would be vacuously true).
 */
function challengeWrite(sid: string, zoneArns: string[], namePatterns: string[]): PolicyStatement {
  return {
    Sid: sid,
    Effect: 'Allow',
    Action: ['route53:ChangeResourceRecordSets'],
    Resource: zoneArns,
    Condition: {
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
        'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
      },
      'ForAllValues:StringLike': {
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': namePatterns,
      },
      Null: {
        'route53:ChangeResourceRecordSetsRecordTypes': 'false',
        'route53:ChangeResourceRecordSetsActions': 'false',
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': 'false',
      },
    },
  };
}

/** The zones a set of Route 53 statements covers (the function's own, or one role's). */
export interface Route53GrantArgs {
  partition: string;
  zoneIds: readonly string[];
  /** Record-name patterns that `_acme-challenge` CNAMEs point to, and the zones holding them. */
  cnameTargets?: { names: readonly string[]; zoneIds: readonly string[] };
}

/**
 * Everything the rotation does in Route 53, on exactly these zones: `_acme-challenge` TXT writes
 * (and delegated names), reads of the zone and its records, and change status. The function's
 * own policy and the policy of each role in another account are written by this one builder.
 */
export function route53Statements(args: Route53GrantArgs): PolicyStatement[] {
  const zones = [...new Set(args.zoneIds)].sort();
  if (zones.length === 0) return [];
  const zoneArns = zones.map((id) => hostedZoneArn(args.partition, id));
  const statements: PolicyStatement[] = [challengeWrite('WriteChallengeTxtRecords', zoneArns, ['_acme-challenge.*'])];
  const cname = args.cnameTargets;
  if (cname && cname.names.length > 0 && cname.zoneIds.length > 0) {
    const targetZones = [...new Set(cname.zoneIds)].sort().map((id) => hostedZoneArn(args.partition, id));
    statements.push(
      challengeWrite('WriteDelegatedChallengeTxtRecords', targetZones, [
        ...new Set(cname.names.map(normalisedRecordNamePattern)),
      ]),
    );
  }
  statements.push(
    {
      // Zone details (name servers for the propagation check) and the record sets to merge with.
      Sid: 'ReadChallengeZones',
      Effect: 'Allow',
      Action: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
      Resource: zoneArns,
    },
    {
      // Change ids are not known in advance; GetChange only reads a change's status.
      Sid: 'WaitForChallengeChanges',
      Effect: 'Allow',
      Action: ['route53:GetChange'],
      Resource: `arn:${args.partition}:route53:::change/*`,
    },
  );
  return statements;
}

/** The partition of an ARN (`arn:<partition>:…`). */
function partitionOf(arn: string): string {
  return arn.split(':')[1] ?? 'aws';
}

/**
 * The policy a role in another account needs there so the function can write challenges in its
 * zones through it: the same Route 53 statements as the function's own, on that role's zones.
 */
export function route53RolePolicy(args: { roleArn: string } & Omit<Route53GrantArgs, 'partition'>): PolicyDocument {
  const statements = route53Statements({ ...args, partition: partitionOf(args.roleArn) });
  if (statements.length === 0) throw new Error(`route53RolePolicy: no hosted zones for ${args.roleArn}`);
  return { Version: '2012-10-17', Statement: statements };
}

/**
 * The trust policy of such a role: only the rotation function's role may assume it, and only
 * with the stack's external id when one is set.
 */
export function route53RoleTrustPolicy(args: { rotationRoleArn: string; externalId?: string }): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AcmeRotationFunctionAssumesThisRole',
        Effect: 'Allow',
        Principal: { AWS: args.rotationRoleArn },
        Action: ['sts:AssumeRole'],
        ...(args.externalId ? { Condition: { StringEquals: { 'sts:ExternalId': args.externalId } } } : {}),
      },
    ],
  };
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
  if (args.eventBusArn) {
    statements.push({
      Sid: 'PutRotationEvents',
      Effect: 'Allow',
      Action: ['events:PutEvents'],
      Resource: args.eventBusArn,
    });
  }
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
}

/**
 * The renewal watch's own (identity) policy. Its per-secret grants (read, rotate, its own tags)
 * live on the secrets, like the rotation's; no Route 53, no account secret, no version writes.
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

/**
 * Resource policy of one certificate secret: the rotation role may read and write its versions
 * and write only the status and in-flight tags (never the `acme:*` spec tags); the renewal watch
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
            'aws:TagKeys': [...STATUS_TAG_KEYS, INFLIGHT_TAG_PREFIX, `${INFLIGHT_TAG_PREFIX}:*`],
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
