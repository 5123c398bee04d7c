/**
 * The Pulumi program (Pulumi.yaml: `main: infra/`, run by Node with `--import tsx`).
 *
 * 1. Read and validate the whole stack configuration — nothing is declared if it is invalid.
 * 2. Make sure the bundles in dist/rotation and dist/watch are built and current.
 * 3. Declare the AcmeRotation component; export what consumers and operators need.
 */
import { fileURLToPath } from 'node:url';

import * as pulumi from '@pulumi/pulumi';

import { ensureBundles } from './bundle.js';
import { AcmeRotation } from './component.js';
import { StackConfigError, loadSettings, type Settings } from './config.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const namespace = pulumi.getProject();
const config = new pulumi.Config();

function readSettings(): Settings {
  const prefix = `${namespace}:`;
  const keys = Object.keys(pulumi.runtime.allConfig())
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  try {
    return loadSettings({
      namespace,
      stack: pulumi.getStack(),
      get: (key) => config.get(key),
      keys,
      awsIgnoreTags: new pulumi.Config('aws').get('ignoreTags'),
    });
  } catch (err) {
    // A RunError is shown without a stack trace: the message says everything.
    if (err instanceof StackConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

const settings = readSettings();

const bundles = ensureBundles(root);
for (const [what, bundle] of Object.entries(bundles)) {
  pulumi.log.info(bundle.built ? `built the ${what} bundle: ${bundle.reason}` : bundle.reason);
}

const acme = new AcmeRotation('acme-rotation', {
  settings,
  rotationBundleDir: bundles.rotation.dir,
  watchBundleDir: bundles.watch.dir,
  ...(settings.eabKid ? { eabHmacKey: config.requireSecret('eabHmacKey') } : {}),
});

/**
 * Per certificate (by its configured name): the secret to read, how it is renewed, and the ACM
 * certificates it is deployed to (region → ARN: `certificates.web.acmArns["us-east-1"]`).
 */
export const certificates = Object.fromEntries(
  Object.entries(acme.certificates).map(([name, c]) => [
    name,
    {
      secretArn: c.secretArn,
      secretName: c.secretName,
      hostedZoneIds: c.hostedZoneIds,
      schedule: c.schedule,
      acmArns: c.acmArns,
    },
  ]),
);
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
