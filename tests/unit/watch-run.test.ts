import { RENEWAL_TAG } from '../../rotation/certificate/tags.js';
import { describe, expect, it } from 'vitest';
import { ariCertId } from '../../rotation/acme/ari.js';
import type { AriResult } from '../../rotation/watch/ari.js';
import { runWatch, type AriPort, type WatchDeps, type WatchSecretsPort } from '../../rotation/watch/run.js';
import { rotationInProgress, type ListedSecret } from '../../rotation/watch/secrets.js';
import { makeRootCa, makeTestPki } from '../helpers/certs.js';
import { captureLogger } from './fakes.js';

const root = makeRootCa({ cn: 'Watch Test Root' });
const HOUR = 3_600_000;
const DIRECTORY = 'https://ca.test/directory';

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
    arn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:certs/${name}-AbCdEf`,
    name: `certs/${name}`,
    rotationEnabled: opts.rotationEnabled ?? true,
    versions: opts.versions ?? { v1: ['AWSCURRENT'] },
    tags: [{ Key: 'acme:domains', Value: `${name}.example.com` }],
    value: JSON.stringify({ ...pki.bundle, acme_directory_url: DIRECTORY }),
    certId: ariCertId(pki.leaf.certPem),
  };
}

/**
 * Secrets Manager as the watch sees it: RotateSecret refuses while AWSPENDING sits off AWSCURRENT
 * and creates a pending version dated now; `pendingCreated` dates the ones tests seed.
 */
class Secrets implements WatchSecretsPort {
  readonly rotated: string[] = [];
  readonly cleared: string[] = [];
  readonly tagged: Record<string, Record<string, string>> = {};
  readonly tagCalls: string[] = [];
  /** Version id → CreatedDate of pending versions. */
  readonly pendingCreated = new Map<string, Date>();
  /** Called before DescribeSecret answers (a test changes the secret behind the listing's back). */
  beforeDescribe?: (s: FakeSecret) => void;
  clearRefused = false;
  constructor(readonly secrets: FakeSecret[]) {}
  private byArn(arn: string): FakeSecret {
    const s = this.secrets.find((x) => x.arn === arn);
    if (!s) throw new Error(`no secret ${arn}`);
    return s;
  }
  async list(tagKey: string) {
    expect(tagKey).toBe('acme:domains');
    return this.secrets.map((s) => ({ ...s, versions: structuredClone(s.versions), tags: [...s.tags] }));
  }
  async current(arn: string) {
    return this.secrets.find((s) => s.arn === arn)?.value;
  }
  async tag(arn: string, set: Record<string, string>, remove: string[] = []) {
    this.tagCalls.push(arn);
    this.tagged[arn] = { ...this.tagged[arn], ...set };
    const s = this.byArn(arn);
    s.tags = [
      ...s.tags.filter((t) => !(t.Key! in set) && !remove.includes(t.Key!)),
      ...Object.entries(set).map(([Key, Value]) => ({ Key, Value })),
    ];
  }
  async rotate(arn: string) {
    const s = this.byArn(arn);
    if (rotationInProgress(s.versions)) return 'in-progress' as const;
    this.rotated.push(arn);
    const id = `pending-${this.rotated.length}-${s.name}`;
    s.versions[id] = ['AWSPENDING'];
    this.pendingCreated.set(id, new Date());
    return 'started' as const;
  }
  async describe(arn: string) {
    const s = this.byArn(arn);
    this.beforeDescribe?.(s);
    return { rotationEnabled: s.rotationEnabled, versions: structuredClone(s.versions), tags: [...s.tags] };
  }
  async pending(arn: string) {
    const s = this.byArn(arn);
    const id = Object.entries(s.versions).find(
      ([, st]) => st.includes('AWSPENDING') && !st.includes('AWSCURRENT'),
    )?.[0];
    return id ? { versionId: id, createdAt: this.pendingCreated.get(id) ?? new Date() } : undefined;
  }
  async clearPending(arn: string, versionId: string) {
    if (this.clearRefused) throw new Error('AccessDeniedException: not authorized to perform UpdateSecretVersionStage');
    const s = this.byArn(arn);
    this.cleared.push(arn);
    s.versions[versionId] = (s.versions[versionId] ?? []).filter((x) => x !== 'AWSPENDING');
    if (s.versions[versionId]?.length === 0) delete s.versions[versionId];
  }
  /** Rotations in flight now: young AWSPENDING versions, as Secrets Manager's state says. */
  inFlight(limitMs = 25 * 60_000): number {
    return this.secrets.filter((s) =>
      Object.entries(s.versions).some(
        ([id, st]) =>
          st.includes('AWSPENDING') &&
          !st.includes('AWSCURRENT') &&
          Date.now() - (this.pendingCreated.get(id)?.getTime() ?? 0) < limitMs,
      ),
    ).length;
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
    now: () => new Date(),
    random: () => 0.5,
    sleep: async () => undefined,
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
    expect(secrets.tagged[fleet[3]?.arn ?? '']?.[RENEWAL_TAG.explanation]).toBe('https://ca.test/incident');
    expect(secrets.tagged[fleet[3]?.arn ?? '']?.[RENEWAL_TAG.started]).toBeDefined();
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
    expect(secrets.tagged[a?.arn ?? '']?.[RENEWAL_TAG.error]).toBe('renewalInfo answered HTTP 500');
    const line = log.lines().find((l) => l.secretName === a?.name);
    expect(line).toMatchObject({ status: 'ari-error', ariError: 'renewalInfo answered HTTP 500' });
  });

  it('leaves alone a due secret with rotation disabled, a rotation in flight, or a renewal started within 4 h', async () => {
    const disabled = secret('disabled', { rotationEnabled: false });
    const busy = secret('busy', { versions: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] } });
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
    const unset = secret('unset');
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
/** An AWSPENDING version Secrets Manager created `ageMs` ago. */
function withPending(
  s: FakeSecret,
  secrets: Secrets,
  ageMs: number,
  id = `stuck-${s.name.split('/').pop()}`,
): FakeSecret {
  s.versions[id] = ['AWSPENDING'];
  secrets.pendingCreated.set(id, new Date(Date.now() - ageMs));
  return s;
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
      failedRotation: { versionId: 'stuck-stuck0', cleared: true },
    });
    expect(log.find('a failed rotation was cleared')).toBeDefined();
  });

  it('a failed rotation the watch may not clear is at risk with its remedy, and still holds no slot', async () => {
    const stuck = secret('stuck');
    const fresh = secret('fresh');
    const secrets = new Secrets([stuck, fresh]);
    withPending(stuck, secrets, 3 * HOUR);
    secrets.clearRefused = true;
    const { d, log } = deps(secrets, new Ari(past));
    const summary = await runWatch({ ...CONFIG, maxInFlight: 1 }, d);
    expect(secrets.rotated).toEqual([fresh.arn]);
    expect(summary).toMatchObject({ atRisk: 1, failedRotations: 1, failedRotationsCleared: 0, inFlight: 0 });
    const line = reasonsOf(log)[stuck.name];
    expect(line?.status).toBe('at-risk');
    expect(line?.atRisk).toContain('a rotation failed: AWSPENDING has been on version stuck-stuck since');
    expect(line?.atRisk).toContain(
      `aws secretsmanager update-secret-version-stage --secret-id ${stuck.arn} --version-stage AWSPENDING --remove-from-version-id stuck-stuck`,
    );
  });

  it('re-reads each secret before RotateSecret: no renewal another run, the schedule or an operator just started', async () => {
    const manual = secret('manual');
    const renewed = secret('renewed');
    const otherRun = secret('other-run');
    const calm = secret('calm');
    const secrets = new Secrets([manual, renewed, otherRun, calm]);
    // What changed after the listing (ListSecrets may lag by minutes):
    secrets.beforeDescribe = (s) => {
      if (s === manual && !s.versions.manual2) {
        s.versions.manual2 = ['AWSPENDING']; // aws secretsmanager rotate-secret, just now
        secrets.pendingCreated.set('manual2', new Date());
      }
      if (s === renewed) s.versions = { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] };
      if (s === otherRun && !s.tags.some((t) => t.Key === RENEWAL_TAG.started)) {
        s.tags.push({ Key: RENEWAL_TAG.started, Value: new Date().toISOString() });
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
    const tags = secrets.tagged[s.arn] ?? {};
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
    secrets.list = async () => {
      throw new Error('ThrottlingException: Rate exceeded');
    };
    const { d, written } = deps(secrets, new Ari(future));
    const summary = await runWatch(CONFIG, d);
    expect(summary.error).toMatch(/Rate exceeded/);
    expect(JSON.parse(written.at(-1) as string)).toMatchObject({ message: 'watch summary', checked: 0 });
  });

  it('paces and counts its tag writes; a secret at the 50-tag limit gets a clear error, not a lost write', async () => {
    const fleet = Array.from({ length: 30 }, (_, i) => secret(`t${i}`));
    const full = secret('full');
    for (let i = 0; i < 48; i++) full.tags.push({ Key: `team:${i}`, Value: 'x' });
    const secrets = new Secrets([...fleet, full]);
    let clock = Date.now();
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
    const secrets = new Secrets([unknown, ours, fresh]);
    withPending(unknown, secrets, 3 * HOUR);
    withPending(ours, secrets, 5 * MINUTE);
    ours.tags.push(
      { Key: RENEWAL_TAG.cert, Value: ours.certId ?? '' },
      { Key: RENEWAL_TAG.started, Value: new Date(Date.now() - 5 * MINUTE).toISOString() },
    );
    secrets.pending = async () => {
      throw new Error('AccessDeniedException: not authorized to perform secretsmanager:ListSecretVersionIds');
    };
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
