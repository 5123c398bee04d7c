/**
 * The hosted zones of each certificate, resolved at deploy time: configured zone ids are checked
 * to cover the certificate's names, other certificates are matched against the stack's
 * `hostedZones` (each distinct reference looked up once). Pure matching lives in ../zones.ts.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { Settings } from '../config.js';
import { checkCoverage, matchZones, type ResolvedZone, type ZoneRef } from '../zones.js';

export interface CertificateZones {
  /** Zone ids per certificate name. */
  byCertificate: Map<string, pulumi.Output<string[]>>;
  /** Every certificate's zones, de-duplicated and sorted (the rotation role may write there). */
  all: pulumi.Output<string[]>;
  /** The delegated challenge names and the zones they live in; undefined when no certificate has any. */
  cnameTargets: pulumi.Output<{ names: string[]; zoneIds: string[] }> | undefined;
}

function zoneOf(r: aws.route53.GetZoneResult): ResolvedZone {
  return { id: r.zoneId, name: r.name, privateZone: r.privateZone ?? false };
}

export function resolveCertificateZones(s: Settings, opts: pulumi.InvokeOutputOptions): CertificateZones {
  const zoneCache = new Map<string, pulumi.Output<ResolvedZone>>();
  const resolveZone = (ref: ZoneRef): pulumi.Output<ResolvedZone> => {
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
  const stackZones = pulumi.all(s.hostedZones.map(resolveZone));
  const byCertificate = new Map<string, pulumi.Output<string[]>>();
  s.certificates.forEach((cert, i) => {
    const what = `${s.namespace}:certificates[${i}] (${cert.name})`;
    const explicit = cert.hostedZoneIds;
    const ids = explicit
      ? pulumi.all(explicit.map((id) => resolveZone({ kind: 'id', id }))).apply((zones) => {
          checkCoverage(cert.domains, zones, what);
          return explicit;
        })
      : stackZones.apply((zones) => matchZones(cert.domains, zones, what));
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
  return { byCertificate, all, cnameTargets };
}
