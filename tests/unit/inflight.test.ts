import { MAX_NAMES } from '../../rotation/certificate/rules.js';
import { INFLIGHT_TAG } from '../../rotation/certificate/tags.js';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChallengeRecord } from '../../rotation/dns01/provider.js';
import { allInflightTagKeys, inflightTags, leftoverRecords, readInflight } from '../../rotation/dns01/inflight.js';
import { parseSpec } from '../../rotation/certificate/spec.js';

const TOKEN = '11111111-2222-4333-8444-555555555555';

/** A real-looking dns-01 TXT value: base64url SHA-256, 43 characters. */
function txt(i: number): string {
  return createHash('sha256').update(`key authorization ${i}`).digest('base64url');
}

function asTags(tags: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function records(n: number, name = (i: number) => `host-${i}.example.com`): ChallengeRecord[] {
  return Array.from({ length: n }, (_, i) => ({ domain: name(i), value: txt(i) }));
}

describe('inflightTags / readInflight', () => {
  it('writes only the token tag when nothing is in flight', () => {
    expect(inflightTags(TOKEN, [])).toEqual({ [INFLIGHT_TAG]: TOKEN });
    expect(readInflight(asTags(inflightTags(TOKEN, [])))).toEqual({
      token: TOKEN,
      values: [],
      tagKeys: [INFLIGHT_TAG],
    });
  });

  it('round-trips the TXT values of an order (apex + wildcard share a name, both values kept)', () => {
    const recs: ChallengeRecord[] = [
      { domain: 'example.com', value: txt(1) },
      { domain: 'example.com', value: txt(2) },
      { domain: 'www.example.com', value: txt(3) },
    ];
    const tags = inflightTags(TOKEN, recs);
    expect(tags).toEqual({ [INFLIGHT_TAG]: TOKEN, [`${INFLIGHT_TAG}:0`]: `${txt(1)} ${txt(2)} ${txt(3)}` });
    expect(readInflight(asTags(tags))).toEqual({
      token: TOKEN,
      values: [txt(1), txt(2), txt(3)],
      tagKeys: [INFLIGHT_TAG, `${INFLIGHT_TAG}:0`],
    });
  });

  it('splits into packed tags of at most 256 characters, numbered from 0, and round-trips them in order', () => {
    const recs = records(23);
    const tags = inflightTags(TOKEN, recs);
    const keys = Object.keys(tags);
    expect(keys).toEqual([INFLIGHT_TAG, ...Array.from({ length: 5 }, (_, i) => `${INFLIGHT_TAG}:${i}`)]);
    for (const [key, value] of Object.entries(tags)) {
      expect(key.length).toBeLessThanOrEqual(128);
      expect(value.length).toBeLessThanOrEqual(256);
    }
    // 43-character values: 5 per tag (5 × 43 + 4 = 219; a sixth would make 263).
    expect(keys.slice(1).map((k) => (tags[k] as string).split(' ').length)).toEqual([5, 5, 5, 5, 3]);
    expect(readInflight(asTags(tags)).values).toEqual(recs.map((r) => r.value));
  });

  it(`fits a ${MAX_NAMES}-name certificate in tags the clean-up knows to remove`, () => {
    const tags = inflightTags(TOKEN, records(MAX_NAMES));
    const keys = Object.keys(tags);
    expect(keys.length).toBeLessThanOrEqual(21);
    expect(allInflightTagKeys()).toEqual(expect.arrayContaining(keys));
    expect(readInflight(asTags(tags)).values).toHaveLength(MAX_NAMES);
  });

  it('keeps every tag value within 256 characters even for a name near the 253-character limit', () => {
    const label = 'l'.repeat(60);
    const longName = `${label}.${label}.${label}.${'m'.repeat(50)}.example.com`; // 246 characters
    expect(longName.length).toBeLessThanOrEqual(253);
    const recs = [
      { domain: longName, value: txt(7) },
      { domain: 'example.com', value: txt(8) },
    ];
    const tags = inflightTags(TOKEN, recs);
    for (const value of Object.values(tags)) expect(value.length).toBeLessThanOrEqual(256);
    expect(readInflight(asTags(tags)).values).toEqual([txt(7), txt(8)]);
  });

  it('writes a value once even when several records carry it', () => {
    const tags = inflightTags(TOKEN, [
      { domain: 'example.com', value: txt(1) },
      { domain: 'example.com', value: txt(1) },
    ]);
    expect(tags[`${INFLIGHT_TAG}:0`]).toBe(txt(1));
  });

  it('ignores other tags and malformed values, but lists every in-flight tag key for removal', () => {
    const tags = [
      { Key: 'acme:domains', Value: 'example.com' },
      { Key: 'ExpirationDate', Value: '2026-01-01T00:00:00.000Z' },
      { Key: `${INFLIGHT_TAG}x`, Value: txt(9) },
      { Key: INFLIGHT_TAG, Value: TOKEN },
      { Key: `${INFLIGHT_TAG}:0`, Value: `${txt(1)}  short bad!${txt(2)} ${txt(1)}` },
      { Key: `${INFLIGHT_TAG}:1`, Value: undefined },
      { Key: `${INFLIGHT_TAG}:2`, Value: txt(3) },
      {},
    ];
    expect(readInflight(tags)).toEqual({
      token: TOKEN,
      values: [txt(1), txt(3)],
      tagKeys: [INFLIGHT_TAG, `${INFLIGHT_TAG}:0`, `${INFLIGHT_TAG}:1`, `${INFLIGHT_TAG}:2`],
    });
  });

  it('finds values even when the token tag is gone', () => {
    expect(readInflight([{ Key: `${INFLIGHT_TAG}:0`, Value: txt(5) }])).toEqual({
      values: [txt(5)],
      tagKeys: [`${INFLIGHT_TAG}:0`],
    });
  });

  it('does not collide with the certificate spec tags', () => {
    const tags = [
      { Key: 'acme:domains', Value: 'example.com,*.example.com' },
      ...asTags(inflightTags(TOKEN, [{ domain: 'example.com', value: txt(1) }])),
    ];
    expect(parseSpec('acme/example.com', tags).domains).toEqual(['example.com', '*.example.com']);
  });
});

describe('leftoverRecords', () => {
  it('puts every recorded value at every challenge name, once per name', () => {
    expect(leftoverRecords(['example.com', 'example.com', 'www.example.com'], [txt(1), txt(2)])).toEqual([
      { domain: 'example.com', value: txt(1) },
      { domain: 'example.com', value: txt(2) },
      { domain: 'www.example.com', value: txt(1) },
      { domain: 'www.example.com', value: txt(2) },
    ]);
    expect(leftoverRecords(['example.com'], [])).toEqual([]);
  });
});
