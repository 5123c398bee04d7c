/**
 * End-to-end: deployment to ACM. The built rotation bundle re-imports every verified certificate
 * into the ACM certificates named in `acme:acm-certificate-arns` (two regions), through the local
 * endpoint's ACM (its real refusals and re-import rules): first issuance and a forced renewal
 * land under the same ARNs; a failed import leaves AWSCURRENT alone and the retry converges; a
 * key-type change is refused before anything is ordered.
 */
import { ACMClient, GetCertificateCommand, ImportCertificateCommand } from '@aws-sdk/client-acm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { normaliseSerial } from '../../rotation/bundle.js';
import { acmArnTags } from '../../rotation/spec.js';
import { retryRotation, rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { makeTestPki } from '../helpers/certs.js';
import {
  changeBatches,
  noticesFor,
  parseStoredBundle,
  ROUTE53_CHANGE_DELAY_MS,
  TOPIC_NAME,
  uniqueSecretName,
  zoneCertificate,
} from './helpers.js';
import { expectInvariants, snapshotSecret } from './invariants.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const REGIONS = ['us-east-1', 'eu-west-1'];

describe('deployment to ACM', () => {
  let stack: LocalStack;
  let lambda: LocalLambda;
  const clients = new Map<string, ACMClient>();

  beforeAll(async () => {
    stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS });
    const topicArn = stack.aws.sns.createTopic(TOPIC_NAME);
    const account = await stack.createEmptySecret(uniqueSecretName('acm-account'));
    lambda = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: account.arn, NOTIFICATION_TOPIC_ARN: topicArn });
  });
  afterAll(async () => {
    for (const c of clients.values()) c.destroy();
    await stack?.stop();
  });

  function acm(region: string): ACMClient {
    let c = clients.get(region);
    if (!c) {
      c = new ACMClient({
        region,
        endpoint: stack.aws.url,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
      });
      clients.set(region, c);
    }
    return c;
  }

  /** An ACM certificate holding a placeholder of the key type, as the stack creates one. */
  async function placeholder(region: string, keyType: 'ecdsa-p256' | 'ecdsa-p384' = 'ecdsa-p256'): Promise<string> {
    const pki = makeTestPki({ names: ['placeholder.invalid'], keyType });
    const out = await acm(region).send(
      new ImportCertificateCommand({
        Certificate: Buffer.from(pki.leaf.certPem),
        PrivateKey: Buffer.from(pki.leaf.keyPem),
        CertificateChain: Buffer.from(pki.chainPem),
      }),
    );
    return out.CertificateArn as string;
  }

  const certificate = (prefix: string, arns: string[], keyType?: string) =>
    zoneCertificate(stack, prefix, keyType ? { keyType } : {}, { extraTags: acmArnTags(arns) });

  /** What each ARN holds, by ACM's own GetCertificate (the wire, not the model's memory). */
  async function held(arn: string) {
    const region = arn.split(':')[3] as string;
    const out = await acm(region).send(new GetCertificateCommand({ CertificateArn: arn }));
    return {
      certificate: out.Certificate ?? '',
      chain: out.CertificateChain ?? '',
      serial: stack.aws.acm.certificate(arn)?.serial ?? '',
    };
  }

  it('first issuance and a forced renewal land in two regions under the same ARNs, with the new serial', async () => {
    const arns = await Promise.all(REGIONS.map((r) => placeholder(r)));
    const cert = await certificate('acm', arns);
    const serials: string[] = [];
    for (let i = 0; i < 2; i++) {
      const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
      expect(run.lastError).toBeUndefined();
      const current = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).bundle;
      serials.push(current.serial);
      for (const arn of arns) {
        const h = await held(arn);
        expect(normaliseSerial(h.serial)).toBe(current.serial);
        expect(h.certificate.trim()).toBe(current.certificate.trim());
        expect(h.chain.trim()).toBe(current.chain.trim());
      }
      const notice = noticesFor(stack, cert.name).sns.at(-1)?.message;
      expect(notice).toMatchObject({ status: 'success', acm_certificate_arns: arns });
    }
    expect(serials[0]).not.toBe(serials[1]);
    // Still the ARNs the stack made: no certificate was created by the rotation.
    expect(REGIONS.map((r) => stack.aws.acm.certificates(r).length)).toEqual([1, 1]);
  });

  it('a failed import leaves AWSCURRENT alone; the retry converges on every ARN', async () => {
    const arns = await Promise.all(REGIONS.map((r) => placeholder(r)));
    const cert = await certificate('acm-fail', arns);
    expect((await rotate({ client: stack.sm, lambda, secretId: cert.arn })).lastError).toBeUndefined();
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const remove = stack.aws.addFault({
      service: 'acm',
      operation: 'ImportCertificate',
      match: (input) => (input as { CertificateArn?: string }).CertificateArn === arns[1],
      // Not a throttling code (the SDK retries those, LimitExceededException included): a refusal.
      action: {
        type: 'error',
        error: { code: 'AccessDeniedException', message: 'not authorized to perform acm:ImportCertificate' },
      },
    });
    const failed = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    remove();
    expect(failed.succeeded).toBe(false);
    expect(failed.lastError?.step).toBe('finishSecret');
    expect(failed.lastError?.message).toContain(`importing the new certificate into ${arns[1]} failed`);
    expect(failed.lastError?.message).toContain('AccessDeniedException');
    expect(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).toBe(before.current);
    expect(noticesFor(stack, cert.name).sns.at(-1)?.message).toMatchObject({
      status: 'failed',
      error_code: 'AcmImportFailed',
    });

    const retry = await retryRotation({ client: stack.sm, lambda, secretId: cert.arn, token: failed.token });
    expect(retry.lastError).toBeUndefined();
    const current = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).bundle;
    for (const arn of arns) expect(normaliseSerial((await held(arn)).serial)).toBe(current.serial);
    // The first ARN got the new certificate once: the retry did not import it again.
    expect(stack.aws.acm.certificate(arns[0] as string)?.importCount).toBe(3);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });

  it('a key type the ARNs cannot take is refused before anything is ordered', async () => {
    const arns = await Promise.all(REGIONS.map((r) => placeholder(r, 'ecdsa-p256')));
    const cert = await certificate('acm-key', arns, 'ecdsa-p384');
    const before = snapshotSecret(stack, cert.arn, cert.domains, 'ecdsa-p384');
    const orders = stack.pebble.logs.filter((l) => l.includes('/order-plz')).length;
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.step).toBe('createSecret');
    expect(run.lastError?.message).toContain('so nothing was ordered');
    for (const arn of arns) expect(run.lastError?.message).toContain(`${arn}: its key algorithm is EC_prime256v1`);
    expect(stack.pebble.logs.filter((l) => l.includes('/order-plz')).length).toBe(orders);
    expect(changeBatches(stack.aws.calls, cert.zoneId)).toEqual([]);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });
  });
});
