/**
 * End-to-end: the deployment's wait for the first certificate, as `pulumi up` runs it — the built
 * watch bundle (dist/watch) invoked with the waiter event while the built rotation bundle issues
 * the first certificate from Pebble and delivers it to an ACM certificate holding a placeholder.
 * The wait returns only once AWSCURRENT and the ARN hold the new certificate; with a rotation that
 * fails it fails, naming the secret, the pending rotation and the failure the rotation recorded on
 * the secret.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { acmArnTags } from '../../rotation/certificate/spec.js';
import { rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { makeTestPki } from '../helpers/certs.js';
import { parseStoredBundle, ROUTE53_CHANGE_DELAY_MS, uniqueSecretName, uniqueZoneName } from './helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const WATCH_BUNDLE = fileURLToPath(new URL('../../dist/watch/index.mjs', import.meta.url));
const REGION = 'us-east-1';

describe('the first pulumi up waits for the first certificate behind the ACM ARN', () => {
  let stack: LocalStack;
  let rotation: LocalLambda;
  let watch: LocalLambda;

  beforeAll(async () => {
    if (!existsSync(WATCH_BUNDLE)) throw new Error(`${WATCH_BUNDLE} is missing: run \`npm run build\` first`);
    stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS });
    const account = await stack.createEmptySecret(uniqueSecretName('first-account'));
    rotation = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: account.arn });
    watch = stack.newLambda({}, { bundlePath: WATCH_BUNDLE, functionName: 'acme-rotation-watch', timeoutMs: 120_000 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A new ACM certificate holding a placeholder (KU digitalSignature, EKU serverAuth, as the stack's). */
  function placeholderArn(names: string[]): string {
    const leaf = makeTestPki({ names, intermediates: 0 }).leaf;
    const out = stack.aws.acm.handle(
      'ImportCertificate',
      {
        Certificate: Buffer.from(leaf.certPem).toString('base64'),
        PrivateKey: Buffer.from(leaf.keyPem).toString('base64'),
      },
      REGION,
    ) as { CertificateArn: string };
    return out.CertificateArn;
  }

  async function certificate(prefix: string, withZone: boolean) {
    const zoneName = uniqueZoneName(prefix);
    if (withZone) stack.aws.route53.createZone(zoneName);
    const domains = [zoneName, `*.${zoneName}`];
    const arn = placeholderArn(domains);
    const secret = await stack.createCertificateSecret(
      uniqueSecretName(prefix),
      { domains },
      { placeholder: '{}', extraTags: acmArnTags([arn]) },
    );
    return { ...secret, acmArn: arn, zoneName };
  }

  /** `pulumi up`: rotation configured and started, then the wait; both run at once. */
  async function deploy(secretArn: string, timeoutSeconds: number) {
    const rotating = rotate({ client: stack.sm, lambda: rotation, secretId: secretArn });
    // The Invocation depends on the SecretRotation resource: rotation is enabled before it runs.
    while (!stack.aws.secrets.get(secretArn)?.rotationEnabled) await new Promise((r) => setTimeout(r, 5));
    const waited = watch.invoke({ acmeRotationAwait: { secretIds: [secretArn], timeoutSeconds } });
    let rotatedAt = 0;
    const run = await rotating.then((r) => {
      rotatedAt = Date.now();
      return r;
    });
    const result = await waited;
    return { run, result, rotatedAt, waitedAt: Date.now() };
  }

  it('returns once the issued certificate is in AWSCURRENT and under the ARN, never before', async () => {
    const cert = await certificate('first', true);
    const { run, result, rotatedAt, waitedAt } = await deploy(cert.arn, 100);
    expect(run.succeeded, JSON.stringify(run.lastError)).toBe(true);
    if (!result.ok) throw new Error(`the wait failed: ${result.error.message}`);
    expect(waitedAt).toBeGreaterThanOrEqual(rotatedAt);

    const { bundle, cert: leaf } = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT'));
    const held = stack.aws.acm.certificate(cert.acmArn);
    expect(held?.certificatePem.trim()).toBe(bundle.certificate.trim());
    expect(
      held?.serial
        .replace(/:/g, '')
        .toUpperCase()
        .replace(/^(00)+(?=.)/, ''),
    ).toBe(leaf.serialNumber.toUpperCase().replace(/^(00)+(?=.)/, ''));
    expect(result.result).toMatchObject({
      awaited: [{ secretArn: cert.arn, serial: bundle.serial, acmCertificateArns: [cert.acmArn] }],
    });
  });

  it('fails with the secret, its pending rotation and the failure it recorded when the rotation cannot issue', async () => {
    // No hosted zone for the names: every createSecret fails, as a misconfigured zone would.
    const cert = await certificate('nozone', false);
    const { run, result } = await deploy(cert.arn, 5);
    expect(run.succeeded).toBe(false);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.name).toBe('AwaitFailedError');
    expect(result.error.message).toContain(`secret ${JSON.stringify(cert.name)}: no certificate in AWSCURRENT yet`);
    expect(result.error.message).toMatch(/a rotation is in progress or failed \(AWSPENDING is version [0-9a-f-]{36}\)/);
    // The rotation recorded why on the secret, and the waiter quotes it: what `pulumi up` shows.
    expect(run.lastError?.message).toContain(`secret ${JSON.stringify(cert.name)} createSecret: `);
    const recorded = stack.aws.secrets.tagsOf(cert.arn)['acme-rotation:inflight-failure'];
    expect(recorded).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z createSecret: \S/);
    expect(recorded).toContain(`_acme-challenge.${cert.zoneName}`);
    expect(result.error.message).toContain(`the rotation's last failure: ${recorded}`);
    expect(stack.aws.acm.certificate(cert.acmArn)?.importCount).toBe(1);
  });
});
