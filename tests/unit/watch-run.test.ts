import { describe, expect, it } from 'vitest';
import { ariCertId } from '../../rotation/acme/ari.js';
import type { AriResult } from '../../rotation/watch/ari.js';
import { runWatch, type AriPort, type WatchDeps, type WatchSecretsPort } from '../../rotation/watch/run.js';
import type { ListedSecret } from '../../rotation/watch/secrets.js';
import { RENEWAL_TAG } from '../../rotation/watch/tags.js';
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

class Secrets implements WatchSecretsPort {
  readonly rotated: string[] = [];
  readonly tagged: Record<string, Record<string, string>> = {};
  constructor(readonly secrets: FakeSecret[]) {}
  async list(tagKey: string) {
    expect(tagKey).toBe('acme:domains');
    return this.secrets.map((s) => ({ ...s, tags: [...s.tags] }));
  }
  async current(arn: string) {
    return this.secrets.find((s) => s.arn === arn)?.value;
  }
  async tag(arn: string, set: Record<string, string>) {
    this.tagged[arn] = { ...this.tagged[arn], ...set };
  }
  async rotate(arn: string) {
    this.rotated.push(arn);
    return 'started' as const;
  }
  async versions() {
    return { v1: ['AWSCURRENT'] };
  }
}

class Ari implements AriPort {
  inFlight = 0;
  maxInFlight = 0;
  asked: string[] = [];
  constructor(private readonly answer: (certId: string) => AriResult) {}
  async renewalInfoBase() {
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
    const ari = new Ari((id) => (id === a?.certId ? { ok: false, error: 'renewalInfo answered HTTP 500' } : past()));
    const { d, log } = deps(secrets, ari);
    const summary = await runWatch(CONFIG, d);
    expect(secrets.rotated).toEqual([b?.arn]);
    expect(summary.ariErrors).toBe(1);
    expect(secrets.tagged[a?.arn ?? '']?.[RENEWAL_TAG.error]).toBe('renewalInfo answered HTTP 500');
    const line = log.lines().find((l) => l.secretName === a?.name);
    expect(line).toMatchObject({ status: 'ari-error', ariError: 'renewalInfo answered HTTP 500' });
  });

  it('leaves alone a due secret with rotation disabled, a rotation in progress, or a renewal started within 4 h', async () => {
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
    expect(reasons[busy.name]).toMatch(/a rotation is already in progress/);
    expect(reasons[recent.name]).toMatch(/not again within 4 h/);
  });

  it('paces: at most maxInFlight at once; the rest deferred and handed to a continuation', async () => {
    const fleet = Array.from({ length: 5 }, (_, i) => secret(`p${i}`));
    const secrets = new Secrets(fleet);
    secrets.versions = async () => ({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] }); // nothing ends
    const hops: number[] = [];
    let left = 3;
    const { d } = deps(secrets, new Ari(past), {
      timeLeftMs: () => left--,
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
