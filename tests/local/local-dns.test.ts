/**
 * The DNS responder over the local Route 53: queried with node:dns (c-ares, UDP) and dns2's
 * TCP client, as Pebble and the propagation check would.
 */
import { Resolver } from 'node:dns/promises';
import dns2 from 'dns2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Route53Service, type RecordChange, type RecordSet } from './aws/route53.js';
import { startDnsServer, type DnsServer } from './dns-server.js';

let clock = 1_700_000_000_000;
let r53: Route53Service;
let server: DnsServer;
let resolver: Resolver;

beforeEach(async () => {
  clock = 1_700_000_000_000;
  r53 = new Route53Service({ changeDelayMs: 1000, now: () => clock });
  server = await startDnsServer({ route53: r53 });
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${server.port}`]);
});

afterEach(async () => {
  await server.stop();
});

function rr(name: string, type: string, values: string[], ttl = 60): RecordSet {
  return { name, type, ttl, values };
}

/** Apply changes and let them reach INSYNC. */
function put(zoneId: string, ...records: RecordSet[]): void {
  r53.changeRecords(
    zoneId,
    records.map((record): RecordChange => ({ action: 'UPSERT', record })),
  );
  clock += 1000;
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}

async function rawQuery(name: string, type: string): Promise<dns2.Packet> {
  const query = dns2.UDPClient({ dns: '127.0.0.1', port: server.port });
  return query(name, type);
}

describe('DNS responder', () => {
  it('binds 127.0.0.1 on an ephemeral port and stops cleanly', () => {
    expect(server.address).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
  });

  it('serves a TXT value only after its change is INSYNC', async () => {
    const z = r53.createZone('example.com');
    const name = '_acme-challenge.example.com';
    r53.changeRecords(z.id, [{ action: 'CREATE', record: rr(name, 'TXT', ['"token-1"']) }]);
    expect(r53.txtValues(name)).toEqual(['token-1']);
    expect(await code(resolver.resolveTxt(name))).toBe('ENOTFOUND');
    clock += 1000;
    expect(await resolver.resolveTxt(name)).toEqual([['token-1']]);

    // UPSERT: DNS keeps the old value until INSYNC.
    r53.changeRecords(z.id, [{ action: 'UPSERT', record: rr(name, 'TXT', ['"token-1"', '"token-2"']) }]);
    expect(await resolver.resolveTxt(name)).toEqual([['token-1']]);
    clock += 1000;
    expect((await resolver.resolveTxt(name)).sort()).toEqual([['token-1'], ['token-2']]);
    expect(server.queries.filter((q) => q.type === 'TXT').map((q) => q.name)).toContain('_acme-challenge.example.com.');
  });

  it('holds a value back while changes are held', async () => {
    const z = r53.createZone('example.com');
    r53.holdChanges(true);
    r53.changeRecords(z.id, [{ action: 'CREATE', record: rr('a.example.com', 'TXT', ['"x"']) }]);
    clock += 60_000;
    expect(await code(resolver.resolveTxt('a.example.com'))).toBe('ENOTFOUND');
    r53.holdChanges(false);
    expect(await resolver.resolveTxt('a.example.com')).toEqual([['x']]);
  });

  it('returns the strings of a multi-string TXT record, case-insensitively', async () => {
    const z = r53.createZone('example.com');
    put(z.id, rr('multi.example.com', 'TXT', ['"v=spf1 " "include:example.net" "\\"q\\""']));
    expect(await resolver.resolveTxt('MULTI.Example.COM')).toEqual([['v=spf1 ', 'include:example.net', '"q"']]);
  });

  it('follows CNAME chains across zones', async () => {
    const a = r53.createZone('example.com');
    const b = r53.createZone('validation.test');
    put(a.id, rr('_acme-challenge.example.com', 'CNAME', ['hop.example.com']));
    put(a.id, rr('hop.example.com', 'CNAME', ['_acme-challenge.example.com.validation.test.']));
    put(b.id, rr('_acme-challenge.example.com.validation.test', 'TXT', ['"delegated"']));
    expect(await resolver.resolveTxt('_acme-challenge.example.com')).toEqual([['delegated']]);
    expect(await resolver.resolveCname('_acme-challenge.example.com')).toEqual(['hop.example.com']);

    const packet = await rawQuery('_acme-challenge.example.com', 'TXT');
    expect(packet.header.aa).toBe(1);
    expect(packet.answers.map((x) => [x.name, x.type])).toEqual([
      ['_acme-challenge.example.com', dns2.Packet.TYPE.CNAME],
      ['hop.example.com', dns2.Packet.TYPE.CNAME],
      ['_acme-challenge.example.com.validation.test', dns2.Packet.TYPE.TXT],
    ]);
  });

  it('tells NXDOMAIN from NODATA, with the SOA in the authority section', async () => {
    const z = r53.createZone('example.com');
    put(z.id, rr('host.example.com', 'A', ['192.0.2.10']), rr('a.b.example.com', 'TXT', ['"deep"']));
    expect(await resolver.resolve4('host.example.com')).toEqual(['192.0.2.10']);
    expect(await code(resolver.resolveTxt('host.example.com'))).toBe('ENODATA');
    expect(await code(resolver.resolveTxt('missing.example.com'))).toBe('ENOTFOUND');
    // An empty non-terminal exists: NODATA.
    expect(await code(resolver.resolveTxt('b.example.com'))).toBe('ENODATA');
    // CAA: none here, so NODATA.
    expect(await code(resolver.resolveCaa('host.example.com'))).toBe('ENODATA');
    expect(await code(resolver.resolveCaa('example.com'))).toBe('ENODATA');

    const nx = await rawQuery('missing.example.com', 'TXT');
    expect(nx.header.rcode).toBe(3);
    expect(nx.answers).toEqual([]);
    expect(nx.authorities.map((x) => [x.name, x.type, x.ttl])).toEqual([['example.com', dns2.Packet.TYPE.SOA, 900]]);
    const nodata = await rawQuery('host.example.com', 'TXT');
    expect(nodata.header.rcode).toBe(0);
    expect(nodata.authorities[0]?.type).toBe(dns2.Packet.TYPE.SOA);
  });

  it('answers SOA, NS, AAAA and CAA records that exist', async () => {
    const z = r53.createZone('example.com');
    put(z.id, rr('example.com', 'CAA', ['0 issue "letsencrypt.org"']), rr('v6.example.com', 'AAAA', ['2001:db8::1']));
    expect(await resolver.resolveCaa('example.com')).toEqual([{ critical: 0, issue: 'letsencrypt.org' }]);
    expect(await resolver.resolve6('v6.example.com')).toEqual(['2001:db8::1']);
    expect((await resolver.resolveNs('example.com')).sort()).toEqual([
      'ns-1.local-r53.test',
      'ns-2.local-r53.test',
      'ns-3.local-r53.test',
      'ns-4.local-r53.test',
    ]);
    expect(await resolver.resolveSoa('example.com')).toMatchObject({
      nsname: 'ns-1.local-r53.test',
      serial: 1,
      minttl: 86400,
    });
  });

  it('uses the longest matching public zone and never serves private zones', async () => {
    const parent = r53.createZone('example.com');
    const child = r53.createZone('sub.example.com');
    const priv = r53.createZone('internal.example.com', { privateZone: true });
    const privSame = r53.createZone('sub.example.com', { privateZone: true });
    put(parent.id, rr('x.sub.example.com', 'TXT', ['"from-parent"']));
    put(child.id, rr('x.sub.example.com', 'TXT', ['"from-child"']));
    put(priv.id, rr('secret.internal.example.com', 'TXT', ['"private"']));
    put(privSame.id, rr('y.sub.example.com', 'TXT', ['"private"']));
    expect(await resolver.resolveTxt('x.sub.example.com')).toEqual([['from-child']]);
    expect(await code(resolver.resolveTxt('secret.internal.example.com'))).toBe('ENOTFOUND');
    expect(await code(resolver.resolveTxt('y.sub.example.com'))).toBe('ENOTFOUND');
    // Outside every zone.
    expect(await code(resolver.resolveTxt('example.org'))).toBe('ENOTFOUND');
  });

  it('does not serve a zone whose creation is still PENDING', async () => {
    const res = r53.handle({
      method: 'POST',
      path: '/2013-04-01/hostedzone',
      query: new URLSearchParams(),
      headers: {},
      body:
        '<?xml version="1.0" encoding="UTF-8"?><CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
        '<Name>example.com</Name><CallerReference>dns-test</CallerReference></CreateHostedZoneRequest>',
    });
    expect(res.status).toBe(201);
    const z = r53.zones()[0]!;
    expect(z.records.map((r) => r.type)).toEqual(['NS', 'SOA']);
    expect(await code(resolver.resolveSoa('example.com'))).toBe('ENOTFOUND');
    clock += 1000;
    expect(await resolver.resolveSoa('example.com')).toMatchObject({ nsname: 'ns-1.local-r53.test' });
  });

  it('synthesises wildcard answers', async () => {
    const z = r53.createZone('example.com');
    put(z.id, rr('*.example.com', 'TXT', ['"wild"']), rr('real.example.com', 'A', ['192.0.2.1']));
    expect(await resolver.resolveTxt('anything.example.com')).toEqual([['wild']]);
    expect(await resolver.resolveTxt('deep.anything.example.com')).toEqual([['wild']]);
    // An existing name is not covered by the wildcard.
    expect(await code(resolver.resolveTxt('real.example.com'))).toBe('ENODATA');
  });

  it('answers over TCP on the same port', async () => {
    const z = r53.createZone('example.com');
    put(z.id, rr('_acme-challenge.example.com', 'TXT', ['"over-tcp"']));
    const query = dns2.TCPClient({ dns: '127.0.0.1', port: server.port });
    const packet = await query('_acme-challenge.example.com', 'TXT');
    expect(packet.answers[0]?.data).toEqual(['over-tcp']);
  });

  it('records queries', async () => {
    r53.createZone('example.com');
    await code(resolver.resolveTxt('Q.Example.com'));
    expect(server.queries).toContainEqual(
      expect.objectContaining({ name: 'q.example.com.', type: 'TXT', transport: 'udp' }),
    );
    expect(server.queries.every((q) => q.fault === undefined)).toBe(true);
  });
});

describe('DNS responder faults', () => {
  const NAME = '_acme-challenge.example.com';

  beforeEach(() => {
    const z = r53.createZone('example.com');
    put(z.id, rr(NAME, 'TXT', ['"token"']), rr('other.example.com', 'TXT', ['"other"']));
  });

  it('servfail: answers SERVFAIL for the matching name and type, once by default', async () => {
    let hit: unknown;
    server.addFault({ name: '_ACME-challenge.example.com', type: 'TXT', action: 'servfail', onHit: (q) => (hit = q) });
    // Another type or name is not affected.
    expect((await rawQuery(NAME, 'A')).header.rcode).toBe(0);
    expect(await resolver.resolveTxt('other.example.com')).toEqual([['other']]);
    const failed = await rawQuery(NAME, 'TXT');
    expect(failed.header.rcode).toBe(2);
    expect(failed.answers).toEqual([]);
    expect(hit).toMatchObject({ name: `${NAME}.`, type: 'TXT', transport: 'udp' });
    // Used up: the record is served again.
    expect(await resolver.resolveTxt(NAME)).toEqual([['token']]);
    expect(server.queries.filter((q) => q.name === `${NAME}.` && q.type === 'TXT').map((q) => q.fault)).toEqual([
      'servfail',
      undefined,
    ]);
  });

  it('servfail through node:dns surfaces as ESERVFAIL', async () => {
    server.addFault({ name: NAME, action: 'servfail' });
    expect(await code(resolver.resolveTxt(NAME))).toBe('ESERVFAIL');
  });

  it('refused and empty, by RegExp name and times', async () => {
    server.addFault({ name: /^_acme-challenge\./, times: 2, action: 'refused' });
    for (let i = 0; i < 2; i++) {
      const res = await rawQuery(NAME, 'TXT');
      expect(res.header.rcode).toBe(5);
      expect(res.answers).toEqual([]);
    }
    server.addFault({ name: NAME, type: 'txt', action: 'empty' });
    const empty = await rawQuery(NAME, 'TXT');
    expect(empty.header.rcode).toBe(0);
    expect(empty.answers).toEqual([]);
    expect(empty.authorities).toEqual([]);
    expect(await code(resolver.resolveTxt(NAME))).toBeUndefined();
  });

  it("{ txt }: answers with the given TXT values in place of the zone's (a wrong value)", async () => {
    server.addFault({ name: NAME, type: 'TXT', action: { txt: ['not-the-value', 'nor-this'] } });
    expect((await resolver.resolveTxt(NAME)).map((r) => r.join('')).sort()).toEqual(['nor-this', 'not-the-value']);
    // Once only (times defaults to 1): the zone's own value again.
    expect(await resolver.resolveTxt(NAME)).toEqual([['token']]);
  });

  it('drop: no answer at all, over UDP and TCP; Infinity keeps dropping until removed', async () => {
    const remove = server.addFault({ name: NAME, times: Infinity, action: 'drop' });
    const started = Date.now();
    // The resolver waits its timeout (2 s, one try) and gives up.
    expect(await code(resolver.resolveTxt(NAME))).toBe('ETIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    const tcp = dns2.TCPClient({ dns: '127.0.0.1', port: server.port });
    const outcome = await Promise.race([
      tcp(NAME, 'TXT').then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise<string>((r) => setTimeout(() => r('no answer'), 500)),
    ]);
    expect(outcome).toBe('no answer');
    expect(server.queries.filter((q) => q.fault === 'drop').map((q) => q.transport)).toEqual(
      expect.arrayContaining(['udp', 'tcp']),
    );
    remove();
    expect(await resolver.resolveTxt(NAME)).toEqual([['token']]);
  });

  it('match and clearFaults', async () => {
    server.addFault({ times: Infinity, match: (q) => q.transport === 'tcp', action: 'servfail' });
    expect(await resolver.resolveTxt(NAME)).toEqual([['token']]);
    const tcp = dns2.TCPClient({ dns: '127.0.0.1', port: server.port });
    expect((await tcp(NAME, 'TXT')).header.rcode).toBe(2);
    server.clearFaults();
    expect((await tcp(NAME, 'TXT')).answers[0]?.data).toEqual(['token']);
  });
});
