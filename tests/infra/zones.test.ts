import { describe, expect, it } from 'vitest';

import {
  checkCoverage,
  matchZones,
  parseZoneId,
  splitZoneGrants,
  type ResolvedZone,
} from '../../infra/hosted-zones.js';

const zones: ResolvedZone[] = [
  { id: 'ZCOM1', name: 'example.com', privateZone: false },
  { id: 'ZDEV2', name: 'dev.example.com.', privateZone: false },
  { id: 'ZORG3', name: 'example.org', privateZone: false },
];

describe('zone ids', () => {
  it('accepts bare and /hostedzone/ ids, not names', () => {
    expect(parseZoneId('Z0123456789ABC')).toBe('Z0123456789ABC');
    expect(parseZoneId('/hostedzone/Z0123456789ABC')).toBe('Z0123456789ABC');
    expect(parseZoneId('example.com')).toBeUndefined();
    expect(parseZoneId('EXAMPLE')).toBeUndefined();
  });
});

describe('longest-suffix matching', () => {
  it('picks the longest zone for each name (wildcards by their base name) and de-duplicates', () => {
    expect(matchZones(['example.com', '*.example.com', 'www.example.com'], zones, 'cert')).toEqual(['ZCOM1']);
    expect(matchZones(['a.dev.example.com', '*.dev.example.com', 'example.org'], zones, 'cert')).toEqual([
      'ZDEV2',
      'ZORG3',
    ]);
  });

  it('does not match a zone by a partial label', () => {
    expect(() => matchZones(['badexample.com'], zones, 'cert x')).toThrow(
      'cert x: badexample.com is in none of the hosted zones (example.com (ZCOM1), dev.example.com (ZDEV2), example.org (ZORG3)); add its zone',
    );
  });

  it('refuses to choose between zones of the same name', () => {
    const twins: ResolvedZone[] = [...zones, { id: 'ZPRIV4', name: 'example.com', privateZone: true }];
    expect(() => matchZones(['www.example.com'], twins, 'cert y')).toThrow(
      'cert y: www.example.com matches several zones named example.com (ZCOM1, ZPRIV4 private); list the right id in hostedZoneIds',
    );
  });
});

describe('explicit zone coverage', () => {
  it('passes when every name is in one of the zones (extra zones allowed)', () => {
    expect(() => checkCoverage(['www.example.com', 'example.org'], zones, 'c')).not.toThrow();
  });

  it('names the uncovered name and the zones it tried', () => {
    expect(() => checkCoverage(['shop.example.net'], zones.slice(0, 1), 'c')).toThrow(
      'c: shop.example.net is in none of the listed zones ZCOM1 (example.com)',
    );
  });
});

describe('zones of other accounts', () => {
  const DNS = 'arn:aws:iam::111122223333:role/acme-dns';
  const OTHER = 'arn:aws:iam::444455556666:role/acme-dns';
  const roleOf = new Map([
    ['ZDNS1', DNS],
    ['ZDNS2', DNS],
    ['ZOTH3', OTHER],
  ]);

  it('splits the used zones: own zones for the function, each role its own (and its delegated names)', () => {
    const split = splitZoneGrants(
      ['ZOWN9', 'ZDNS2', 'ZDNS1', 'ZOTH3', 'ZOWN8'],
      { names: ['*.acme.example.net'], zoneIds: ['ZOWN9', 'ZDNS2'] },
      roleOf,
    );
    expect(split).toEqual({
      own: {
        zoneIds: ['ZOWN8', 'ZOWN9'],
        cnameTargets: { names: ['*.acme.example.net'], zoneIds: ['ZOWN9'] },
      },
      roles: [
        {
          roleArn: DNS,
          zoneIds: ['ZDNS1', 'ZDNS2'],
          cnameTargets: { names: ['*.acme.example.net'], zoneIds: ['ZDNS2'] },
        },
        { roleArn: OTHER, zoneIds: ['ZOTH3'] },
      ],
    });
  });

  it('gives a role no grant when no certificate uses its zones, and the function none when all are elsewhere', () => {
    expect(splitZoneGrants(['ZOWN9'], undefined, roleOf)).toEqual({ own: { zoneIds: ['ZOWN9'] }, roles: [] });
    expect(splitZoneGrants(['ZDNS1'], undefined, roleOf)).toEqual({
      own: { zoneIds: [] },
      roles: [{ roleArn: DNS, zoneIds: ['ZDNS1'] }],
    });
  });

  it('takes uncovered names to be in a listed zone of another account whose name is unknown', () => {
    expect(() => checkCoverage(['www.example.net'], zones, 'certificates[0] (web)', ['ZDNS1'])).not.toThrow();
    expect(() => checkCoverage(['www.example.net'], zones, 'certificates[0] (web)')).toThrow(
      'certificates[0] (web): www.example.net is in none of the listed zones',
    );
  });
});
