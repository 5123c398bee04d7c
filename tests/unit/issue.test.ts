import { type KeyType } from '../../rotation/certificate/key-types.js';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issueCertificate, type IssueDeps } from '../../rotation/acme/issue.js';
import { Deadline } from '../../rotation/lib/deadline.js';
import { INFLIGHT_TAG } from '../../rotation/certificate/tags.js';
import { Dns01Solver } from '../../rotation/dns01/solver.js';
import type { PlacedRecord } from '../../rotation/dns01/provider.js';
import { AcmeError, DeadlineError, DnsError, SpecError } from '../../rotation/lib/errors.js';
import type { CertificateSpec } from '../../rotation/certificate/spec.js';
import { FakeCa, FakeDns, Timeline, UNAUTHORIZED, captureLogger, testIssuer, type CapturedLog } from './fakes.js';
import { PKCS8_KEY_START } from '../helpers/pem-markers.js';

function spec(domains: string[], keyType: KeyType = 'ecdsa-p256', profile?: string): CertificateSpec {
  return { domains, keyType, hostedZoneIds: [], acmCertificateArns: [], ...(profile ? { profile } : {}) };
}

interface Setup {
  timeline: Timeline;
  /** The zones behind the solver. */
  dns: FakeDns;
  ca: FakeCa;
  log: CapturedLog;
  deps: IssueDeps;
  /** The TXT values of each in-flight tag write, in order. */
  recorded: string[][];
  /** What the solver's propagation check and in-flight tag write do (replaceable per test). */
  hooks: { propagation: (placed: PlacedRecord[]) => Promise<void>; tag: () => Promise<void> };
}

function setup(overrides: Partial<IssueDeps> = {}): Setup {
  const timeline = new Timeline();
  const dns = new FakeDns(timeline);
  const ca = new FakeCa({ timeline, dns });
  const log = captureLogger();
  const recorded: string[][] = [];
  const hooks: Setup['hooks'] = {
    propagation: (placed) => {
      // Only values that are really published may be waited for.
      for (const p of placed) expect(dns.has(p.domain, p.value)).toBe(true);
      return Promise.resolve();
    },
    tag: () => Promise.resolve(),
  };
  // The shipped solver over the fake zones: its in-flight tags go to the timeline.
  const solver = new Dns01Solver({
    domains: [],
    zones: () => Promise.resolve(dns),
    secret: { arn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:certs/web', tags: [] },
    token: 'token-1',
    tags: {
      tag: async (_arn, tags) => {
        timeline.add('inflight:record');
        await hooks.tag();
        recorded.push(
          Object.entries(tags)
            .filter(([key]) => key !== INFLIGHT_TAG)
            .flatMap(([, value]) => value.split(' ')),
        );
      },
      untag: () => {
        timeline.add('inflight:clear');
        return Promise.resolve();
      },
    },
    logger: log.logger,
    propagation: (placed) => {
      timeline.add('dns:propagation');
      return hooks.propagation(placed);
    },
  });
  const deps: IssueDeps = {
    ca,
    dns: solver,
    logger: log.logger,
    dnsDeadline: new Deadline(60_000, 0),
    acmeDeadline: () => {
      timeline.add('acme:deadline');
      return new Deadline(60_000, 0);
    },
    pollMinMs: 1,
    pollMaxMs: 4,
    ...overrides,
  };
  return { timeline, dns, ca, log, deps, recorded, hooks };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('issueCertificate', () => {
  it('answers every challenge in parallel, then polls until all authorizations are valid', async () => {
    const s = setup();
    const names = ['example.com', '*.example.com', 'www.example.com'];
    let inFlight = 0;
    let maxInFlight = 0;
    let releaseAll: () => void = () => undefined;
    const allAnswered = new Promise<void>((resolve) => (releaseAll = resolve));
    s.ca.completeHook = async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (inFlight === names.length) releaseAll();
      // A sequential caller would never reach 3 answers in flight; don't hang it, just let it fail.
      await Promise.race([allAnswered, new Promise((r) => setTimeout(r, 500))]);
      inFlight--;
    };
    s.ca.validationPolls = 3;
    s.ca.processingPolls = 0; // issued at finalize: only validation polls the order

    const issued = await issueCertificate(spec(names), s.deps);

    expect(maxInFlight).toBe(3);
    expect([...s.ca.answered].sort()).toEqual([...names].sort());
    // One look at the authorizations to learn the challenges; then one request per poll whatever
    // the number of names: the order, 3 times pending, once ready.
    expect(s.ca.calls.getAuthorizations).toBe(1);
    expect(s.ca.calls.getOrder).toBe(4);
    expect(s.ca.calls.respondChallenge).toBe(3);
    expect(issued.certificatePem).toBe(s.ca.issuedPem);
  });

  it('looks at the order again 5, 15, 35 and 75 ms after answering, then by the time waited (min 100 ms)', async () => {
    const s = setup({ pollMinMs: 100, pollMaxMs: 2_000 });
    const looks: number[] = [];
    let answeredAt = 0;
    s.ca.completeHook = () => {
      answeredAt = performance.now();
      return Promise.resolve();
    };
    const getOrder = s.ca.getOrder.bind(s.ca);
    s.ca.getOrder = (order) => {
      if (looks.length < 6) looks.push(performance.now() - answeredAt);
      return getOrder(order);
    };
    s.ca.validationPolls = 5; // pending at the first five looks, ready at the sixth
    s.ca.processingPolls = 0;

    await issueCertificate(spec(['example.com']), s.deps);

    expect(looks).toHaveLength(6);
    expect(looks[0]).toBeLessThan(5);
    const gaps = looks.slice(1).map((at, i) => at - (looks[i] as number));
    // Timers never fire early (allow 1 ms of rounding): 5, 10, 20, 40, then pollDelay's minimum.
    [5, 10, 20, 40, 100].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 1));
  });

  it('returns the CA chain and a fresh PKCS#8 key of the spec type that matches the certificate', async () => {
    const s = setup();
    const issued = await issueCertificate(spec(['example.com'], 'ecdsa-p384'), s.deps);
    expect(issued.certificatePem).toBe((s.ca.issuedLeafPem as string) + testIssuer().intermediate.certPem);
    expect(issued.privateKeyPem).toMatch(PKCS8_KEY_START);
    const key = createPrivateKey(issued.privateKeyPem);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(new X509Certificate(s.ca.issuedLeafPem as string).checkPrivateKey(key)).toBe(true);
    expect(s.ca.csrKeyPem).toBe(issued.privateKeyPem);
  });

  it('sends the profile with the order', async () => {
    const s = setup();
    await issueCertificate(spec(['example.com', 'www.example.com'], 'ecdsa-p256', 'shortlived'), s.deps);
    expect(s.ca.orders).toEqual([{ domains: ['example.com', 'www.example.com'], profile: 'shortlived' }]);
  });

  it('refuses a profile the directory does not list, before ordering or touching DNS, naming tag, profile and offer', async () => {
    const s = setup({ secretName: 'certs/web' });
    s.ca.offeredProfiles = { classic: 'The same profile as always', tlsserver: 'Short-lived, TLS server only' };
    const err = await issueCertificate(spec(['example.com'], 'ecdsa-p256', 'shortlived'), s.deps).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(SpecError);
    expect(err?.message).toBe(
      'secret "certs/web": tag acme:profile names profile "shortlived", which the CA does not offer; ' +
        'it offers "classic", "tlsserver": set acme:profile to one of them, or remove the tag for the CA\'s default',
    );
    expect(s.ca.orders).toEqual([]);
    expect(s.recorded).toEqual([]);
    expect(s.dns.presentCalls).toEqual([]);
  });

  it('orders a listed profile, and sends any profile to a CA that lists none', async () => {
    const listed = setup();
    listed.ca.offeredProfiles = { classic: '', tlsserver: '' };
    await issueCertificate(spec(['example.com'], 'ecdsa-p256', 'tlsserver'), listed.deps);
    expect(listed.ca.orders).toEqual([{ domains: ['example.com'], profile: 'tlsserver' }]);
    const unlisted = setup();
    await issueCertificate(spec(['example.com'], 'ecdsa-p256', 'anything'), unlisted.deps);
    expect(unlisted.ca.orders).toEqual([{ domains: ['example.com'], profile: 'anything' }]);
  });

  it('downloads the preferred chain when one is set', async () => {
    const s = setup({ preferredChain: 'Some Root' });
    await issueCertificate(spec(['example.com']), s.deps);
    expect(s.ca.downloads).toEqual([{ preferredChain: 'Some Root' }]);
  });

  it('records in flight, publishes, waits for INSYNC and propagation, validates, then cleans up and forgets while it finalizes', async () => {
    const s = setup();
    await issueCertificate(spec(['example.com', '*.example.com']), s.deps);

    // The CSR is built beside the network work (its place depends on timing); after validation,
    // the clean-up and the finalization run side by side, each in its own order.
    const events = s.timeline.events.filter((e) => !e.startsWith('ca:keyAuthorization'));
    const csrAt = events.indexOf('ca:createCsr');
    expect(csrAt).toBeGreaterThan(-1);
    expect(csrAt).toBeLessThan(events.indexOf('ca:finalize'));
    const rest = events.filter((e) => e !== 'ca:createCsr');
    const validated = rest.indexOf('dns:cleanUp');
    const tail = rest.slice(validated);
    const finalizing = tail.filter((e) => !e.startsWith('dns:') && !e.startsWith('inflight:'));
    expect(tail.filter((e) => !finalizing.includes(e))).toEqual(['dns:cleanUp', 'inflight:clear']);
    expect(finalizing).toEqual(['ca:finalize', 'ca:getOrder', 'ca:getOrder', 'ca:downloadCertificate']);
    expect(rest.slice(0, validated)).toEqual([
      'ca:newOrder',
      'ca:getAuthorizations',
      'inflight:record',
      'dns:present',
      'dns:insync',
      'dns:propagation',
      'acme:deadline',
      'ca:respondChallenge',
      'ca:respondChallenge:example.com',
      'ca:respondChallenge',
      'ca:respondChallenge:*.example.com',
      'ca:getOrder',
      'ca:getOrder',
    ]);
    // The wildcard's challenge lives at the base name; one record per authorization.
    const records = s.dns.presentCalls[0]!;
    expect(records.map((r) => r.domain)).toEqual(['example.com', 'example.com']);
    expect(new Set(records.map((r) => r.value)).size).toBe(2);
    expect(s.recorded).toEqual([records.map((r) => r.value)]);
    expect(s.dns.cleanUpCalls).toEqual([records]);
    expect(s.dns.live.size).toBe(0);
  });

  it("takes the CA's budget when validation starts, not before DNS", async () => {
    const s = setup();
    let dnsDone = false;
    s.hooks.propagation = () => {
      dnsDone = true;
      return Promise.resolve();
    };
    s.deps.acmeDeadline = () => {
      expect(dnsDone).toBe(true);
      s.timeline.add('acme:deadline');
      return new Deadline(60_000, 0);
    };
    await issueCertificate(spec(['example.com']), s.deps);
    expect(s.timeline.count('acme:deadline')).toBe(1);
    expect(s.timeline.first('acme:deadline')).toBeLessThan(s.timeline.first('ca:respondChallenge'));
  });

  it('fails with the CA detail when an authorization is not pending to begin with', async () => {
    const s = setup();
    s.ca.createdStatus = 'pending';
    s.ca.initialStatus.set('www.example.com', 'deactivated');
    const err = await rejection(issueCertificate(spec(['example.com', 'www.example.com']), s.deps));
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as AcmeError).code).toBe('AuthorizationInvalid');
    expect(err.message).toBe('authorization for www.example.com is deactivated: authorization is deactivated');
    expect(s.recorded).toEqual([]);
    expect(s.dns.presentCalls).toEqual([]);
  });

  it("fails with the CA's problem detail when validation fails, and still cleans up", async () => {
    const s = setup();
    s.ca.failValidation.set('www.example.com', 'Incorrect TXT record "nope" found at _acme-challenge.www.example.com');
    const err = await rejection(issueCertificate(spec(['example.com', 'www.example.com']), s.deps));
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as AcmeError).code).toBe('ChallengeFailed');
    expect(err.message).toBe(
      `the CA could not validate www.example.com: ${UNAUTHORIZED}: Incorrect TXT record "nope" found at _acme-challenge.www.example.com`,
    );
    expect(s.dns.cleanUpCalls).toEqual(s.dns.presentCalls);
    expect(s.timeline.count('inflight:clear')).toBe(1);
    expect(s.ca.calls.finalize).toBeUndefined();
    expect(s.log.find('acme-validation failed')).toMatchObject({ level: 'warn', phase: 'acme-validation' });
  });

  it('notices when the TXT value was not in DNS when the challenge was answered', async () => {
    const s = setup();
    s.dns.present = (records) => {
      s.dns.presentCalls.push(records);
      // Claims success but publishes nothing.
      return Promise.resolve(
        records.map((r) => ({ ...r, fqdn: `_acme-challenge.${r.domain}`, zoneId: 'Z', zoneName: r.domain })),
      );
    };
    s.hooks.propagation = () => Promise.resolve();
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect(err.message).toContain('No TXT record found at _acme-challenge.example.com');
  });

  it('fails when the order is invalid from the start', async () => {
    const s = setup();
    s.ca.createdStatus = 'invalid';
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as AcmeError).code).toBe('OrderInvalid');
    expect(err.message).toContain('the CA created the order already invalid');
    expect(err.message).toContain('rejectedIdentifier');
    expect(s.ca.calls.getAuthorizations).toBeUndefined();
  });

  it('fails when the CA marks the order invalid after finalize', async () => {
    const s = setup();
    s.ca.invalidAfterFinalize = { type: 'urn:ietf:params:acme:error:badCSR', detail: 'CSR key is weak' };
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as AcmeError).code).toBe('OrderInvalid');
    expect(err.message).toContain('the CA marked the order invalid');
    expect(err.message).toContain('CSR key is weak');
    expect(s.ca.calls.downloadCertificate).toBeUndefined();
    // The clean-up that ran beside the finalization had finished before the error came out.
    expect(s.dns.live.size).toBe(0);
    expect(s.timeline.events).toContain('inflight:clear');
  });

  it('a slow clean-up is awaited: the certificate comes back only once the TXT values are gone', async () => {
    const s = setup();
    const cleanUp = s.dns.cleanUp.bind(s.dns);
    s.dns.cleanUp = async (records, deadline) => {
      await new Promise((r) => setTimeout(r, 30));
      return cleanUp(records, deadline);
    };
    const issued = await issueCertificate(spec(['example.com']), s.deps);
    expect(issued.certificatePem).toBe(s.ca.issuedPem);
    expect(s.dns.live.size).toBe(0);
    expect(s.timeline.events.at(-1)).toBe('inflight:clear');
    expect(s.timeline.events.indexOf('ca:downloadCertificate')).toBeLessThan(s.timeline.events.indexOf('dns:cleanUp'));
  });

  it('polls a processing order until the certificate is ready', async () => {
    const s = setup();
    s.ca.processingPolls = 4;
    const issued = await issueCertificate(spec(['example.com']), s.deps);
    expect(issued.certificatePem).toBe(s.ca.issuedPem);
    // Validation: pending once, then ready (finalize follows at once); then 4 processing + 1 valid.
    expect(s.ca.calls.getOrder).toBe(7);
  });

  it('throws DeadlineError when the CA takes longer than the ACME budget, and still cleans up', async () => {
    const s = setup({ acmeDeadline: () => new Deadline(60, 0), pollMinMs: 20, pollMaxMs: 20 });
    s.ca.validationPolls = 1_000;
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect(err).toBeInstanceOf(DeadlineError);
    expect(err.message).toContain('not enough time left for the CA to validate the challenges');
    expect(s.dns.cleanUpCalls).toEqual(s.dns.presentCalls);
    expect(s.timeline.count('inflight:clear')).toBe(1);
  });

  it('does not answer challenges when propagation fails, and cleans up', async () => {
    const s = setup();
    const dnsError = new DnsError('PropagationTimeout', 'TXT not visible on ns-1 after 300 s');
    s.hooks.propagation = () => Promise.reject(dnsError);
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect(err).toBe(dnsError);
    expect(s.ca.calls.respondChallenge).toBeUndefined();
    expect(s.dns.cleanUpCalls).toEqual(s.dns.presentCalls);
  });

  it('cleans up when present itself fails part-way', async () => {
    const s = setup();
    s.dns.presentError = new DnsError('ChangeRejected', 'InvalidChangeBatch');
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect(err).toBe(s.dns.presentError);
    expect(s.dns.cleanUpCalls).toEqual(s.dns.presentCalls);
  });

  it('a clean-up failure after success is logged, keeps the in-flight record, and the certificate is returned', async () => {
    const s = setup();
    s.dns.cleanUpError = new Error('Throttling: Rate exceeded');
    const issued = await issueCertificate(spec(['example.com']), s.deps);
    expect(issued.certificatePem).toBe(s.ca.issuedPem);
    const line = s.log.find('could not remove our TXT records');
    expect(line).toMatchObject({ level: 'error', error: 'Throttling: Rate exceeded' });
    expect(line).not.toHaveProperty('originalError');
    expect(s.timeline.count('inflight:clear')).toBe(0);
  });

  it('a clean-up failure after a failure keeps the original error and logs both', async () => {
    const s = setup();
    s.ca.failValidation.set('example.com', 'CAA record forbids issuance');
    s.dns.cleanUpError = new Error('Throttling: Rate exceeded');
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect((err as AcmeError).code).toBe('ChallengeFailed');
    expect(s.log.find('could not remove our TXT records')).toMatchObject({
      error: 'Throttling: Rate exceeded',
      originalError: err.message,
    });
  });

  it('touches no DNS when the in-flight record cannot be written', async () => {
    const s = setup();
    s.hooks.tag = () => Promise.reject(new Error('TagResource denied'));
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect(err.message).toBe('TagResource denied');
    expect(s.dns.presentCalls).toEqual([]);
    expect(s.ca.calls.respondChallenge).toBeUndefined();
  });

  it('fails clearly when the CA offers no dns-01 challenge', async () => {
    const s = setup();
    s.ca.offerDns = false;
    const err = await rejection(issueCertificate(spec(['example.com']), s.deps));
    expect((err as AcmeError).code).toBe('NoDnsChallenge');
    expect(err.message).toBe('the CA offered no dns-01 challenge for example.com (offered: http-01)');
  });

  it('skips reused authorizations: not answered, not in DNS', async () => {
    const s = setup();
    s.ca.reused.add('*.example.com');
    await issueCertificate(spec(['example.com', '*.example.com', 'www.example.com']), s.deps);
    expect(s.ca.answered).toEqual(['example.com', 'www.example.com']);
    expect(s.dns.presentCalls[0]!.map((r) => r.domain)).toEqual(['example.com', 'www.example.com']);
    expect(s.recorded[0]).toEqual(s.dns.presentCalls[0]!.map((r) => r.value));
  });

  it('goes straight to finalize when every authorization is reused', async () => {
    const s = setup();
    s.ca.reused.add('example.com');
    const issued = await issueCertificate(spec(['example.com']), s.deps);
    expect(issued.certificatePem).toBe(s.ca.issuedPem);
    expect(s.recorded).toEqual([]);
    expect(s.dns.presentCalls).toEqual([]);
    expect(s.dns.cleanUpCalls).toEqual([]);
    expect(s.timeline.count('inflight:clear')).toBe(0);
    expect(s.ca.calls.getAuthorizations).toBe(1);
  });
});
