/**
 * What a function runs as, declared before the function itself: its log group, its IAM role
 * and the role's inline policy. Separate from the functions because resource policies name the
 * role before the function may exist (the account secret's and each certificate secret's), and
 * the functions then wait for those policies.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { lambdaAssumeRolePolicy, policyJson } from '../policies.js';

export const FUNCTION_ROLE_TYPE = 'acme-rotation:index:FunctionRole';

export interface FunctionRoleArgs {
  /** The function's name; also the role's, and the log group is /aws/lambda/<it>. */
  functionName: string;
  /** The role's description. */
  description: string;
  logRetentionDays: number;
  /** The inline policy, given the function's log group ARN. */
  policy: (logGroupArn: pulumi.Output<string>) => pulumi.Input<string>;
  tags: Record<string, string>;
}

export class FunctionRole extends pulumi.ComponentResource {
  /** The function's name, which its log group and role are named after. */
  readonly functionName: string;
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly role: aws.iam.Role;
  readonly rolePolicy: aws.iam.RolePolicy;

  /** Named like the function: its resources are <name>-logs, <name>-role and <name>-policy. */
  constructor(name: string, args: FunctionRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super(FUNCTION_ROLE_TYPE, name, {}, opts);
    const child = { parent: this };
    const tags = args.tags;
    this.functionName = args.functionName;

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: `/aws/lambda/${args.functionName}`, retentionInDays: args.logRetentionDays, tags },
      child,
    );
    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        name: args.functionName,
        description: args.description,
        assumeRolePolicy: policyJson(lambdaAssumeRolePolicy()),
        tags,
      },
      child,
    );
    this.rolePolicy = new aws.iam.RolePolicy(
      `${name}-policy`,
      { role: this.role.id, policy: args.policy(this.logGroup.arn) },
      child,
    );

    this.registerOutputs({ roleArn: this.role.arn, logGroupName: this.logGroup.name });
  }
}
