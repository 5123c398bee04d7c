/**
 * The TXT change batch of one hosted zone, as pure functions: which records to ask for, how our
 * values are merged in (present) or taken out (cleanUp), what the batch leaves at each name, and
 * whether Route 53 refused it because the records were not what we read.
 *
 * Every change is a compare-and-swap: DELETE the record set exactly as read, CREATE it with our
 * values merged in or removed. Route 53 applies a batch all or nothing, and a DELETE whose values
 * differ from what is there fails, so two rotations writing the same name cannot clobber each
 * other; the loser re-reads and builds its batch again.
 */
import { AwsServiceError, DnsError } from '../lib/errors.js';
import type { HostedZoneInfo, RecordChange } from './adapter.js';
import type { ChallengeRecord, PlacedRecord } from '../dns01/provider.js';
import { decodeDnsEscapes } from '../certificate/domains.js';
import { challengeDomain } from '../dns01/names.js';

/** The TXT record set at a name. */
export interface TxtState {
  ttl: number;
  /** Raw values as Route 53 returns them (quoted). */
  raw: string[];
}

/** Work for one name inside one zone's batch. */
export interface NameWork {
  fqdn: string;
  /** Our values (unquoted), in order, unique. */
  ours: string[];
  /** Current TXT state (null: none); undefined = must be (re-)read. */
  current?: TxtState | null;
}

/** What a batch does: publish our values, or remove them. */
export type BatchMode = 'present' | 'cleanUp';

/** Where a challenge domain's TXT record lives. */
export interface Placement {
  fqdn: string;
  zone: HostedZoneInfo;
}

/** How a failed ChangeResourceRecordSets is handled. */
export type ChangeFailure =
  /** The records changed since they were read: read again and rebuild the batch. */
  | 'conflict'
  /** Route 53 refused the batch for another reason: retrying the same batch cannot help. */
  | 'rejected'
  /** Not a refusal of the batch (throttling, access, network): passed on as it is. */
  | 'other';

const COMMENT_PREFIX = 'acme-rotation';

/**
 * The records in canonical form, each (domain, value) once, in first-seen order. Throws
 * InvalidChallenge for an empty domain.
 */
export function uniqueRecords(records: readonly ChallengeRecord[]): ChallengeRecord[] {
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

/**
 * Sorts placed records into one batch per zone: each final name once per zone with our values
 * in order, starting from the TXT state in `known` when there is one (else it is read before the
 * batch is built). Records whose domain has no placement are left out.
 */
export function groupByZone(
  records: readonly ChallengeRecord[],
  placementOf: ReadonlyMap<string, Placement>,
  known: ReadonlyMap<string, TxtState | null>,
): { placed: PlacedRecord[]; byZone: Map<string, NameWork[]> } {
  const placed: PlacedRecord[] = [];
  const byZone = new Map<string, NameWork[]>();
  for (const r of records) {
    const p = placementOf.get(r.domain);
    if (!p) continue;
    placed.push({ domain: r.domain, value: r.value, fqdn: p.fqdn, zoneId: p.zone.id, zoneName: p.zone.name });
    let works = byZone.get(p.zone.id);
    if (!works) byZone.set(p.zone.id, (works = []));
    let work = works.find((w) => w.fqdn === p.fqdn);
    if (!work) {
      work = { fqdn: p.fqdn, ours: [] };
      if (known.has(p.fqdn)) work.current = known.get(p.fqdn);
      works.push(work);
    }
    if (!work.ours.includes(r.value)) work.ours.push(r.value);
  }
  return { placed, byZone };
}

/**
 * The compare-and-swap changes for one zone. present: for each name missing one of our values,
 * DELETE the current set (when there is one) and CREATE it with the missing values appended, at
 * the lower of its TTL and `ttl`. cleanUp: for each name holding one of our values, DELETE the
 * current set and CREATE the rest (if any) at its TTL. Names already as wanted add nothing, so an
 * empty result means there is nothing to submit. A `current` still undefined counts as no record.
 */
export function buildTxtChanges(works: readonly NameWork[], mode: BatchMode, ttl: number): RecordChange[] {
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
      const createTtl = current ? Math.min(current.ttl, ttl) : ttl;
      changes.push({ action: 'CREATE', name: w.fqdn, type: 'TXT', ttl: createTtl, values: merged });
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

/** The change batch's comment, counting the values of the order it carries. */
export function batchComment(works: readonly NameWork[], mode: BatchMode): string {
  const values = works.reduce((n, w) => n + w.ours.length, 0);
  return mode === 'present'
    ? `${COMMENT_PREFIX}: add ${values} DNS-01 TXT value(s)`
    : `${COMMENT_PREFIX}: remove ${values} DNS-01 TXT value(s)`;
}

/**
 * What an applied batch left at each of its names (null: no record set), so the next batch on
 * the same names can be built without reading them again. A name the batch did not touch keeps
 * its `current` state.
 */
export function txtAfterChanges(
  works: readonly NameWork[],
  changes: readonly RecordChange[],
): Map<string, TxtState | null> {
  const after = new Map<string, TxtState | null>();
  for (const w of works) {
    const created = changes.find((c) => c.action === 'CREATE' && c.name === w.fqdn);
    const deleted = changes.some((c) => c.action === 'DELETE' && c.name === w.fqdn);
    if (created) after.set(w.fqdn, { ttl: created.ttl, raw: [...created.values] });
    else if (deleted) after.set(w.fqdn, null);
    else after.set(w.fqdn, w.current ?? null);
  }
  return after;
}

/** Route 53's InvalidChangeBatch messages that mean "the record is not what you read". */
export function isCasConflict(message: string): boolean {
  return /but it already exists|but it was not found|values provided do not match|do not match the current values/i.test(
    message,
  );
}

/** How to treat an error from ChangeResourceRecordSets (see ChangeFailure). */
export function classifyChangeFailure(err: unknown): ChangeFailure {
  if (!(err instanceof AwsServiceError) || err.awsCode !== 'InvalidChangeBatch') return 'other';
  return isCasConflict(err.message) ? 'conflict' : 'rejected';
}

/** A TXT value as Route 53 wants it in ResourceRecords: one quoted character-string. */
export function quoteTxt(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The text of a TXT record value as Route 53 returns it (`"abc"`, or several strings
 * `"ab" "c"` for long values, with `\"` / `\\` / `\ooo` octal escapes), concatenated.
 */
export function unquoteTxt(raw: string): string {
  const s = raw.trim();
  if (!s.startsWith('"')) return decodeDnsEscapes(s);
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s[i] !== '"') {
      i++;
      continue;
    }
    i++; // opening quote
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) {
        const oct = s.slice(i + 1, i + 4);
        if (/^[0-7]{3}$/.test(oct)) {
          // Route 53 writes special characters in TXT values as \ooo octal escapes.
          out += String.fromCharCode(parseInt(oct, 8));
          i += 4;
        } else {
          out += s[i + 1];
          i += 2;
        }
      } else {
        out += s[i];
        i++;
      }
    }
    i++; // closing quote
  }
  return out;
}
