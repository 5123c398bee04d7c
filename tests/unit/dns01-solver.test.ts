/**
 * The DNS-01 solver's contract (rotation/dns01/solver.ts): present writes the in-flight tags, then
 * the records; check waits for the changes, then for propagation; cleanUp removes the records, then
 * the tags, also after a failed check; a later solver removes what a killed one left.
 */
import { GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { beforeEach, describe, expect, it } from 'vitest';
import { SecretsAdapter } from '../../rotation/aws/secrets.js';
import { Deadline } from '../../rotation/lib/deadline.js';
import { DnsError, RotationStateError } from '../../rotation/lib/errors.js';
import { Dns01Solver, type Dns01SolverOptions } from '../../rotation/dns01/solver.js';
import type { PlacedRecord, ZoneWriter } from '../../rotation/dns01/provider.js';
import { Route53Adapter } from '../../rotation/route53/adapter.js';
import { Route53DnsProvider } from '../../rotation/route53/provider.js';
import {
  FakeDns,
  FakeRoute53,
  FakeSecretsManager,
  SECRET_ARN,
  SECRET_NAME,
  TOKEN,
  Timeline,
  captureLogger,
  specTags,
  type CapturedLog,
} from './fakes.js';

const DOMAINS = ['example.com', '*.example.com', 'www.example.com'];
/** Two 43-character values, as an ACME key authorization digest is. */
const V1 = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const V2 = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const RECORDS = [
  { domain: 'example.com', value: V1 },
  { domain: 'www.example.com', value: V2 },
];

interface Setup {
  timeline: Timeline;
  sm: FakeSecretsManager;
  dns: FakeDns;
  log: CapturedLog;
  propagated: PlacedRecord[][];
  nameservers: string[][];
  solver: (overrides?: Partial<Dns01SolverOptions>) => Dns01Solver;
}

function setup(extraTags: Record<string, string> = {}): Setup {
  const timeline = new Timeline();
  const sm = new FakeSecretsManager(timeline);
  sm.addSecret({ name: SECRET_NAME, arn: SECRET_ARN, tags: { ...specTags(DOMAINS), ...extraTags } });
  const dns = new FakeDns(timeline);
  const log = captureLogger();
  const propagated: PlacedRecord[][] = [];
  const nameservers: string[][] = [];
  const s: Setup = {
    timeline,
    sm,
    dns,
    log,
    propagated,
    nameservers,
    solver: (overrides = {}) =>
      new Dns01Solver({
        domains: DOMAINS,
        zones: () => Promise.resolve(dns),
        // The tags as a step finds them: read once, at its start.
        secret: { arn: SECRET_ARN, tags: Object.entries(sm.tags(SECRET_ARN)).map(([Key, Value]) => ({ Key, Value })) },
        token: TOKEN,
        tags: new SecretsAdapter(sm.client),
        logger: log.logger,
        propagation: async (placed, _deadline, nameserversFor) => {
          timeline.add('dns:propagation');
          propagated.push(placed);
          nameservers.push(await nameserversFor(placed[0]!.zoneId));
        },
        ...overrides,
      }),
  };
  return s;
}

const deadline = (): Deadline => new Deadline(60_000, 0);
const inflightKeys = (tags: Record<string, string>): string[] =>
  Object.keys(tags).filter((k) => k === 'acme-rotation:inflight' || k.startsWith('acme-rotation:inflight:'));

describe('Dns01Solver: present → check → cleanUp', () => {
  it('writes the in-flight tags, then the records; waits for the changes, then propagation; removes the records, then the tags', async () => {
    const s = setup();
    const solver = s.solver();
    expect(solver.inFlight).toBe(false);

    const placed = await solver.present(RECORDS, deadline());
    expect(solver.inFlight).toBe(true);
    // While the records are in DNS, the secret names them: a retry after a kill can find them.
    expect(s.sm.tags(SECRET_ARN)).toMatchObject({
      'acme-rotation:inflight': TOKEN,
      'acme-rotation:inflight:0': `${V1} ${V2}`,
    });
    expect(s.dns.has('example.com', V1) && s.dns.has('www.example.com', V2)).toBe(true);

    await solver.check(placed, deadline());
    expect(s.propagated).toEqual([placed]);
    expect(s.nameservers).toEqual([['ns-1.fake.test']]);

    await solver.cleanUp(RECORDS, deadline());
    expect(solver.inFlight).toBe(false);
    expect(s.dns.live.size).toBe(0);
    expect(inflightKeys(s.sm.tags(SECRET_ARN))).toEqual([]);
    expect(s.sm.tags(SECRET_ARN)['acme:domains']).toBe(DOMAINS.join(','));

    const t = s.timeline;
    expect(t.first('sm:TagResource[acme-rotation:inflight,acme-rotation:inflight:0]')).toBeGreaterThanOrEqual(0);
    expect(t.first(/^sm:TagResource\[acme-rotation:inflight/)).toBeLessThan(t.first('dns:present'));
    expect(t.first('dns:present')).toBeLessThan(t.first('dns:insync'));
    expect(t.first('dns:insync')).toBeLessThan(t.first('dns:propagation'));
    expect(t.first('dns:propagation')).toBeLessThan(t.first('dns:cleanUp'));
    expect(t.first('dns:cleanUp')).toBeLessThan(t.first(/^sm:UntagResource/));
    expect(t.count(/^sm:TagResource/)).toBe(1);
    expect(t.count(/^sm:UntagResource/)).toBe(1);
  });

  it('a failed check is cleaned up all the same: records, then tags', async () => {
    const s = setup();
    const refusal = new DnsError('PropagationTimeout', 'TXT records not visible before the deadline');
    const solver = s.solver({ propagation: () => Promise.reject(refusal) });

    const placed = await solver.present(RECORDS, deadline());
    await expect(solver.check(placed, deadline())).rejects.toBe(refusal);
    await solver.cleanUp(RECORDS, deadline());

    expect(s.dns.cleanUpCalls).toEqual([RECORDS]);
    expect(s.dns.live.size).toBe(0);
    expect(inflightKeys(s.sm.tags(SECRET_ARN))).toEqual([]);
    expect(solver.inFlight).toBe(false);
    expect(s.timeline.first('dns:cleanUp')).toBeLessThan(s.timeline.first(/^sm:UntagResource/));
  });

  it('a clean-up that fails keeps the tags (the retry needs them) and can be run again', async () => {
    const s = setup();
    const solver = s.solver();
    await solver.present(RECORDS, deadline());
    s.dns.cleanUpError = new Error('Route 53 said no (Throttling)');

    await expect(solver.cleanUp(RECORDS, deadline())).rejects.toBe(s.dns.cleanUpError);
    expect(solver.inFlight).toBe(true);
    expect(inflightKeys(s.sm.tags(SECRET_ARN)).sort()).toEqual(['acme-rotation:inflight', 'acme-rotation:inflight:0']);
    expect(s.timeline.count(/^sm:UntagResource/)).toBe(0);

    s.dns.cleanUpError = undefined;
    await solver.cleanUp(RECORDS, deadline());
    expect(s.dns.live.size).toBe(0);
    expect(inflightKeys(s.sm.tags(SECRET_ARN))).toEqual([]);
  });
});

describe('Dns01Solver: tags before records', () => {
  it('when the tags cannot be written, nothing reaches DNS and the clean-up has nothing to do', async () => {
    const s = setup();
    s.sm.before = (op) => {
      if (op === 'TagResource') throw new Error('AccessDeniedException: not allowed to tag');
    };
    const solver = s.solver();

    await expect(solver.present(RECORDS, deadline())).rejects.toThrow(/not allowed to tag/);
    expect(s.dns.presentCalls).toEqual([]);
    await solver.cleanUp(RECORDS, deadline());
    expect(s.dns.cleanUpCalls).toEqual([]);
    expect(s.timeline.count(/^sm:UntagResource/)).toBe(0);
  });

  it('refuses, before writing anything, in-flight tags that would take the secret past 50 tags', async () => {
    // The spec's acme:domains + 48 others = 49: the two in-flight tags (51) do not fit.
    const others = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`team:${i}`, 'x']));
    const s = setup(others);
    const solver = s.solver();

    const err = await solver.present(RECORDS, deadline()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RotationStateError);
    expect((err as Error).message).toBe(
      'recording 2 challenge values needs 2 tags, but the secret already has 49 of the 50 allowed; ' +
        'remove unrelated tags or split the certificate',
    );
    expect(s.timeline.count(/^sm:TagResource/)).toBe(0);
    expect(s.dns.presentCalls).toEqual([]);
  });
});

describe('Dns01Solver: leftovers of a killed attempt', () => {
  it('a later solver removes each recorded value at each challenge name, then exactly the recorded tags', async () => {
    const s = setup();
    const killed = s.solver();
    await killed.present(RECORDS, deadline());
    s.dns.live.add(`example.com someone-elses-value`);
    // The attempt is killed here; the retry's step reads the tags afresh.
    const retry = s.solver();

    await retry.cleanUpLeftovers(deadline());

    // Apex and wildcard share example.com: two challenge names, each with both recorded values.
    expect(s.dns.cleanUpCalls).toEqual([
      [
        { domain: 'example.com', value: V1 },
        { domain: 'example.com', value: V2 },
        { domain: 'www.example.com', value: V1 },
        { domain: 'www.example.com', value: V2 },
      ],
    ]);
    expect([...s.dns.live]).toEqual(['example.com someone-elses-value']);
    expect(inflightKeys(s.sm.tags(SECRET_ARN))).toEqual([]);
    expect(s.log.find(/interrupted attempt/)).toMatchObject({ level: 'warn', inflightToken: TOKEN, values: 2 });
    expect(s.log.find('dns-cleanup-leftovers')).toMatchObject({ phase: 'dns-cleanup-leftovers' });
  });

  it('with nothing recorded, makes no call at all (not even to build the zones)', async () => {
    const s = setup();
    let built = 0;
    const solver = s.solver({
      zones: () => {
        built++;
        return Promise.resolve(s.dns);
      },
    });
    await solver.cleanUpLeftovers(deadline());
    expect(built).toBe(0);
    expect(s.timeline.events).toEqual([]);
  });
});

describe('Dns01Solver: the zones, loaded once', () => {
  it('builds the zones on the first DNS call, once; a failed build is tried again on the next call', async () => {
    const s = setup();
    let built = 0;
    let failNext = true;
    const solver = s.solver({
      zones: (): Promise<ZoneWriter> => {
        built++;
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('module failed to load'));
        }
        return Promise.resolve(s.dns);
      },
    });
    expect(built).toBe(0);

    await expect(solver.locate(['example.com'])).rejects.toThrow('module failed to load');
    await solver.locate(['example.com']);
    const placed = await solver.present(RECORDS, deadline());
    await solver.check(placed, deadline());
    await solver.cleanUp(RECORDS, deadline());

    expect(built).toBe(2);
    expect(s.dns.zoneChecks).toEqual([['example.com']]);
  });
});

describe('Dns01Solver over Route 53', () => {
  let fake: FakeRoute53;
  beforeEach(() => {
    fake?.mock.restore();
    fake = new FakeRoute53();
  });

  it('checks propagation only once every zone’s change is INSYNC, and cleans up only its own values', async () => {
    fake.addZone('Z1', 'example.com');
    fake.addZone('Z2', 'example.org');
    fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"theirs"'], 60);
    fake.pendingPolls = 1;
    const s = setup();
    const adapter = new Route53Adapter(new Route53Client({ region: 'us-east-1' }));
    const records = [
      { domain: 'example.com', value: V1 },
      { domain: 'example.org', value: V2 },
    ];
    let getChangesBeforePropagation = -1;
    const solver = s.solver({
      zones: () =>
        Promise.resolve(new Route53DnsProvider({ route53: adapter, logger: s.log.logger, pollMinMs: 1, pollMaxMs: 2 })),
      propagation: (placed) => {
        getChangesBeforePropagation = fake.count(GetChangeCommand);
        for (const p of placed) expect(fake.txt(p.zoneId, p.fqdn)).toContain(p.value);
        return Promise.resolve();
      },
    });

    const placed = await solver.present(records, deadline());
    expect(fake.count(GetChangeCommand)).toBe(0);
    await solver.check(placed, deadline());
    // One PENDING and one INSYNC answer for each zone's change, all before the propagation check.
    expect(getChangesBeforePropagation).toBe(4);
    expect(fake.changeIds()).toHaveLength(2);

    await solver.cleanUp(records, deadline());
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['theirs']);
    expect(fake.txt('Z2', '_acme-challenge.example.org')).toBeUndefined();
    expect(inflightKeys(s.sm.tags(SECRET_ARN))).toEqual([]);
  });
});
