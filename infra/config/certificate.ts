/**
 * `certificates`: each certificate's name (its secret's), names, key, zones, lifetime and
 * schedule, ACM targets, description and spec tags. Names are checked with the rotation's own
 * parser (rotation/certificate/spec.ts), so a stack that deploys is a stack whose tags the function accepts.
 */
import type * as pulumi from '@pulumi/pulumi';

import { MAX_NAMES, MAX_TAG_VALUE_LENGTH, isProfileName } from '../../rotation/certificate/rules.js';
import { DEFAULT_KEY_TYPE, KEY_TYPES, normaliseDomain, type KeyType } from '../../rotation/certificate/spec.js';
import { parseZoneId } from '../hosted-zones.js';
import { acmTargets } from './acm.js';
import { certificateSchedule, type LifetimeDefaults } from '../schedules.js';
import { PROBE_ZONE_ID, secretSpecTags } from './tags.js';
import {
  type CertificateSettings,
  isPending,
  isRecord,
  parseJson,
  type Problems,
  quote,
  stringList,
} from '../settings.js';

export const CERTIFICATE_FIELDS = [
  'name',
  'domains',
  'keyType',
  'profile',
  'hostedZoneIds',
  'cnameTargets',
  'schedule',
  'lifetime',
  'description',
  'acm',
  'cas',
] as const;

const CERT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CNAME_TARGET_RE = /^(\*\.)?([a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)+[a-z0-9-]+$/;

export interface CertificateContext extends LifetimeDefaults {
  secretNamePrefix: string;
  /** Whether acme-rotation:hostedZones is set at all (even if invalid: reported there). */
  stackZonesSet: boolean;
  userTagCount: number;
  /** The names of the stack's CAs (`cas`, or the one CA of `ca`), for a certificate's own `cas`. */
  caNames?: string[];
}

function certificate(
  p: Problems,
  index: number,
  value: unknown,
  ctx: CertificateContext,
): CertificateSettings | undefined {
  const at = `certificates[${index}]`;
  if (!isRecord(value)) {
    p.add(at, `expected an object like {name: web, domains: [example.com]}, got ${quote(value)}`);
    return undefined;
  }
  const before = p.list.length;
  for (const field of Object.keys(value)) {
    if (!(CERTIFICATE_FIELDS as readonly string[]).includes(field)) {
      p.add(`${at}.${field}`, `is not a certificate field (known: ${CERTIFICATE_FIELDS.join(', ')})`);
    }
  }

  // name → secret name
  const name = typeof value.name === 'string' ? value.name.trim() : '';
  if (!CERT_NAME_RE.test(name)) {
    p.add(
      `${at}.name`,
      `${quote(value.name)} must be 1-100 letters, digits, ".", "_" or "-" (it names the secret and its resources)`,
    );
  }
  const secretName = `${ctx.secretNamePrefix}${name}`;
  if (/-[A-Za-z0-9]{6}$/.test(secretName)) {
    p.add(
      `${at}.name`,
      `the secret name ${quote(secretName)} ends with a hyphen and six characters, which Secrets Manager confuses with its ARN suffix`,
    );
  }
  if (secretName.length > 512)
    p.add(`${at}.name`, `the secret name ${quote(secretName)} is longer than 512 characters`);

  // domains
  const domains: string[] = [];
  if (value.domains === undefined) {
    p.add(`${at}.domains`, 'is required: the DNS names of the certificate, e.g. [example.com, "*.example.com"]');
  } else {
    const list = stringList(p, `${at}.domains`, value.domains, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      try {
        const n = normaliseDomain(item);
        if (!domains.includes(n)) domains.push(n);
      } catch (err) {
        p.add(`${at}.domains[${i}]`, (err as Error).message);
      }
    });
    if (domains.length > MAX_NAMES) {
      p.add(`${at}.domains`, `lists ${domains.length} names; a certificate holds at most ${MAX_NAMES}`);
    }
  }

  // key type, profile
  let keyType: KeyType = DEFAULT_KEY_TYPE;
  if (value.keyType !== undefined) {
    const match = KEY_TYPES.find((k) => k === String(value.keyType).trim().toLowerCase());
    if (match) keyType = match;
    else p.add(`${at}.keyType`, `${quote(value.keyType)} is not one of ${KEY_TYPES.join(', ')}`);
  }
  let profile: string | undefined;
  if (value.profile !== undefined) {
    if (typeof value.profile === 'string' && isProfileName(value.profile.trim())) profile = value.profile.trim();
    else p.add(`${at}.profile`, `${quote(value.profile)} is not a profile name (1-64 letters, digits, ".", "_", "-")`);
  }

  // zones
  let hostedZoneIds: pulumi.Input<string>[] | undefined;
  if (value.hostedZoneIds !== undefined) {
    // Outputs (another resource's zone id) are kept as given; the plain ids are checked.
    const given: unknown = value.hostedZoneIds;
    const pending = (Array.isArray(given) ? given.filter(isPending) : []) as pulumi.Input<string>[];
    const list: Array<[number, string]> = [];
    if (pending.length > 0 && Array.isArray(given)) {
      given.forEach((item: unknown, i) => {
        if (typeof item === 'string') list.push([i, item.trim()]);
        else if (!isPending(item)) p.add(`${at}.hostedZoneIds[${i}]`, `expected a zone id, got ${quote(item)}`);
      });
    } else {
      (stringList(p, `${at}.hostedZoneIds`, given, { nonEmpty: true }) ?? []).forEach((item, i) =>
        list.push([i, item]),
      );
    }
    const ids: string[] = [];
    list.forEach(([i, item]) => {
      const id = parseZoneId(item);
      if (!id)
        p.add(`${at}.hostedZoneIds[${i}]`, `${quote(item)} is not a hosted zone id (like Z0123456789ABCDEFGHIJ)`);
      else if (!ids.includes(id)) ids.push(id);
    });
    hostedZoneIds = [...ids, ...pending];
    // An id not known yet counts as long as the longest a zone id gets.
    if ([...ids, ...pending.map(() => PROBE_ZONE_ID)].join(',').length > MAX_TAG_VALUE_LENGTH) {
      p.add(`${at}.hostedZoneIds`, `is longer than a tag value's ${MAX_TAG_VALUE_LENGTH} characters`);
    }
  } else if (!ctx.stackZonesSet) {
    p.add(
      `${at}.hostedZoneIds`,
      `is required when ${p.key('hostedZones')} is empty: the function may only write to zones named in the stack`,
    );
  }
  const cnameTargets: string[] = [];
  if (value.cnameTargets !== undefined) {
    const list = stringList(p, `${at}.cnameTargets`, value.cnameTargets, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      const t = item.toLowerCase().replace(/\.$/, '');
      if (!CNAME_TARGET_RE.test(t)) {
        p.add(`${at}.cnameTargets[${i}]`, `${quote(item)} is not a record name or *.pattern like *.acme.example.net`);
      } else if (!cnameTargets.includes(t)) cnameTargets.push(t);
    });
    if (hostedZoneIds === undefined) {
      p.add(`${at}.cnameTargets`, 'needs hostedZoneIds listing the zones of the names AND of the CNAME targets');
    }
  }

  const { lifetime, schedule } = certificateSchedule(p, at, value, ctx, profile);

  const acm = value.acm === undefined ? [] : acmTargets(p, at, value.acm);

  // The CAs this certificate may come from (tag acme:ca), by the names of the stack's `cas`.
  let cas: string[] | undefined;
  if (value.cas !== undefined) {
    const list = stringList(p, `${at}.cas`, value.cas, { nonEmpty: true }) ?? [];
    const known = ctx.caNames ?? [];
    list.forEach((item, i) => {
      if (!known.some((k) => k.toLowerCase() === item.toLowerCase())) {
        p.add(`${at}.cas[${i}]`, `${quote(item)} is not one of the stack's CAs (${known.map(quote).join(', ')})`);
      }
    });
    cas = list;
  }

  let description = `TLS certificate for ${domains.slice(0, 3).join(', ')}${domains.length > 3 ? ', …' : ''} (acme-rotation)`;
  if (value.description !== undefined) {
    if (typeof value.description !== 'string' || value.description.length > 2048) {
      p.add(`${at}.description`, 'must be a string of at most 2048 characters');
    } else description = value.description;
  }

  // The tags, checked by the rotation's own parser, and the 50-tag budget.
  const specTags =
    domains.length > 0 && p.list.length === before
      ? secretSpecTags(p, at, {
          secretName,
          domains,
          keyType,
          profile,
          hostedZoneIds,
          acm,
          ...(cas ? { cas } : {}),
          userTagCount: ctx.userTagCount,
        })
      : {};

  if (p.list.length > before || !schedule) return undefined;
  return {
    name,
    secretName,
    domains,
    keyType,
    ...(profile ? { profile } : {}),
    ...(hostedZoneIds ? { hostedZoneIds } : {}),
    cnameTargets,
    ...(lifetime ? { lifetime } : {}),
    schedule,
    description,
    acm,
    specTags,
  };
}

/** The `certificates` list: each certificate checked, names unique (case-insensitively). */
export function certificateList(p: Problems, given: unknown, ctx: CertificateContext): CertificateSettings[] {
  const certificates: CertificateSettings[] = [];
  if (given === undefined) {
    p.add('certificates', 'is required: a list like [{name: web, domains: [example.com, "*.example.com"]}]');
    return certificates;
  }
  const value = typeof given === 'string' ? parseJson(given) : given;
  if (!Array.isArray(value) || value.length === 0) {
    p.add('certificates', `expected a non-empty list of certificates, got ${quote(value)}`);
    return certificates;
  }
  const seen = new Map<string, number>();
  value.forEach((item, i) => {
    const cert = certificate(p, i, item, ctx);
    if (!cert) return;
    const key = cert.name.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      p.add(`certificates[${i}].name`, `${quote(cert.name)} is already used by certificates[${first}]`);
      return;
    }
    seen.set(key, i);
    certificates.push(cert);
  });
  return certificates;
}
