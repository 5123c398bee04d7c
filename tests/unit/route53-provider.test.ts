import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  GetChangeCommand,
  GetHostedZoneCommand,
  InvalidChangeBatch,
  ListHostedZonesByNameCommand,
  NoSuchHostedZone,
  Route53Client,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { Route53Adapter } from '../../rotation/route53/adapter.js';
import { Route53DnsProvider, type Route53DnsProviderOptions } from '../../rotation/route53/provider.js';
import { normalizeName } from '../../rotation/certificate/domains.js';
import { Deadline } from '../../rotation/lib/deadline.js';
import { AwsServiceError, DeadlineError, DnsError } from '../../rotation/lib/errors.js';
import { createLogger } from '../../rotation/lib/log.js';

import { FakeRoute53 } from './fakes.js';

// ------------------------------------------------------------------------------------------------

let fake: FakeRoute53;
let logLines: Record<string, unknown>[];

beforeEach(() => {
  fake?.mock.restore();
  fake = new FakeRoute53();
  logLines = [];
});

function provider(opts: Partial<Route53DnsProviderOptions> = {}): { p: Route53DnsProvider; adapter: Route53Adapter } {
  const adapter = new Route53Adapter(new Route53Client({ region: 'us-east-1' }));
  const logger = createLogger(
    {},
    { level: 'debug', sink: (l) => logLines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  const p = new Route53DnsProvider({
    route53: adapter,
    logger,
    pollMinMs: 1,
    pollMaxMs: 4,
    random: () => 0,
    ...opts,
  });
  return { p, adapter };
}

const deadline = (ms = 60_000): Deadline => new Deadline(ms, 0);

/** present, then the wait for its changes: what the solver's present and check ask of the zones. */
async function presentAndWait(
  p: Route53DnsProvider,
  records: Parameters<Route53DnsProvider['present']>[0],
  d: Deadline,
): Promise<Awaited<ReturnType<Route53DnsProvider['present']>>> {
  const placed = await p.present(records, d);
  await p.waitForChanges(d);
  return placed;
}
const txtSet = (name: string, ttl: number, values: string[]): ResourceRecordSet => ({
  Name: name,
  Type: 'TXT',
  TTL: ttl,
  ResourceRecords: values.map((v) => ({ Value: `"${v}"` })),
});

describe('Route53DnsProvider.locate', () => {
  it("reports every name without a zone at once, under the first one's code, changing nothing", async () => {
    fake.addZone('Z1', 'example.com');
    const { p, adapter } = provider();

    const err = await p.locate(['a.example', '*.b.example', 'x.example.com']).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).code).toBe('NoHostedZone');
    expect((err as Error).message).toMatch(
      /^no usable hosted zone for 2 names: no Route 53 hosted zone for _acme-challenge\.a\.example .* \| no Route 53 hosted zone for _acme-challenge\.b\.example /,
    );
    expect(adapter.callCount.ChangeResourceRecordSets).toBe(0);
  });

  it('a full locate → present → cleanUp reads each name once', async () => {
    fake.addZone('Z1', 'example.com');
    fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"theirs"'], 60);
    const { p, adapter } = provider();
    const records = [
      { domain: 'example.com', value: 'v1' },
      { domain: 'example.com', value: 'v2' },
    ];

    await p.locate(['example.com', '*.example.com']);
    await presentAndWait(p, records, deadline());
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['theirs', 'v1', 'v2']);
    await p.cleanUp(records, deadline());

    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['theirs']);
    expect(adapter.callCount.ListResourceRecordSets).toBe(1);
    expect(adapter.callCount.ChangeResourceRecordSets).toBe(2);
  });

  it('costs no extra read: present reuses what locate read', async () => {
    fake.addZone('Z1', 'example.com');
    const { p, adapter } = provider();

    await p.locate(['example.com', '*.example.com']);
    const reads = adapter.callCount.ListResourceRecordSets;
    await presentAndWait(
      p,
      [
        { domain: 'example.com', value: 'v1' },
        { domain: 'example.com', value: 'v2' },
      ],
      deadline(),
    );

    expect(reads).toBe(1);
    expect(adapter.callCount.ListResourceRecordSets).toBe(1);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['v1', 'v2']);
  });
});

describe('Route53DnsProvider.present', () => {
  it('writes apex + wildcard as ONE record set with both values in ONE change, then waits INSYNC', async () => {
    fake.addZone('Z1', 'example.com');
    const { p, adapter } = provider();

    const placed = await presentAndWait(
      p,
      [
        { domain: 'example.com', value: 'apex-value' },
        { domain: '*.example.com', value: 'wild-value' },
      ],
      deadline(),
    );

    expect(fake.changes()).toEqual([
      {
        zoneId: 'Z1',
        comment: 'acme-rotation: add 2 DNS-01 TXT value(s)',
        changes: [
          {
            Action: 'CREATE',
            ResourceRecordSet: txtSet('_acme-challenge.example.com', 60, ['apex-value', 'wild-value']),
          },
        ],
      },
    ]);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['apex-value', 'wild-value']);
    expect(placed).toEqual([
      {
        domain: 'example.com',
        value: 'apex-value',
        fqdn: '_acme-challenge.example.com',
        zoneId: 'Z1',
        zoneName: 'example.com',
      },
      {
        domain: 'example.com',
        value: 'wild-value',
        fqdn: '_acme-challenge.example.com',
        zoneId: 'Z1',
        zoneName: 'example.com',
      },
    ]);
    // One listing answers zone discovery, one read per name, one change, one poll.
    expect(adapter.callCount).toEqual({
      ListHostedZonesByName: 1,
      GetHostedZone: 0,
      ListResourceRecordSets: 1,
      ChangeResourceRecordSets: 1,
      GetChange: 1,
    });
    const phases = logLines.map((l) => l.phase).filter(Boolean);
    expect(phases).toEqual(['dns-change', 'dns-insync-wait']);
    expect(logLines.find((l) => l.phase === 'dns-insync-wait')).toMatchObject({
      changeIds: fake.changeIds(),
      zoneIds: ['Z1'],
      records: 2,
    });
  });

  it("submits without waiting: waitForChanges polls the last present's changes, once", async () => {
    fake.addZone('Z1', 'example.com');
    fake.addZone('Z2', 'example.org');
    const { p, adapter } = provider();

    await p.present(
      [
        { domain: 'example.com', value: 'a' },
        { domain: 'example.org', value: 'b' },
      ],
      deadline(),
    );
    expect(adapter.callCount.ChangeResourceRecordSets).toBe(2);
    expect(adapter.callCount.GetChange).toBe(0);
    expect(logLines.map((l) => l.phase).filter(Boolean)).toEqual(['dns-change']);

    await p.waitForChanges(deadline());
    expect(adapter.callCount.GetChange).toBe(2);
    expect(logLines.find((l) => l.phase === 'dns-insync-wait')).toMatchObject({
      zoneIds: ['Z1', 'Z2'],
      changeIds: fake.changeIds(),
      records: 2,
    });
    // Nothing left to wait for: no second poll.
    await p.waitForChanges(deadline());
    expect(adapter.callCount.GetChange).toBe(2);
  });

  it('merges with values already at the name using DELETE exact current + CREATE merged', async () => {
    fake.addZone('Z1', 'example.com');
    fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"someone-else"'], 300);
    const { p } = provider();

    await presentAndWait(p, [{ domain: 'example.com', value: 'ours' }], deadline());

    expect(fake.changes()[0]!.changes).toEqual([
      { Action: 'DELETE', ResourceRecordSet: txtSet('_acme-challenge.example.com', 300, ['someone-else']) },
      { Action: 'CREATE', ResourceRecordSet: txtSet('_acme-challenge.example.com', 60, ['someone-else', 'ours']) },
    ]);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['someone-else', 'ours']);
  });

  it('does not duplicate a value that is already present (no change, no wait)', async () => {
    fake.addZone('Z1', 'example.com');
    fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"ours"'], 60);
    const { p, adapter } = provider();

    const placed = await presentAndWait(p, [{ domain: 'example.com', value: 'ours' }], deadline());

    expect(placed).toHaveLength(1);
    expect(adapter.callCount.ChangeResourceRecordSets).toBe(0);
    expect(adapter.callCount.GetChange).toBe(0);
  });

  it('chooses the longest-suffix zone and sends one change per zone, polled concurrently', async () => {
    fake.addZone('ZPARENT', 'example.com');
    fake.addZone('ZSUB', 'sub.example.com');
    fake.addZone('ZOTHER', 'ample.com'); // a suffix of the string but not of the labels
    const { p } = provider();

    const placed = await presentAndWait(
      p,
      [
        { domain: 'www.sub.example.com', value: 'a' },
        { domain: 'sub.example.com', value: 'b' },
        { domain: 'other.example.com', value: 'c' },
      ],
      deadline(),
    );

    expect(placed.map((r) => [r.fqdn, r.zoneId])).toEqual([
      ['_acme-challenge.www.sub.example.com', 'ZSUB'],
      ['_acme-challenge.sub.example.com', 'ZSUB'],
      ['_acme-challenge.other.example.com', 'ZPARENT'],
    ]);
    const changes = fake.changes();
    expect(changes.map((c) => c.zoneId)).toEqual(['ZSUB', 'ZPARENT']);
    expect(changes[0]!.changes.map((c) => c.ResourceRecordSet!.Name)).toEqual([
      '_acme-challenge.www.sub.example.com',
      '_acme-challenge.sub.example.com',
    ]);
    expect(fake.count(GetChangeCommand)).toBe(2);
  });

  it('ignores a private zone with the same name as the public one', async () => {
    fake.addZone('ZPRIV', 'example.com', { private: true });
    fake.addZone('ZPUB', 'example.com');
    fake.addZone('ZPRIVSUB', 'www.example.com', { private: true });
    const { p } = provider();

    const placed = await presentAndWait(p, [{ domain: 'www.example.com', value: 'v' }], deadline());

    expect(placed[0]!.zoneId).toBe('ZPUB');
    expect(fake.changes().map((c) => c.zoneId)).toEqual(['ZPUB']);
  });

  it('finds zones candidate by candidate when the account has more zones than one listing page', async () => {
    fake.addZone('ZPRIV', 'example.com', { private: true });
    fake.addZone('ZPUB', 'example.com');
    for (let i = 0; i < 100; i++) fake.addZone(`ZF${i}`, `filler${i}.org`);
    const { p, adapter } = provider();

    const placed = await presentAndWait(
      p,
      [
        { domain: 'example.com', value: 'a' },
        { domain: '*.example.com', value: 'b' },
      ],
      deadline(),
    );

    expect(placed.map((r) => r.zoneId)).toEqual(['ZPUB', 'ZPUB']);
    const dnsNames = fake.mock.commandCalls(ListHostedZonesByNameCommand).map((c) => c.args[0].input.DNSName);
    // the first-page listing, then the challenge name and the apex (cached for the wildcard)
    expect(dnsNames).toEqual([undefined, '_acme-challenge.example.com', 'example.com']);
    expect(adapter.callCount.ListHostedZonesByName).toBe(3);
  });

  it('uses only the explicit zone ids (private allowed), fetching each once', async () => {
    fake.addZone('ZPUB', 'example.com');
    fake.addZone('ZPRIV', 'example.com', { private: true });
    const { p, adapter } = provider({ hostedZoneIds: ['/hostedzone/ZPRIV'] });

    const placed = await presentAndWait(
      p,
      [
        { domain: 'a.example.com', value: '1' },
        { domain: 'b.example.com', value: '2' },
      ],
      deadline(),
    );

    expect(placed.map((r) => r.zoneId)).toEqual(['ZPRIV', 'ZPRIV']);
    expect(adapter.callCount.GetHostedZone).toBe(1);
    expect(adapter.callCount.ListHostedZonesByName).toBe(0);
    expect(fake.changes()).toHaveLength(1);

    await expect(presentAndWait(p, [{ domain: 'x.example.org', value: '3' }], deadline())).rejects.toThrow(
      'no Route 53 hosted zone for _acme-challenge.x.example.org (tried: ZPRIV (example.com, private)); ' +
        'create the zone or set acme:hosted-zone-ids',
    );
  });

  it('reports the names tried when no zone matches', async () => {
    fake.addZone('Z1', 'example.com');
    const { p } = provider();

    const err = await presentAndWait(p, [{ domain: 'x.example.org', value: 'v' }], deadline()).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).code).toBe('NoHostedZone');
    expect((err as DnsError).message).toBe(
      'no Route 53 hosted zone for _acme-challenge.x.example.org ' +
        '(tried: _acme-challenge.x.example.org, x.example.org, example.org, org); ' +
        'create the zone or set acme:hosted-zone-ids',
    );
    expect(fake.changes()).toHaveLength(0);
  });

  it('follows a CNAME on _acme-challenge into the zone that holds its target', async () => {
    fake.addZone('ZMAIN', 'example.com');
    fake.addZone('ZACME', 'acme.example.net');
    fake.put('ZMAIN', '_acme-challenge.example.com', 'CNAME', ['example-com.acme.example.net.'], 300);
    const { p } = provider();

    const placed = await presentAndWait(p, [{ domain: '*.example.com', value: 'v' }], deadline());

    expect(placed).toEqual([
      {
        domain: 'example.com',
        value: 'v',
        fqdn: 'example-com.acme.example.net',
        zoneId: 'ZACME',
        zoneName: 'acme.example.net',
      },
    ]);
    expect(fake.changes()).toEqual([
      {
        zoneId: 'ZACME',
        comment: expect.any(String),
        changes: [{ Action: 'CREATE', ResourceRecordSet: txtSet('example-com.acme.example.net', 60, ['v']) }],
      },
    ]);
    expect(fake.txt('ZMAIN', '_acme-challenge.example.com')).toBeUndefined();
  });

  it('detects a CNAME loop', async () => {
    fake.addZone('Z1', 'example.com');
    fake.put('Z1', '_acme-challenge.example.com', 'CNAME', ['a.example.com.']);
    fake.put('Z1', 'a.example.com', 'CNAME', ['_acme-challenge.example.com.']);
    const { p } = provider();

    await expect(presentAndWait(p, [{ domain: 'example.com', value: 'v' }], deadline())).rejects.toMatchObject({
      code: 'CnameLoop',
      message:
        'CNAME loop at _acme-challenge.example.com: _acme-challenge.example.com → a.example.com → _acme-challenge.example.com',
    });
  });

  it('re-reads and retries when another rotation changed the record underneath (CAS)', async () => {
    fake.addZone('Z1', 'example.com');
    fake.beforeChange = (_input, n) => {
      // Between our read and our write, another rotation (the apex's secret) adds its value.
      if (n === 1) fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"theirs"'], 60);
    };
    const { p } = provider();

    await presentAndWait(p, [{ domain: '*.example.com', value: 'ours' }], deadline());

    const changes = fake.changes();
    expect(changes).toHaveLength(2);
    expect(changes[0]!.changes).toEqual([
      { Action: 'CREATE', ResourceRecordSet: txtSet('_acme-challenge.example.com', 60, ['ours']) },
    ]);
    expect(changes[1]!.changes).toEqual([
      { Action: 'DELETE', ResourceRecordSet: txtSet('_acme-challenge.example.com', 60, ['theirs']) },
      { Action: 'CREATE', ResourceRecordSet: txtSet('_acme-challenge.example.com', 60, ['theirs', 'ours']) },
    ]);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['theirs', 'ours']);
    expect(logLines.some((l) => String(l.message).includes('changed concurrently'))).toBe(true);
  });

  it('fails at once with Route 53 message on any other InvalidChangeBatch', async () => {
    fake.addZone('Z1', 'example.com');
    fake.beforeChange = () => {
      const m = 'RRSet with DNS name _acme-challenge.example.com. is not permitted in zone example.com.';
      throw new InvalidChangeBatch({ message: m, messages: [m], $metadata: {} });
    };
    const { p, adapter } = provider();

    const err = await presentAndWait(p, [{ domain: 'example.com', value: 'v' }], deadline()).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).code).toBe('ChangeRejected');
    expect((err as DnsError).message).toContain('is not permitted in zone example.com.');
    expect((err as DnsError).cause).toBeInstanceOf(AwsServiceError);
    expect(adapter.callCount.ChangeResourceRecordSets).toBe(1);
  });

  it('polls GetChange on a schedule that grows with the time waited, until INSYNC', async () => {
    fake.addZone('Z1', 'example.com');
    fake.pendingPolls = 4;
    const { p, adapter } = provider({ pollMinMs: 1, pollMaxMs: 4 });
    const d = deadline();
    const sleep = vi.spyOn(d, 'sleep');

    await presentAndWait(p, [{ domain: 'example.com', value: 'v' }], d);

    expect(adapter.callCount.GetChange).toBe(5);
    const delays = sleep.mock.calls.map((c) => c[0]);
    expect(delays).toHaveLength(5);
    for (const ms of delays) expect(ms).toBeGreaterThanOrEqual(1);
    for (const ms of delays) expect(ms).toBeLessThanOrEqual(4);
  });

  it('does not poll a change Route 53 answered INSYNC', async () => {
    fake.addZone('Z1', 'example.com');
    fake.changeStatus = 'INSYNC';
    const { p, adapter } = provider();

    await presentAndWait(p, [{ domain: 'example.com', value: 'v' }], deadline());

    expect(adapter.callCount.ChangeResourceRecordSets).toBe(1);
    expect(adapter.callCount.GetChange).toBe(0);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['v']);
  });

  it('does not resubmit a change whose answer was lost after Route 53 applied it', async () => {
    fake.addZone('Z1', 'example.com');
    const { p, adapter } = provider();
    // The first submission is applied but its answer never arrives: the SDK retries the same
    // batch, which now conflicts with its own result.
    let first = true;
    const err = new InvalidChangeBatch({
      message:
        "Tried to create resource record set [name='_acme-challenge.example.com.', type='TXT'] but it already exists",
      messages: [],
      $metadata: {},
    });
    // Apply the batch out of band, then fail the call as a retried submission would.
    fake.beforeChange = (input) => {
      if (!first) return;
      first = false;
      const rs = input.ChangeBatch!.Changes![0]!.ResourceRecordSet!;
      fake.put(
        'Z1',
        rs.Name!,
        'TXT',
        rs.ResourceRecords!.map((r) => r.Value!),
        rs.TTL,
      );
      throw err;
    };

    const placed = await presentAndWait(p, [{ domain: 'example.com', value: 'v' }], deadline());

    expect(placed.map((r) => r.fqdn)).toEqual(['_acme-challenge.example.com']);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['v']);
    expect(adapter.callCount.ChangeResourceRecordSets).toBe(1); // not submitted a second time
    expect(logLines.some((l) => /already as wanted .*not resubmitting/.test(String(l.message)))).toBe(true);
  });

  it('throws DeadlineError when the change stays PENDING', async () => {
    fake.addZone('Z1', 'example.com');
    fake.pendingPolls = Number.POSITIVE_INFINITY;
    const { p } = provider({ pollMinMs: 5, pollMaxMs: 10 });

    const err = await presentAndWait(p, [{ domain: 'example.com', value: 'v' }], deadline(60)).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DeadlineError);
    expect((err as Error).message).toMatch(/^Route 53 change C[A-Z0-9]+ \(zone Z1\) still PENDING after \d+ polls/);
    expect(fake.count(GetChangeCommand)).toBeGreaterThan(1);
  });
});

describe('Route53DnsProvider.cleanUp', () => {
  it('removes only our values: DELETE exact + CREATE remainder, one batch, no INSYNC wait', async () => {
    fake.addZone('Z1', 'example.com');
    fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"keep"', '"ours-1"', '"ours-2"'], 120);
    const { p, adapter } = provider();

    await p.cleanUp(
      [
        { domain: 'example.com', value: 'ours-1' },
        { domain: '*.example.com', value: 'ours-2' },
      ],
      deadline(),
    );

    expect(fake.changes()[0]!.changes).toEqual([
      { Action: 'DELETE', ResourceRecordSet: txtSet('_acme-challenge.example.com', 120, ['keep', 'ours-1', 'ours-2']) },
      { Action: 'CREATE', ResourceRecordSet: txtSet('_acme-challenge.example.com', 120, ['keep']) },
    ]);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['keep']);
    expect(adapter.callCount.ChangeResourceRecordSets).toBe(1);
    expect(adapter.callCount.GetChange).toBe(0);
  });

  it('deletes the record set when only our values were there, and is idempotent', async () => {
    fake.addZone('Z1', 'example.com');
    const { p, adapter } = provider();
    const records = [
      { domain: 'example.com', value: 'a' },
      { domain: '*.example.com', value: 'b' },
      { domain: 'www.example.com', value: 'c' },
    ];
    await presentAndWait(p, records, deadline());

    await p.cleanUp(records, deadline());
    expect(fake.changes()[1]!.changes).toEqual([
      { Action: 'DELETE', ResourceRecordSet: txtSet('_acme-challenge.example.com', 60, ['a', 'b']) },
      { Action: 'DELETE', ResourceRecordSet: txtSet('_acme-challenge.www.example.com', 60, ['c']) },
    ]);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toBeUndefined();

    // Again (e.g. a retry): nothing of ours is there → no change call.
    await p.cleanUp(records, deadline());
    expect(adapter.callCount.ChangeResourceRecordSets).toBe(2);
  });

  it('a fresh provider (retry after a killed Lambda) cleans the old attempt and keeps others', async () => {
    fake.addZone('Z1', 'example.com');
    fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"other-rotation"', '"killed-attempt"'], 60);
    const { p, adapter } = provider();

    await p.cleanUp(
      [
        { domain: 'example.com', value: 'killed-attempt' },
        { domain: 'example.com', value: 'absent' },
      ],
      deadline(),
    );

    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['other-rotation']);
    expect(adapter.totalCalls()).toBe(3); // listing, read, change
  });

  it('retries the compare-and-swap when the record changed underneath', async () => {
    fake.addZone('Z1', 'example.com');
    fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"ours"', '"theirs"'], 60);
    fake.beforeChange = (_i, n) => {
      if (n === 1) fake.put('Z1', '_acme-challenge.example.com', 'TXT', ['"ours"', '"theirs"', '"new"'], 60);
    };
    const { p } = provider({ random: () => 0 });

    await p.cleanUp([{ domain: 'example.com', value: 'ours' }], deadline());

    expect(fake.changes()).toHaveLength(2);
    expect(fake.txt('Z1', '_acme-challenge.example.com')).toEqual(['theirs', 'new']);
  });
});

describe('Route53DnsProvider.authoritativeNameservers', () => {
  it('returns the delegation set, cached', async () => {
    fake.addZone('Z1', 'example.com');
    const { p, adapter } = provider();
    expect(await p.authoritativeNameservers('Z1')).toEqual(['ns-1.z1.awsdns.test', 'ns-2.z1.awsdns.test']);
    expect(await p.authoritativeNameservers('/hostedzone/Z1')).toHaveLength(2);
    expect(adapter.callCount.GetHostedZone).toBe(1);
  });
});

describe('Route53Adapter', () => {
  // Throttling past the SDK's attempts is the call layer's (aws-calls.test.ts runs it through real SDK clients).
  it('does not retry errors other than throttling', async () => {
    fake.mock
      .on(GetHostedZoneCommand)
      .rejects(new NoSuchHostedZone({ message: 'No hosted zone found with ID: ZX', $metadata: {} }));
    const sleep = vi.fn((_ms: number) => Promise.resolve());
    const adapter = new Route53Adapter(new Route53Client({ region: 'us-east-1' }), { budgetMs: () => 60_000, sleep });
    await expect(adapter.getZone('ZX')).rejects.toMatchObject({ awsCode: 'NoSuchHostedZone' });
    expect(sleep).not.toHaveBeenCalled();
  });

  it('maps SDK errors to AwsServiceError and counts calls', async () => {
    const adapter = new Route53Adapter(new Route53Client({ region: 'us-east-1' }));
    const err = await adapter.getZone('/hostedzone/ZNOPE').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({ service: 'Route53', operation: 'GetHostedZone', awsCode: 'NoSuchHostedZone' });
    expect(adapter.callCount.GetHostedZone).toBe(1);
    expect(fake.mock.commandCalls(GetHostedZoneCommand)[0]!.args[0].input.Id).toBe('ZNOPE');
  });

  it('keeps every InvalidChangeBatch message', async () => {
    fake.addZone('Z1', 'example.com');
    fake.beforeChange = () => {
      throw new InvalidChangeBatch({ message: '', messages: ['first problem', 'second problem'], $metadata: {} });
    };
    const adapter = new Route53Adapter(new Route53Client({ region: 'us-east-1' }));
    const err = await adapter
      .changeRecords('Z1', [{ action: 'CREATE', name: 'x.example.com', type: 'TXT', ttl: 60, values: ['"v"'] }])
      .catch((e: unknown) => e);
    expect((err as AwsServiceError).awsCode).toBe('InvalidChangeBatch');
    expect((err as Error).message).toContain('first problem; second problem');
  });

  it('decodes octal escapes in names and strips id prefixes', async () => {
    fake.addZone('Z1', 'example.com');
    fake.put('Z1', '\\052.example.com', 'TXT', ['"w"']);
    const adapter = new Route53Adapter(new Route53Client({ region: 'us-east-1' }));
    const sets = await adapter.listRecordSets('/hostedzone/Z1', '*.example.com', 'TXT');
    expect(sets.map((s) => s.name)).toEqual(['*.example.com']);
    expect(normalizeName('\\052.Example.COM.')).toBe('*.example.com');
    const change = await adapter.changeRecords('Z1', [
      { action: 'CREATE', name: 'y.example.com', type: 'TXT', ttl: 60, values: ['"v"'] },
    ]);
    expect(change).toEqual({ id: fake.changeIds()[0], status: 'PENDING' });
    expect(await adapter.getChange(`/change/${change.id}`)).toBe('INSYNC');
  });
});
