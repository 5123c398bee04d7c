/**
 * IAM policy documents as data (pure; no Pulumi): their types, AWS's size limits, their JSON, the
 * trust policy of a Lambda role, and the actions IAM accepts only on `*`. Every statement the
 * features write names the exact resources it needs; the tests assert there is no `*` action, no
 * secret wildcard and no `route53:*`.
 *
 * Secrets Manager access is granted by a resource policy ON EACH SECRET (that secret's exact ARN,
 * the function's role as principal), not by the role's own policy. An inline role policy holds at
 * most 10,240 characters, i.e. about 90 secret ARNs; per-secret resource policies scale to any
 * number of certificates and keep each grant next to the secret it opens.
 */
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

/** A policy document of these statements. */
export function policyDocument(statements: PolicyStatement[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: statements };
}

/** An Allow statement, its fields in the order IAM shows them; a trust policy's has no resource. */
export function allow(
  sid: string,
  action: string[],
  resource: string | string[] | undefined,
  more: { principal?: PolicyStatement['Principal']; condition?: ConditionBlock } = {},
): PolicyStatement {
  return {
    Sid: sid,
    Effect: 'Allow',
    ...(more.principal ? { Principal: more.principal } : {}),
    Action: action,
    ...(resource !== undefined ? { Resource: resource } : {}),
    ...(more.condition ? { Condition: more.condition } : {}),
  };
}

/**
 * Use of the secrets' customer-managed KMS key, only through Secrets Manager in this region (none
 * = the AWS-managed key, which needs no grant).
 */
export function secretsKeyStatement(sid: string, action: string[], kmsKeyArn: string, region: string): PolicyStatement {
  return allow(sid, action, kmsKeyArn, {
    condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
  });
}

export function policyJson(doc: PolicyDocument): string {
  return JSON.stringify(doc);
}

export class PolicyTooLargeError extends Error {
  override name = 'PolicyTooLargeError';
}

export function checkedJson(doc: PolicyDocument, limit: number, what: string): string {
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

/** A role's inline policy as JSON, refused when it exceeds AWS's limit; `what` names it. */
export function rolePolicyJson(doc: PolicyDocument, what: string): string {
  return checkedJson(doc, INLINE_ROLE_POLICY_LIMIT, what);
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

/** The partition of an ARN (`arn:<partition>:…`). */
export function partitionOf(arn: string): string {
  return arn.split(':')[1] ?? 'aws';
}

/** Actions that cannot be scoped to a resource: IAM accepts them only on `*`. */
export const UNSCOPABLE_ACTIONS = ['secretsmanager:ListSecrets'] as const;
