/**
 * Where a DNS-01 TXT record lives in Route 53.
 *
 * - Zone discovery: longest-suffix match among public hosted zones (private zones only when
 *   listed explicitly), or among the explicit `hostedZoneIds` when given.
 * - `_acme-challenge.<domain>` CNAMEs are followed (in Route 53) to the zone that holds the target.
 * - Zones, zone listings and placements are cached per instance (failed look-ups are not), and the
 *   TXT state read while placing a name is kept for the batch that follows.
 */
import { DnsError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { HostedZoneInfo, RecordSetInfo, Route53Adapter } from './adapter.js';
import { bareZoneId } from '../certificate/rules.js';
import { normalizeName } from '../certificate/domains.js';
import { challengeName } from '../dns01/names.js';
import type { Placement, TxtState } from './txt-batch.js';

/** The Route 53 reads zone location needs. */
export type ZoneReader = Pick<Route53Adapter, 'listFirstZones' | 'listZonesByName' | 'getZone' | 'listRecordSets'>;

export interface ZoneLocatorOptions {
  route53: ZoneReader;
  /** Explicit zone ids (tag `acme:hosted-zone-ids`): only these are candidates; private allowed. */
  hostedZoneIds?: string[];
  logger: Logger;
  /** TTL assumed for a TXT record set Route 53 returns without one (seconds). */
  ttl: number;
  /** Maximum CNAME hops followed from `_acme-challenge.<domain>`. */
  maxCnameHops: number;
  /**
   * Start discovery with one ListHostedZonesByName without a name (first 100 zones): when that is
   * every zone of the account, no further discovery calls are needed. False: look up each
   * candidate name directly.
   */
  listAllZones: boolean;
}

/** What one lookup of a name found. */
interface NameState {
  cname?: string;
  txt: TxtState | null;
}

export class ZoneLocator {
  private readonly route53: ZoneReader;
  private readonly explicitIds: string[] | undefined;
  private readonly logger: Logger;
  private readonly ttl: number;
  private readonly maxCnameHops: number;
  private readonly listAllZones: boolean;
  /** Every zone of the account when its first page was complete, else null. */
  private allZones: Promise<HostedZoneInfo[] | null> | undefined;

  /** zone id → GetHostedZone result. */
  private readonly zonesById = new Map<string, Promise<HostedZoneInfo>>();
  /** zone name → public zones of that name (ListHostedZonesByName). */
  private readonly publicZonesByName = new Map<string, Promise<HostedZoneInfo[]>>();
  /** challenge domain → where its TXT record lives. */
  private readonly placements = new Map<string, Placement>();
  /**
   * TXT states known without reading (read by an earlier placeEach, or left by our last change),
   * used once by the next placeEach instead of reading again.
   */
  private readonly prefetched = new Map<string, TxtState | null>();

  constructor(opts: ZoneLocatorOptions) {
    this.route53 = opts.route53;
    const ids = (opts.hostedZoneIds ?? []).map((id) => bareZoneId(id)).filter((id) => id.length > 0);
    this.explicitIds = ids.length > 0 ? [...new Set(ids)] : undefined;
    this.logger = opts.logger;
    this.ttl = opts.ttl;
    this.maxCnameHops = opts.maxCnameHops;
    this.listAllZones = opts.listAllZones;
  }

  /** Keep what is known to be at `fqdn` now, for the next placeEach of a name placed there. */
  remember(fqdn: string, txt: TxtState | null): void {
    this.prefetched.set(fqdn, txt);
  }

  /**
   * Places each domain, collecting failures instead of stopping at the first. Sequential on
   * purpose: apex and wildcard share a domain, and sibling names share zone lookups; the caches
   * make the second and later names cost at most one read each. `known` holds the TXT state of
   * each final name when it is known without another read (read just now, or remembered); those
   * remembered states are used once.
   */
  async placeEach(domains: readonly string[]): Promise<{
    placementOf: Map<string, Placement>;
    known: Map<string, TxtState | null>;
    failures: unknown[];
  }> {
    const placementOf = new Map<string, Placement>();
    const known = new Map<string, TxtState | null>();
    const failures: unknown[] = [];
    for (const domain of domains) {
      try {
        const { placement, txt } = await this.place(domain);
        placementOf.set(domain, placement);
        const state = txt !== undefined ? txt : this.prefetched.get(placement.fqdn);
        if (state !== undefined) known.set(placement.fqdn, state);
        this.prefetched.delete(placement.fqdn);
      } catch (err) {
        failures.push(err);
      }
    }
    return { placementOf, known, failures };
  }

  /** The plain TXT record set at `name` now; a name that has become a CNAME is an error. */
  async readTxt(zoneId: string, name: string): Promise<TxtState | null> {
    const state = await this.readName(zoneId, name);
    if (state.cname !== undefined) {
      throw new DnsError(
        'ChangeRejected',
        `${name} in zone ${zoneId} became a CNAME (→ ${normalizeName(state.cname)}) during the rotation`,
      );
    }
    return state.txt;
  }

  /** GetHostedZone, cached; a zone without a name is an error. */
  zoneById(id: string): Promise<HostedZoneInfo> {
    let p = this.zonesById.get(id);
    if (!p) {
      p = this.route53.getZone(id).then((z) => {
        if (!z.name) throw new DnsError('NoHostedZone', `Route 53 hosted zone ${id} has no name`);
        return z;
      });
      this.zonesById.set(id, p);
      p.catch(() => this.zonesById.delete(id));
    }
    return p;
  }

  /**
   * Where the TXT record for `domain` lives. Returns the TXT state at the final name when this
   * call looked it up (a cached placement returns none: the caller must read it fresh).
   */
  private async place(domain: string): Promise<{ placement: Placement; txt?: TxtState | null }> {
    const cached = this.placements.get(domain);
    if (cached) return { placement: cached };

    const start = challengeName(domain);
    const chain: string[] = [start];
    let name = start;
    for (let hop = 0; ; hop++) {
      const zone = await this.findZone(name, chain);
      const state = await this.readName(zone.id, name);
      if (state.cname === undefined) {
        const placement = { fqdn: name, zone };
        this.placements.set(domain, placement);
        if (chain.length > 1) {
          this.logger.info('following CNAME for DNS-01 challenge', { chain, zoneId: zone.id, zoneName: zone.name });
        }
        return { placement, txt: state.txt };
      }
      const target = normalizeName(state.cname);
      if (chain.includes(target)) {
        throw new DnsError('CnameLoop', `CNAME loop at ${start}: ${[...chain, target].join(' → ')}`);
      }
      chain.push(target);
      if (hop + 1 > this.maxCnameHops) {
        throw new DnsError(
          'CnameChainTooLong',
          `more than ${this.maxCnameHops} CNAME hops from ${start}: ${chain.join(' → ')}`,
        );
      }
      name = target;
    }
  }

  /** The hosted zone that should hold `fqdn`: longest suffix match. */
  private async findZone(fqdn: string, chain: string[]): Promise<HostedZoneInfo> {
    const via = chain.length > 1 ? ` (CNAME chain ${chain.join(' → ')})` : '';
    if (this.explicitIds) {
      const zones = await Promise.all(this.explicitIds.map((id) => this.zoneById(id)));
      let best: HostedZoneInfo | undefined;
      for (const z of zones) {
        if (isInZone(fqdn, z.name) && (!best || z.name.length > best.name.length)) best = z;
      }
      if (best) return best;
      const tried = zones.map((z) => `${z.id} (${z.name}${z.privateZone ? ', private' : ''})`).join(', ');
      throw new DnsError(
        'NoHostedZone',
        `no Route 53 hosted zone for ${fqdn}${via} (tried: ${tried}); create the zone or set acme:hosted-zone-ids`,
      );
    }

    const tried: string[] = [];
    for (const candidate of nameSuffixes(fqdn)) {
      tried.push(candidate);
      const zones = await this.publicZonesNamed(candidate);
      const first = zones[0];
      if (first) {
        if (zones.length > 1) {
          // Guessing would put the TXT value in a zone the world may not see (a stale copy) and
          // burn one of the CA's 5 failed validations per name per hour.
          throw new DnsError(
            'AmbiguousZone',
            `several public Route 53 hosted zones are named ${candidate} (${zones.map((z) => z.id).join(', ')}); ` +
              'set acme:hosted-zone-ids to the one that is delegated',
          );
        }
        return first;
      }
    }
    throw new DnsError(
      'NoHostedZone',
      `no Route 53 hosted zone for ${fqdn}${via} (tried: ${tried.join(', ')}); ` +
        'create the zone or set acme:hosted-zone-ids',
    );
  }

  private zoneListing(): Promise<HostedZoneInfo[] | null> {
    if (!this.listAllZones) return Promise.resolve(null);
    if (!this.allZones) {
      const p = this.route53.listFirstZones().then((r) => (r.complete ? r.zones : null));
      this.allZones = p;
      p.catch(() => {
        if (this.allZones === p) this.allZones = undefined;
      });
    }
    return this.allZones;
  }

  private publicZonesNamed(name: string): Promise<HostedZoneInfo[]> {
    let p = this.publicZonesByName.get(name);
    if (!p) {
      p = this.zoneListing()
        .then(async (all) => (all ? all.filter((z) => z.name === name) : this.route53.listZonesByName(name)))
        .then((zs) => zs.filter((z) => !z.privateZone));
      this.publicZonesByName.set(name, p);
      p.catch(() => this.publicZonesByName.delete(name));
    }
    return p;
  }

  /** One ListResourceRecordSets: the CNAME or the plain TXT record set at `name`. */
  private async readName(zoneId: string, name: string): Promise<NameState> {
    const sets = await this.route53.listRecordSets(zoneId, name);
    const unsupported = (rs: RecordSetInfo): boolean => rs.alias || rs.setIdentifier !== undefined;
    const cname = sets.find((s) => s.type === 'CNAME');
    if (cname) {
      if (unsupported(cname) || !cname.values[0]) {
        throw new DnsError(
          'UnsupportedRecord',
          `${name} in zone ${zoneId} is an alias or routing-policy CNAME; point it with a plain CNAME or remove it`,
        );
      }
      return { cname: cname.values[0], txt: null };
    }
    const txts = sets.filter((s) => s.type === 'TXT');
    if (txts.some(unsupported)) {
      throw new DnsError(
        'UnsupportedRecord',
        `${name} in zone ${zoneId} has an alias or routing-policy TXT record; DNS-01 needs a plain TXT record set`,
      );
    }
    const txt = txts[0];
    return { txt: txt ? { ttl: txt.ttl ?? this.ttl, raw: txt.values } : null };
  }
}

/** True when `name` equals `zone` or lies below it (both canonical). */
export function isInZone(name: string, zone: string): boolean {
  if (zone === '') return true;
  return name === zone || name.endsWith(`.${zone}`);
}

/** Every suffix of a name, longest first: a.b.c → [a.b.c, b.c, c]. */
export function nameSuffixes(name: string): string[] {
  const labels = normalizeName(name)
    .split('.')
    .filter((l) => l.length > 0);
  const out: string[] = [];
  for (let i = 0; i < labels.length; i++) out.push(labels.slice(i).join('.'));
  return out;
}
