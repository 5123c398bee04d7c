/**
 * The renewal watch's reconciliation of ACM targets (rotation/watch/reconcile.ts): every ARN
 * converges on AWSCURRENT's serial, refusals are reported one by one, calls keep to ACM's rates per
 * region, the run's deadline bounds it, and `lagging` counts ARNs behind for longer than the
 * threshold measured from AWSCURRENT's CreatedDate. Secrets Manager and ACM are the local
 * endpoint's models behind the real SDK clients and the rotation's own ACM adapter.
 */
import { ImportCertificateCommand } from '@aws-sdk/client-acm';
import { describe, expect, it } from 'vitest';
import { acmSessions } from '../../rotation/acm/session.js';
import { sdkClientConfig } from '../../rotation/aws/client-config.js';
import type { DeliveryFailedEvent } from '../../rotation/aws/notify.js';
import { normaliseSerial, type CertificateBundle } from '../../rotation/certificate/bundle.js';
import { Deadline } from '../../rotation/lib/deadline.js';
import { acmArnTags } from '../../rotation/certificate/spec.js';
import {
  ACM_LAG_THRESHOLD_MS,
  DESCRIBE_INTERVAL_MS,
  IMPORT_INTERVAL_MS,
  currentVersionReader,
  lambdaReconcileDeps,
  reconcileAcmTargets,
  type ReconcileDeps,
  type ReconcileSecret,
} from '../../rotation/watch/reconcile.js';
import { issueCertificate, keyPem, pooledKey } from '../helpers/certs.js';
import { inProcessHandler } from '../local/aws/in-process.js';
import { bundleFor, makeWorld, OLD, SECRET_ARN, SECRET_NAME, type World } from './fakes.js';

const DOMAINS = ['example.com', '*.example.com'];
const HOUR = 3_600_000;

/** A world whose AWSCURRENT holds `current`, tagged with `arns`. */
function world(current: CertificateBundle): World {
  return makeWorld({
    domains: DOMAINS,
    versions: { [OLD]: { value: JSON.stringify(current), stages: ['AWSCURRENT'] } },
  });
}

function tagArns(w: World, arns: string[]): void {
  w.sm.service.handle('TagResource', { SecretId: SECRET_ARN, Tags: acmArnTags(arns) });
}

function listed(w: World): ReconcileSecret[] {
  const d = w.sm.service.handle('DescribeSecret', { SecretId: SECRET_ARN }) as {
    ARN: string;
    Name: string;
    Tags: { Key: string; Value: string }[];
  };
  return [{ arn: d.ARN, name: d.Name, tags: d.Tags }];
}

/** Import `bundle` into `arn` as a rotation would have. */
async function holds(w: World, arn: string, bundle: CertificateBundle): Promise<void> {
  await w.acm
    .port()
    .import(arn, { certificate: bundle.certificate, chain: bundle.chain, privateKey: bundle.private_key });
}

interface Harness {
  deps: ReconcileDeps;
  published: DeliveryFailedEvent[];
  metrics: Record<string, unknown>[];
  /** ACM calls as made: operation, region, and the fake clock's time. */
  calls: { op: string; region: string; at: number }[];
  clock: { t: number };
}

/** Ports over the world, with a fake clock that sleeping advances. */
function harness(w: World, opts: { now?: number; remainingMs?: number } = {}): Harness {
  const clock = { t: opts.now ?? Date.now() };
  const now = () => new Date(clock.t);
  const published: DeliveryFailedEvent[] = [];
  const metrics: Record<string, unknown>[] = [];
  const calls: Harness['calls'] = [];
  const port = w.acm.port();
  const region = (arn: string) => arn.split(':')[3] as string;
  return {
    published,
    metrics,
    calls,
    clock,
    deps: {
      readCurrent: currentVersionReader(w.sm.client),
      acm: {
        describe: (arn) => {
          calls.push({ op: 'describe', region: region(arn), at: clock.t });
          return port.describe(arn);
        },
        import: (arn, pem) => {
          calls.push({ op: 'import', region: region(arn), at: clock.t });
          return port.import(arn, pem);
        },
      },
      publish: (e) => {
        published.push(e);
        return Promise.resolve();
      },
      metrics: (line) => metrics.push(JSON.parse(line) as Record<string, unknown>),
      logger: w.log.logger,
      now,
      sleep: (ms) => {
        clock.t += ms;
        return Promise.resolve();
      },
      deadline: new Deadline(opts.remainingMs ?? 600_000, 0, () => clock.t),
    },
  };
}

const serialAt = (w: World, arn: string) => normaliseSerial(w.acm.service.certificate(arn)?.serial ?? '');

describe('reconcileAcmTargets', () => {
  it('re-imports AWSCURRENT wherever the serial differs, leaves the others alone, and is idempotent', async () => {
    const current = bundleFor(DOMAINS);
    const w = world(current);
    const behind = await w.acm.seed('us-east-1');
    const upToDate = await w.acm.seed('eu-west-1');
    await holds(w, upToDate, current);
    tagArns(w, [behind, upToDate]);
    const h = harness(w);

    const first = await reconcileAcmTargets(listed(w), h.deps);
    expect(first).toEqual({ secrets: 1, checked: 2, delivered: 1, failed: 0, lagging: 0, unfinished: 0 });
    expect(serialAt(w, behind)).toBe(current.serial);
    expect(w.acm.service.certificate(behind)?.certificatePem.trim()).toBe(current.certificate.trim());
    expect(w.acm.service.certificate(behind)?.chainPem?.trim()).toBe(current.chain.trim());
    expect(w.acm.service.certificate(upToDate)?.importCount).toBe(2); // placeholder + the one above
    expect(h.published).toEqual([]);

    const again = await reconcileAcmTargets(listed(w), h.deps);
    expect(again).toMatchObject({ checked: 2, delivered: 0, failed: 0 });
    expect(w.acm.service.certificate(behind)?.importCount).toBe(2);
    expect(h.metrics.at(-1)).toMatchObject({ AcmTargetsChecked: 2, AcmTargetsDelivered: 0, AcmTargetsLagging: 0 });
  });

  it('reports each refusal (deleted, KU/EKU) with AWS’s message, delivers to the rest, and counts lag from CreatedDate', async () => {
    const current = bundleFor(DOMAINS);
    const w = world(current);
    const good = await w.acm.seed('us-east-1');
    const deleted = good.replace(/certificate\/.*/, 'certificate/00000000-1111-2222-3333-444444444444');
    const key = pooledKey('ecdsa-p256', 2);
    const noEku = issueCertificate({
      subjectCn: 'placeholder.example.com',
      key,
      notBefore: new Date(Date.now() - HOUR),
      notAfter: new Date(Date.now() + 24 * HOUR),
      dnsNames: ['placeholder.example.com'],
      keyUsage: 0x80,
    });
    const conflicting = (
      await w.acm
        .client('eu-west-1')
        .send(
          new ImportCertificateCommand({ Certificate: Buffer.from(noEku.pem), PrivateKey: Buffer.from(keyPem(key)) }),
        )
    ).CertificateArn as string;
    tagArns(w, [good, deleted, conflicting]);

    // Within the threshold: refused, reported, not yet lagging.
    const early = harness(w);
    expect(await reconcileAcmTargets(listed(w), early.deps)).toMatchObject({
      checked: 3,
      delivered: 1,
      failed: 2,
      lagging: 0,
    });
    expect(serialAt(w, good)).toBe(current.serial);
    expect(w.acm.service.certificate(conflicting)?.importCount).toBe(1); // never tried
    expect(early.published.map((e) => [e.acm_certificate_arn, e.error_code, e.found])).toEqual([
      [deleted, 'AcmTargetUnusable', 'reconciliation'],
      [conflicting, 'AcmKeyUsageConflict', 'reconciliation'],
    ]);
    const [gone, ku] = early.published;
    expect(gone).toMatchObject({
      status: 'delivery_failed',
      secret_name: SECRET_NAME,
      secret_arn: SECRET_ARN,
      version_id: OLD,
      serial: current.serial,
      aws_error_code: 'ResourceNotFoundException',
    });
    expect(gone?.error).toContain(`Could not find certificate ${deleted}.`);
    expect(ku?.error).toContain('ExtendedKeyUsage');
    expect(JSON.stringify(early.published)).not.toContain('PRIVATE KEY');
    expect(early.metrics.filter((m) => m.AcmDeliveryFailures === 1).map((m) => m.CertificateArn)).toEqual([
      deleted,
      conflicting,
    ]);

    // Past the threshold from AWSCURRENT's CreatedDate: the two still refusing lag.
    const late = harness(w, { now: Date.now() + ACM_LAG_THRESHOLD_MS + HOUR });
    expect(await reconcileAcmTargets(listed(w), late.deps)).toMatchObject({
      checked: 3,
      delivered: 0,
      failed: 2,
      lagging: 2,
    });
    expect(late.metrics.at(-1)).toMatchObject({ AcmTargetsLagging: 2, AcmTargetsFailed: 2 });
  });

  it('keeps to ACM’s rates per region: imports 1.25 s apart, descriptions 125 ms apart, regions independent', async () => {
    const current = bundleFor(DOMAINS);
    const w = world(current);
    const east = [];
    for (let i = 0; i < 4; i++) east.push(await w.acm.seed('us-east-1'));
    const west = [await w.acm.seed('eu-west-1'), await w.acm.seed('eu-west-1')];
    tagArns(w, [...east, ...west]);
    const h = harness(w);
    const started = h.clock.t;
    expect(await reconcileAcmTargets(listed(w), h.deps)).toMatchObject({ delivered: 6, failed: 0 });
    const gaps = (op: string, region: string) => {
      const at = h.calls.filter((c) => c.op === op && c.region === region).map((c) => c.at);
      return at.slice(1).map((t, i) => t - (at[i] as number));
    };
    for (const g of gaps('import', 'us-east-1')) expect(g).toBeGreaterThanOrEqual(IMPORT_INTERVAL_MS);
    for (const g of gaps('describe', 'us-east-1')) expect(g).toBeGreaterThanOrEqual(DESCRIBE_INTERVAL_MS);
    expect(gaps('import', 'us-east-1')).toHaveLength(3);
    // Never above 1 import a second in any region over the whole run.
    for (const region of ['us-east-1', 'eu-west-1']) {
      const imports = h.calls.filter((c) => c.op === 'import' && c.region === region);
      expect((imports.length - 1) * 1000).toBeLessThanOrEqual((imports.at(-1)?.at ?? 0) - (imports[0]?.at ?? 0));
    }
    expect(h.clock.t - started).toBeLessThan(20_000);
  });

  it('stops when the run’s time is up: what is not reached is unfinished, not reported', async () => {
    const current = bundleFor(DOMAINS);
    const w = world(current);
    const arns = [await w.acm.seed('us-east-1'), await w.acm.seed('us-east-1'), await w.acm.seed('us-east-1')];
    tagArns(w, arns);
    // 16.5 s, and 15 s must remain when each call starts: imports are paced 1.25 s apart, so the
    // third (at 2.5 s) would start with 14 s left and is not made.
    const h = harness(w, { remainingMs: 16_500 });
    const summary = await reconcileAcmTargets(listed(w), h.deps);
    expect(summary).toMatchObject({ checked: 2, delivered: 2, unfinished: 1 });
    expect(h.calls.filter((c) => c.op === 'import')).toHaveLength(2);
    expect(summary.failed).toBe(0);
    expect(h.published).toEqual([]);
    const none = harness(w, { remainingMs: 1_000 });
    expect(await reconcileAcmTargets(listed(w), none.deps)).toMatchObject({ checked: 0, unfinished: 3 });
    expect(none.calls).toEqual([]);
  });

  it('does not import a certificate that stopped being AWSCURRENT meanwhile (a rotation promoted a newer one)', async () => {
    const current = bundleFor(DOMAINS);
    const w = world(current);
    const arn = await w.acm.seed('us-east-1');
    tagArns(w, [arn]);
    const h = harness(w);
    const read = h.deps.readCurrent;
    let reads = 0;
    h.deps.readCurrent = async (secretArn) => {
      const v = await read(secretArn);
      return ++reads === 1 || !v ? v : { ...v, versionId: 'a-newer-version-promoted-meanwhile-0000000' };
    };
    expect(await reconcileAcmTargets(listed(w), h.deps)).toMatchObject({ checked: 1, delivered: 0, failed: 0 });
    expect(w.acm.service.certificate(arn)?.importCount).toBe(1);
  });

  it('skips secrets without ARNs, with invalid tags, or without a certificate yet', async () => {
    const w = makeWorld({ domains: DOMAINS, versions: { [OLD]: { value: '{}', stages: ['AWSCURRENT'] } } });
    const arn = await w.acm.seed('us-east-1');
    tagArns(w, [arn]);
    const h = harness(w);
    const secrets: ReconcileSecret[] = [
      ...listed(w),
      {
        arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:plain-AbCdEf',
        name: 'plain',
        tags: [{ Key: 'acme:domains', Value: 'a.example.com' }],
      },
      {
        arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bad-AbCdEf',
        name: 'bad',
        tags: [{ Key: 'acme:domain', Value: 'x' }],
      },
    ];
    expect(await reconcileAcmTargets(secrets, h.deps)).toEqual({
      secrets: 0,
      checked: 0,
      delivered: 0,
      failed: 0,
      lagging: 0,
      unfinished: 0,
    });
    expect(h.calls).toEqual([]);
  });
});

describe('lambdaReconcileDeps: the watch wires the reconciliation with one call', () => {
  it('reads AWSCURRENT, reaches ACM through the rotation’s sessions and publishes through the notifier', async () => {
    const current = bundleFor(DOMAINS);
    const w = world(current);
    const behind = await w.acm.seed('eu-west-1');
    const deleted = behind.replace(/certificate\/.*/, 'certificate/00000000-1111-2222-3333-444444444444');
    tagArns(w, [behind, deleted]);
    const config = {
      ...sdkClientConfig(10_000),
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: inProcessHandler({ acm: w.acm.service }),
    };
    const published: DeliveryFailedEvent[] = [];
    const deps = lambdaReconcileDeps({
      secretsClient: w.sm.client,
      acmSessions: acmSessions(config),
      notifier: {
        publish: (e) => {
          published.push(e);
          return Promise.resolve();
        },
      },
      logger: w.log.logger,
      deadline: new Deadline(120_000, 0),
    });
    deps.metrics = () => undefined;
    expect(await reconcileAcmTargets(listed(w), deps)).toMatchObject({ checked: 2, delivered: 1, failed: 1 });
    expect(serialAt(w, behind)).toBe(current.serial);
    expect(published.map((e) => e.acm_certificate_arn)).toEqual([deleted]);
  });
});
