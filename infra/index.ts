/**
 * This repository's own stack (Pulumi.yaml: `main: infra/`, run by Node with `--import tsx`): a
 * thin program over the AcmeRotation component a consumer's program uses — one code path.
 *
 * 1. Read and validate the whole stack configuration (unknown keys and aws:ignoreTags too) and
 *    turn it into AcmeRotation's args — nothing is declared if it is invalid.
 * 2. Declare the component (it validates the same args again with the same rules, and finds or
 *    builds its Lambda bundles); export what consumers and operators need.
 */
import * as pulumi from '@pulumi/pulumi';

import { AcmeRotation } from './component.js';
import { StackConfigError, loadStackArgs, type ConfigSource } from './validate.js';

const namespace = pulumi.getProject();
const config = new pulumi.Config();

function stackSource(): ConfigSource {
  const prefix = `${namespace}:`;
  const keys = Object.keys(pulumi.runtime.allConfig())
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  return {
    namespace,
    stack: pulumi.getStack(),
    get: (key) => config.get(key),
    keys,
    awsIgnoreTags: new pulumi.Config('aws').get('ignoreTags'),
  };
}

function stackArgs() {
  try {
    return loadStackArgs(stackSource()).args;
  } catch (err) {
    // A RunError is shown without a stack trace: the message says everything.
    if (err instanceof StackConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

const args = stackArgs();
const acme = new AcmeRotation('acme-rotation', {
  ...args,
  // The HMAC key stays a secret Output (it was validated as read above).
  ...(args.eabHmacKey !== undefined ? { eabHmacKey: config.requireSecret('eabHmacKey') } : {}),
});

/**
 * Per certificate (by its configured name): the secret to read, how it is renewed, and the ACM
 * certificates it is deployed to (region → ARN: `certificates.web.acmArns["us-east-1"]`).
 */
export const certificates = acme.certificates;
/**
 * Per role reaching hosted zones in other accounts (by role ARN): its zones, the policy it needs
 * in its own account and its trust policy, for whoever creates it there (docs/DEPLOY.md).
 */
export const route53Roles = acme.route53Roles;
export const functionName = acme.functionName;
export const topicArn = acme.topicArn;
export const accountSecretArn = acme.accountSecretArn;
/** The renewal watch, and the dashboard of the stack's certificates and rotations. */
export const watchFunctionName = acme.watchFunctionName;
export const dashboardName = acme.dashboardName;
export const dashboardUrl = acme.dashboardUrl;
