import { type AriPort, type WatchDeps } from '../../rotation/watch/model.js';
import { RENEWAL_TAG } from '../../rotation/certificate/tags.js';
import { describe, expect, it } from 'vitest';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ariCertId } from '../../rotation/acme/ari.js';
import type { AriResult } from '../../rotation/acme/renewal-info.js';
import { runWatch } from '../../rotation/watch/run.js';
import { WatchSecrets, type ListedSecret, type RotateOutcome } from '../../rotation/watch/secrets.js';
import { FaultList } from '../local/faults.js';
import { inProcessHandler } from '../local/aws/in-process.js';
import { SecretsManagerService } from '../local/aws/secretsmanager.js';
import type { Fault } from '../local/aws/types.js';
import { makeRootCa, makeTestPki } from '../helpers/certs.js';
import { captureLogger } from './fakes.js';

const root = makeRootCa({ cn: 'Watch Test Root' });
const HOUR = 3_600_000;
const DIRECTORY = 'https://ca.test/directory';
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
/** The rotation function configured on the secrets unless a test says otherwise. */
const ROTATION_FUNCTION = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:acme-rotation-test-rotation`;

/** A version id Secrets Manager accepts (a 32–64 character ClientRequestToken), readable in failures. */
const token = (label: string): string => `${label}-`.padEnd(32, '0');

/** A certificate secret to seed: its listing, its AWSCURRENT value, and its certificate's ARI id. */
interface FakeSecret extends ListedSecret {
  value?: string;
  certId?: string;
}

/** A certificate secret with a bundle issued `ageMs` ago for `lifetimeMs`. */
function secret(
  name: string,
  opts: { ageMs?: number; lifetimeMs?: number; versions?: Record<string, string[]>; rotationEnabled?: boolean } = {},
): FakeSecret {
  const now = Date.now();
  const notBefore = new Date(now - (opts.ageMs ?? HOUR));
  const pki = makeTestPki({
    names: [`${name}.example.com`],
    root,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (opts.lifetimeMs ?? 90 * 24 * HOUR)),
  });
  return {
    arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:certs/${name}-AbCdEf`,
    name: `certs/${name}`,
    rotationEnabled: opts.rotationEnabled ?? true,
    versions: opts.versions ?? { [token('v1')]: ['AWSCURRENT'] },
    tags: [{ Key: 'acme:domains', Value: `${name}.example.com` }],
    value: JSON.stringify({ ...pki.bundle, acme_directory_url: DIRECTORY }),
    certId: ariCertId(pki.leaf.certPem),
  };
}

/** The run's clock, which the model shares: real time plus what the run slept (its sleeps take none). */
class RunClock {
  private slept = 0;
  readonly now = (): number => Date.now() + this.slept;
  readonly sleep = async (ms: number): Promise<void> => {
    this.slept += ms;
  };
}

/**
 * Secrets Manager as the watch sees it: the watch's own adapter (WatchSecrets) over the local
 * endpoint's model in process (tests/local/aws/secretsmanager.ts), on the run's clock. So
 * RotateSecret refuses while AWSPENDING sits off AWSCURRENT and dates the version it creates,
 * ListSecretVersionIds dates the pending versions, the tagging quota applies, and a refusal is
 * the service's error (`refuse`). This class only records what the run did.
 */
class Secrets extends WatchSecrets {
  readonly rotated: string[] = [];
  readonly cleared: string[] = [];
  /** The ARN of each tag() call. */
  readonly tagCalls: string[] = [];
  /** Called before DescribeSecret answers (a test changes the secret behind the listing's back). */
  beforeDescribe?: (arn: string) => void;

  constructor(
    specs: FakeSecret[],
    /** The model's clock; a RunClock is the run's too (deps). */
    readonly clock: { now: () => number; sleep?: (ms: number) => Promise<void> } = new RunClock(),
    readonly service = new SecretsManagerService({ accountId: ACCOUNT, region: REGION, now: clock.now }),
    private readonly faults = new FaultList<Fault>(),
  ) {
    super(
      new SecretsManagerClient({
        region: REGION,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
        requestHandler: inProcessHandler({ secretsmanager: service }, { faults }),
      }),
    );
    for (const spec of specs) this.seed(spec);
  }

  private seed(spec: FakeSecret): void {
    const lambda = 'rotationLambdaArn' in spec ? spec.rotationLambdaArn : ROTATION_FUNCTION;
    const versions = Object.entries(spec.versions)
      // No value: a secret created without one (no AWSCURRENT yet).
      .filter(([, stages]) => spec.value !== undefined || !stages.includes('AWSCURRENT'))
      .map(([id, stages]) => [id, { stages, ...(stages.includes('AWSCURRENT') ? { value: spec.value } : {}) }]);
    this.service.seedSecret({
      name: spec.name,
      arn: spec.arn,
      rotationEnabled: spec.rotationEnabled,
      ...(lambda !== undefined ? { rotationLambdaArn: lambda } : {}),
      tags: Object.fromEntries(spec.tags.map((t) => [t.Key ?? '', t.Value ?? ''])),
      versions: Object.fromEntries(versions),
    });
    if (spec.createdAt) this.service.get(spec.arn)!.createdAt = spec.createdAt.getTime();
  }

  /** Every later call of `operation` is refused with the service's error `code`. */
  refuse(operation: string, code: string, message: string): void {
    this.faults.add({
      service: 'secretsmanager',
      operation,
      times: Infinity,
      action: { type: 'error', error: { code, message, status: 400 } },
    });
  }

  /** The secret's tags as Secrets Manager holds them. */
  tags(arn: string): Record<string, string> {
    return this.service.tagsOf(arn);
  }

  /** A rotation started `ageMs` ago (RotateSecret then): its AWSPENDING version's id. */
  startedAgo(arn: string, ageMs: number, versionId: string): string {
    this.service.handle('RotateSecret', { SecretId: arn, ClientRequestToken: versionId });
    this.service.get(arn)!.versions.get(versionId)!.createdAt = this.clock.now() - ageMs;
    return versionId;
  }

  /** Rotations in flight now: young AWSPENDING versions, as Secrets Manager's state says. */
  inFlight(limitMs = 25 * 60_000): number {
    const now = this.clock.now();
    return this.service
      .list()
      .filter((s) =>
        [...s.versions.values()].some(
          (v) => v.stages.has('AWSPENDING') && !v.stages.has('AWSCURRENT') && now - v.createdAt < limitMs,
        ),
      ).length;
  }

  override async list(tagKey: string): Promise<ListedSecret[]> {
    expect(tagKey).toBe('acme:domains');
    return super.list(tagKey);
  }

  override async tag(arn: string, set: Record<string, string>, remove: string[] = []): Promise<void> {
    this.tagCalls.push(arn);
    return super.tag(arn, set, remove);
  }

  override async rotate(arn: string): Promise<RotateOutcome> {
    const outcome = await super.rotate(arn);
    if (outcome === 'started') this.rotated.push(arn);
    return outcome;
  }

  override async describe(arn: string) {
    this.beforeDescribe?.(arn);
    return super.describe(arn);
  }

  override async clearPending(arn: string, versionId: string): Promise<void> {
    await super.clearPending(arn, versionId);
    this.cleared.push(arn);
  }
}

class Ari implements AriPort {
  inFlight = 0;
  maxInFlight = 0;
  asked: string[] = [];
  constructor(private readonly answer: (certId: string) => AriResult) {}
  directoryAsked = 0;
  async renewalInfoBase() {
    this.directoryAsked++;
    return { ok: true as const, base: 'https://ca.test/renewal-info' };
  }
  async renewalInfo(_base: string, certId: string): Promise<AriResult> {
    this.asked.push(certId);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 2));
    this.inFlight--;
    return this.answer(certId);
  }
}

function deps(secrets: Secrets, ari: Ari, extra: Partial<WatchDeps> = {}) {
  const log = captureLogger();
  const written: string[] = [];
  const d: WatchDeps = {
    secrets,
    ari,
    logger: log.logger,
    write: (line) => written.push(line),
    now: () => new Date(secrets.clock.now()),
    random: () => 0.5,
    sleep: secrets.clock.sleep ?? (async () => undefined),
    timeLeftMs: () => 60_000,
    ...extra,
  };
  return { d, log, written };
}

const CONFIG = {
  directoryUrl: DIRECTORY,
  maxInFlight: 50,
  metricNamespace: 'AcmeRotation',
  metricStack: 'acme-rotation/test',
};
const future = (): AriResult => ({
  ok: true,
  answer: {
    start: new Date(Date.now() + 30 * 24 * HOUR),
    end: new Date(Date.now() + 31 * 24 * HOUR),
    retryAfterMs: 6 * HOUR,
  },
});
const past = (): AriResult => ({
  ok: true,
  answer: {
    start: new Date(Date.now() - 2 * HOUR),
    end: new Date(Date.now() - HOUR),
    explanationUrl: 'https://ca.test/incident',
  },
});

describe('runWatch', () => {
  it('asks the CA with bounded concurrency, renews only what is due, and reports in EMF', async () => {
    const fleet = Array.from({ length: 30 }, (_, i) => secret(`s${i}`));
    const revoked = new Set([fleet[3]?.certId, fleet[17]?.certId]);
    const secrets = new Secrets(fleet);
    const ari = new Ari((id) => (revoked.has(id) ? past() : future()));
    const { d, written, log } = deps(secrets, ari);
    const summary = await runWatch(CONFIG, d);
    expect(ari.asked).toHaveLength(30);
    expect(ari.maxInFlight).toBeLessThanOrEqual(8);
    expect(secrets.rotated.sort()).toEqual([fleet[17]?.arn, fleet[3]?.arn].sort());
    expect(summary).toMatchObject({ checked: 30, due: 2, started: 2, deferred: 0, ariErrors: 0, atRisk: 0 });
    const emf = JSON.parse(written.at(-1) as string) as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
    };
    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe('AcmeRotation');
    expect(emf._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name)).toEqual([
      'CertificatesAtRisk',
      'RenewalsDue',
      'RenewalsStarted',
      'RenewalsDeferred',
      'AriErrors',
      'RotationsInFlight',
      'FailedRotations',
      'MinHoursToExpiry',
    ]);
    expect(emf).toMatchObject({
      Stack: 'acme-rotation/test',
      RenewalsStarted: 2,
      CertificatesAtRisk: 0,
      message: 'watch summary',
    });
    // The explanation URL is kept in a tag and in the certificate's line; no key material anywhere.
    expect(secrets.tags(fleet[3]!.arn)[RENEWAL_TAG.explanation]).toBe('https://ca.test/incident');
    expect(secrets.tags(fleet[3]!.arn)[RENEWAL_TAG.started]).toBeDefined();
    expect(log.find('certificate')).toBeDefined();
    expect([...log.raw, ...written].filter((l) => l.includes('PRIVATE KEY'))).toEqual([]);
  });

  it('one CA failure touches only its certificate and never starts a renewal', async () => {
    const [a, b] = [secret('a'), secret('b')];
    const secrets = new Secrets([a as FakeSecret, b as FakeSecret]);
    const ari = new Ari((id) =>
      id === a?.certId ? { ok: false, error: 'renewalInfo answered HTTP 500', caFailure: true } : past(),
    );
    const { d, log } = deps(secrets, ari);
    const summary = await runWatch(CONFIG, d);
    expect(secrets.rotated).toEqual([b?.arn]);
    expect(summary.ariErrors).toBe(1);
    expect(secrets.tags(a!.arn)[RENEWAL_TAG.error]).toBe('renewalInfo answered HTTP 500');
    const line = log.lines().find((l) => l.secretName === a?.name);
    expect(line).toMatchObject({ status: 'ari-error', ariError: 'renewalInfo answered HTTP 500' });
  });

  it('leaves alone a due secret with rotation disabled, a rotation in flight, or a renewal started within 4 h', async () => {
    const disabled = secret('disabled', { rotationEnabled: false });
    const busy = secret('busy', { versions: { [token('v1')]: ['AWSCURRENT'], [token('v2')]: ['AWSPENDING'] } });
    const recent = secret('recent');
    recent.tags.push(
      { Key: RENEWAL_TAG.cert, Value: recent.certId ?? '' },
      { Key: RENEWAL_TAG.started, Value: new Date(Date.now() - HOUR).toISOString() },
    );
    const secrets = new Secrets([disabled, busy, recent]);
    const { d, log } = deps(secrets, new Ari(past));
    const summary = await runWatch(CONFIG, d);
    expect(secrets.rotated).toEqual([]);
    expect(summary).toMatchObject({ due: 3, started: 0, skipped: 3 });
    const reasons = Object.fromEntries(
      log
        .lines()
        .filter((l) => l.message === 'certificate')
        .map((l) => [l.secretName, l.reason]),
    );
    expect(reasons[disabled.name]).toBe('due, but rotation is not enabled on the secret');
    expect(reasons[busy.name]).toBe('due, and a rotation is already in flight');
    expect(reasons[recent.name]).toMatch(/not again within 4 h/);
  });

  it('paces: at most maxInFlight at once; the rest deferred and handed to a continuation', async () => {
    const fleet = Array.from({ length: 5 }, (_, i) => secret(`p${i}`));
    const secrets = new Secrets(fleet); // nothing started ends: each AWSPENDING stays young
    const hops: number[] = [];
    let spent = 0;
    const { d } = deps(secrets, new Ari(past), {
      sleep: async (ms) => {
        spent += ms;
      },
      timeLeftMs: () => 60_000 - spent,
      continueWith: async (hop) => {
        hops.push(hop);
      },
    });
    const summary = await runWatch({ ...CONFIG, maxInFlight: 2 }, d, 4);
    expect(summary).toMatchObject({ started: 2, deferred: 3, continued: true, continuation: 4 });
    expect(hops).toEqual([5]);
  });

  it("handles only the secrets its stack's rotation function rotates", async () => {
    const fn = 'arn:aws:lambda:eu-west-1:123456789012:function:acme-rotation-prod-rotation';
    const ours = { ...secret('ours'), rotationLambdaArn: `${fn}:$LATEST` };
    const theirs = { ...secret('theirs'), rotationLambdaArn: fn.replace('prod', 'dev') };
    const unset = { ...secret('unset'), rotationLambdaArn: undefined };
    const secrets = new Secrets([ours, theirs, unset]);
    const ari = new Ari(past);
    const { d } = deps(secrets, ari);
    const summary = await runWatch({ ...CONFIG, rotationFunctionArn: fn }, d);
    expect(summary.checked).toBe(1);
    expect(secrets.rotated).toEqual([ours.arn]);
    expect(ari.asked).toEqual([ours.certId]);
  });

  it('reports at risk: no certificate a day after creation, one about to expire', async () => {
    const empty: FakeSecret = { ...secret('empty'), value: '{}', createdAt: new Date(Date.now() - 2 * 24 * HOUR) };
    const young: FakeSecret = { ...secret('young'), value: undefined, createdAt: new Date(Date.now() - HOUR) };
    const expiring = secret('expiring', { ageMs: 89.5 * 24 * HOUR });
    const secrets = new Secrets([empty, young, expiring]);
    const { d, written } = deps(secrets, new Ari(future));
    const summary = await runWatch(CONFIG, d);
    expect(summary.atRisk).toBe(2);
    const emf = JSON.parse(written.at(-1) as string) as { CertificatesAtRisk: number; MinHoursToExpiry: number };
    expect(emf.CertificatesAtRisk).toBe(2);
    expect(emf.MinHoursToExpiry).toBeLessThan(13);
  });
});

const MINUTE = 60_000;
/** An AWSPENDING version Secrets Manager created `ageMs` ago (its RotateSecret); returns its id. */
function withPending(s: FakeSecret, secrets: Secrets, ageMs: number, label = `stuck-${s.name.split('/').pop()}`) {
  return secrets.startedAgo(s.arn, ageMs, token(label));
}
const reasonsOf = (log: ReturnType<typeof captureLogger>) =>
  Object.fromEntries(
    log
      .lines()
      .filter((l) => l.message === 'certificate')
      .map((l) => [l.secretName, l]),
  );

describe('runWatch on the bad days', () => {
  it('a failed rotation (AWSPENDING older than the timeout + margin) holds no slot; a young one does', async () => {
    const stuck = Array.from({ length: 3 }, (_, i) => secret(`stuck${i}`));
    const young = secret('young');
    const secrets = new Secrets([...stuck, young]);
    for (const s of stuck) withPending(s, secrets, 2 * HOUR);
    withPending(young, secrets, 5 * MINUTE, 'young-pending');
    let spent = 0;
    const { d, log } = deps(secrets, new Ari(past), {
      sleep: async (ms) => {
        spent += ms;
      },
      timeLeftMs: () => 60_000 - spent,
    });
    const summary = await runWatch({ ...CONFIG, maxInFlight: 3 }, d);
    // The three failed rotations were cleared (AWSPENDING off their version, nothing else), and two of
    // them started again next to the young rotation, which kept its slot: 3 in flight, never more.
    expect(secrets.cleared.sort()).toEqual(stuck.map((s) => s.arn).sort());
    expect(secrets.rotated).toHaveLength(2);
    expect(secrets.inFlight()).toBe(3);
    expect(summary).toMatchObject({
      inFlight: 1,
      failedRotations: 3,
      failedRotationsCleared: 3,
      started: 2,
      deferred: 1,
      maxInFlightSeen: 3,
    });
    expect(reasonsOf(log)[stuck[0]!.name]).toMatchObject({
      failedRotation: { versionId: token('stuck-stuck0'), cleared: true },
    });
    expect(log.find('a failed rotation was cleared')).toBeDefined();
  });

  it('a failed rotation the watch may not clear is at risk with its remedy, and still holds no slot', async () => {
    const stuck = secret('stuck');
    const fresh = secret('fresh');
    const secrets = new Secrets([stuck, fresh]);
    const versionId = withPending(stuck, secrets, 3 * HOUR);
    secrets.refuse(
      'UpdateSecretVersionStage',
      'AccessDeniedException',
      'not authorized to perform secretsmanager:UpdateSecretVersionStage',
    );
    const { d, log } = deps(secrets, new Ari(past));
    const summary = await runWatch({ ...CONFIG, maxInFlight: 1 }, d);
    expect(secrets.rotated).toEqual([fresh.arn]);
    expect(summary).toMatchObject({ atRisk: 1, failedRotations: 1, failedRotationsCleared: 0, inFlight: 0 });
    const line = reasonsOf(log)[stuck.name];
    expect(line?.status).toBe('at-risk');
    expect(line?.atRisk).toContain(`a rotation failed: AWSPENDING has been on version ${versionId} since`);
    expect(line?.atRisk).toContain(
      `aws secretsmanager update-secret-version-stage --secret-id ${stuck.arn} --version-stage AWSPENDING --remove-from-version-id ${versionId}`,
    );
  });

  it('re-reads each secret before RotateSecret: no renewal another run, the schedule or an operator just started', async () => {
    const manual = secret('manual');
    const renewed = secret('renewed');
    const otherRun = secret('other-run');
    const calm = secret('calm');
    const secrets = new Secrets([manual, renewed, otherRun, calm]);
    // What changed after the listing (ListSecrets may lag by minutes), once each:
    const changed = new Set<string>();
    secrets.beforeDescribe = (arn) => {
      if (changed.has(arn)) return;
      changed.add(arn);
      if (arn === manual.arn) secrets.service.handle('RotateSecret', { SecretId: arn }); // aws secretsmanager rotate-secret, just now
      if (arn === renewed.arn) {
        // A new AWSCURRENT; the version the listing saw keeps AWSPREVIOUS.
        secrets.service.handle('PutSecretValue', {
          SecretId: arn,
          SecretString: renewed.value,
          VersionStages: ['AWSCURRENT'],
        });
      }
      if (arn === otherRun.arn) {
        secrets.service.handle('TagResource', {
          SecretId: arn,
          Tags: [{ Key: RENEWAL_TAG.started, Value: new Date().toISOString() }],
        });
      }
    };
    const { d, log } = deps(secrets, new Ari(past));
    const summary = await runWatch(CONFIG, d);
    expect(secrets.rotated).toEqual([calm.arn]);
    expect(summary).toMatchObject({ due: 4, started: 1, skipped: 3 });
    const lines = reasonsOf(log);
    expect(lines[manual.name]?.reason).toMatch(/a rotation started since the listing/);
    expect(lines[renewed.name]?.reason).toMatch(/renewed since the listing/);
    expect(lines[otherRun.name]?.reason).toMatch(/another run started a renewal at/);
  });

  it('two runs meeting start no rotation twice', async () => {
    const fleet = Array.from({ length: 12 }, (_, i) => secret(`m${i}`));
    const secrets = new Secrets(fleet);
    const [a, b] = [deps(secrets, new Ari(past)), deps(secrets, new Ari(past))];
    const [ra, rb] = await Promise.all([runWatch(CONFIG, a.d, 3), runWatch(CONFIG, b.d)]);
    expect(new Set(secrets.rotated).size).toBe(secrets.rotated.length);
    expect(secrets.rotated.sort()).toEqual(fleet.map((s) => s.arn).sort());
    expect(ra.started + rb.started).toBe(12);
  });

  it('a CA that does not answer counts as down after 3 failures; renewals due by lifetime still start', async () => {
    const dueByLifetime = Array.from({ length: 5 }, (_, i) => secret(`old${i}`, { ageMs: 61 * 24 * HOUR }));
    const notDue = Array.from({ length: 15 }, (_, i) => secret(`new${i}`));
    const secrets = new Secrets([...notDue, ...dueByLifetime]);
    const ari = new Ari(() => ({ ok: false, error: 'renewalInfo: no answer within 10000 ms', caFailure: true }));
    const { d, log } = deps(secrets, ari, { concurrency: 1 });
    const summary = await runWatch(CONFIG, d);
    expect(ari.asked).toHaveLength(3);
    expect(summary.caDown).toEqual([DIRECTORY]);
    expect(secrets.rotated.sort()).toEqual(dueByLifetime.map((s) => s.arn).sort());
    const line = reasonsOf(log)[notDue[10]!.name];
    expect(line?.ariError).toMatch(/counts as down for this run \(3 failures in a row/);
  });

  it('Retry-After on a 429 is honoured and the per-secret backoff is persisted', async () => {
    const s = secret('limited');
    s.tags.push({ Key: RENEWAL_TAG.cert, Value: s.certId ?? '' }, { Key: RENEWAL_TAG.failures, Value: '2' });
    const secrets = new Secrets([s]);
    const ari = new Ari(() => ({ ok: false, error: 'HTTP 429', caFailure: true, retryAfterMs: 5 * HOUR }));
    const { d } = deps(secrets, ari);
    const before = Date.now();
    await runWatch(CONFIG, d);
    const tags = secrets.tags(s.arn);
    expect(tags[RENEWAL_TAG.failures]).toBe('3');
    // Third failure in a row: 4 h of backoff (± 10 %), but the CA asked for 5 h.
    const wait = Date.parse(tags[RENEWAL_TAG.checkAfter] ?? '') - before;
    expect(wait).toBeGreaterThanOrEqual(5 * HOUR - 1_000);
    expect(wait).toBeLessThan(5 * HOUR + 60_000);
  });

  it('never asks about an expired certificate (RFC 9773 §4.3), and renews it', async () => {
    const expired = secret('expired', { ageMs: 91 * 24 * HOUR });
    const secrets = new Secrets([expired]);
    const ari = new Ari(future);
    const { d } = deps(secrets, ari);
    const summary = await runWatch(CONFIG, d);
    expect(ari.asked).toEqual([]);
    expect(secrets.rotated).toEqual([expired.arn]);
    expect(summary.atRisk).toBe(1);
  });

  it('renews now a certificate whose moment falls before the next run (RFC 9773 §4.2)', async () => {
    const s = secret('soon');
    const secrets = new Secrets([s]);
    const soon = (): AriResult => ({
      ok: true,
      answer: { start: new Date(Date.now() + 20 * MINUTE), end: new Date(Date.now() + 40 * MINUTE) },
    });
    const { d } = deps(secrets, new Ari(soon));
    expect((await runWatch({ ...CONFIG, nextRunMs: HOUR }, d)).started).toBe(1);
    const again = new Secrets([secret('soon2')]);
    const { d: d2 } = deps(again, new Ari(soon));
    expect((await runWatch({ ...CONFIG, nextRunMs: 10 * MINUTE }, d2)).started).toBe(0);
  });

  it('examines within the budget: what is left goes to the continuation, and the summary is written', async () => {
    const fleet = Array.from({ length: 10 }, (_, i) => secret(`b${i}`));
    const secrets = new Secrets(fleet);
    let reads = 0;
    const current = secrets.current.bind(secrets);
    secrets.current = async (arn) => {
      reads++;
      return current(arn);
    };
    const hops: number[] = [];
    const { d, written } = deps(secrets, new Ari(future), {
      concurrency: 1,
      timeLeftMs: () => 60_000 - 10_000 * reads, // every read costs 10 s of the budget
      continueWith: async (hop) => {
        hops.push(hop);
      },
    });
    const summary = await runWatch(CONFIG, d);
    expect(reads).toBe(3); // the examining stops with half the budget left for the starts
    expect(summary).toMatchObject({ notExamined: 7, continued: true });
    expect(hops).toEqual([1]);
    expect(JSON.parse(written.at(-1) as string)).toMatchObject({ message: 'watch summary', notExamined: 7 });
  });

  it('writes the summary even when the listing fails', async () => {
    const secrets = new Secrets([]);
    secrets.refuse('ListSecrets', 'ThrottlingException', 'Rate exceeded');
    const { d, written } = deps(secrets, new Ari(future));
    const summary = await runWatch(CONFIG, d);
    expect(summary.error).toMatch(/Rate exceeded/);
    expect(JSON.parse(written.at(-1) as string)).toMatchObject({ message: 'watch summary', checked: 0 });
  });

  it('paces and counts its tag writes; a secret at the 50-tag limit gets a clear error, not a lost write', async () => {
    const fleet = Array.from({ length: 30 }, (_, i) => secret(`t${i}`));
    const full = secret('full');
    for (let i = 0; i < 48; i++) full.tags.push({ Key: `team:${i}`, Value: 'x' });
    let clock = Date.now();
    const secrets = new Secrets([...fleet, full], { now: () => clock });
    const writesAt: number[] = [];
    const tag = secrets.tag.bind(secrets);
    secrets.tag = async (arn, set, remove) => {
      writesAt.push(clock);
      return tag(arn, set, remove);
    };
    const { d, log } = deps(secrets, new Ari(future), {
      now: () => new Date(clock),
      sleep: async (ms) => {
        clock += ms;
      },
    });
    const summary = await runWatch({ ...CONFIG, tagWritesPerSecond: 10 }, d);
    expect(summary.tagWrites).toBe(30);
    expect(secrets.tagCalls).toHaveLength(30);
    // No second holds more than 10 writes.
    for (const t of writesAt) expect(writesAt.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(10);
    expect(summary.tagErrors).toBe(1);
    // Paced, the writes never meet Secrets Manager's tagging quota (50 a second on the same clock).
    expect(secrets.service.tagThrottled).toBe(0);
    expect(reasonsOf(log)[full.name]?.tagError).toMatch(
      /the renewal state needs 4 more tag\(s\) but the secret has 49 of the 50 Secrets Manager allows/,
    );
  });
});

describe('runWatch when Secrets Manager will not date a pending version', () => {
  it('an AWSPENDING of unknown age blocks its secret but holds no slot; one the watch started recently does', async () => {
    const unknown = secret('unknown');
    const ours = secret('ours');
    const fresh = secret('fresh');
    ours.tags.push(
      { Key: RENEWAL_TAG.cert, Value: ours.certId ?? '' },
      { Key: RENEWAL_TAG.started, Value: new Date(Date.now() - 5 * MINUTE).toISOString() },
    );
    const secrets = new Secrets([unknown, ours, fresh]);
    withPending(unknown, secrets, 3 * HOUR);
    withPending(ours, secrets, 5 * MINUTE);
    secrets.refuse(
      'ListSecretVersionIds',
      'AccessDeniedException',
      'not authorized to perform secretsmanager:ListSecretVersionIds',
    );
    const { d, log } = deps(secrets, new Ari(past));
    const summary = await runWatch({ ...CONFIG, maxInFlight: 2 }, d);
    expect(summary.inFlight).toBe(1);
    expect(secrets.rotated).toEqual([fresh.arn]);
    expect(reasonsOf(log)[unknown.name]?.reason).toMatch(/AWSPENDING version of unknown age blocks it/);
    expect(log.find('could not date the pending version')).toBeDefined();
  });
});

describe('runWatch and the ACM reconciliation', () => {
  const acmSummary = { secrets: 1, checked: 2, delivered: 1, failed: 0, lagging: 0, unfinished: 0 };

  it('a scheduled run reconciles every listed secret after starting renewals, and reports what it did', async () => {
    const fleet = [secret('a'), secret('b')];
    const secrets = new Secrets(fleet);
    const order: string[] = [];
    const seen: string[][] = [];
    const { d, written } = deps(secrets, new Ari((id) => (id === fleet[0]?.certId ? past() : future())), {
      reconcileAcm: async (listed) => {
        order.push(`reconcile after ${secrets.rotated.length} rotation(s)`);
        seen.push(listed.map((s) => s.name));
        return acmSummary;
      },
    });
    const summary = await runWatch(CONFIG, d);
    expect(seen).toEqual([['certs/a', 'certs/b']]);
    expect(order).toEqual(['reconcile after 1 rotation(s)']);
    expect(summary.acm).toEqual(acmSummary);
    expect(JSON.parse(written.at(-1) as string)).toMatchObject({ acm: acmSummary });
  });

  it('a continuation does not reconcile again, and a reconciliation that throws still leaves the summary', async () => {
    let calls = 0;
    const continued = deps(new Secrets([secret('c')]), new Ari(future), {
      reconcileAcm: async () => {
        calls++;
        return acmSummary;
      },
    });
    const hop = await runWatch(CONFIG, continued.d, 3);
    expect(calls).toBe(0);
    expect(hop.acm).toBeUndefined();

    const failing = deps(new Secrets([secret('d')]), new Ari(future), {
      reconcileAcm: async () => {
        throw new Error('ACM is down');
      },
    });
    const summary = await runWatch(CONFIG, failing.d);
    expect(summary.checked).toBe(1);
    expect(summary.acm).toBeUndefined();
    expect(failing.log.find('the ACM reconciliation stopped early')).toBeDefined();
    expect(JSON.parse(failing.written.at(-1) as string)).toMatchObject({ message: 'watch summary', checked: 1 });
  });
});
