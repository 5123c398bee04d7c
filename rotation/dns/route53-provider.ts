/**
 * DNS-01 on Route 53.
 *
 * - Zone discovery: longest-suffix match among public hosted zones (private zones only when
 *   listed explicitly), or among the explicit `hostedZoneIds` when given. Cached per instance.
 * - `_acme-challenge.<domain>` CNAMEs are followed (in Route 53) to the zone that holds the target.
 * - present: ONE ChangeResourceRecordSets per zone carrying every TXT value of the order, merged
 *   with the values already at each name; compare-and-swap (DELETE exact current + CREATE merged)
 *   so concurrent rotations touching the same name cannot clobber each other; then one
 *   concurrent GetChange wait for all zones (exponential backoff with full jitter).
 * - cleanUp: removes only our values the same way; idempotent; does not wait for INSYNC.
 */
import { AwsServiceError, DeadlineError, DnsError, errorMessage } from '../errors.js';
import { backoffDelay, pollDelay, type Deadline } from '../deadline.js';
import type { Logger } from '../log.js';
import type { HostedZoneInfo, RecordChange, RecordSetInfo, Route53Adapter } from '../aws/route53.js';
import { bareZoneId } from '../aws/route53.js';
import type { ChallengeRecord, DnsProvider, PlacedRecord } from './provider.js';
import { challengeDomain, isInZone, nameSuffixes, normalizeName, quoteTxt, unquoteTxt } from './names.js';

export interface Route53DnsProviderOptions {
  route53: Route53Adapter;
  /** Explicit zone ids (tag `acme:hosted-zone-ids`): only these are candidates; private allowed. */
  hostedZoneIds?: string[];
  logger: Logger;
  /** TTL of records we create (seconds). Default 60. */
  ttl?: number;
  /**
   * GetChange schedule: the first look after `pollMinMs`, then every 15% of the time waited so
   * far, between `pollMinMs` and `pollMaxMs`. Defaults 250 / 5000: a change that takes D is seen
   * at most ~15% (or 250 ms) after D, with O(log D) polls (about 30 for a minute).
   */
  pollMinMs?: number;
  pollMaxMs?: number;
  /** Random source for jitter (tests). */
  random?: () => number;
  /** Maximum CNAME hops followed from `_acme-challenge.<domain>`. Default 5. */
  maxCnameHops?: number;
  /** Attempts of a compare-and-swap change batch before giving up. Default 6. */
  maxCasAttempts?: number;
  /**
   * Zone discovery starts with one ListHostedZonesByName without a name (first 100 zones): when
   * that is every zone of the account, no further discovery calls are needed. Set false to look
   * up each candidate name directly. Default true.
   */
  listAllZones?: boolean;
}

/** The TXT record set currently at a name (null when there is none). */
interface TxtState {
  ttl: number;
  /** Raw values as Route 53 returns them (quoted). */
  raw: string[];
}

/** What one lookup of a name found. */
interface NameState {
  cname?: string;
  txt: TxtState | null;
}

interface Placement {
  fqdn: string;
  zone: HostedZoneInfo;
}

/** Work for one name inside one zone's batch. */
interface NameWork {
  fqdn: string;
  /** Our values (unquoted), in order, unique. */
  ours: string[];
  /** Current TXT state; undefined = must be (re-)read. */
  current?: TxtState | null;
}

const COMMENT_PREFIX = 'acme-rotation';

export class Route53DnsProvider implements DnsProvider {
  private readonly route53: Route53Adapter;
  private readonly explicitIds: string[] | undefined;
  private readonly logger: Logger;
  private readonly ttl: number;
  private readonly pollMinMs: number;
  private readonly pollMaxMs: number;
  private readonly random: () => number;
  private readonly maxCnameHops: number;
  private readonly maxCasAttempts: number;
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
   * TXT states known without reading (read by locate(), or left by our last change), used once by
   * the next present/cleanUp instead of reading again.
   */
  private readonly prefetched = new Map<string, TxtState | null>();

  constructor(opts: Route53DnsProviderOptions) {
    this.route53 = opts.route53;
    const ids = (opts.hostedZoneIds ?? []).map((id) => bareZoneId(id)).filter((id) => id.length > 0);
    this.explicitIds = ids.length > 0 ? [...new Set(ids)] : undefined;
    this.logger = opts.logger;
    this.ttl = opts.ttl ?? 60;
    this.pollMinMs = Math.max(1, opts.pollMinMs ?? 250);
    this.pollMaxMs = Math.max(this.pollMinMs, opts.pollMaxMs ?? 5000);
    this.random = opts.random ?? Math.random;
    this.maxCnameHops = opts.maxCnameHops ?? 5;
    this.maxCasAttempts = Math.max(1, opts.maxCasAttempts ?? 6);
    this.listAllZones = opts.listAllZones ?? true;
  }

  // ---------------------------------------------------------------------------------------------
  // DnsProvider

  async locate(domains: string[]): Promise<void> {
    const unique = [...new Set(domains.map((d) => challengeDomain(d)).filter((d) => d.length > 0))];
    const { known, failures } = await this.placeEach(unique);
    for (const [fqdn, txt] of known) this.prefetched.set(fqdn, txt);
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      const first = failures[0];
      throw new DnsError(
        first instanceof DnsError ? first.code : 'NoHostedZone',
        `no usable hosted zone for ${failures.length} names: ${failures.map(errorMessage).join(' | ')}`,
        { cause: first },
      );
    }
  }

  async present(records: ChallengeRecord[], deadline: Deadline): Promise<PlacedRecord[]> {
    const wanted = dedupe(records);
    if (wanted.length === 0) return [];

    const { placed, byZone } = await this.placeAll(wanted);
    const zoneIds = [...byZone.keys()];

    const changes = await this.logger.time(
      'dns-change',
      async () => {
        const out: { zoneId: string; changeId: string; status: string }[] = [];
        // Zones one after another: keeps the request rate low; typically there is one zone.
        for (const [zoneId, works] of byZone) {
          const change = await this.casChange(zoneId, works, 'present', deadline);
          if (change !== null) out.push({ zoneId, changeId: change.id, status: change.status });
        }
        this.logger.info('route53 changes submitted', {
          changes: out,
          zoneIds,
          records: wanted.length,
        });
        return out;
      },
      { zoneIds, records: wanted.length, names: placed.map((p) => p.fqdn).filter(unique) },
    );

    // A change Route 53 reports INSYNC in its answer needs no GetChange.
    const pending = changes.filter((c) => c.status !== 'INSYNC');
    if (pending.length > 0) {
      await this.logger.time('dns-insync-wait', () => this.waitAllInsync(pending, deadline), {
        zoneIds: pending.map((c) => c.zoneId),
        changeIds: pending.map((c) => c.changeId),
        records: wanted.length,
      });
    }
    return placed;
  }

  async cleanUp(records: ChallengeRecord[], deadline: Deadline): Promise<void> {
    const wanted = dedupe(records);
    if (wanted.length === 0) return;
    // Names whose zone cannot be found are reported after the others are cleaned.
    const { byZone, failures } = await this.placeAllSettled(wanted);
    const zoneIds = [...byZone.keys()];

    await this.logger.time(
      'dns-cleanup',
      async () => {
        const results: { zoneId: string; changeId: string | null }[] = [];
        for (const [zoneId, works] of byZone) {
          try {
            results.push({ zoneId, changeId: (await this.casChange(zoneId, works, 'cleanUp', deadline))?.id ?? null });
          } catch (err) {
            failures.push(err);
          }
        }
        this.logger.info('route53 clean-up submitted', { changes: results, records: wanted.length });
        if (failures.length === 1) throw failures[0];
        if (failures.length > 1) {
          throw new DnsError(
            'CleanUpFailed',
            `TXT clean-up failed for ${failures.length} zones/names: ${failures.map(errorMessage).join(' | ')}`,
            { cause: failures[0] },
          );
        }
      },
      { zoneIds, records: wanted.length },
    );
  }

  async authoritativeNameservers(zoneId: string): Promise<string[]> {
    const zone = await this.zoneById(bareZoneId(zoneId));
    return [...zone.nameServers];
  }

  // ---------------------------------------------------------------------------------------------
  // Placement: zone discovery + CNAME following

  private async placeAll(
    wanted: ChallengeRecord[],
  ): Promise<{ placed: PlacedRecord[]; byZone: Map<string, NameWork[]> }> {
    const { placed, byZone, failures } = await this.placeAllSettled(wanted);
    if (failures.length > 0) throw failures[0];
    return { placed, byZone };
  }

  private async placeAllSettled(
    wanted: ChallengeRecord[],
  ): Promise<{ placed: PlacedRecord[]; byZone: Map<string, NameWork[]>; failures: unknown[] }> {
    const placed: PlacedRecord[] = [];
    const byZone = new Map<string, NameWork[]>();
    const { placementOf, known: fresh, failures } = await this.placeEach(wanted.map((r) => r.domain).filter(unique));

    for (const r of wanted) {
      const p = placementOf.get(r.domain);
      if (!p) continue;
      placed.push({ domain: r.domain, value: r.value, fqdn: p.fqdn, zoneId: p.zone.id, zoneName: p.zone.name });
      let works = byZone.get(p.zone.id);
      if (!works) byZone.set(p.zone.id, (works = []));
      let work = works.find((w) => w.fqdn === p.fqdn);
      if (!work) {
        work = { fqdn: p.fqdn, ours: [] };
        if (fresh.has(p.fqdn)) work.current = fresh.get(p.fqdn);
        works.push(work);
      }
      if (!work.ours.includes(r.value)) work.ours.push(r.value);
    }
    return { placed, byZone, failures };
  }

  /**
   * Places each domain, collecting failures instead of stopping at the first. Sequential on
   * purpose: apex and wildcard share a domain, and sibling names share zone lookups; the caches
   * make the second and later names cost at most one read each. `known` holds the TXT state of
   * each final name when it is known without another read (read just now, by locate(), or left
   * by our last change); those kept states are used once.
   */
  private async placeEach(domains: string[]): Promise<{
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

  /**
   * Where the TXT record for `domain` lives. Returns the TXT state at the final name when this
   * call looked it up (a cached placement returns none: the caller must read it fresh).
   */
  private async place(domain: string): Promise<{ placement: Placement; txt?: TxtState | null }> {
    const cached = this.placements.get(domain);
    if (cached) return { placement: cached };

    const start = `_acme-challenge.${domain}`;
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

  private zoneById(id: string): Promise<HostedZoneInfo> {
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

  private async readTxt(zoneId: string, name: string): Promise<TxtState | null> {
    const state = await this.readName(zoneId, name);
    if (state.cname !== undefined) {
      throw new DnsError(
        'ChangeRejected',
        `${name} in zone ${zoneId} became a CNAME (→ ${normalizeName(state.cname)}) during the rotation`,
      );
    }
    return state.txt;
  }

  // ---------------------------------------------------------------------------------------------
  // Compare-and-swap change batches

  private buildChanges(works: NameWork[], mode: 'present' | 'cleanUp'): RecordChange[] {
    const changes: RecordChange[] = [];
    for (const w of works) {
      const current = w.current ?? null;
      const have = new Set((current?.raw ?? []).map(unquoteTxt));
      if (mode === 'present') {
        const missing = w.ours.filter((v) => !have.has(v));
        if (missing.length === 0) continue;
        const merged = [...(current?.raw ?? []), ...missing.map(quoteTxt)];
        if (current) {
          changes.push({ action: 'DELETE', name: w.fqdn, type: 'TXT', ttl: current.ttl, values: current.raw });
        }
        const ttl = current ? Math.min(current.ttl, this.ttl) : this.ttl;
        changes.push({ action: 'CREATE', name: w.fqdn, type: 'TXT', ttl, values: merged });
      } else {
        if (!current) continue;
        const ours = new Set(w.ours);
        const remaining = current.raw.filter((raw) => !ours.has(unquoteTxt(raw)));
        if (remaining.length === current.raw.length) continue;
        changes.push({ action: 'DELETE', name: w.fqdn, type: 'TXT', ttl: current.ttl, values: current.raw });
        if (remaining.length > 0) {
          changes.push({ action: 'CREATE', name: w.fqdn, type: 'TXT', ttl: current.ttl, values: remaining });
        }
      }
    }
    return changes;
  }

  /**
   * Submit one batch for a zone, re-reading and retrying when the records changed underneath.
   * Returns the change, or null when there was nothing to change.
   *
   * A submission whose answer was lost (a timeout or a 5xx after Route 53 applied it) is retried
   * by the SDK and then conflicts with its own result; the re-read finds our values in place and
   * the change is not submitted again. Its id is lost with the answer, so the wait for it is the
   * propagation check on the authoritative servers, which follows anyway.
   */
  private async casChange(
    zoneId: string,
    works: NameWork[],
    mode: 'present' | 'cleanUp',
    deadline: Deadline,
  ): Promise<{ id: string; status: string } | null> {
    let conflicted = false;
    for (let attempt = 0; ; attempt++) {
      for (const w of works) {
        if (w.current === undefined) w.current = await this.readTxt(zoneId, w.fqdn);
      }
      const changes = this.buildChanges(works, mode);
      if (changes.length === 0) {
        if (conflicted) {
          this.logger.info(
            'route53: the records are already as wanted (an earlier submission was applied); not resubmitting',
            {
              zoneId,
              mode,
              names: works.map((w) => w.fqdn),
            },
          );
        } else {
          this.logger.debug('route53: nothing to change', { zoneId, mode, names: works.map((w) => w.fqdn) });
        }
        return null;
      }
      const values = works.reduce((n, w) => n + w.ours.length, 0);
      const comment =
        mode === 'present'
          ? `${COMMENT_PREFIX}: add ${values} DNS-01 TXT value(s)`
          : `${COMMENT_PREFIX}: remove ${values} DNS-01 TXT value(s)`;
      try {
        const change = await this.route53.changeRecords(zoneId, changes, comment);
        // What the batch left at each name is known: the clean-up that follows can build its
        // compare-and-swap on it without reading again (a conflict re-reads anyway).
        for (const w of works) {
          const created = changes.find((c) => c.action === 'CREATE' && c.name === w.fqdn);
          const deleted = changes.some((c) => c.action === 'DELETE' && c.name === w.fqdn);
          if (created) this.prefetched.set(w.fqdn, { ttl: created.ttl, raw: [...created.values] });
          else if (deleted) this.prefetched.set(w.fqdn, null);
          else this.prefetched.set(w.fqdn, w.current ?? null);
        }
        this.logger.debug('route53 change submitted', {
          zoneId,
          changeId: change.id,
          status: change.status,
          mode,
          names: works.map((w) => w.fqdn),
          attempt,
        });
        return change;
      } catch (err) {
        if (!(err instanceof AwsServiceError) || err.awsCode !== 'InvalidChangeBatch') throw err;
        const conflict = isCasConflict(err.message);
        conflicted ||= conflict;
        if (!conflict) {
          throw new DnsError(
            'ChangeRejected',
            `Route 53 rejected the ${mode} change batch for zone ${zoneId}: ${err.message}`,
            {
              cause: err,
            },
          );
        }
        if (attempt + 1 >= this.maxCasAttempts) {
          throw new DnsError(
            'ConcurrentModification',
            `TXT records in zone ${zoneId} kept changing underneath (${this.maxCasAttempts} attempts): ${err.message}`,
            { cause: err },
          );
        }
        const delay = backoffDelay(attempt, 100, 2000, this.random);
        this.logger.warn('route53 records changed concurrently; re-reading and retrying', {
          zoneId,
          mode,
          attempt,
          delayMs: delay,
          error: err.message,
        });
        // Clean-up runs in the deadline's reserve, so it sleeps without drawing on it.
        if (mode === 'present') await deadline.sleep(delay, `retrying the Route 53 change for zone ${zoneId}`);
        else await sleep(delay);
        for (const w of works) w.current = undefined;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // INSYNC wait

  private async waitAllInsync(changes: { zoneId: string; changeId: string }[], deadline: Deadline): Promise<void> {
    const control = { stopped: false };
    try {
      await Promise.all(changes.map((c) => this.waitInsync(c.zoneId, c.changeId, deadline, control)));
    } finally {
      control.stopped = true;
    }
  }

  private async waitInsync(
    zoneId: string,
    changeId: string,
    deadline: Deadline,
    control: { stopped: boolean },
  ): Promise<void> {
    const what = `Route 53 change ${changeId} (zone ${zoneId}) to reach INSYNC`;
    const started = Date.now();
    let polls = 0;
    while (!control.stopped) {
      // A new change is PENDING: the first look comes after pollMinMs, later ones every 15% of
      // the time waited so far, so the overshoot past the change's real delay stays small.
      const delay = pollDelay(Date.now() - started, this.pollMinMs, this.pollMaxMs, 0.15);
      const remaining = deadline.remainingMs();
      try {
        if (remaining <= 0) deadline.require(1, what);
        await deadline.sleep(Math.min(delay, remaining), what);
      } catch (err) {
        if (err instanceof DeadlineError) {
          throw new DeadlineError(
            `Route 53 change ${changeId} (zone ${zoneId}) still PENDING after ${polls} polls: ${err.message}`,
            {
              cause: err,
            },
          );
        }
        throw err;
      }
      if (control.stopped) return;
      polls++;
      const status = await this.route53.getChange(changeId);
      if (status === 'INSYNC') {
        this.logger.debug('route53 change INSYNC', { zoneId, changeId, polls });
        return;
      }
    }
  }
}

// -----------------------------------------------------------------------------------------------

/** Route 53's InvalidChangeBatch messages that mean "the record is not what you read". */
export function isCasConflict(message: string): boolean {
  return /but it already exists|but it was not found|values provided do not match|do not match the current values/i.test(
    message,
  );
}

function dedupe(records: ChallengeRecord[]): ChallengeRecord[] {
  const seen = new Set<string>();
  const out: ChallengeRecord[] = [];
  for (const r of records) {
    const domain = challengeDomain(r.domain);
    if (!domain) throw new DnsError('InvalidChallenge', 'empty domain in a DNS-01 challenge record');
    const key = `${domain}\u0000${r.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ domain, value: r.value });
  }
  return out;
}

function unique<T>(v: T, i: number, arr: T[]): boolean {
  return arr.indexOf(v) === i;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
