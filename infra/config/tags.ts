/**
 * Tags: the stack's own (`tags`, on every resource) and each certificate secret's `acme:*` spec
 * tags, which must parse as the rotation parses them and fit Secrets Manager's tag limit beside
 * the tags the rotation and the watch add.
 */
import { RENEWAL_TAG_KEYS, STATUS_TAG_KEYS, SPEC_TAGS, MAX_TAGS_PER_SECRET } from '../../rotation/certificate/tags.js';
import type * as pulumi from '@pulumi/pulumi';

import { acmArnTags, domainTags, parseSpec, type KeyType } from '../../rotation/certificate/spec.js';
import { probeAcmArns } from './acm.js';
import { type AcmTarget, type Problems } from '../settings.js';

/** In-flight tags hold five 43-character TXT values (one per name) each, plus one tag for the token. */
const INFLIGHT_VALUES_PER_TAG = 5;

/** A zone id for the tag checks when the real one is known only at deploy time. */
export const PROBE_ZONE_ID = 'Z000000000000000000000';

/** What a certificate secret's tags are made of. */
export interface SecretTagParts {
  secretName: string;
  domains: string[];
  keyType: KeyType;
  profile?: string | undefined;
  /** Undefined = matched against the stack's hostedZones; Outputs count as the longest id. */
  hostedZoneIds?: pulumi.Input<string>[] | undefined;
  acm: AcmTarget[];
  /** The CAs the certificate may come from (`acme:ca`), by name; undefined = every CA of the stack. */
  cas?: string[];
  /** How many stack tags the secret carries too. */
  userTagCount: number;
}

/**
 * A certificate's spec tags (`acme:*` but the zone ids and ACM ARNs, known at deploy time),
 * checked by the rotation's own parser with those as long as they will be, and the secret's
 * tag budget.
 */
export function secretSpecTags(p: Problems, at: string, parts: SecretTagParts): Record<string, string> {
  const { secretName, domains, keyType, profile, hostedZoneIds, acm } = parts;
  const specTags: Record<string, string> = {};
  for (const t of domainTags(domains)) specTags[t.Key] = t.Value;
  specTags[SPEC_TAGS.keyType] = keyType;
  if (profile) specTags[SPEC_TAGS.profile] = profile;
  if (parts.cas?.length) specTags[SPEC_TAGS.ca] = parts.cas.join(',');
  const arnTags = acmArnTags(probeAcmArns(acm));
  const probe: Record<string, string> = {
    ...specTags,
    [SPEC_TAGS.hostedZoneIds]: (hostedZoneIds ?? [PROBE_ZONE_ID])
      .map((id) => (typeof id === 'string' ? id : PROBE_ZONE_ID))
      .join(','),
  };
  for (const t of arnTags) probe[t.Key] = t.Value;
  try {
    parseSpec(
      secretName,
      Object.entries(probe).map(([Key, Value]) => ({ Key, Value })),
    );
  } catch (err) {
    p.add(at, `the rotation would reject these tags: ${(err as Error).message}`);
  }
  // The order's tags, plus the last failure (acme-rotation:inflight-failure) and the CA a
  // rotation fell away from (acme-rotation:inflight-ca-failed): both may sit beside them.
  const inflight = 1 + Math.ceil(domains.length / INFLIGHT_VALUES_PER_TAG) + 2;
  const total =
    Object.keys(probe).length + parts.userTagCount + STATUS_TAG_KEYS.length + RENEWAL_TAG_KEYS.length + inflight;
  if (total > MAX_TAGS_PER_SECRET) {
    p.add(
      at,
      `needs up to ${total} tags on its secret (spec, zone ids, ` +
        (arnTags.length > 0 ? `${arnTags.length} ACM ARN tag${arnTags.length === 1 ? '' : 's'}, ` : '') +
        `${parts.userTagCount} stack tags, ` +
        `${STATUS_TAG_KEYS.length} status tags, ${RENEWAL_TAG_KEYS.length} renewal tags, ` +
        `${inflight} in-flight tags), more than Secrets Manager's ${MAX_TAGS_PER_SECRET}; ` +
        `use fewer names${arnTags.length > 0 ? ', ACM certificates' : ''} or stack tags`,
    );
  }
  return specTags;
}
