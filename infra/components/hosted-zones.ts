/**
 * The hosted zones of each certificate, resolved at deploy time: configured zone ids are checked
 * to cover the certificate's names, other certificates are matched against the stack's
 * `hostedZones` (each distinct reference looked up once); and what the accounts holding zones of
 * other accounts need to create the roles the function assumes. Pure matching lives in
 * ../zones.ts.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { Settings } from '../config/index.js';
import { route53RolePolicy, route53RoleTrustPolicy, type PolicyDocument } from '../policies.js';
import {
  ZoneError,
  checkCoverage,
  matchZones,
  parseZoneId,
  splitZoneGrants,
  type ResolvedZone,
  type RoleGrant,
  type ZoneGrant,
  type ZoneRef,
} from '../zones.js';

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
