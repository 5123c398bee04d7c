/**
 * What both functions (the rotation and the renewal watch) are made of besides their own
 * settings: the Lambda runtime, the code (a built bundle, with a private CA's roots beside it), the
 * deployment's AWS context, and FunctionRole, what a function runs as.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { lambdaAssumeRolePolicy, policyJson } from './iam.js';

export const RUNTIME = 'nodejs22.x';
export const ARCHITECTURE = 'arm64';

/** Partition, region and account of the deployment, looked up once by AcmeRotation. */
export interface AwsContext {
  partition: pulumi.Output<string>;
  region: pulumi.Output<string>;
  accountId: pulumi.Output<string>;
}

/** The deployment's partition, region and account, looked up with `opts` (the component's). */
export function awsContext(opts: pulumi.InvokeOutputOptions): AwsContext {
  return {
    partition: aws.getPartitionOutput({}, opts).partition,
    region: aws.getRegionOutput({}, opts).region,
    accountId: aws.getCallerIdentityOutput({}, opts).accountId,
  };
}

/** Where a private CA's roots (caRootsPem) sit in a function's package. */
export const CA_ROOTS_FILE = 'ca-roots.pem';

/**
 * A function's code: its built bundle, and a private CA's roots beside it when given, with the
 * variable that makes Node trust them (read at start, for the CA's HTTPS and the chain check).
 */
export function functionCode(
  bundleDir: string,
  caRootsPem: string | undefined,
): { code: pulumi.asset.Archive; environment: Record<string, string> } {
  if (!caRootsPem) return { code: new pulumi.asset.FileArchive(bundleDir), environment: {} };
  return {
    code: new pulumi.asset.AssetArchive({
      '.': new pulumi.asset.FileArchive(bundleDir),
      [CA_ROOTS_FILE]: new pulumi.asset.StringAsset(caRootsPem),
    }),
    environment: { NODE_EXTRA_CA_CERTS: `/var/task/${CA_ROOTS_FILE}` },
  };
}

/** A FunctionRole's inline policy, given its function's log group ARN. */
export type RolePolicy = (logGroupArn: pulumi.Output<string>) => pulumi.Output<string>;

/** What every role policy is written with: the deployment and the function's log group (ARN without `:*`). */
export interface RoleContext {
  partition: string;
  region: string;
  accountId: string;
  logGroupArn: string;
}

/**
 * A FunctionRole's inline policy, written by `build` once the deployment's context and `inputs`
 * (other resources' outputs: zones, ARNs, a key) are known.
 */
export function rolePolicyOf<T extends object>(
  aws: AwsContext,
  inputs: T,
  build: (ctx: RoleContext, values: pulumi.Unwrap<T>) => string,
): RolePolicy {
  return (logGroupArn) =>
    pulumi
      .all([aws.partition, aws.region, aws.accountId, logGroupArn, pulumi.output(inputs)])
      .apply(([partition, region, accountId, arn, values]) =>
        build({ partition, region, accountId, logGroupArn: arn }, values as pulumi.Unwrap<T>),
      );
}

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

/**
 * What a function runs as, declared before the function itself: its log group, its IAM role
 * and the role's inline policy. Separate from the functions because resource policies name the
 * role before the function may exist (the account secret's and each certificate secret's), and
 * the functions then wait for those policies.
 */
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
