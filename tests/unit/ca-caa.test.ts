/**
 * CAA (RFC 8659) before a CA is chosen: the matching rules, with the RFC's own examples, and the
 * closest-set lookup against the local DNS responder serving the local Route 53 (the server a
 * rotation's DNS_RESOLVERS points at in the local stack).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { caaAllows, caaLookup, caaRestricts, issuerOf, type CaaSet } from '../../rotation/acme/caa.js';
import { Route53Service, type RecordSet } from '../local/aws/route53.js';
import { startDnsServer, type DnsServer } from '../local/dns-server.js';

const set = (name: string, ...props: [number, string, string][]): CaaSet => ({
  name,
  foundAt: name.replace(/^\*\./, ''),
  properties: props.map(([flags, tag, value]) => ({ critical: flags >= 128, tag, value })),
});

const LE = ['letsencrypt.org'];
const GTS = ['pki.goog'];

describe('caaAllows: RFC 8659 §4', () => {
  it('a set with no issue or issuewild property does not restrict (iodef only)', () => {
    const s = set('example.com', [0, 'iodef', 'mailto:security@example.com']);
    expect(caaRestricts(s)).toBe(false);
    expect(caaAllows(s, GTS)).toEqual({ allowed: true, restricted: false });
  });

  it('issue names the CAs allowed; parameters after ";" do not change the issuer (§4.2)', () => {
    const s = set('example.com', [0, 'issue', 'ca.example.net; account=230123']);
    expect(issuerOf('ca.example.net; account=230123')).toBe('ca.example.net');
    expect(caaAllows(s, ['ca.example.net'])).toEqual({ allowed: true, restricted: true });
    const refused = caaAllows(s, LE);
    expect(refused.allowed).toBe(false);
    expect(refused.allowed === false && refused.why).toBe(
      'example.com CAA 0 issue "ca.example.net; account=230123" does not allow this CA (it answers to "letsencrypt.org") to issue for example.com',
    );
  });

  it('an empty issuer domain name (";") allows no CA', () => {
    const s = set('example.com', [0, 'issue', ';']);
    expect(caaAllows(s, LE).allowed).toBe(false);
    expect(caaAllows(s, ['']).allowed).toBe(false);
  });

  it('identities compare case-insensitively and without a trailing dot', () => {
    expect(caaAllows(set('example.com', [0, 'issue', 'LetsEncrypt.ORG.']), LE).allowed).toBe(true);
  });

  it('issuewild replaces issue for a wildcard name only (§4.3)', () => {
    const s = set('*.example.com', [0, 'issue', 'letsencrypt.org'], [0, 'issuewild', 'pki.goog']);
    expect(caaAllows(s, GTS).allowed).toBe(true);
    const le = caaAllows(s, LE);
    expect(le.allowed).toBe(false);
    expect(le.allowed === false && le.why).toContain('(issuewild)');
    const apex = { ...s, name: 'example.com' };
    expect(caaAllows(apex, LE).allowed).toBe(true);
    expect(caaAllows(apex, GTS).allowed).toBe(false);
    // No issuewild: issue decides for the wildcard too.
    expect(caaAllows(set('*.example.com', [0, 'issue', 'letsencrypt.org']), LE).allowed).toBe(true);
  });

  it('issuewild ";" forbids wildcards while issue allows the name', () => {
    const s = set('*.example.com', [0, 'issue', 'letsencrypt.org'], [0, 'issuewild', ';']);
    expect(caaAllows(s, LE).allowed).toBe(false);
    expect(caaAllows({ ...s, name: 'example.com' }, LE).allowed).toBe(true);
  });

  it('an unknown tag with the critical flag forbids every CA (§4.1); a non-critical one is ignored', () => {
    const critical = set('example.com', [128, 'tbs', 'Unknown'], [0, 'issue', 'letsencrypt.org']);
    expect(caaRestricts(critical)).toBe(true);
    const verdict = caaAllows(critical, LE);
    expect(verdict.allowed).toBe(false);
    expect(verdict.allowed === false && verdict.why).toContain('example.com CAA 128 tbs "Unknown" is critical');
    expect(caaAllows(set('example.com', [0, 'tbs', 'Unknown']), LE)).toEqual({ allowed: true, restricted: false });
  });

  it('RFC 8657 validationmethods without dns-01 does not allow a dns-01 order', () => {
    const s = set('example.com', [0, 'issue', 'letsencrypt.org; validationmethods=http-01']);
    const v = caaAllows(s, LE);
    expect(v.allowed).toBe(false);
    expect(v.allowed === false && v.why).toContain('only by validation methods other than dns-01');
    expect(
      caaAllows(set('example.com', [0, 'issue', 'letsencrypt.org; validationmethods=dns-01,http-01']), LE).allowed,
    ).toBe(true);
  });

  it('a CA that lists no caaIdentities cannot be compared: unknown, not forbidden', () => {
    expect(caaAllows(set('example.com', [0, 'issue', 'letsencrypt.org']), undefined).allowed).toBe('unknown');
  });
});

describe('caaLookup: the closest CAA set up the tree (§3), through a resolver', () => {
  let r53: Route53Service;
  let server: DnsServer;
  let zoneId: string;
  let clock = 1_700_000_000_000;
  const rr = (name: string, type: string, values: string[]): RecordSet => ({ name, type, ttl: 60, values });

  beforeAll(async () => {
    r53 = new Route53Service({ changeDelayMs: 0, now: () => clock });
    server = await startDnsServer({ route53: r53 });
    zoneId = r53.createZone('caa.test').id;
    r53.changeRecords(
      zoneId,
      [
        rr('caa.test', 'CAA', ['0 issue "letsencrypt.org"', '0 issuewild ";"']),
        rr('sub.caa.test', 'CAA', ['0 issue "pki.goog; validationmethods=dns-01"']),
        rr('alias.caa.test', 'CNAME', ['sub.caa.test']),
        rr('www.caa.test', 'A', ['192.0.2.1']),
      ].map((record) => ({ action: 'UPSERT' as const, record })),
    );
    clock += 1000;
  });
  afterAll(async () => {
    await server?.stop();
  });

  const lookup = () => caaLookup({ resolvers: [`127.0.0.1:${server.port}`], timeoutMs: 2_000 });

  it('finds the set at the name itself', async () => {
    expect(await lookup().relevantSet('sub.caa.test')).toEqual({
      name: 'sub.caa.test',
      foundAt: 'sub.caa.test',
      properties: [{ critical: false, tag: 'issue', value: 'pki.goog; validationmethods=dns-01' }],
    });
  });

  it('climbs to the closest ancestor with a set (a name with other records, a name that does not exist)', async () => {
    const l = lookup();
    for (const name of ['www.caa.test', 'a.b.nothing.caa.test']) {
      const found = await l.relevantSet(name);
      expect(found.foundAt).toBe('caa.test');
      expect(found.properties.map((p) => `${p.tag} ${p.value}`).sort()).toEqual([
        'issue letsencrypt.org',
        'issuewild ;',
      ]);
    }
  });

  it('starts a wildcard at its base name, and keeps the wildcard for issuewild', async () => {
    const found = await lookup().relevantSet('*.www.caa.test');
    expect(found.name).toBe('*.www.caa.test');
    expect(found.foundAt).toBe('caa.test');
    expect(caaAllows(found, LE).allowed).toBe(false); // issuewild ";"
    expect(caaAllows({ ...found, name: 'www.caa.test' }, LE).allowed).toBe(true);
  });

  it("follows a CNAME at the name to the target's set, as the resolver does", async () => {
    const found = await lookup().relevantSet('alias.caa.test');
    expect(found.properties).toEqual([{ critical: false, tag: 'issue', value: 'pki.goog; validationmethods=dns-01' }]);
  });

  it('a name under no set at all: no properties', async () => {
    r53.createZone('nocaa.test');
    const found = await lookup().relevantSet('host.nocaa.test');
    expect(found).toEqual({ name: 'host.nocaa.test', properties: [] });
  });

  it('a failed lookup (SERVFAIL) throws, naming the name', async () => {
    const remove = server.addFault({ name: 'broken.caa.test', type: 'CAA', action: 'servfail', times: Infinity });
    try {
      await expect(lookup().relevantSet('broken.caa.test')).rejects.toThrow(
        /^CAA lookup of broken\.caa\.test failed: ESERVFAIL/,
      );
    } finally {
      remove();
    }
  });
});
