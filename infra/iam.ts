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
