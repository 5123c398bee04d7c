/**
 * What the child components of AcmeRotation share: the Lambda runtime, the stack's AWS context,
 * and the options that keep an existing stack's resources when they move into a component.
 */
import type * as pulumi from '@pulumi/pulumi';

export const RUNTIME = 'nodejs22.x';
export const ARCHITECTURE = 'arm64';

/** Partition, region and account of the deployment, looked up once by AcmeRotation. */
export interface AwsContext {
  partition: pulumi.Output<string>;
  region: pulumi.Output<string>;
  accountId: pulumi.Output<string>;
}

/** Every child component's args: where its resources used to live. */
export interface Relocated {
  /**
   * The component that declared these resources before this one existed (AcmeRotation declared
   * them all directly). Its URN goes into an alias on each resource, so a stack deployed before
   * keeps them instead of replacing them; undefined for a component that never moved.
   */
  formerParent?: pulumi.Resource;
}

/** Options of a resource declared by `component`: its parent, and the alias to its old place. */
export function childOptions(
  component: pulumi.ComponentResource,
  formerParent: pulumi.Resource | undefined,
  extra: pulumi.CustomResourceOptions = {},
): pulumi.CustomResourceOptions {
  return { ...extra, parent: component, ...(formerParent ? { aliases: [{ parent: formerParent }] } : {}) };
}
