import { describe, expect, it } from 'vitest';
import { chainMatches, topIssuerName } from '../../rotation/acme/chains.js';
import { alternateLinks } from '../../rotation/acme/problems.js';
import { makeIntermediateCa, makeLeaf, makeRootCa } from '../helpers/certs.js';

// Two chains for one leaf key, as a CA with two roots offers them (RFC 8555 §7.4.2).
const rootA = makeRootCa({ cn: 'Chains Root A' });
const rootB = makeRootCa({ cn: 'Chains Root B' });
const midA = makeIntermediateCa(rootA, { cn: 'Chains Intermediate A' });
const midB2 = makeIntermediateCa(rootB, { cn: 'Chains Intermediate B2' });
const midB1 = makeIntermediateCa(midB2, { cn: 'Chains Intermediate B1' });
const leafA = makeLeaf(midA, { dnsNames: ['example.com'] });
const leafB = makeLeaf(midB1, { dnsNames: ['example.com'] });
const chainA = leafA.certPem + midA.certPem;
const chainB = leafB.certPem + midB1.certPem + midB2.certPem;

describe('preferred chain (ACME_PREFERRED_CHAIN)', () => {
  it('names a chain by the issuer of its topmost certificate', () => {
    expect(topIssuerName(chainA)).toBe('Chains Root A');
    expect(topIssuerName(chainB)).toBe('Chains Root B');
  });

  it('matches the root or top issuer name, ignoring case and spaces, and nothing below it', () => {
    expect(chainMatches(chainB, 'chains root b ')).toBe(true);
    expect(chainMatches(chainB, 'Chains Root A')).toBe(false);
    // An intermediate's name is not the chain's root.
    expect(chainMatches(chainB, 'Chains Intermediate B1')).toBe(false);
    // A CA that sends its root too: the root itself is the top.
    expect(chainMatches(chainA + rootA.certPem, 'Chains Root A')).toBe(true);
    expect(chainMatches('', 'Chains Root A')).toBe(false);
  });

  it('reads every rel="alternate" Link, in one header or several', () => {
    expect(alternateLinks('<https://ca.test/dir>;rel="index", <https://ca.test/cert/1/1>;rel="alternate"')).toEqual([
      'https://ca.test/cert/1/1',
    ]);
    expect(
      alternateLinks(['<https://ca.test/cert/1/1>; rel="alternate"', '<https://ca.test/cert/1/2>;rel=alternate']),
    ).toEqual(['https://ca.test/cert/1/1', 'https://ca.test/cert/1/2']);
    expect(alternateLinks(undefined)).toEqual([]);
  });
});
