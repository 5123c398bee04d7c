/**
 * What the child components of AcmeRotation share: the Lambda runtime, the stack's AWS context,
 * and the options that keep an existing stack's resources when they move into a component.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

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

/** Every child component's args: the other parent its resources may have in a stack's state. */
export interface Relocated {
  /**
   * The AcmeRotation component, which a stack's state may name as these resources' direct parent.
   * Its URN goes into an alias on each resource, so Pulumi takes such a resource for this one
   * and keeps it rather than replacing it; undefined for a component with no other parent.
   */
  formerParent?: pulumi.Resource;
}

/** Options of a resource declared by `component`: its parent, and the alias to `formerParent`. */
export function childOptions(
  component: pulumi.ComponentResource,
  formerParent: pulumi.Resource | undefined,
  extra: pulumi.CustomResourceOptions = {},
): pulumi.CustomResourceOptions {
  return { ...extra, parent: component, ...(formerParent ? { aliases: [{ parent: formerParent }] } : {}) };
}
