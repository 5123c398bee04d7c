import { describe, expect, it } from 'vitest';

import type { HostedZoneInfo } from '../../rotation/route53/adapter.js';
import { AwsServiceError, DnsError } from '../../rotation/lib/errors.js';
import {
  batchComment,
  buildTxtChanges,
  classifyChangeFailure,
  groupByZone,
  isCasConflict,
  txtAfterChanges,
  uniqueRecords,
  type NameWork,
  type Placement,
  type TxtState,
} from '../../rotation/route53/txt-batch.js';

// Route 53's InvalidChangeBatch messages for a compare-and-swap that lost the race.
const ALREADY_EXISTS =
  "Tried to create resource record set [name='_acme-challenge.example.com.', type='TXT'] but it already exists";
const NOT_FOUND =
  "Tried to delete resource record set [name='_acme-challenge.example.com.', type='TXT'] but it was not found";
const VALUES_DIFFER =
  "Tried to delete resource record set [name='_acme-challenge.example.com.', type='TXT'] but the values provided do not match the current values";
const NOT_PERMITTED = 'RRSet with DNS name _acme-challenge.example.com. is not permitted in zone example.com.';

const NAME = '_acme-challenge.example.com';

const zone = (id: string, name: string): HostedZoneInfo => ({ id, name, privateZone: false, nameServers: [] });
const placement = (fqdn: string, z: HostedZoneInfo): Placement => ({ fqdn, zone: z });
const work = (ours: string[], current?: TxtState | null, fqdn = NAME): NameWork =>
  current === undefined ? { fqdn, ours } : { fqdn, ours, current };

describe('uniqueRecords', () => {
  it('puts domains in canonical form without the wildcard label and keeps each (domain, value) once', () => {
    expect(
      uniqueRecords([
        { domain: '*.Example.com.', value: 'a' },
        { domain: 'example.com', value: 'a' },
        { domain: 'example.com', value: 'b' },
        { domain: 'WWW.example.com', value: 'a' },
      ]),
    ).toEqual([
      { domain: 'example.com', value: 'a' },
      { domain: 'example.com', value: 'b' },
      { domain: 'www.example.com', value: 'a' },
    ]);
  });

  it.each(['', '.', ' '])('rejects the empty domain %j with InvalidChallenge', (domain) => {
    let err: unknown;
    try {
      uniqueRecords([
        { domain: 'example.com', value: 'a' },
        { domain, value: 'b' },
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).code).toBe('InvalidChallenge');
  });

  it('returns nothing for no records', () => {
    expect(uniqueRecords([])).toEqual([]);
  });
});

describe('groupByZone', () => {
  const com = zone('ZCOM', 'example.com');
  const org = zone('ZORG', 'example.org');

  it('gives names that share a record set one work item with every value in order', () => {
    const placementOf = new Map([
      ['example.com', placement(NAME, com)],
      // A CNAME points www's challenge at the apex's record set.
      ['www.example.com', placement(NAME, com)],
      ['example.org', placement('_acme-challenge.example.org', org)],
    ]);
    const { placed, byZone } = groupByZone(
      [
        { domain: 'example.com', value: 'a' },
        { domain: 'www.example.com', value: 'b' },
        { domain: 'example.org', value: 'c' },
        { domain: 'example.com', value: 'b' },
      ],
      placementOf,
      new Map(),
    );

    expect(placed).toEqual([
      { domain: 'example.com', value: 'a', fqdn: NAME, zoneId: 'ZCOM', zoneName: 'example.com' },
      { domain: 'www.example.com', value: 'b', fqdn: NAME, zoneId: 'ZCOM', zoneName: 'example.com' },
      {
        domain: 'example.org',
        value: 'c',
        fqdn: '_acme-challenge.example.org',
        zoneId: 'ZORG',
        zoneName: 'example.org',
      },
      { domain: 'example.com', value: 'b', fqdn: NAME, zoneId: 'ZCOM', zoneName: 'example.com' },
    ]);
    expect([...byZone.entries()]).toEqual([
      ['ZCOM', [{ fqdn: NAME, ours: ['a', 'b'] }]],
      ['ZORG', [{ fqdn: '_acme-challenge.example.org', ours: ['c'] }]],
    ]);
  });

  it('starts from a known TXT state (none included) and leaves unknown ones to be read', () => {
    const known = new Map<string, TxtState | null>([
      [NAME, { ttl: 300, raw: ['"other"'] }],
      ['_acme-challenge.example.org', null],
    ]);
    const { byZone } = groupByZone(
      [
        { domain: 'example.com', value: 'a' },
        { domain: 'example.org', value: 'b' },
        { domain: 'example.net', value: 'c' },
      ],
      new Map([
        ['example.com', placement(NAME, com)],
        ['example.org', placement('_acme-challenge.example.org', org)],
        ['example.net', placement('_acme-challenge.example.net', org)],
      ]),
      known,
    );

    expect(byZone.get('ZCOM')).toEqual([{ fqdn: NAME, ours: ['a'], current: { ttl: 300, raw: ['"other"'] } }]);
    const orgWorks = byZone.get('ZORG') ?? [];
    expect(orgWorks).toEqual([
      { fqdn: '_acme-challenge.example.org', ours: ['b'], current: null },
      { fqdn: '_acme-challenge.example.net', ours: ['c'] },
    ]);
    expect('current' in orgWorks[1]!).toBe(false);
  });

  it('leaves out records whose domain was not placed', () => {
    const { placed, byZone } = groupByZone(
      [
        { domain: 'example.com', value: 'a' },
        { domain: 'nowhere.test', value: 'b' },
      ],
      new Map([['example.com', placement(NAME, com)]]),
      new Map(),
    );
    expect(placed.map((p) => p.domain)).toEqual(['example.com']);
    expect([...byZone.keys()]).toEqual(['ZCOM']);
  });
});

describe('buildTxtChanges (present)', () => {
  it('creates the record set at our TTL when there is none', () => {
    expect(buildTxtChanges([work(['a', 'b'], null)], 'present', 60)).toEqual([
      { action: 'CREATE', name: NAME, type: 'TXT', ttl: 60, values: ['"a"', '"b"'] },
    ]);
  });

  it('treats a state not read yet as no record set', () => {
    expect(buildTxtChanges([work(['a'])], 'present', 60)).toEqual([
      { action: 'CREATE', name: NAME, type: 'TXT', ttl: 60, values: ['"a"'] },
    ]);
  });

  it('deletes the exact current set and creates it with the missing values appended, at the lower TTL', () => {
    const current = { ttl: 300, raw: ['"other"', '"a"'] };
    expect(buildTxtChanges([work(['a', 'b'], current)], 'present', 60)).toEqual([
      { action: 'DELETE', name: NAME, type: 'TXT', ttl: 300, values: ['"other"', '"a"'] },
      { action: 'CREATE', name: NAME, type: 'TXT', ttl: 60, values: ['"other"', '"a"', '"b"'] },
    ]);
    expect(buildTxtChanges([work(['b'], { ttl: 30, raw: ['"x"'] })], 'present', 60)[1]?.ttl).toBe(30);
  });

  it('adds nothing for a name that already holds every value (compared unquoted)', () => {
    // Route 53 returns long values split into several strings and special characters escaped.
    const current = { ttl: 60, raw: ['"ab" "c"', '"q\\"uote"'] };
    expect(buildTxtChanges([work(['abc', 'q"uote'], current)], 'present', 60)).toEqual([]);
  });

  it('quotes and escapes the values it adds', () => {
    expect(buildTxtChanges([work(['say "hi"\\'], null)], 'present', 60)).toEqual([
      { action: 'CREATE', name: NAME, type: 'TXT', ttl: 60, values: ['"say \\"hi\\"\\\\"'] },
    ]);
  });

  it('builds one batch for several names, skipping those already as wanted', () => {
    const changes = buildTxtChanges(
      [work(['a'], { ttl: 60, raw: ['"a"'] }, '_acme-challenge.a.example.com'), work(['b'], null)],
      'present',
      60,
    );
    expect(changes).toEqual([{ action: 'CREATE', name: NAME, type: 'TXT', ttl: 60, values: ['"b"'] }]);
  });
});

describe('buildTxtChanges (cleanUp)', () => {
  it('deletes the record set when only our values are there', () => {
    const current = { ttl: 60, raw: ['"a"', '"b"'] };
    expect(buildTxtChanges([work(['a', 'b'], current)], 'cleanUp', 60)).toEqual([
      { action: 'DELETE', name: NAME, type: 'TXT', ttl: 60, values: ['"a"', '"b"'] },
    ]);
  });

  it("keeps everyone else's values: DELETE exact + CREATE the rest at the record's TTL", () => {
    const current = { ttl: 300, raw: ['"other"', '"a"', '"more"'] };
    expect(buildTxtChanges([work(['a'], current)], 'cleanUp', 60)).toEqual([
      { action: 'DELETE', name: NAME, type: 'TXT', ttl: 300, values: ['"other"', '"a"', '"more"'] },
      { action: 'CREATE', name: NAME, type: 'TXT', ttl: 300, values: ['"other"', '"more"'] },
    ]);
  });

  it('changes nothing where none of our values is left (idempotent)', () => {
    expect(buildTxtChanges([work(['a'], null)], 'cleanUp', 60)).toEqual([]);
    expect(buildTxtChanges([work(['a'])], 'cleanUp', 60)).toEqual([]);
    expect(buildTxtChanges([work(['a'], { ttl: 60, raw: ['"other"'] })], 'cleanUp', 60)).toEqual([]);
  });

  it('recognises our value in a split or escaped form', () => {
    expect(buildTxtChanges([work(['abc'], { ttl: 60, raw: ['"ab" "c"'] })], 'cleanUp', 60)).toEqual([
      { action: 'DELETE', name: NAME, type: 'TXT', ttl: 60, values: ['"ab" "c"'] },
    ]);
  });
});

describe('batchComment', () => {
  it('counts the values of every name in the batch', () => {
    const works = [work(['a', 'b']), work(['c'], null, '_acme-challenge.example.org')];
    expect(batchComment(works, 'present')).toBe('acme-rotation: add 3 DNS-01 TXT value(s)');
    expect(batchComment(works, 'cleanUp')).toBe('acme-rotation: remove 3 DNS-01 TXT value(s)');
  });
});

describe('txtAfterChanges', () => {
  it('is what the batch created, null where it only deleted, and the read state where it did nothing', () => {
    const created = work(['a'], null, '_acme-challenge.a.example.com');
    const deleted = work(['b'], { ttl: 60, raw: ['"b"'] }, '_acme-challenge.b.example.com');
    const untouched = work(['c'], { ttl: 120, raw: ['"c"'] }, '_acme-challenge.c.example.com');
    const unread = work(['d'], undefined, '_acme-challenge.d.example.com');
    const works = [created, deleted, untouched, unread];
    const changes = [
      { action: 'CREATE' as const, name: created.fqdn, type: 'TXT', ttl: 60, values: ['"a"'] },
      { action: 'DELETE' as const, name: deleted.fqdn, type: 'TXT', ttl: 60, values: ['"b"'] },
    ];

    expect(txtAfterChanges(works, changes)).toEqual(
      new Map<string, TxtState | null>([
        [created.fqdn, { ttl: 60, raw: ['"a"'] }],
        [deleted.fqdn, null],
        [untouched.fqdn, { ttl: 120, raw: ['"c"'] }],
        [unread.fqdn, null],
      ]),
    );
  });

  it('matches what building the next batch from it expects: a clean-up right after present', () => {
    const presentWork = work(['a'], { ttl: 300, raw: ['"other"'] });
    const changes = buildTxtChanges([presentWork], 'present', 60);
    const after = txtAfterChanges([presentWork], changes).get(NAME);

    expect(after).toEqual({ ttl: 60, raw: ['"other"', '"a"'] });
    expect(buildTxtChanges([work(['a'], after)], 'cleanUp', 60)).toEqual([
      { action: 'DELETE', name: NAME, type: 'TXT', ttl: 60, values: ['"other"', '"a"'] },
      { action: 'CREATE', name: NAME, type: 'TXT', ttl: 60, values: ['"other"'] },
    ]);
  });

  it('copies the created values, so later edits of the batch do not change it', () => {
    const w = work(['a'], null);
    const changes = buildTxtChanges([w], 'present', 60);
    const after = txtAfterChanges([w], changes);
    changes[0]!.values.push('"later"');
    expect(after.get(NAME)).toEqual({ ttl: 60, raw: ['"a"'] });
  });
});

describe('isCasConflict', () => {
  it.each([ALREADY_EXISTS, NOT_FOUND, VALUES_DIFFER])('recognises %s', (message) => {
    expect(isCasConflict(message)).toBe(true);
  });

  it('recognises a conflict among several messages', () => {
    expect(isCasConflict(`${NOT_PERMITTED}, ${VALUES_DIFFER}`)).toBe(true);
  });

  it('does not take any other refusal for a conflict', () => {
    expect(isCasConflict(NOT_PERMITTED)).toBe(false);
    expect(isCasConflict('')).toBe(false);
  });
});

describe('classifyChangeFailure', () => {
  const invalidBatch = (message: string): AwsServiceError =>
    new AwsServiceError('Route53', 'ChangeResourceRecordSets', 'InvalidChangeBatch', message);

  it('is a conflict when an InvalidChangeBatch says the records are not what was read', () => {
    expect(classifyChangeFailure(invalidBatch(ALREADY_EXISTS))).toBe('conflict');
    expect(classifyChangeFailure(invalidBatch(VALUES_DIFFER))).toBe('conflict');
  });

  it('is a rejection for any other InvalidChangeBatch', () => {
    expect(classifyChangeFailure(invalidBatch(NOT_PERMITTED))).toBe('rejected');
  });

  it('is neither for other AWS errors, plain errors and non-errors', () => {
    expect(
      classifyChangeFailure(new AwsServiceError('Route53', 'ChangeResourceRecordSets', 'Throttling', ALREADY_EXISTS)),
    ).toBe('other');
    expect(classifyChangeFailure(new Error(ALREADY_EXISTS))).toBe('other');
    expect(classifyChangeFailure(ALREADY_EXISTS)).toBe('other');
  });
});
