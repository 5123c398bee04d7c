/**
 * Deployment to ACM through the handler. Once testSecret passed, AWSCURRENT is the truth:
 * finishSecret promotes first and delivers after; a target that refuses (deleted, ACM's KU/EKU
 * re-import rule, throttled) never fails the rotation nor holds back the other targets, and gets
 * its own DeliveryFailed notice, event and metric. Targets found unusable before ordering are
 * reported and skipped. ACM is the local endpoint's model behind the real adapter and SDK client
 * (FakeAcm).
 */
import { ImportCertificateCommand } from '@aws-sdk/client-acm';
import { describe, expect, it } from 'vitest';
import { normaliseSerial } from '../../rotation/certificate/bundle.js';
import { issueCertificate, keyPem, pooledKey } from '../helpers/certs.js';
import { bundleFor, makeWorld, OLD, SECRET_ARN, SECRET_NAME, TOKEN, type World } from './fakes.js';

const DOMAINS = ['example.com', '*.example.com'];

/** A world whose pending version holds a verified bundle, tagged with ACM certificates in two regions. */
async function world(opts: { keyType?: 'ecdsa-p256' | 'ecdsa-p384'; targetKey?: 'ecdsa-p256' | 'ecdsa-p384' } = {}) {
  const pending = bundleFor(DOMAINS, opts.keyType);
  const w = makeWorld({
    domains: DOMAINS,
    ...(opts.keyType ? { keyType: opts.keyType } : {}),
    versions: {
      [OLD]: { value: JSON.stringify(bundleFor(DOMAINS, opts.keyType)), stages: ['AWSCURRENT'] },
      [TOKEN]: { value: JSON.stringify(pending), stages: ['AWSPENDING'] },
    },
  });
  const arns = [await w.acm.seed('us-east-1', opts.targetKey), await w.acm.seed('eu-west-1', opts.targetKey)];
  tag(w, { 'acme:acm-certificate-arns': arns.join(',') });
  const metrics: string[] = [];
  w.services.metrics = (line) => metrics.push(line);
  return { w, arns, pending, metrics };
}

function tag(w: World, tags: Record<string, string>): void {
  w.sm.service.handle('TagResource', {
    SecretId: SECRET_ARN,
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  });
}

/** Drops the world's pending version and starts a new rotation (RotateSecret); returns its token. */
function newRotation(w: World): string {
  w.sm.service.handle('UpdateSecretVersionStage', {
    SecretId: SECRET_ARN,
    VersionStage: 'AWSPENDING',
    RemoveFromVersionId: TOKEN,
  });
  w.sm.service.handle('RotateSecret', {
    SecretId: SECRET_ARN,
    RotationLambdaARN: 'arn:aws:lambda:us-east-1:123456789012:function:acme-rotation',
  });
  return Object.entries(w.sm.stages(SECRET_ARN)).find(([, s]) => s.includes('AWSPENDING'))?.[0] as string;
}

type Json = Record<string, unknown>;
const snsMessages = (w: World): Json[] => w.sns.publishes().map((p) => JSON.parse(p.Message ?? '{}') as Json);
const deliveryNotices = (w: World): Json[] => snsMessages(w).filter((m) => m.status === 'delivery_failed');
const deliveryEvents = (w: World) =>
  w.events
    .puts()
    .flatMap((p) => p.Entries ?? [])
    .filter((e) => e.DetailType === 'Certificate Delivery Failed');
const metricsFor = (lines: string[], arn: string): Json[] =>
  lines.map((l) => JSON.parse(l) as Json).filter((m) => m.CertificateArn === arn);

/** An ARN of this account and region that names no certificate (a deleted one). */
const missingIn = (arn: string) => arn.replace(/certificate\/.*/, 'certificate/00000000-1111-2222-3333-444444444444');

/** Records the stages of TOKEN at the moment of each ImportCertificate. */
function stagesAtImport(w: World): string[][] {
  const seen: string[][] = [];
  const port = w.acm.port.bind(w.acm);
  w.acm.port = () => {
    const p = port();
    return {
      ...p,
      import: (arn, pem) => {
        seen.push([...(w.sm.stages(SECRET_ARN)[TOKEN] ?? [])]);
        return p.import(arn, pem);
      },
    };
  };
  return seen;
}

describe('finishSecret promotes first, then delivers the verified certificate to ACM', () => {
  it('imports into every ARN after the promotion (leaf, chain, key), lists them in the notice, and is idempotent', async () => {
    const { w, arns, pending } = await world();
    const stages = stagesAtImport(w);
    await w.invoke('finishSecret');
    // AWSCURRENT was on the token at every import: the certificate was promoted first.
    expect(stages.map((s) => [...s].sort())).toEqual([
      ['AWSCURRENT', 'AWSPENDING'],
      ['AWSCURRENT', 'AWSPENDING'],
    ]);
    for (const arn of arns) {
      const held = w.acm.service.certificate(arn);
      expect(normaliseSerial(held?.serial ?? '')).toBe(pending.serial);
      expect(held?.certificatePem.trim()).toBe(pending.certificate.trim());
      expect(held?.privateKeyPem).toBe(pending.private_key);
      expect(held?.chainPem?.trim()).toBe(pending.chain.trim());
      expect(held?.importCount).toBe(2); // the placeholder, then ours
    }
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    const notice = snsMessages(w)[0] ?? {};
    expect(notice).toMatchObject({ status: 'success', acm_certificate_arns: arns });
    expect(notice).not.toHaveProperty('acm_delivery_failed_arns');
    expect(JSON.stringify(notice)).not.toContain('PRIVATE KEY');

    // Finishing again (a crash after the promotion): nothing is imported twice.
    tag(w, {});
    w.sm.service.handle('UpdateSecretVersionStage', {
      SecretId: SECRET_ARN,
      VersionStage: 'AWSPENDING',
      MoveToVersionId: TOKEN,
    });
    await w.invoke('finishSecret');
    for (const arn of arns) expect(w.acm.service.certificate(arn)?.importCount).toBe(2);
  });

  it('one ARN refusing (deleted) neither fails the rotation nor holds back AWSCURRENT or the other ARN', async () => {
    const { w, arns, pending, metrics } = await world();
    const deleted = missingIn(arns[1] as string);
    tag(w, { 'acme:acm-certificate-arns': [arns[0], deleted].join(',') });
    await w.invoke('finishSecret');

    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    expect(w.sm.stages(SECRET_ARN)[OLD]).toEqual(['AWSPREVIOUS']);
    expect(normaliseSerial(w.acm.service.certificate(arns[0] as string)?.serial ?? '')).toBe(pending.serial);

    const [failed] = deliveryNotices(w);
    expect(deliveryNotices(w)).toHaveLength(1);
    expect(failed).toMatchObject({
      status: 'delivery_failed',
      secret_name: SECRET_NAME,
      secret_arn: SECRET_ARN,
      version_id: TOKEN,
      acm_certificate_arn: deleted,
      serial: pending.serial,
      domains: DOMAINS,
      error_code: 'AcmTargetUnusable',
      aws_error_code: 'ResourceNotFoundException',
      found: 'delivery',
    });
    // AWS's own message, and what to do.
    expect(failed?.error).toContain(`Could not find certificate ${deleted}.`);
    expect(failed?.remedy).toMatch(/remove the ARN from acme:acm-certificate-arns/);
    const [event] = deliveryEvents(w);
    expect(JSON.parse(event?.Detail ?? '{}')).toEqual(failed);
    expect(event?.Resources).toEqual([SECRET_ARN]);
    for (const text of [...w.sns.publishes().map((p) => p.Message), ...w.events.puts().map((p) => JSON.stringify(p))]) {
      expect(text).not.toContain('PRIVATE KEY');
    }
    // One metric for the refusing ARN, none for the other.
    expect(metricsFor(metrics, deleted)).toEqual([
      expect.objectContaining({ AcmDeliveryFailures: 1, CertificateArn: deleted, Stack: expect.any(String) }),
    ]);
    expect(metricsFor(metrics, arns[0] as string)).toEqual([]);
    // The success notice names both lists.
    expect(snsMessages(w).find((m) => m.status === 'success')).toMatchObject({
      acm_certificate_arns: [arns[0]],
      acm_delivery_failed_arns: [deleted],
    });
  });

  it("a throttled import is reported with ACM's error and the rotation still succeeds", async () => {
    const { w, arns, pending } = await world();
    w.acm.failImport.set(arns[1] as string, 'ThrottlingException');
    await w.invoke('finishSecret');
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    expect(normaliseSerial(w.acm.service.certificate(arns[0] as string)?.serial ?? '')).toBe(pending.serial);
    expect(w.acm.service.certificate(arns[1] as string)?.importCount).toBe(1);
    expect(deliveryNotices(w)).toEqual([
      expect.objectContaining({
        acm_certificate_arn: arns[1],
        error_code: 'AcmImportFailed',
        aws_error_code: 'ThrottlingException',
        remedy: expect.stringMatching(/the renewal watch delivers on its next run/),
      }),
    ]);
  });

  it('a KU/EKU the target cannot take is named before ImportCertificate, which is not attempted', async () => {
    const { w, arns, pending } = await world();
    // A placeholder with KU digitalSignature and no EKU: ACM cannot add EKU serverAuth by re-import.
    const key = pooledKey('ecdsa-p256', 3);
    const placeholder = issueCertificate({
      subjectCn: 'placeholder.example.com',
      key,
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 86_400_000),
      dnsNames: ['placeholder.example.com'],
      keyUsage: 0x80,
    });
    const out = await w.acm.client('eu-west-1').send(
      new ImportCertificateCommand({
        Certificate: Buffer.from(placeholder.pem),
        PrivateKey: Buffer.from(keyPem(key)),
      }),
    );
    const noEku = out.CertificateArn as string;
    tag(w, { 'acme:acm-certificate-arns': [arns[0], noEku].join(',') });
    await w.invoke('finishSecret');

    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    expect(normaliseSerial(w.acm.service.certificate(arns[0] as string)?.serial ?? '')).toBe(pending.serial);
    expect(w.acm.service.certificate(noEku)?.importCount).toBe(1);
    expect(w.contexts.at(-1)?.acm.calls()).toMatchObject({ ImportCertificate: 1 }); // only arns[0]
    const [failed] = deliveryNotices(w);
    expect(failed).toMatchObject({ acm_certificate_arn: noEku, error_code: 'AcmKeyUsageConflict' });
    expect(failed?.error).toContain('no import was tried');
    expect(failed?.error).toContain(
      'has no ExtendedKeyUsage extension and the new one has (TLS_WEB_SERVER_AUTHENTICATION)',
    );
    expect(failed?.remedy).toMatch(/import the new certificate as a new ACM certificate/);
  });

  it('a crash after the promotion, before delivery, converges on the re-run (finish-tail)', async () => {
    const { w, arns, pending } = await world();
    // The state a finishSecret killed right after UpdateSecretVersionStage(AWSCURRENT) leaves.
    w.sm.service.handle('UpdateSecretVersionStage', {
      SecretId: SECRET_ARN,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: TOKEN,
      RemoveFromVersionId: OLD,
    });
    await w.invoke('finishSecret');
    for (const arn of arns) {
      expect(normaliseSerial(w.acm.service.certificate(arn)?.serial ?? '')).toBe(pending.serial);
      expect(w.acm.service.certificate(arn)?.importCount).toBe(2);
    }
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
  });

  it('a crash after delivery (removing AWSPENDING failed) converges without importing again', async () => {
    const { w, arns, pending } = await world();
    let failOnce = true;
    w.sm.before = (op, input) => {
      if (op === 'UpdateSecretVersionStage' && input.VersionStage === 'AWSPENDING' && failOnce) {
        failOnce = false;
        throw Object.assign(new Error('Rate exceeded'), { name: 'InternalServiceError' });
      }
    };
    await expect(w.invoke('finishSecret')).rejects.toThrow(/Rate exceeded/);
    expect([...(w.sm.stages(SECRET_ARN)[TOKEN] ?? [])].sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
    await w.invoke('finishSecret');
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    for (const arn of arns) {
      expect(normaliseSerial(w.acm.service.certificate(arn)?.serial ?? '')).toBe(pending.serial);
      expect(w.acm.service.certificate(arn)?.importCount).toBe(2); // once each
    }
  });

  it('a hung ACM is cut off within the step time: AWSPENDING is still removed, the target reported', async () => {
    const { w, arns } = await world();
    const port = w.acm.port.bind(w.acm);
    w.acm.port = () => {
      const p = port();
      return { ...p, describe: (arn) => (arn === arns[1] ? new Promise(() => undefined) : p.describe(arn)) };
    };
    // 31 s left: 20 s are the clean-up reserve, 30 s the tail; delivery gets nothing past what is left.
    await w.handler(
      { Step: 'finishSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
      { getRemainingTimeInMillis: () => 50_100, awsRequestId: 'req-1', functionName: 'acme-rotation' },
    );
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    expect(deliveryNotices(w)).toEqual([
      expect.objectContaining({
        acm_certificate_arn: arns[1],
        error_code: 'AcmImportFailed',
        error: expect.stringMatching(/ACM did not answer .* within the 0 s finishSecret had left for delivery/),
      }),
    ]);
  });
});

describe('createSecret reports targets ACM cannot fill before ordering, and goes on without them', () => {
  it('another key algorithm, another account, a missing certificate — each reported on its own; the order goes on', async () => {
    const { w, arns, metrics } = await world({ keyType: 'ecdsa-p384', targetKey: 'ecdsa-p256' });
    const foreign = 'arn:aws:acm:eu-west-1:210987654321:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const missing = missingIn(arns[1] as string);
    tag(w, { 'acme:acm-certificate-arns': [arns[0], foreign, missing].join(',') });
    const token = newRotation(w);
    await w.invoke('createSecret', token);
    expect(w.ca.orders).toHaveLength(1);
    expect(w.sm.stages(SECRET_ARN)[token]).toEqual(['AWSPENDING']);
    const notices = deliveryNotices(w);
    expect(notices.map((n) => n.acm_certificate_arn).sort()).toEqual([arns[0], foreign, missing].sort());
    for (const n of notices) {
      expect(n).toMatchObject({ found: 'before-ordering', error_code: 'AcmTargetUnusable', version_id: token });
      expect(n.error).toMatch(/^found before ordering: .*; the renewal goes on without it$/);
      expect(n).not.toHaveProperty('serial');
    }
    const byArn = (arn: string) => notices.find((n) => n.acm_certificate_arn === arn);
    expect(byArn(arns[0] as string)?.error).toContain(
      'its key algorithm is EC_prime256v1 and acme:key-type asks for ecdsa-p384',
    );
    expect(byArn(foreign)?.error).toContain('is in account 210987654321');
    expect(byArn(missing)?.error).toContain('no such certificate in eu-west-1');
    expect(deliveryEvents(w)).toHaveLength(3);
    for (const arn of [arns[0] as string, foreign, missing]) expect(metricsFor(metrics, arn)).toHaveLength(1);
  });

  it('a us-east-1 certificate CloudFront uses cannot take a P-384 key; the eu-west-1 one is not reported', async () => {
    const { w, arns } = await world({ keyType: 'ecdsa-p384', targetKey: 'ecdsa-p384' });
    const distribution = 'arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL';
    w.acm.service.setInUseBy(arns[0] as string, [distribution]);
    const token = newRotation(w);
    await w.invoke('createSecret', token);
    expect(w.ca.orders).toHaveLength(1);
    expect(deliveryNotices(w)).toEqual([
      expect.objectContaining({
        acm_certificate_arn: arns[0],
        error: expect.stringContaining(`CloudFront (${distribution}) uses it`),
        remedy: expect.stringContaining('set acme:key-type to ecdsa-p256 or an RSA type'),
      }),
    ]);
  });
});
