/**
 * End-to-end: deployment to ACM. The built rotation bundle re-imports every verified certificate
 * into the ACM certificates named in `acme:acm-certificate-arns` (two regions), through the local
 * endpoint's ACM (its real refusals and re-import rules): first issuance and a forced renewal
 * land under the same ARNs. AWSCURRENT is the truth: a refusing ARN (access denied, deleted, the
 * KU/EKU rule) gets its own DeliveryFailed notice and event while the renewal and the other ARNs
 * go on, the watch's reconciliation converges it once fixed, and a crash mid-delivery converges on
 * the retry.
 */
import { ACMClient, GetCertificateCommand, ImportCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AcmAdapter } from '../../rotation/aws/acm.js';
import type { DeliveryFailedEvent } from '../../rotation/aws/notify.js';
import { normaliseSerial } from '../../rotation/certificate/bundle.js';
import { Deadline } from '../../rotation/lib/deadline.js';
import { createLogger } from '../../rotation/lib/log.js';
import { currentVersionReader, reconcileAcmTargets } from '../../rotation/watch/reconcile.js';
import { acmArnTags } from '../../rotation/certificate/spec.js';
import { retryRotation, rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { issueCertificate, keyPem, makeTestPki, pooledKey } from '../helpers/certs.js';
import {
  expectNoKeyMaterial,
  noticesFor,
  parseStoredBundle,
  ROUTE53_CHANGE_DELAY_MS,
  TOPIC_NAME,
  BUS_NAME,
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
    stack.aws.events.createEventBus(BUS_NAME);
    const account = await stack.createEmptySecret(uniqueSecretName('acm-account'));
    lambda = stack.newLambda({
      ACME_ACCOUNT_SECRET_ID: account.arn,
      NOTIFICATION_TOPIC_ARN: topicArn,
      EVENT_BUS_NAME: BUS_NAME,
    });
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

  /** The DeliveryFailed notices (SNS) and events (EventBridge) of a certificate secret. */
  function deliveryFailures(secretName: string) {
    const { sns, events } = noticesFor(stack, secretName);
    return {
      sns: sns.filter((n) => n.message.status === 'delivery_failed').map((n) => n.message as Record<string, unknown>),
      events: events.filter((e) => e.detail.status === 'delivery_failed'),
    };
  }

  /** The renewal watch's reconciliation, against the endpoint, with the rotation's own ACM adapter. */
  async function reconcile(secretArn: string) {
    const d = await stack.sm.send(new DescribeSecretCommand({ SecretId: secretArn }));
    const published: DeliveryFailedEvent[] = [];
    const summary = await reconcileAcmTargets([{ arn: d.ARN as string, name: d.Name as string, tags: d.Tags ?? [] }], {
      readCurrent: currentVersionReader(stack.sm),
      acm: new AcmAdapter((region) => acm(region)),
      publish: (e) => {
        published.push(e);
        return Promise.resolve();
      },
      metrics: () => undefined,
      logger: createLogger({}, { sink: () => undefined }),
      now: () => new Date(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      deadline: new Deadline(120_000, 0),
    });
    return { summary, published };
  }

  it("one ARN refusing (access denied) leaves AWSCURRENT and the other ARN on the new certificate; the watch's reconciliation converges once fixed", async () => {
    const arns = await Promise.all(REGIONS.map((r) => placeholder(r)));
    const cert = await certificate('acm-fail', arns);
    expect((await rotate({ client: stack.sm, lambda, secretId: cert.arn })).lastError).toBeUndefined();
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
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    remove();
    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    const current = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).bundle;
    expect(stack.aws.secrets.stagesOf(cert.arn)[run.token]).toEqual(['AWSCURRENT']);
    expect(normaliseSerial((await held(arns[0] as string)).serial)).toBe(current.serial);
    expect(normaliseSerial((await held(arns[1] as string)).serial)).not.toBe(current.serial);

    const failures = deliveryFailures(cert.name);
    expect(failures.sns).toEqual([
      expect.objectContaining({
        status: 'delivery_failed',
        acm_certificate_arn: arns[1],
        secret_arn: cert.arn,
        serial: current.serial,
        error_code: 'AcmImportFailed',
        aws_error_code: 'AccessDeniedException',
        error: expect.stringContaining('not authorized to perform acm:ImportCertificate'),
        remedy: expect.stringContaining('acm:ImportCertificate'),
        found: 'delivery',
      }),
    ]);
    expect(failures.events.map((e) => [e.detailType, e.detail.acm_certificate_arn])).toEqual([
      ['Certificate Delivery Failed', arns[1]],
    ]);
    expect(noticesFor(stack, cert.name).sns.at(-1)?.message).toMatchObject({
      status: 'success',
      acm_certificate_arns: [arns[0]],
      acm_delivery_failed_arns: [arns[1]],
    });
    expectNoKeyMaterial(stack, [lambda]);

    // The watch's next run, once the permission is fixed: the ARN converges, the other is left alone.
    const imports0 = stack.aws.acm.certificate(arns[0] as string)?.importCount;
    const { summary, published } = await reconcile(cert.arn);
    expect(summary).toMatchObject({ checked: 2, delivered: 1, failed: 0, lagging: 0 });
    expect(published).toEqual([]);
    for (const arn of arns) expect(normaliseSerial((await held(arn)).serial)).toBe(current.serial);
    expect(stack.aws.acm.certificate(arns[0] as string)?.importCount).toBe(imports0);
  });

  it('a deleted ARN and one the KU/EKU rule forbids are reported (AWS’s message, the rule named) while the renewal and the good ARN go on', async () => {
    const [good] = await Promise.all([placeholder('us-east-1')]);
    const deleted = (good as string).replace(/certificate\/.*/, 'certificate/00000000-1111-2222-3333-444444444444');
    // A placeholder with KU digitalSignature and no EKU: ACM cannot add EKU serverAuth by re-import.
    const key = pooledKey('ecdsa-p256', 5);
    const noEkuCert = issueCertificate({
      subjectCn: 'placeholder.invalid',
      key,
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 86_400_000),
      dnsNames: ['placeholder.invalid'],
      keyUsage: 0x80,
    });
    const noEku = (
      await acm('eu-west-1').send(
        new ImportCertificateCommand({ Certificate: Buffer.from(noEkuCert.pem), PrivateKey: Buffer.from(keyPem(key)) }),
      )
    ).CertificateArn as string;
    const cert = await certificate('acm-refuse', [good as string, deleted, noEku]);
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    const current = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).bundle;
    expect(normaliseSerial((await held(good as string)).serial)).toBe(current.serial);
    expect(stack.aws.acm.certificate(noEku)?.importCount).toBe(1); // no import was tried

    const { sns, events } = deliveryFailures(cert.name);
    const of = (arn: string, found: string) => sns.filter((n) => n.acm_certificate_arn === arn && n.found === found);
    // The deleted ARN: found before ordering, and again at delivery, with AWS's own message.
    expect(of(deleted, 'before-ordering')).toEqual([
      expect.objectContaining({ error_code: 'AcmTargetUnusable', aws_error_code: 'ResourceNotFoundException' }),
    ]);
    expect(of(deleted, 'delivery')[0]?.error).toContain(`Could not find certificate ${deleted}.`);
    // The KU/EKU rule: named at delivery (the issued certificate is needed to know), with the remedy.
    expect(of(noEku, 'delivery')).toEqual([
      expect.objectContaining({
        error_code: 'AcmKeyUsageConflict',
        // Pebble's certificates carry serverAuth and clientAuth.
        error: expect.stringMatching(
          /has no ExtendedKeyUsage extension and the new one has \(TLS_WEB_SERVER_AUTHENTICATION[,)]/,
        ),
        remedy: expect.stringContaining('import the new certificate as a new ACM certificate'),
      }),
    ]);
    expect(events.filter((e) => e.detailType === 'Certificate Delivery Failed')).toHaveLength(sns.length);
    expectNoKeyMaterial(stack, [lambda]);
  });

  it('a crash during delivery converges on the retry: every ARN holds AWSCURRENT, each imported once', async () => {
    const arns = await Promise.all(REGIONS.map((r) => placeholder(r)));
    const cert = await certificate('acm-crash', arns);
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const remove = stack.aws.addFault({
      service: 'acm',
      operation: 'ImportCertificate',
      match: (input) => (input as { CertificateArn?: string }).CertificateArn === arns[1],
      times: 1,
      action: { type: 'applyThenHang' },
      onHit: () => lambda.kill(),
    });
    const crashed = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    remove();
    expect(crashed.succeeded).toBe(false);
    expect(crashed.lastError?.step).toBe('finishSecret');
    // Promoted before the crash: AWSCURRENT is the truth already.
    const stages = stack.aws.secrets.stagesOf(cert.arn)[crashed.token] ?? [];
    expect(stages).toContain('AWSCURRENT');

    const retry = await retryRotation({ client: stack.sm, lambda, secretId: cert.arn, token: crashed.token });
    expect(retry.lastError).toBeUndefined();
    expect(stack.aws.secrets.stagesOf(cert.arn)[crashed.token]).toEqual(['AWSCURRENT']);
    const current = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).bundle;
    for (const arn of arns) {
      expect(normaliseSerial((await held(arn)).serial)).toBe(current.serial);
      expect(stack.aws.acm.certificate(arn)?.importCount).toBe(2); // the placeholder, then this one once
    }
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });

  it('a key type the ARNs cannot take is reported before ordering; the renewal goes on', async () => {
    const arns = await Promise.all(REGIONS.map((r) => placeholder(r, 'ecdsa-p256')));
    const cert = await certificate('acm-key', arns, 'ecdsa-p384');
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    const current = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).bundle;
    expect(current.key_type).toBe('ecdsa-p384');
    const before = deliveryFailures(cert.name).sns.filter((n) => n.found === 'before-ordering');
    expect(before.map((n) => n.acm_certificate_arn).sort()).toEqual([...arns].sort());
    for (const n of before) {
      expect(n.error).toContain('its key algorithm is EC_prime256v1');
      expect(n.error).toMatch(/^found before ordering: /);
    }
    for (const arn of arns) expect(stack.aws.acm.certificate(arn)?.importCount).toBe(1);
  });
});
