/**
 * `hostedZones`: the zones the stack's certificates are matched against, those of other
 * accounts with the role the function assumes there.
 */
import type * as pulumi from '@pulumi/pulumi';

import { parseRoute53Roles } from '../../rotation/config/config.js';
import { normaliseDomain } from '../../rotation/certificate/spec.js';
import { parseZoneId, type ZoneRef } from '../zones.js';
import { quote, type Problems } from './problems.js';
import { isPending, isRecord, parseJson } from './values.js';

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
