/**
 * CAA (RFC 8659): which CAs a name's owner allows to issue for it, checked before a CA is chosen,
 * so an order is never sent to a CA the records forbid (it would refuse at finalize, after the
 * DNS work and a failed validation counted against the account).
 *
 * - The relevant record set of a name is the closest non-empty CAA set at the name or up the tree
 *   (§3); for a wildcard `*.example.com` the search starts at `example.com`. CNAMEs are followed
 *   by the resolver, as a CA's resolver does.
 * - `issue` properties name the CAs allowed for the name (§4.2); for a wildcard, `issuewild`
 *   properties replace them when the set has any (§4.3). A value is an issuer domain name, then
 *   `;`-separated parameters; an empty domain name allows no CA. A set with neither property does
 *   not restrict issuance.
 * - A property with the critical flag whose tag we do not know forbids issuance by every CA (§4.1).
 * - A CA answers to the names its directory lists in `meta.caaIdentities` (RFC 8555 §7.1.1).
 *
 * Only node:dns: this file is part of the Lambda bundle.
 */
import { Resolver } from 'node:dns/promises';

/** One CAA property: flags (128 = critical), tag (lower case), value. */
export interface CaaProperty {
  critical: boolean;
  tag: string;
  value: string;
}

/** The relevant record set of a name: where it was found, and its properties. */
export interface CaaSet {
  /** The name asked about (a wildcard keeps its `*.`). */
  name: string;
  /** The name the set was found at; undefined when none up the tree has one. */
  foundAt?: string;
  properties: CaaProperty[];
}

/** Tags RFC 8659 and its extensions define (RFC 8657's parameters ride inside `issue`). */
const KNOWN_TAGS = new Set(['issue', 'issuewild', 'iodef', 'contactemail', 'contactphone', 'issuemail', 'issuevmc']);

/** What the records say about one CA for one name. */
export type CaaVerdict =
  | { allowed: true; restricted: boolean }
  | { allowed: false; why: string }
  /** The set restricts issuance, and the CA's directory lists no caaIdentities to compare with. */
  | { allowed: 'unknown'; why: string };

function quoteSet(set: CaaSet, props: CaaProperty[]): string {
  return props.map((p) => `${set.foundAt} CAA ${p.critical ? 128 : 0} ${p.tag} "${p.value}"`).join(', ');
}

/** The issuer domain name of an `issue`/`issuewild` value ('' = no CA), lower case. */
export function issuerOf(value: string): string {
  return (value.split(';')[0] ?? '').trim().toLowerCase().replace(/\.$/, '');
}

/** RFC 8657's `validationmethods` parameter of a value, when given. */
function validationMethods(value: string): string[] | undefined {
  for (const param of value.split(';').slice(1)) {
    const m = /^\s*validationmethods\s*=\s*([^\s;]*)\s*$/i.exec(param);
    if (m) return (m[1] ?? '').toLowerCase().split(',').filter(Boolean);
  }
  return undefined;
}

/** The properties that decide issuance for `set.name`: `issue`, or for a wildcard `issuewild` when any. */
function issuanceProperties(set: CaaSet): CaaProperty[] {
  const issueWild = set.properties.filter((p) => p.tag === 'issuewild');
  if (set.name.startsWith('*.') && issueWild.length > 0) return issueWild;
  return set.properties.filter((p) => p.tag === 'issue');
}

/** Whether `set` restricts issuance at all (then each CA is checked against it). */
export function caaRestricts(set: CaaSet): boolean {
  return issuanceProperties(set).length > 0 || set.properties.some((p) => p.critical && !KNOWN_TAGS.has(p.tag));
}

/**
 * Whether `set` allows a CA known by `identities` (its meta.caaIdentities; undefined when it lists
 * none) to issue for `set.name` by dns-01.
 */
export function caaAllows(set: CaaSet, identities: readonly string[] | undefined): CaaVerdict {
  const critical = set.properties.filter((p) => p.critical && !KNOWN_TAGS.has(p.tag));
  if (critical.length > 0) {
    return {
      allowed: false,
      why: `${quoteSet(set, critical)} is critical with a tag no CA may ignore, so no CA may issue for ${set.name} (RFC 8659 §4.1)`,
    };
  }
  const relevant = issuanceProperties(set);
  if (relevant.length === 0) return { allowed: true, restricted: false };
  if (identities === undefined || identities.length === 0) {
    return {
      allowed: 'unknown',
      why: `${quoteSet(set, relevant)} restricts who may issue for ${set.name}, and the CA's directory lists no caaIdentities to compare`,
    };
  }
  const own = new Set(identities.map((i) => i.toLowerCase().replace(/\.$/, '')));
  const granting = relevant.filter((p) => own.has(issuerOf(p.value)) && issuerOf(p.value) !== '');
  const byDns01 = granting.filter((p) => validationMethods(p.value)?.includes('dns-01') ?? true);
  if (byDns01.length > 0) return { allowed: true, restricted: true };
  const tag = relevant[0]?.tag ?? 'issue';
  return {
    allowed: false,
    why:
      granting.length > 0
        ? `${quoteSet(set, granting)} allows this CA for ${set.name} only by validation methods other than dns-01`
        : `${quoteSet(set, relevant)} does not allow this CA (it answers to ${[...own].map((i) => `"${i}"`).join(', ')}) ` +
          `to issue for ${set.name}${tag === 'issuewild' ? ' (issuewild)' : ''}`,
  };
}

/** Node's CAA answer: `critical` (the flags byte) and one key, the tag, holding the value. */
type NodeCaa = { critical: number } & Record<string, string | number>;

function toProperties(records: NodeCaa[]): CaaProperty[] {
  return records.flatMap((r) =>
    Object.entries(r)
      .filter(([key]) => key !== 'critical')
      .map(([tag, value]) => ({ critical: (r.critical & 128) !== 0, tag: tag.toLowerCase(), value: String(value) })),
  );
}

/** Answers that mean "no CAA set at this name": NODATA and NXDOMAIN. */
const EMPTY_CODES = new Set(['ENODATA', 'ENOTFOUND']);

export interface CaaLookup {
  /** The relevant CAA set of a name (RFC 8659 §3). A failed lookup throws. */
  relevantSet(name: string): Promise<CaaSet>;
}

/**
 * CAA lookups through `resolvers` ('ip[:port]', DNS_RESOLVERS) or the system's resolver. Each name's
 * answer is kept, so names sharing a parent ask for it once.
 */
export function caaLookup(opts: { resolvers: string[]; timeoutMs?: number }): CaaLookup {
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 2_000, tries: 2 });
  if (opts.resolvers.length > 0) resolver.setServers(opts.resolvers);
  const answers = new Map<string, Promise<CaaProperty[]>>();
  const at = (name: string): Promise<CaaProperty[]> => {
    let answer = answers.get(name);
    if (!answer) {
      answer = resolver.resolveCaa(name).then(
        (records) => toProperties(records as unknown as NodeCaa[]),
        (err: NodeJS.ErrnoException) => {
          if (err.code && EMPTY_CODES.has(err.code)) return [];
          throw new Error(`CAA lookup of ${name} failed: ${err.code ?? err.message}`, { cause: err });
        },
      );
      answers.set(name, answer);
    }
    return answer;
  };
  return {
    async relevantSet(name) {
      const labels = name.replace(/^\*\./, '').replace(/\.$/, '').toLowerCase().split('.');
      for (let i = 0; i < labels.length; i++) {
        const here = labels.slice(i).join('.');
        const properties = await at(here);
        if (properties.length > 0) return { name, foundAt: here, properties };
      }
      return { name, properties: [] };
    },
  };
}
