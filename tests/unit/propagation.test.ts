import { describe, expect, it } from 'vitest';
import { parseResolver } from '../../rotation/dns01/resolvers.js';
import { waitForTxtPropagation, type ResolverLike } from '../../rotation/dns01/propagation.js';
import type { PlacedRecord } from '../../rotation/dns01/provider.js';
import { Deadline } from '../../rotation/lib/deadline.js';
import { ConfigError, DnsError } from '../../rotation/lib/errors.js';
import { createLogger } from '../../rotation/lib/log.js';

/** A fake DNS world: answers(server, name, nth query to that server for that name). */
type Answer = string[][] | { code: string };

function fakeDns(answer: (server: string, name: string, n: number) => Answer) {
  const queries: { server: string; name: string }[] = [];
  const counts = new Map<string, number>();
  const factory = (): ResolverLike => {
    let servers: string[] = [];
    return {
      setServers(s) {
        servers = s;
      },
      async resolveTxt(name) {
        const server = servers[0] ?? 'system';
        queries.push({ server, name });
        const key = `${server} ${name}`;
        const n = (counts.get(key) ?? 0) + 1;
        counts.set(key, n);
        const a = answer(server, name, n);
        if ('code' in a) throw Object.assign(new Error(`queryTxt ${a.code} ${name}`), { code: a.code });
        return a;
      },
    };
  };
  return { factory, queries };
}

const logger = createLogger({}, { level: 'error', sink: () => {} });

const records: PlacedRecord[] = [
  { domain: 'example.com', value: 'apex', fqdn: '_acme-challenge.example.com', zoneId: 'Z1', zoneName: 'example.com' },
  { domain: 'example.com', value: 'wild', fqdn: '_acme-challenge.example.com', zoneId: 'Z1', zoneName: 'example.com' },
  {
    domain: 'www.example.com',
    value: 'www',
    fqdn: '_acme-challenge.www.example.com',
    zoneId: 'Z1',
    zoneName: 'example.com',
  },
];

const fullAnswer = (name: string): string[][] =>
  name === '_acme-challenge.example.com' ? [['other'], ['ap', 'ex'], ['wild']] : [['www']];

const nsHosts: Record<string, string> = { 'ns1.example.net': '10.0.0.1', 'ns2.example.net': '10.0.0.2' };

describe('waitForTxtPropagation', () => {
  it('polls every authoritative nameserver until every value is there', async () => {
    // ns1 has everything at once; ns2 first answers ENODATA, then only part, then all.
    const dns = fakeDns((server, name, n) => {
      if (server === '10.0.0.2') {
        if (n === 1) return { code: 'ENODATA' };
        if (n === 2 && name === '_acme-challenge.example.com') return [['apex']];
      }
      return fullAnswer(name);
    });
    const zonesAsked: string[] = [];

    await waitForTxtPropagation(records, {
      nameserversFor: async (zoneId) => {
        zonesAsked.push(zoneId);
        return Object.keys(nsHosts);
      },
      resolveHost: async (host) => [nsHosts[host]!],
      resolverFactory: dns.factory,
      deadline: new Deadline(10_000, 0),
      logger,
      pollMinMs: 1,
      pollMaxMs: 2,
    });

    expect(zonesAsked).toEqual(['Z1']);
    const count = (server: string, name: string): number =>
      dns.queries.filter((q) => q.server === server && q.name === name).length;
    expect(count('10.0.0.1', '_acme-challenge.example.com')).toBe(1);
    expect(count('10.0.0.1', '_acme-challenge.www.example.com')).toBe(1);
    expect(count('10.0.0.2', '_acme-challenge.example.com')).toBe(3);
    expect(count('10.0.0.2', '_acme-challenge.www.example.com')).toBe(2);
  });

  it('uses DNS_RESOLVERS instead of the zone nameservers when given', async () => {
    const dns = fakeDns((_s, name) => fullAnswer(name));
    await waitForTxtPropagation(records, {
      resolvers: ['127.0.0.1:8053', '[::1]:53'],
      nameserversFor: async () => {
        throw new Error('must not be called');
      },
      resolverFactory: dns.factory,
      deadline: new Deadline(10_000, 0),
      logger,
      pollMinMs: 1,
    });
    expect([...new Set(dns.queries.map((q) => q.server))].sort()).toEqual(['127.0.0.1:8053', '[::1]:53']);
    expect(dns.queries).toHaveLength(4);
  });

  it('fails with PropagationTimeout naming the names and servers still missing', async () => {
    const dns = fakeDns((server, name) => {
      if (server === '10.0.0.2' && name === '_acme-challenge.example.com') return [['apex']];
      if (server === '10.0.0.2') return { code: 'ENOTFOUND' };
      return fullAnswer(name);
    });
    const started = Date.now();

    const err = await waitForTxtPropagation(records, {
      nameserversFor: async () => Object.keys(nsHosts),
      resolveHost: async (host) => [nsHosts[host]!],
      resolverFactory: dns.factory,
      deadline: new Deadline(80, 0),
      logger,
      pollMinMs: 5,
      pollMaxMs: 20,
    }).catch((e: unknown) => e);

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).code).toBe('PropagationTimeout');
    const msg = (err as DnsError).message;
    expect(msg).toContain('_acme-challenge.example.com on 10.0.0.2 (ns2.example.net): 1 of 2 value(s) missing');
    expect(msg).toContain(
      '_acme-challenge.www.example.com on 10.0.0.2 (ns2.example.net): 1 of 1 value(s) missing (last: ENOTFOUND)',
    );
    expect(msg).not.toContain('10.0.0.1');
    expect(dns.queries.filter((q) => q.server === '10.0.0.2').length).toBeGreaterThan(2);
  });

  it('rejects a DNS_RESOLVERS entry that is not an ip[:port]', async () => {
    expect(parseResolver('1.1.1.1')).toBe('1.1.1.1');
    expect(parseResolver('2001:db8::1')).toBe('2001:db8::1');
    expect(() => parseResolver('dns.google')).toThrow(ConfigError);
    await expect(
      waitForTxtPropagation(records, { resolvers: ['1.1.1.1:99999'], deadline: new Deadline(1000, 0), logger }),
    ).rejects.toThrow(ConfigError);
  });

  it('fails clearly when a zone has no nameserver address', async () => {
    await expect(
      waitForTxtPropagation(records, {
        nameserversFor: async () => [],
        deadline: new Deadline(1000, 0),
        logger,
      }),
    ).rejects.toMatchObject({ code: 'NoNameservers' });
  });
});
