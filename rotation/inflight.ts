import type { ChallengeRecord } from './dns/provider.js';

/**
 * What a createSecret attempt has put (or is about to put) in DNS, kept in tags on the
 * certificate secret so a retry after a killed attempt (timeout, out of memory) can remove it.
 * Tags, not secret versions: a version written mid-rotation would make Secrets Manager abandon
 * the rotation. TXT values are public anyway (they are served in DNS). Written before DNS is
 * touched; removed once clean-up succeeded.
 *
 * `acme-rotation:inflight` = the rotation token; `acme-rotation:inflight:N` = space-separated
 * `domain=value` pairs, at most 256 characters per tag (Secrets Manager's tag value limit).
 * The prefix is not `acme:`, which is reserved for the certificate spec.
 */
export const INFLIGHT_TAG = 'acme-rotation:inflight';
const MAX_VALUE = 256;

export function inflightTags(token: string, records: ChallengeRecord[]): Record<string, string> {
  const tags: Record<string, string> = { [INFLIGHT_TAG]: token };
  let chunk = '';
  let n = 0;
  for (const r of records) {
    const entry = `${r.domain}=${r.value}`;
    if (chunk && chunk.length + 1 + entry.length > MAX_VALUE) {
      tags[`${INFLIGHT_TAG}:${n++}`] = chunk;
      chunk = '';
    }
    chunk = chunk ? `${chunk} ${entry}` : entry;
  }
  if (chunk) tags[`${INFLIGHT_TAG}:${n}`] = chunk;
  return tags;
}

export interface InFlight {
  token?: string;
  records: ChallengeRecord[];
  tagKeys: string[];
}

export function readInflight(tags: ReadonlyArray<{ Key?: string; Value?: string }>): InFlight {
  const out: InFlight = { records: [], tagKeys: [] };
  for (const { Key, Value } of tags) {
    if (!Key || (Key !== INFLIGHT_TAG && !Key.startsWith(`${INFLIGHT_TAG}:`))) continue;
    out.tagKeys.push(Key);
    if (Key === INFLIGHT_TAG) {
      out.token = Value;
      continue;
    }
    for (const entry of (Value ?? '').split(' ')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const domain = entry.slice(0, eq);
      const value = entry.slice(eq + 1);
      if (/^[a-z0-9.-]+$/.test(domain) && /^[A-Za-z0-9_-]+$/.test(value)) out.records.push({ domain, value });
    }
  }
  return out;
}
