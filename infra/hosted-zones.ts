/**
 * Hosted zones: where each certificate's DNS-01 challenges are written, and what may be written.
 *
 * The function's IAM policy must name the zones it may write, so they have to be known when the
 * stack is deployed. Each certificate either lists its zone ids (`hostedZoneIds`), or its names
 * are matched by longest suffix against the stack's `hostedZones` (ids or names, resolved with
 * `aws.route53.getZoneOutput`). Either way the resolved ids are written to the secret's
 * `acme:hosted-zone-ids` tag, so the rotation uses exactly the zones the policy allows and never
 * has to discover (and list) zones at run time. Zones of other accounts are reached through a role
 * there (ROUTE53_ROLES); the stack outputs what each such role needs.
 *
 * - Matching (pure): a certificate's names against zones, its listed zones' coverage, and the
 *   zones split between the function's own account and the roles that reach the others.
 * - The setting: `hostedZones` (names, ids, `{id, roleArn, externalId?, name?}`), checked.
 * - The Route 53 grants (pure): the function's own on its zones, and the policy and trust policy
 *   of a role in another account, written by the same builder.
 * - At deploy time: each certificate's zones resolved and checked, the grants of the function
 *   and of each role, the `route53Roles` output and ROUTE53_ROLES.
 */
import { normaliseDomain } from '../rotation/certificate/domains.js';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { bareZoneId, isZoneId } from '../rotation/certificate/rules.js';
import { parseRoute53Roles } from '../rotation/config/config.js';
import { challengeDomain } from '../rotation/dns01/names.js';
import { isPending, isRecord, parseJson, quote, type Problems, type Settings } from './settings.js';
import { allow, partitionOf, policyDocument, type PolicyDocument, type PolicyStatement } from './iam.js';

// Matching.

/**
 * A zone as configured: `Z…` (an id) or a DNS name (looked up among public zones), or a zone in
 * another account reached through a role (`{id, roleArn, externalId?, name?}`): it cannot be
 * looked up with the deployer's credentials, so only its optional `name` lets certificates'
 * names be matched to it; without one, certificates name it in `hostedZoneIds`.
 */
export type ZoneRef =
  | { kind: 'id'; id: string; role?: ZoneRole }
  | { kind: 'name'; name: string }
  /** A zone id of the deployment's account that another resource outputs (known at deploy time). */
  | { kind: 'output'; id: pulumi.Input<string> };

/** How a zone of another account is reached: the role every Route 53 call for it is made as. */
export interface ZoneRole {
  roleArn: string;
  /** The zone's name, when configured (for matching names to it). */
  name?: string;
}

/** A zone as resolved by Route 53. */
export interface ResolvedZone {
  id: string;
  name: string;
  privateZone: boolean;
}

/**
 * `Z123`, `/hostedzone/Z123` → `Z123`; undefined when it is not an id. Ids Route 53 issues have
 * digits; a word without any (`COM`) is taken for a zone name.
 */
export function parseZoneId(text: string): string | undefined {
  const bare = bareZoneId(text);
  return isZoneId(bare) && /\d/.test(bare) ? bare : undefined;
}

export function normaliseZoneName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

export function isInZone(fqdn: string, zone: string): boolean {
  return fqdn === zone || fqdn.endsWith(`.${zone}`);
}

export class ZoneError extends Error {
  override name = 'ZoneError';
}

/**
 * For each name, the zone with the longest matching name. Throws when a name has no zone or
 * when two zones with the same name (public and private, or duplicates) both match — guessing
 * could write the challenge where the CA does not look.
 */
export function matchZones(domains: readonly string[], zones: readonly ResolvedZone[], what: string): string[] {
  const ids: string[] = [];
  for (const domain of domains) {
    const fqdn = challengeDomain(domain);
    let best: ResolvedZone[] = [];
    for (const zone of zones) {
      const name = normaliseZoneName(zone.name);
      if (!isInZone(fqdn, name)) continue;
      const bestName = best[0] ? normaliseZoneName(best[0].name) : '';
      if (name.length > bestName.length) best = [zone];
      else if (name.length === bestName.length && !best.some((z) => z.id === zone.id)) best.push(zone);
    }
    const [first, ...more] = best;
    if (!first) {
      const known = zones.map((z) => `${normaliseZoneName(z.name)} (${z.id})`).join(', ') || 'none';
      throw new ZoneError(`${what}: ${domain} is in none of the hosted zones (${known}); add its zone`);
    }
    if (more.length > 0) {
      throw new ZoneError(
        `${what}: ${domain} matches several zones named ${normaliseZoneName(first.name)} ` +
          `(${best.map((z) => `${z.id}${z.privateZone ? ' private' : ''}`).join(', ')}); list the right id in hostedZoneIds`,
      );
    }
    if (!ids.includes(first.id)) ids.push(first.id);
  }
  return ids;
}

/**
 * Explicit zone ids of a certificate (`unnamed`: zones of other accounts whose name is not
 * configured): every name must be in one of them (extra zones are fine:
 * they may hold the targets of `_acme-challenge` CNAMEs).
 */
export function checkCoverage(
  domains: readonly string[],
  zones: readonly ResolvedZone[],
  what: string,
  unnamed: readonly string[] = [],
): void {
  // A zone of another account without a configured name cannot be looked up: the names no known
  // zone covers are taken to be in it (the rotation's zone check says otherwise before ordering).
  if (unnamed.length > 0) return;
  for (const domain of domains) {
    const fqdn = challengeDomain(domain);
    if (!zones.some((z) => isInZone(fqdn, normaliseZoneName(z.name)))) {
      const known = zones.map((z) => `${z.id} (${normaliseZoneName(z.name)})`).join(', ');
      throw new ZoneError(`${what}: ${domain} is in none of the listed zones ${known}`);
    }
  }
}

/** The Route 53 grants for a set of zones: challenge writes, delegated names, reads. */
export interface ZoneGrant {
  zoneIds: string[];
  /** Delegated challenge names and those of the zones that may hold them; undefined = none. */
  cnameTargets?: { names: string[]; zoneIds: string[] };
}

/** What a role of another account must allow, in its own account. */
export interface RoleGrant extends ZoneGrant {
  roleArn: string;
}

/**
 * Splits the zones the certificates use between the function's own account and the roles that
 * reach zones elsewhere: the function's policy must name only its own zones (the others are not
 * in its account), and each role's policy only the zones it is used for.
 */
export function splitZoneGrants(
  zoneIds: readonly string[],
  cnameTargets: { names: readonly string[]; zoneIds: readonly string[] } | undefined,
  roleOf: ReadonlyMap<string, string>,
): { own: ZoneGrant; roles: RoleGrant[] } {
  const grant = (ids: string[], cnameIds: string[]): ZoneGrant => ({
    zoneIds: [...new Set(ids)].sort(),
    ...(cnameTargets && cnameTargets.names.length > 0 && cnameIds.length > 0
      ? { cnameTargets: { names: [...cnameTargets.names], zoneIds: [...new Set(cnameIds)].sort() } }
      : {}),
  });
  const cnameIds = [...(cnameTargets?.zoneIds ?? [])];
  const own = grant(
    zoneIds.filter((id) => !roleOf.has(id)),
    cnameIds.filter((id) => !roleOf.has(id)),
  );
  const roleArns = [...new Set(zoneIds.map((id) => roleOf.get(id)).filter((r): r is string => r !== undefined))].sort();
  const roles = roleArns.map((roleArn) => ({
    roleArn,
    ...grant(
      zoneIds.filter((id) => roleOf.get(id) === roleArn),
      cnameIds.filter((id) => roleOf.get(id) === roleArn),
    ),
  }));
  return { own, roles };
}

// The setting.

/** The fields of a `hostedZones` entry for a zone in another account. */
export const ROLE_ZONE_FIELDS = ['id', 'roleArn', 'externalId', 'name'] as const;
/** IAM's external id: 2-1224 characters of letters, digits and +=,.@:/- (and _). */
const EXTERNAL_ID_RE = /^[\w+=,.@:/-]{2,1224}$/;

/**
 * `hostedZones`: names and ids (zones of this account), and `{id, roleArn, externalId?, name?}`
 * for zones of other accounts. One external id serves every role (the function sends
 * ROUTE53_EXTERNAL_ID with each AssumeRole), so entries naming different ones are an error.
 */
export function hostedZones(p: Problems, given: unknown): { refs: ZoneRef[]; externalId?: string } {
  if (given === undefined) return { refs: [] };
  let value = typeof given === 'string' ? parseJson(given) : given;
  if (typeof value === 'string') value = value.split(',').map((x) => x.trim());
  if (!Array.isArray(value)) {
    p.add('hostedZones', `expected a list of zone names, ids or {id, roleArn} entries, got ${quote(value)}`);
    return { refs: [] };
  }
  const refs: ZoneRef[] = [];
  const seen = new Map<string, number>();
  /** A zone id, once: a second listing is an error, whatever role either names. */
  const addId = (id: string, at: string, i: number, role?: { roleArn: string; name?: string }): void => {
    const first = seen.get(id);
    if (first !== undefined) {
      p.add(at, `zone ${id} is already listed as hostedZones[${first}]: list a zone once, with its role if it has one`);
      return;
    }
    seen.set(id, i);
    refs.push(role ? { kind: 'id', id, role } : { kind: 'id', id });
  };
  let externalId: { value: string; at: number } | undefined;
  value.forEach((item: unknown, i) => {
    const at = `hostedZones[${i}]`;
    if (isPending(item)) {
      // Another resource's output (a zone's id): resolved and looked up at deploy time.
      refs.push({ kind: 'output', id: item as pulumi.Input<string> });
      return;
    }
    if (isRecord(item)) {
      const before = p.list.length;
      for (const field of Object.keys(item)) {
        if (!(ROLE_ZONE_FIELDS as readonly string[]).includes(field)) {
          p.add(
            `${at}.${field}`,
            `is not a field of a zone in another account (known: ${ROLE_ZONE_FIELDS.join(', ')})`,
          );
        }
      }
      const id = typeof item.id === 'string' ? parseZoneId(item.id) : undefined;
      if (!id) p.add(`${at}.id`, `${quote(item.id)} is not a hosted zone id (like Z0123456789ABCDEFGHIJ)`);
      const roleArn = typeof item.roleArn === 'string' ? item.roleArn.trim() : '';
      if (id) {
        // The rotation's own parser of ROUTE53_ROLES: a role it would refuse never reaches it.
        try {
          parseRoute53Roles(`${id}=${roleArn}`);
        } catch {
          p.add(
            `${at}.roleArn`,
            `${quote(item.roleArn)} is not an IAM role ARN (arn:aws:iam::111122223333:role/acme-dns): ` +
              "the role in the zone's account that the function assumes to change it",
          );
        }
      }
      if (item.externalId !== undefined) {
        const ext = typeof item.externalId === 'string' ? item.externalId.trim() : '';
        if (!EXTERNAL_ID_RE.test(ext)) {
          p.add(`${at}.externalId`, "must be 2-1224 letters, digits and +=,.@:/-_ (IAM's sts:ExternalId)");
        } else if (externalId !== undefined && externalId.value !== ext) {
          p.add(
            `${at}.externalId`,
            `differs from hostedZones[${externalId.at}].externalId: the function sends one external id ` +
              '(ROUTE53_EXTERNAL_ID) with every AssumeRole; give every role the same one',
          );
        } else externalId ??= { value: ext, at: i };
      }
      let name: string | undefined;
      if (item.name !== undefined) {
        try {
          if (typeof item.name !== 'string') throw new Error('expected a string');
          name = normaliseDomain(item.name);
          if (name.startsWith('*.')) throw new Error('a zone name cannot be a wildcard');
        } catch (err) {
          p.add(`${at}.name`, `${quote(item.name)} is not a zone name: ${(err as Error).message}`);
        }
      }
      if (p.list.length > before || !id) return;
      addId(id, at, i, { roleArn, ...(name ? { name } : {}) });
      return;
    }
    if (typeof item !== 'string') {
      p.add(at, `expected a zone name, a zone id or {id, roleArn}, got ${quote(item)}`);
      return;
    }
    const text = item.trim();
    if (text === '') return;
    const id = parseZoneId(text);
    if (id) {
      addId(id, at, i);
      return;
    }
    try {
      const name = normaliseDomain(text);
      if (name.startsWith('*.')) throw new Error('a zone name cannot be a wildcard');
      refs.push({ kind: 'name', name });
    } catch (err) {
      p.add(at, `${quote(text)} is neither a zone id (Z…) nor a zone name: ${(err as Error).message}`);
    }
  });
  return { refs, ...(externalId ? { externalId: externalId.value } : {}) };
}

// The Route 53 grants.

export function hostedZoneArn(partition: string, zoneId: string): string {
  return `arn:${partition}:route53:::hostedzone/${zoneId}`;
}

/**
 * A record name or `*` pattern in the form IAM compares with
 * `route53:ChangeResourceRecordSetsNormalizedRecordNames`: lower case, no trailing dot, and every
 * character other than a-z, 0-9, `-`, `_`, `.` written as a three-digit octal escape (`*` stays
 * a glob here because the patterns are used with StringLike).
 */
export function normalisedRecordNamePattern(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/[^a-z0-9\-_.*]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * Challenge writes: only TXT, only CREATE and DELETE, only the given names.
 *
 * Why not UPSERT: the rotation changes a TXT record set as a compare-and-swap — DELETE of the
 * exact current record plus CREATE of the merged one, in one atomic batch. If another rotation
 * changed the record in between, the DELETE no longer matches and Route 53 rejects the whole
 * batch, so the loser re-reads and retries. UPSERT would overwrite the other rotation's values
 * silently; denying it makes that impossible even for a buggy or compromised function.
 *
 * `ForAllValues` checks every change in the batch; the `Null` test makes sure the keys are
 * present (ForAllValues on a missing key would be vacuously true).
 */
function challengeWrite(sid: string, zoneArns: string[], namePatterns: string[]): PolicyStatement {
  return {
    Sid: sid,
    Effect: 'Allow',
    Action: ['route53:ChangeResourceRecordSets'],
    Resource: zoneArns,
    Condition: {
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
        'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
      },
      'ForAllValues:StringLike': {
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': namePatterns,
      },
      Null: {
        'route53:ChangeResourceRecordSetsRecordTypes': 'false',
        'route53:ChangeResourceRecordSetsActions': 'false',
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': 'false',
      },
    },
  };
}

/** The zones a set of Route 53 statements covers (the function's own, or one role's). */
export interface Route53GrantArgs {
  partition: string;
  zoneIds: readonly string[];
  /** Record-name patterns that `_acme-challenge` CNAMEs point to, and the zones holding them. */
  cnameTargets?: { names: readonly string[]; zoneIds: readonly string[] };
}

/**
 * Everything the rotation does in Route 53, on exactly these zones: `_acme-challenge` TXT writes
 * (and delegated names), reads of the zone and its records, and change status. The function's
 * own policy and the policy of each role in another account are written by this one builder.
 */
export function route53Statements(args: Route53GrantArgs): PolicyStatement[] {
  const zones = [...new Set(args.zoneIds)].sort();
  if (zones.length === 0) return [];
  const zoneArns = zones.map((id) => hostedZoneArn(args.partition, id));
  const statements: PolicyStatement[] = [challengeWrite('WriteChallengeTxtRecords', zoneArns, ['_acme-challenge.*'])];
  const cname = args.cnameTargets;
  if (cname && cname.names.length > 0 && cname.zoneIds.length > 0) {
    const targetZones = [...new Set(cname.zoneIds)].sort().map((id) => hostedZoneArn(args.partition, id));
    statements.push(
      challengeWrite('WriteDelegatedChallengeTxtRecords', targetZones, [
        ...new Set(cname.names.map(normalisedRecordNamePattern)),
      ]),
    );
  }
  statements.push(
    {
      // Zone details (name servers for the propagation check) and the record sets to merge with.
      Sid: 'ReadChallengeZones',
      Effect: 'Allow',
      Action: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
      Resource: zoneArns,
    },
    {
      // Change ids are not known in advance; GetChange only reads a change's status.
      Sid: 'WaitForChallengeChanges',
      Effect: 'Allow',
      Action: ['route53:GetChange'],
      Resource: `arn:${args.partition}:route53:::change/*`,
    },
  );
  return statements;
}

/**
 * The policy a role in another account needs there so the function can write challenges in its
 * zones through it: the same Route 53 statements as the function's own, on that role's zones.
 */
export function route53RolePolicy(args: { roleArn: string } & Omit<Route53GrantArgs, 'partition'>): PolicyDocument {
  const statements = route53Statements({ ...args, partition: partitionOf(args.roleArn) });
  if (statements.length === 0) throw new Error(`route53RolePolicy: no hosted zones for ${args.roleArn}`);
  return policyDocument(statements);
}

/**
 * The trust policy of such a role: only the rotation function's role may assume it, and only
 * with the stack's external id when one is set.
 */
export function route53RoleTrustPolicy(args: { rotationRoleArn: string; externalId?: string }): PolicyDocument {
  return policyDocument([
    allow('AcmeRotationFunctionAssumesThisRole', ['sts:AssumeRole'], undefined, {
      principal: { AWS: args.rotationRoleArn },
      ...(args.externalId ? { condition: { StringEquals: { 'sts:ExternalId': args.externalId } } } : {}),
    }),
  ]);
}

// At deploy time.

export interface CertificateZones {
  /** Zone ids per certificate name. */
  byCertificate: Map<string, pulumi.Output<string[]>>;
  /** Every certificate's zones, de-duplicated and sorted (the rotation role may write there). */
  all: pulumi.Output<string[]>;
  /** The delegated challenge names and the zones they live in; undefined when no certificate has any. */
  cnameTargets: pulumi.Output<{ names: string[]; zoneIds: string[] }> | undefined;
  /** Zones of other accounts by id → the role that reaches them (as configured). */
  roleOf: Map<string, string>;
  /** What the function's own policy grants: the used zones of its own account. */
  own: pulumi.Output<ZoneGrant>;
  /** Per role of another account: the used zones it reaches (none when no zone needs a role). */
  roles: pulumi.Output<RoleGrant[]>;
}

function zoneOf(r: aws.route53.GetZoneResult): ResolvedZone {
  return { id: r.zoneId, name: r.name, privateZone: r.privateZone ?? false };
}

export function resolveCertificateZones(s: Settings, opts: pulumi.InvokeOutputOptions): CertificateZones {
  const roleOf = new Map<string, string>();
  const roleZoneNames = new Map<string, string | undefined>();
  for (const ref of s.hostedZones) {
    if (ref.kind === 'id' && ref.role) {
      roleOf.set(ref.id, ref.role.roleArn);
      roleZoneNames.set(ref.id, ref.role.name);
    }
  }
  const zoneCache = new Map<string, pulumi.Output<ResolvedZone>>();
  /** An id another resource outputs, once known: a zone id, or the deployment fails naming `what`. */
  const bareId = (given: pulumi.Input<string>, what: string): pulumi.Output<string> =>
    pulumi.output(given).apply((raw) => {
      const id = typeof raw === 'string' ? parseZoneId(raw) : undefined;
      if (!id)
        throw new ZoneError(`${what}: ${JSON.stringify(raw)} is not a hosted zone id (like Z0123456789ABCDEFGHIJ)`);
      return id;
    });
  /** Undefined for a zone of another account without a configured name (it cannot be looked up). */
  const resolveZone = (ref: ZoneRef, what = `${s.keyPrefix}hostedZones`): pulumi.Output<ResolvedZone | undefined> => {
    if (ref.kind === 'output') return bareId(ref.id, what).apply((id) => resolveZone({ kind: 'id', id }));
    if (ref.kind === 'id' && roleOf.has(ref.id)) {
      // Not in the deployer's account: never looked up; known by the name configured, if any.
      const name = roleZoneNames.get(ref.id);
      return pulumi.output(name === undefined ? undefined : { id: ref.id, name, privateZone: false });
    }
    const key = ref.kind === 'id' ? `id:${ref.id}` : `name:${ref.name}`;
    let zone = zoneCache.get(key);
    if (!zone) {
      const found =
        ref.kind === 'id'
          ? aws.route53.getZoneOutput({ zoneId: ref.id }, opts)
          : aws.route53.getZoneOutput({ name: ref.name, privateZone: false }, opts);
      zone = found.apply(zoneOf);
      zoneCache.set(key, zone);
    }
    return zone;
  };
  const known = (zones: Array<ResolvedZone | undefined>): ResolvedZone[] =>
    zones.filter((z): z is ResolvedZone => z !== undefined);
  const stackZones = pulumi.all(s.hostedZones.map((ref) => resolveZone(ref))).apply(known);
  const byCertificate = new Map<string, pulumi.Output<string[]>>();
  s.certificates.forEach((cert, i) => {
    const what = `${s.keyPrefix}certificates[${i}] (${cert.name})`;
    const checked = (explicit: string[]): pulumi.Output<string[]> =>
      pulumi.all(explicit.map((id) => resolveZone({ kind: 'id', id }))).apply((zones) => {
        const unnamed = explicit.filter((_, k) => zones[k] === undefined);
        checkCoverage(cert.domains, known(zones), what, unnamed);
        return explicit;
      });
    const explicit = cert.hostedZoneIds;
    const plain = explicit?.filter((id): id is string => typeof id === 'string');
    const ids = !explicit
      ? stackZones.apply((zones) => matchZones(cert.domains, zones, what))
      : plain && plain.length === explicit.length
        ? checked(plain)
        : // Ids other resources output: checked like the others once known.
          pulumi
            .all(
              explicit.map((id) => (typeof id === 'string' ? pulumi.output(id) : bareId(id, `${what}.hostedZoneIds`))),
            )
            .apply((list) => checked([...new Set(list)]));
    byCertificate.set(cert.name, ids);
  });
  const all = pulumi.all([...byCertificate.values()]).apply((lists) => [...new Set(lists.flat())].sort());
  const cnameCerts = s.certificates.filter((c) => c.cnameTargets.length > 0);
  const cnameTargets =
    cnameCerts.length > 0
      ? pulumi.all(cnameCerts.map((c) => byCertificate.get(c.name) as pulumi.Output<string[]>)).apply((lists) => ({
          names: [...new Set(cnameCerts.flatMap((c) => c.cnameTargets))],
          zoneIds: [...new Set(lists.flat())],
        }))
      : undefined;
  const split = pulumi
    .all([all, cnameTargets ?? pulumi.output(undefined)])
    .apply(([ids, cname]) => splitZoneGrants(ids, cname, roleOf));
  return {
    byCertificate,
    all,
    cnameTargets,
    roleOf,
    own: split.apply((x) => x.own),
    roles: split.apply((x) => x.roles),
  };
}

/** What the account holding a hosted zone needs to create the role the function assumes. */
export interface Route53RoleOutputs {
  zoneIds: string[];
  /** The role's permissions policy (IAM JSON, as an object). */
  policy: PolicyDocument;
  /** The role's trust policy: the rotation function's role, with the external id when set. */
  trustPolicy: PolicyDocument;
}

/** Per role reaching zones of another account (by role ARN): its zones and the policies it needs. */
export function route53RoleOutputs(
  roles: pulumi.Output<RoleGrant[]>,
  rotationRoleArn: pulumi.Output<string>,
  externalId: string | undefined,
): pulumi.Output<Record<string, Route53RoleOutputs>> {
  return pulumi.all([roles, rotationRoleArn]).apply(([grants, roleArn]) =>
    Object.fromEntries(
      grants.map((role) => [
        role.roleArn,
        {
          zoneIds: role.zoneIds,
          policy: route53RolePolicy(role),
          trustPolicy: route53RoleTrustPolicy({
            rotationRoleArn: roleArn,
            ...(externalId ? { externalId } : {}),
          }),
        },
      ]),
    ),
  );
}

/** ROUTE53_ROLES of the rotation function: `zoneId=roleArn` for each zone reached through a role. */
export function route53RolesSetting(roles: pulumi.Output<RoleGrant[]>): pulumi.Output<string> {
  return roles.apply((grants) => grants.flatMap((role) => role.zoneIds.map((id) => `${id}=${role.roleArn}`)).join(','));
}
