import { describe, expect, it } from 'vitest';

import type { HostedZoneInfo, RecordSetInfo } from '../../rotation/route53/adapter.js';
import { DnsError } from '../../rotation/lib/errors.js';
import { createLogger } from '../../rotation/lib/log.js';
import { ZoneLocator, type ZoneLocatorOptions, type ZoneReader } from '../../rotation/route53/zones.js';

// A few hosted zones in memory, answering the four reads zone location makes and counting them.
class Zones implements ZoneReader {
  readonly zones: HostedZoneInfo[] = [];
  readonly records = new Map<string, RecordSetInfo[]>();
  readonly calls = { listFirstZones: 0, listZonesByName: [] as string[], getZone: [] as string[], listRecordSets: 0 };
  /** The account has more zones than the first listing page. */
  incompleteListing = false;

  add(id: string, name: string, privateZone = false): this {
    this.zones.push({ id, name, privateZone, nameServers: [`ns1.${name}`] });
    return this;
  }

  set(zoneId: string, ...sets: RecordSetInfo[]): this {
    this.records.set(zoneId, [...(this.records.get(zoneId) ?? []), ...sets]);
    return this;
  }

  listFirstZones(): Promise<{ zones: HostedZoneInfo[]; complete: boolean }> {
    this.calls.listFirstZones++;
    return Promise.resolve({ zones: [...this.zones], complete: !this.incompleteListing });
  }

  listZonesByName(name: string): Promise<HostedZoneInfo[]> {
    this.calls.listZonesByName.push(name);
    return Promise.resolve(this.zones.filter((z) => z.name === name));
  }

  getZone(id: string): Promise<HostedZoneInfo> {
    this.calls.getZone.push(id);
    const zone = this.zones.find((z) => z.id === id);
    return zone ? Promise.resolve(zone) : Promise.reject(new Error(`no zone ${id}`));
  }

  listRecordSets(zoneId: string, name: string): Promise<RecordSetInfo[]> {
    this.calls.listRecordSets++;
    return Promise.resolve((this.records.get(zoneId) ?? []).filter((r) => r.name === name));
  }
}

const txt = (name: string, ...values: string[]): RecordSetInfo => ({
  name,
  type: 'TXT',
  ttl: 120,
  values: values.map((v) => `"${v}"`),
  alias: false,
});
const cname = (name: string, target: string): RecordSetInfo => ({
  name,
  type: 'CNAME',
  ttl: 300,
  values: [`${target}.`],
  alias: false,
});

function locator(
  zones: Zones,
  opts: Partial<ZoneLocatorOptions> = {},
): { loc: ZoneLocator; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    {},
    { level: 'debug', sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const loc = new ZoneLocator({ route53: zones, logger, ttl: 60, maxCnameHops: 5, listAllZones: true, ...opts });
  return { loc, lines };
}

async function failureOf(loc: ZoneLocator, domain: string): Promise<DnsError> {
  const { failures } = await loc.placeEach([domain]);
  expect(failures).toHaveLength(1);
  expect(failures[0]).toBeInstanceOf(DnsError);
  return failures[0] as DnsError;
}

describe('ZoneLocator.placeEach', () => {
  it('places each name in the public zone with the longest matching name, from one zone listing', async () => {
    const zones = new Zones()
      .add('ZCOM', 'example.com')
      .add('ZDEV', 'dev.example.com')
      .add('ZPRIV', 'dev.example.com', true)
      .set('ZCOM', txt('_acme-challenge.example.com', 'other'));
    const { loc } = locator(zones);

    const { placementOf, known, failures } = await loc.placeEach(['example.com', 'a.dev.example.com']);

    expect(failures).toEqual([]);
    expect(placementOf.get('example.com')).toMatchObject({ fqdn: '_acme-challenge.example.com', zone: { id: 'ZCOM' } });
    expect(placementOf.get('a.dev.example.com')).toMatchObject({
      fqdn: '_acme-challenge.a.dev.example.com',
      zone: { id: 'ZDEV' },
    });
    expect(known).toEqual(
      new Map([
        ['_acme-challenge.example.com', { ttl: 120, raw: ['"other"'] }],
        ['_acme-challenge.a.dev.example.com', null],
      ]),
    );
    expect(zones.calls.listFirstZones).toBe(1);
    expect(zones.calls.listZonesByName).toEqual([]);
  });

  it('looks up candidate names one by one, each once, when the listing is not the whole account', async () => {
    const zones = new Zones().add('ZCOM', 'example.com');
    zones.incompleteListing = true;
    const { loc } = locator(zones);

    await loc.placeEach(['a.example.com', 'b.example.com']);

    expect(zones.calls.listZonesByName).toEqual([
      '_acme-challenge.a.example.com',
      'a.example.com',
      'example.com',
      '_acme-challenge.b.example.com',
      'b.example.com',
    ]);
  });

  it('does not list all zones when told not to', async () => {
    const zones = new Zones().add('ZCOM', 'example.com');
    const { loc } = locator(zones, { listAllZones: false });

    const { placementOf } = await loc.placeEach(['example.com']);

    expect(placementOf.get('example.com')?.zone.id).toBe('ZCOM');
    expect(zones.calls.listFirstZones).toBe(0);
  });

  it('uses only the explicit zone ids, private allowed, reading each zone once', async () => {
    const zones = new Zones().add('ZPUB', 'example.com').add('ZPRIV', 'example.com', true);
    const { loc } = locator(zones, { hostedZoneIds: ['/hostedzone/ZPRIV', 'ZPRIV'] });

    const { placementOf } = await loc.placeEach(['example.com', 'www.example.com']);

    expect(placementOf.get('www.example.com')?.zone.id).toBe('ZPRIV');
    expect(zones.calls.getZone).toEqual(['ZPRIV']);
    expect(zones.calls.listFirstZones).toBe(0);
  });

  it('names the zones tried when none holds the name, and collects every failure', async () => {
    const zones = new Zones().add('ZCOM', 'example.com');
    const { loc } = locator(zones);

    const { placementOf, failures } = await loc.placeEach(['example.org', 'example.com', 'example.net']);

    expect([...placementOf.keys()]).toEqual(['example.com']);
    expect(failures.map((f) => (f as DnsError).code)).toEqual(['NoHostedZone', 'NoHostedZone']);
    expect((failures[0] as DnsError).message).toContain('(tried: _acme-challenge.example.org, example.org, org)');
    const explicit = locator(zones, { hostedZoneIds: ['ZCOM'] }).loc;
    expect((await failureOf(explicit, 'example.org')).message).toContain('(tried: ZCOM (example.com))');
  });

  it('refuses to guess between two public zones of the same name', async () => {
    const zones = new Zones().add('ZA', 'example.com').add('ZB', 'example.com');
    const err = await failureOf(locator(zones).loc, 'www.example.com');
    expect(err.code).toBe('AmbiguousZone');
    expect(err.message).toContain('(ZA, ZB)');
  });

  it('follows a CNAME on _acme-challenge into the zone that holds its target', async () => {
    const zones = new Zones()
      .add('ZCOM', 'example.com')
      .add('ZVAL', 'validation.example.net')
      .set('ZCOM', cname('_acme-challenge.example.com', 'Example.Validation.example.net'))
      .set('ZVAL', txt('example.validation.example.net', 'v'));
    const { loc, lines } = locator(zones);

    const { placementOf, known } = await loc.placeEach(['example.com']);

    expect(placementOf.get('example.com')).toMatchObject({
      fqdn: 'example.validation.example.net',
      zone: { id: 'ZVAL' },
    });
    expect(known.get('example.validation.example.net')).toEqual({ ttl: 120, raw: ['"v"'] });
    expect(lines.find((l) => l.message === 'following CNAME for DNS-01 challenge')).toMatchObject({
      chain: ['_acme-challenge.example.com', 'example.validation.example.net'],
      zoneId: 'ZVAL',
    });
  });

  it('stops at a CNAME loop and at a chain longer than allowed', async () => {
    const looping = new Zones()
      .add('ZCOM', 'example.com')
      .set(
        'ZCOM',
        cname('_acme-challenge.example.com', 'a.example.com'),
        cname('a.example.com', '_acme-challenge.example.com'),
      );
    expect((await failureOf(locator(looping).loc, 'example.com')).code).toBe('CnameLoop');

    const long = new Zones()
      .add('ZCOM', 'example.com')
      .set('ZCOM', cname('_acme-challenge.example.com', 'a.example.com'), cname('a.example.com', 'b.example.com'));
    expect((await failureOf(locator(long, { maxCnameHops: 1 }).loc, 'example.com')).code).toBe('CnameChainTooLong');
    expect((await locator(long, { maxCnameHops: 2 }).loc.placeEach(['example.com'])).failures).toEqual([]);
  });

  it('rejects alias and routing-policy records at the name', async () => {
    const zones = new Zones()
      .add('ZCOM', 'example.com')
      .set('ZCOM', { ...txt('_acme-challenge.example.com', 'v'), setIdentifier: 'eu' })
      .set('ZCOM', { ...cname('_acme-challenge.www.example.com', 'x.example.com'), alias: true });
    const { loc } = locator(zones);
    expect((await failureOf(loc, 'example.com')).code).toBe('UnsupportedRecord');
    expect((await failureOf(loc, 'www.example.com')).code).toBe('UnsupportedRecord');
  });

  it('reads a placed name only once: later calls use what was remembered, once, else nothing', async () => {
    const zones = new Zones().add('ZCOM', 'example.com');
    const { loc } = locator(zones);
    await loc.placeEach(['example.com']);
    const reads = zones.calls.listRecordSets;

    loc.remember('_acme-challenge.example.com', { ttl: 60, raw: ['"ours"'] });
    const second = await loc.placeEach(['example.com']);
    const third = await loc.placeEach(['example.com']);

    expect(zones.calls.listRecordSets).toBe(reads);
    expect(second.known.get('_acme-challenge.example.com')).toEqual({ ttl: 60, raw: ['"ours"'] });
    expect(third.known.has('_acme-challenge.example.com')).toBe(false);
  });

  it('does not keep a failed look-up: the next call asks again', async () => {
    const zones = new Zones().add('ZCOM', 'example.com');
    const { loc } = locator(zones, { hostedZoneIds: ['ZNEW'] });
    expect((await loc.placeEach(['example.com'])).failures).toHaveLength(1);

    zones.add('ZNEW', 'example.com');
    expect((await loc.placeEach(['example.com'])).placementOf.get('example.com')?.zone.id).toBe('ZNEW');
    expect(zones.calls.getZone).toEqual(['ZNEW', 'ZNEW']);
  });
});

describe('ZoneLocator.readTxt', () => {
  it('returns the TXT record set, or null', async () => {
    const zones = new Zones().add('ZCOM', 'example.com').set('ZCOM', txt('_acme-challenge.example.com', 'a', 'b'));
    const { loc } = locator(zones);
    expect(await loc.readTxt('ZCOM', '_acme-challenge.example.com')).toEqual({ ttl: 120, raw: ['"a"', '"b"'] });
    expect(await loc.readTxt('ZCOM', '_acme-challenge.www.example.com')).toBeNull();
  });

  it('assumes our TTL for a record set returned without one', async () => {
    const zones = new Zones()
      .add('ZCOM', 'example.com')
      .set('ZCOM', { name: '_acme-challenge.example.com', type: 'TXT', values: ['"a"'], alias: false });
    expect(await locator(zones, { ttl: 42 }).loc.readTxt('ZCOM', '_acme-challenge.example.com')).toEqual({
      ttl: 42,
      raw: ['"a"'],
    });
  });

  it('fails with ChangeRejected when the name has become a CNAME', async () => {
    const zones = new Zones()
      .add('ZCOM', 'example.com')
      .set('ZCOM', cname('_acme-challenge.example.com', 'x.example.net'));
    const err = await locator(zones)
      .loc.readTxt('ZCOM', '_acme-challenge.example.com')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).code).toBe('ChangeRejected');
    expect((err as DnsError).message).toContain('became a CNAME (→ x.example.net)');
  });
});

describe('ZoneLocator.zoneById', () => {
  it('reads a zone once and refuses one without a name', async () => {
    const zones = new Zones().add('ZCOM', 'example.com').add('ZNONAME', '');
    const { loc } = locator(zones);
    expect((await loc.zoneById('ZCOM')).nameServers).toEqual(['ns1.example.com']);
    await loc.zoneById('ZCOM');
    expect(zones.calls.getZone).toEqual(['ZCOM']);
    const err = await loc.zoneById('ZNONAME').catch((e: unknown) => e);
    expect((err as DnsError).code).toBe('NoHostedZone');
  });
});
