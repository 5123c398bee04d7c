import { INFLIGHT_TAG, MAX_TAG_VALUE } from '../certificate/tags.js';
import type { ChallengeRecord } from './provider.js';

/**
 * What a createSecret attempt has put (or is about to put) in DNS, kept in tags on the
 * certificate secret so a retry after a killed attempt (timeout, out of memory) can remove it.
 * Tags, not secret versions: a version written mid-rotation would make Secrets Manager abandon
 * the rotation. TXT values are public anyway (they are served in DNS). Written before DNS is
 * touched; removed once clean-up succeeded.
 *
 * `acme-rotation:inflight` = the rotation token; `acme-rotation:inflight:N` = space-separated TXT
 * values, at most 255 characters per tag (TagResource's limit). Only the values are kept, not
 * the names: a 100-name certificate then needs 21 tags, which fits next to the spec's tags within
 * the 50 a secret may have. The retry looks for these values at every name of the spec (a value
 * is a random 43-character digest, so it only ever matches where we put it).
 * The prefix is not `acme:`, which is reserved for the certificate spec.
 */
/** Enough continuation tags for 100 names (5 values of 43+1 characters per tag). */
export const MAX_INFLIGHT_CHUNKS = 25;

export function inflightTags(token: string, records: ChallengeRecord[]): Record<string, string> {
  const tags: Record<string, string> = { [INFLIGHT_TAG]: token };
  const values = [...new Set(records.map((r) => r.value))];
  let chunk = '';
  let n = 0;
  for (const value of values) {
    if (chunk && chunk.length + 1 + value.length > MAX_TAG_VALUE) {
      tags[`${INFLIGHT_TAG}:${n++}`] = chunk;
      chunk = '';
    }
    chunk = chunk ? `${chunk} ${value}` : value;
  }
  if (chunk) tags[`${INFLIGHT_TAG}:${n}`] = chunk;
  return tags;
}

/** Every tag key inflightTags can write, for an untag that needs no read first. */
export function allInflightTagKeys(): string[] {
  return [INFLIGHT_TAG, ...Array.from({ length: MAX_INFLIGHT_CHUNKS }, (_, i) => `${INFLIGHT_TAG}:${i}`)];
}

export interface InFlight {
  token?: string;
  values: string[];
  tagKeys: string[];
}

export function readInflight(tags: ReadonlyArray<{ Key?: string; Value?: string }>): InFlight {
  const out: InFlight = { values: [], tagKeys: [] };
  for (const { Key, Value } of tags) {
    if (!Key || (Key !== INFLIGHT_TAG && !Key.startsWith(`${INFLIGHT_TAG}:`))) continue;
    out.tagKeys.push(Key);
    if (Key === INFLIGHT_TAG) {
      out.token = Value;
      continue;
    }
    for (const value of (Value ?? '').split(' ')) {
      if (/^[A-Za-z0-9_-]{16,}$/.test(value) && !out.values.includes(value)) out.values.push(value);
    }
  }
  return out;
}

/** The records to remove: each recorded value at each challenge name of the spec. */
export function leftoverRecords(challengeDomains: string[], values: string[]): ChallengeRecord[] {
  const domains = [...new Set(challengeDomains)];
  return domains.flatMap((domain) => values.map((value) => ({ domain, value })));
}
