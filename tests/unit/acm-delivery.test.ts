/**
 * Deployment to ACM through the handler: the targets checked before ordering, the verified
 * certificate imported in finishSecret before promotion, idempotent, converging after a failure.
 * ACM is the local endpoint's model behind the real adapter and SDK client (FakeAcm).
 */
import { describe, expect, it } from 'vitest';
import { normaliseSerial } from '../../rotation/bundle.js';
import { type RotationError } from '../../rotation/errors.js';
import { bundleFor, makeWorld, OLD, SECRET_ARN, TOKEN, type World } from './fakes.js';

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
  return { w, arns, pending };
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

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as RotationError,
  );

describe('finishSecret delivers the verified certificate to ACM before promoting it', () => {
  it('imports into every ARN in its region (leaf, chain, key), lists them in the notice, and is idempotent', async () => {
    const { w, arns, pending } = await world();
    await w.invoke('finishSecret');
    for (const arn of arns) {
      const held = w.acm.service.certificate(arn);
      expect(normaliseSerial(held?.serial ?? '')).toBe(pending.serial);
      expect(held?.certificatePem.trim()).toBe(pending.certificate.trim());
      expect(held?.privateKeyPem).toBe(pending.private_key);
      expect(held?.chainPem?.trim()).toBe(pending.chain.trim());
      expect(held?.importCount).toBe(2); // the placeholder, then ours
    }
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    const notice = JSON.parse(w.sns.publishes()[0]?.Message ?? '{}') as Record<string, unknown>;
    expect(notice).toMatchObject({ status: 'success', acm_certificate_arns: arns });
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

  it("a failed import fails the step naming the ARN and ACM's error; nothing is promoted; the retry converges", async () => {
    const { w, arns, pending } = await world();
    w.acm.failImport.set(arns[1] as string, 'LimitExceededException');
    const err = await failure(w.invoke('finishSecret'));
    expect(err?.code).toBe('AcmImportFailed');
    expect(err?.message).toContain(`importing the new certificate into ${arns[1]} failed`);
    expect(err?.message).toContain('LimitExceededException');
    expect(err?.message).toContain('nothing was promoted');
    expect(w.sm.stages(SECRET_ARN)[OLD]).toEqual(['AWSCURRENT']);
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSPENDING']);

    await w.invoke('finishSecret');
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    for (const arn of arns) {
      expect(normaliseSerial(w.acm.service.certificate(arn)?.serial ?? '')).toBe(pending.serial);
      expect(w.acm.service.certificate(arn)?.importCount).toBe(2); // once each: the first was not imported again
    }
  });
});

describe('createSecret refuses targets ACM cannot fill, before ordering anything', () => {
  it('another key algorithm (re-import cannot change it), another account, a missing certificate — all named', async () => {
    const { w, arns } = await world({ keyType: 'ecdsa-p384', targetKey: 'ecdsa-p256' });
    const foreign = 'arn:aws:acm:eu-west-1:210987654321:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const missing = (arns[1] as string).replace(/certificate\/.*/, 'certificate/00000000-1111-2222-3333-444444444444');
    tag(w, { 'acme:acm-certificate-arns': [arns[0], foreign, missing].join(',') });
    const token = newRotation(w);
    const err = await failure(w.invoke('createSecret', token));
    expect(err?.code).toBe('AcmTargetUnusable');
    expect(err?.message).toContain('names 3 certificates that cannot take this certificate, so nothing was ordered');
    expect(err?.message).toContain(
      `${arns[0]}: its key algorithm is EC_prime256v1 and acme:key-type asks for ecdsa-p384`,
    );
    expect(err?.message).toContain(`${foreign}: it is in account 210987654321`);
    expect(err?.message).toContain(`${missing}: no such certificate in eu-west-1`);
    expect(w.ca.orders).toEqual([]);
    expect(w.dns.presentCalls).toEqual([]);
  });

  it('a us-east-1 certificate CloudFront uses cannot take a P-384 key', async () => {
    const { w, arns } = await world({ keyType: 'ecdsa-p384', targetKey: 'ecdsa-p384' });
    const distribution = 'arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL';
    w.acm.service.setInUseBy(arns[0] as string, [distribution]);
    const token = newRotation(w);
    const err = await failure(w.invoke('createSecret', token));
    expect(err?.code).toBe('AcmTargetUnusable');
    expect(err?.message).toContain(`${arns[0]}: CloudFront (${distribution}) uses it`);
    expect(err?.message).not.toContain(arns[1] as string); // eu-west-1: not CloudFront's
    expect(w.ca.orders).toEqual([]);
  });
});
