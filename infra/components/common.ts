/**
 * What the child components of AcmeRotation share: the Lambda runtime and code, and the stack's
 * AWS context.
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
