/**
 * Hosted zones (pure; no Pulumi): which zone ids a certificate's names belong to.
 *
 * The function's IAM policy must name the zones it may write, so they have to be known when the
 * stack is deployed. Each certificate either lists its zone ids (`hostedZoneIds`), or its names
 * are matched by longest suffix against the stack's `hostedZones` (ids or names, resolved with
 * `aws.route53.getZoneOutput`). Either way the resolved ids are written to the secret's
 * `acme:hosted-zone-ids` tag, so the rotation uses exactly the zones the policy allows and never
 * has to discover (and list) zones at run time.
 */
import type * as pulumi from '@pulumi/pulumi';

import { challengeDomain } from '../rotation/dns01/names.js';
import { bareZoneId, isZoneId } from '../rotation/certificate/rules.js';

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
