/**
 * Confirm DNS-01 TXT values are visible before asking the CA to validate (lego's "precheck"):
 * query every record's name on every server — the explicit DNS_RESOLVERS, or else the zone's
 * authoritative nameservers — until each server returns each expected value. All (name, server)
 * pairs are checked concurrently with jittered exponential backoff; no fixed sleeps; bounded by
 * the deadline.
 */
import { Resolver, lookup } from 'node:dns/promises';
import { backoffDelay, type Deadline } from '../lib/deadline.js';
import { parseResolver } from './resolvers.js';
import { ConfigError, DnsError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { pollUntil } from '../lib/retry.js';
import type { PlacedRecord } from './provider.js';
import { normalizeName } from '../certificate/domains.js';

/** The part of node:dns/promises Resolver used here (tests inject a fake). */
export interface ResolverLike {
  setServers(servers: string[]): void;
  resolveTxt(hostname: string): Promise<string[][]>;
  cancel?(): void;
}

export interface PropagationOptions {
  /** `ip` or `ip:port` (`[v6]:port`) entries from DNS_RESOLVERS; when given, used instead of the zone's nameservers. */
  resolvers?: string[];
  /** Authoritative nameserver host names of a zone (DnsProvider.authoritativeNameservers). */
  nameserversFor?: (zoneId: string) => Promise<string[]>;
  deadline: Deadline;
  logger: Logger;
  /** Backoff bounds between polls of one (name, server) pair, ms. Defaults 250 / 4000. */
  pollMinMs?: number;
  pollMaxMs?: number;
  /** Per-query timeout (ms) of the default resolver. Default 2000. */
  queryTimeoutMs?: number;
  resolverFactory?: () => ResolverLike;
  /** Host name → IP addresses (default: the system resolver via dns.lookup). */
  resolveHost?: (host: string) => Promise<string[]>;
  random?: () => number;
}

/** One server to ask: the address given to setServers and a label for messages. */
interface Server {
  address: string;
  label: string;
}

interface PairResult {
  fqdn: string;
  server: Server;
  ok: boolean;
  polls: number;
  missing: string[];
  lastError?: string;
}

async function systemResolveHost(host: string): Promise<string[]> {
  const addrs = await lookup(host, { all: true });
  const v4 = addrs.filter((a) => a.family === 4).map((a) => a.address);
  // Lambda outside a dual-stack VPC has no IPv6 egress: prefer IPv4.
  return v4.length > 0 ? v4 : addrs.map((a) => a.address);
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : errorMessage(err);
}

export async function waitForTxtPropagation(records: PlacedRecord[], opts: PropagationOptions): Promise<void> {
  if (records.length === 0) return;
  const { deadline, logger } = opts;
  const pollMinMs = Math.max(1, opts.pollMinMs ?? 250);
  const pollMaxMs = Math.max(pollMinMs, opts.pollMaxMs ?? 4000);
  const random = opts.random ?? Math.random;
  const queryTimeoutMs = opts.queryTimeoutMs ?? 2000;
  const factory: () => ResolverLike =
    opts.resolverFactory ?? (() => new Resolver({ timeout: queryTimeoutMs, tries: 1 }));
  const resolveHost = opts.resolveHost ?? systemResolveHost;

  // Expected values per name, and the zone each name lives in.
  const expected = new Map<string, { zoneId: string; values: Set<string> }>();
  for (const r of records) {
    const fqdn = normalizeName(r.fqdn);
    let e = expected.get(fqdn);
    if (!e) expected.set(fqdn, (e = { zoneId: r.zoneId, values: new Set() }));
    e.values.add(r.value);
  }

  // Servers per zone.
  const explicit = (opts.resolvers ?? []).map((s) => s.trim()).filter((s) => s.length > 0);
  const serversByZone = new Map<string, Server[]>();
  if (explicit.length > 0) {
    const servers = explicit.map((s) => ({ address: parseResolver(s), label: s }));
    for (const { zoneId } of expected.values()) serversByZone.set(zoneId, servers);
  } else {
    if (!opts.nameserversFor) {
      throw new ConfigError('TXT propagation check needs DNS_RESOLVERS or the zone nameservers (nameserversFor)');
    }
    const nameserversFor = opts.nameserversFor;
    const zoneIds = [...new Set([...expected.values()].map((e) => e.zoneId))];
    await Promise.all(
      zoneIds.map(async (zoneId) => {
        const hosts = await nameserversFor(zoneId);
        const servers: Server[] = [];
        const failures: string[] = [];
        await Promise.all(
          hosts.map(async (host) => {
            try {
              for (const ip of await resolveHost(host)) servers.push({ address: ip, label: `${ip} (${host})` });
            } catch (err) {
              failures.push(`${host}: ${errorCode(err)}`);
            }
          }),
        );
        if (servers.length === 0) {
          throw new DnsError(
            'NoNameservers',
            `no authoritative nameserver address for zone ${zoneId}` +
              (hosts.length === 0 ? ' (the zone has no delegation set)' : ` (${failures.join(', ')})`) +
              '; set DNS_RESOLVERS',
          );
        }
        servers.sort((a, b) => a.label.localeCompare(b.label));
        serversByZone.set(zoneId, servers);
      }),
    );
  }

  const pairs: { fqdn: string; values: Set<string>; server: Server }[] = [];
  for (const [fqdn, e] of expected) {
    for (const server of serversByZone.get(e.zoneId) ?? []) pairs.push({ fqdn, values: e.values, server });
  }

  const checkPair = async (fqdn: string, values: Set<string>, server: Server): Promise<PairResult> => {
    const resolver = factory();
    resolver.setServers([server.address]);
    const result: PairResult = { fqdn, server, ok: false, polls: 0, missing: [...values] };
    const outcome = await pollUntil(
      async () => {
        result.polls++;
        try {
          const answers = await resolver.resolveTxt(fqdn);
          const seen = new Set(answers.map((chunks) => chunks.join('')));
          result.missing = [...values].filter((v) => !seen.has(v));
          delete result.lastError;
        } catch (err) {
          // ENODATA / ENOTFOUND: not there yet. Anything else (timeout, SERVFAIL): also retried.
          result.lastError = errorCode(err);
        }
        return result;
      },
      (r) => r.missing.length === 0 && r.lastError === undefined,
      {
        delayMs: (looks) => backoffDelay(looks - 1, pollMinMs, pollMaxMs, random),
        // Out of time, the pair is reported with what it last saw.
        remainingMs: () => deadline.remainingMs(),
      },
    );
    result.ok = outcome.done;
    return result;
  };

  const results = await logger.time(
    'dns-propagation',
    async () => {
      const settled = await Promise.all(pairs.map((p) => checkPair(p.fqdn, p.values, p.server)));
      const failed = settled.filter((r) => !r.ok);
      if (failed.length > 0) {
        const detail = failed
          .map(
            (r) =>
              `${r.fqdn} on ${r.server.label}: ${r.missing.length} of ${expected.get(r.fqdn)?.values.size ?? 0} value(s) missing` +
              (r.lastError ? ` (last: ${r.lastError})` : ''),
          )
          .join('; ');
        throw new DnsError(
          'PropagationTimeout',
          `TXT records not visible before the deadline after ${Math.max(...failed.map((r) => r.polls))} polls: ${detail} ` +
            '(check the delegation to Route 53, DNS_RESOLVERS, or raise DNS_PROPAGATION_TIMEOUT_SECONDS)',
        );
      }
      return settled;
    },
    {
      names: [...expected.keys()],
      servers: [...new Set(pairs.map((p) => p.server.label))],
      source: explicit.length > 0 ? 'DNS_RESOLVERS' : 'authoritative',
    },
  );
  logger.debug('TXT records visible on every server', {
    polls: Math.max(...results.map((r) => r.polls)),
    pairs: results.length,
  });
}
