import { MAX_NAMES } from '../../rotation/certificate/rules.js';
import { KEY_TYPES } from '../../rotation/certificate/key-types.js';
import { SPEC_TAGS } from '../../rotation/certificate/tags.js';
import { describe, expect, it } from 'vitest';

import { SpecError } from '../../rotation/lib/errors.js';
import { acmArnTags, domainTags, parseSpec, type CertificateSpec } from '../../rotation/certificate/spec.js';
import { challengeDomain } from '../../rotation/dns01/names.js';
import { foldDnsName, normaliseDnsName, normalizeName, normaliseDomain } from '../../rotation/certificate/domains.js';

const SECRET = 'certs/example';

type Tags = Array<{ Key?: string; Value?: string }>;

function tags(record: Record<string, string>): Tags {
  return Object.entries(record).map(([Key, Value]) => ({ Key, Value }));
}

function spec(record: Record<string, string>): CertificateSpec {
  return parseSpec(SECRET, tags(record));
}

function domains(value: string): string[] {
  return spec({ 'acme:domains': value }).domains;
}

/** The SpecError thrown by parseSpec for these tags (fails the test if none is thrown). */
function specErrorFor(input: Tags | Record<string, string> | undefined): SpecError {
  try {
    parseSpec(SECRET, Array.isArray(input) || input === undefined ? input : tags(input));
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).code).toBe('InvalidSpec');
    return err as SpecError;
  }
  throw new Error('expected parseSpec to throw a SpecError');
}

function domainError(value: string): string {
  return specErrorFor({ 'acme:domains': value }).message;
}

const WILDCARD_LEFTMOST = 'a wildcard must be the whole leftmost label (like *.example.com)';
const WILDCARD_TWO_LABELS = 'a wildcard needs at least two labels after it (like *.example.com)';

describe('parseSpec: domains', () => {
  it('parses a single name with defaults', () => {
    expect(spec({ 'acme:domains': 'example.com' })).toEqual({
      domains: ['example.com'],
      keyType: 'ecdsa-p256',
      hostedZoneIds: [],
      acmCertificateArns: [],
    });
    expect(spec({ 'acme:domains': 'example.com' })).not.toHaveProperty('profile');
  });

  it('lower-cases names', () => {
    expect(domains('WWW.Example.COM')).toEqual(['www.example.com']);
  });

  it('strips one trailing dot', () => {
    expect(domains('example.com.,*.example.org.')).toEqual(['example.com', '*.example.org']);
  });

  it('rejects two trailing dots', () => {
    expect(domainError('example.com..')).toContain('value "example.com.." is invalid: it has an empty label');
  });

  it('converts IDN to punycode', () => {
    expect(domains('bücher.example')).toEqual(['xn--bcher-kva.example']);
    expect(domains('BÜCHER.Example')).toEqual(['xn--bcher-kva.example']);
    expect(domains('*.bücher.example')).toEqual(['*.xn--bcher-kva.example']);
  });

  it('accepts names already in punycode and rejects invalid punycode', () => {
    expect(domains('xn--bcher-kva.example')).toEqual(['xn--bcher-kva.example']);
    expect(domainError('xn--zz.example')).toContain(
      'value "xn--zz.example" is invalid: it is not a valid internationalised domain name',
    );
  });

  it('drops duplicates, keeping first-occurrence order', () => {
    expect(domains('b.example.com,a.example.com,b.example.com,c.example.com,a.example.com')).toEqual([
      'b.example.com',
      'a.example.com',
      'c.example.com',
    ]);
  });

  it('drops duplicates that only appear after normalisation', () => {
    expect(domains('Example.com,example.com.,EXAMPLE.COM,bücher.example,xn--bcher-kva.example')).toEqual([
      'example.com',
      'xn--bcher-kva.example',
    ]);
  });

  it('tolerates spaces around commas and empty items', () => {
    expect(domains('  example.com ,  www.example.com,api.example.com  ,')).toEqual([
      'example.com',
      'www.example.com',
      'api.example.com',
    ]);
  });

  it('keeps apex and wildcard of the same name, in order (first is the CN)', () => {
    expect(domains('*.example.com,example.com')).toEqual(['*.example.com', 'example.com']);
    expect(domains('example.com,*.example.com')).toEqual(['example.com', '*.example.com']);
  });

  it.each(['a.*.example.com', '*example.com', '*.*.example.com', 'foo*.example.com', 'example.*', '*-x.example.com'])(
    'rejects the wildcard form %s',
    (name) => {
      expect(domainError(`example.com,${name}`)).toContain(
        `secret "certs/example": tag acme:domains value "${name}" is invalid: ${WILDCARD_LEFTMOST}`,
      );
    },
  );

  it.each(['*.com', '*', '*.'])('rejects the wildcard %s without two labels after it', (name) => {
    expect(domainError(name)).toContain(`tag acme:domains value "${name}" is invalid: ${WILDCARD_TWO_LABELS}`);
  });

  it('matches the documented message format exactly', () => {
    expect(domainError('a.*.example.com')).toBe(
      'secret "certs/example": tag acme:domains value "a.*.example.com" is invalid: ' + WILDCARD_LEFTMOST,
    );
  });

  it.each(['192.0.2.1', '2001:db8::1', '[2001:db8::1]', '::1', '127.1', '0x7f.0.0.1', '999.999.999.999'])(
    'rejects the IP address %s',
    (ip) => {
      expect(domainError(ip)).toContain(`value "${ip}" is invalid: IP addresses are not supported`);
    },
  );

  it.each(['localhost', 'com', 'LOCALHOST.'])('rejects the single-label name %s', (name) => {
    expect(domainError(name)).toContain(`value "${name}" is invalid: a certificate name needs at least two labels`);
  });

  it.each([
    ['example.com;www.example.com', 'the character ";"'],
    ['example.com www.example.com', 'whitespace'],
    ['example.com|www.example.com', 'the character "|"'],
  ])('says to separate names with commas for %s', (value, shown) => {
    expect(domainError(value)).toContain(
      `value "${value}" is invalid: it contains ${shown}; separate names with commas (like example.com,www.example.com)`,
    );
  });

  it('accepts a 63-character label and rejects a 64-character one', () => {
    const ok = `${'a'.repeat(63)}.example.com`;
    expect(domains(ok)).toEqual([ok]);
    const bad = `${'a'.repeat(64)}.example.com`;
    expect(domainError(bad)).toContain('is 64 characters long; a label has 1 to 63');
  });

  it('accepts a 253-character name and rejects a 254-character one', () => {
    // 3 labels of 63 + 1 of 61 + 3 dots = 253
    const ok = [`${'a'.repeat(63)}`, `${'b'.repeat(63)}`, `${'c'.repeat(63)}`, `${'d'.repeat(57)}.com`].join('.');
    expect(ok).toHaveLength(253);
    expect(normaliseDomain(ok)).toBe(ok);
    const bad = `x${ok}`;
    expect(() => normaliseDomain(bad)).toThrow(
      'the name is 254 characters long (in ASCII form); a DNS name has at most 253',
    );
  });

  it('counts the length of IDN names in their punycode form', () => {
    // 'ü' is one character but the punycode label is longer
    const label = 'ü'.repeat(60);
    expect(() => normaliseDomain(`${label}.example`)).toThrow(/a label has 1 to 63/);
  });

  it.each([
    ['-bad.example.com', 'the label "-bad" must not start or end with a hyphen'],
    ['bad-.example.com', 'the label "bad-" must not start or end with a hyphen'],
    ['under_score.example.com', 'it contains the character "_"'],
    ['exa mple.com', 'it contains whitespace'],
    ['a/b.example.com', 'it contains the character "/"'],
    ['user@example.com', 'it contains the character "@"'],
    ['.example.com', 'it has an empty label'],
    ['a..example.com', 'it has an empty label'],
    ['ab--cd.example.com', 'the label "ab--cd" has "--" in the third and fourth positions, which is reserved'],
  ])('rejects the malformed name %s', (name, reason) => {
    expect(domainError(name)).toContain(`value "${name}" is invalid: ${reason}`);
  });

  it(`accepts ${MAX_NAMES} names and rejects ${MAX_NAMES + 1}`, () => {
    const names = Array.from({ length: MAX_NAMES + 1 }, (_, i) => `h${i}.example.com`);
    const hundred = names.slice(0, MAX_NAMES);
    expect(parseSpec(SECRET, domainTags(hundred)).domains).toEqual(hundred);
    expect(specErrorFor(domainTags(names)).message).toBe(
      'secret "certs/example": tag acme:domains lists 101 distinct names, more than the limit of 100 names per ' +
        'certificate; split them across several certificate secrets',
    );
  });

  it('counts names after removing duplicates against the limit', () => {
    const names = Array.from({ length: MAX_NAMES }, (_, i) => `h${i}.example.com`);
    const withDupes = [...names, ...names.map((n) => n.toUpperCase())];
    expect(parseSpec(SECRET, domainTags(withDupes)).domains).toHaveLength(MAX_NAMES);
  });

  it('appends continuation tags in numeric order regardless of tag order', () => {
    const result = parseSpec(SECRET, [
      { Key: 'acme:domains:3', Value: 'c.example.com' },
      { Key: 'Name', Value: 'ignored' },
      { Key: 'acme:domains', Value: 'a.example.com,' },
      { Key: 'acme:domains:10', Value: 'j.example.com' },
      { Key: 'acme:domains:2', Value: ' b.example.com , a.example.com' },
      ...[4, 5, 6, 7, 8, 9].map((n) => ({ Key: `acme:domains:${n}`, Value: `n${n}.example.com` })),
    ]);
    expect(result.domains).toEqual([
      'a.example.com',
      'b.example.com',
      'c.example.com',
      'n4.example.com',
      'n5.example.com',
      'n6.example.com',
      'n7.example.com',
      'n8.example.com',
      'n9.example.com',
      'j.example.com',
    ]);
  });

  it('names the continuation tag that holds an invalid name', () => {
    expect(specErrorFor({ 'acme:domains': 'example.com', 'acme:domains:2': 'a.*.example.com' }).message).toBe(
      `secret "certs/example": tag acme:domains:2 value "a.*.example.com" is invalid: ${WILDCARD_LEFTMOST}`,
    );
  });

  it('rejects gaps in continuation numbering', () => {
    expect(specErrorFor({ 'acme:domains': 'a.example.com', 'acme:domains:3': 'c.example.com' }).message).toContain(
      'tag acme:domains:3 is present but acme:domains:2 is missing; continuation tags must be numbered consecutively',
    );
  });

  it.each(['acme:domains:1', 'acme:domains:02', 'acme:domains:x', 'acme:domains:'])(
    'rejects the malformed continuation key %s',
    (key) => {
      expect(specErrorFor({ 'acme:domains': 'a.example.com', [key]: 'b.example.com' }).message).toContain(
        `tag ${key} is not a known acme: tag`,
      );
    },
  );

  it('requires acme:domains even when continuation tags exist', () => {
    expect(specErrorFor({ 'acme:domains:2': 'b.example.com' }).message).toContain('tag acme:domains is missing');
  });

  it('rejects a missing acme:domains tag', () => {
    expect(specErrorFor({ Name: 'x', 'acme:key-type': 'rsa-2048' }).message).toBe(
      'secret "certs/example": tag acme:domains is missing (the secret has no acme:domains tag); ' +
        'set it to a comma-separated list of DNS names like example.com,*.example.com',
    );
  });

  it('rejects undefined or empty tags', () => {
    expect(specErrorFor(undefined).message).toContain(
      'secret "certs/example": tag acme:domains is missing (the secret has no tags)',
    );
    expect(specErrorFor([]).message).toContain('tag acme:domains is missing (the secret has no tags)');
  });

  it.each(['', '   ', ' , ,'])('rejects the empty acme:domains value %j', (value) => {
    expect(domainError(value)).toContain(
      `tag acme:domains value ${JSON.stringify(value)} is invalid: it lists no names; set it to a comma-separated list`,
    );
  });

  it('ignores tags without a key and treats a missing value as empty', () => {
    expect(specErrorFor([{ Value: 'x' }, { Key: 'acme:domains' }]).message).toContain('it lists no names');
  });

  it('rejects a duplicated tag key', () => {
    expect(
      specErrorFor([
        { Key: 'acme:domains', Value: 'a.example.com' },
        { Key: 'acme:domains', Value: 'b.example.com' },
      ]).message,
    ).toContain('tag acme:domains appears more than once');
  });
});

describe('parseSpec: key type', () => {
  it.each(KEY_TYPES)('accepts %s', (keyType) => {
    expect(spec({ 'acme:domains': 'example.com', 'acme:key-type': keyType }).keyType).toBe(keyType);
  });

  it('is case-insensitive and trims', () => {
    expect(spec({ 'acme:domains': 'example.com', 'acme:key-type': ' RSA-3072 ' }).keyType).toBe('rsa-3072');
    expect(spec({ 'acme:domains': 'example.com', 'acme:key-type': 'ECDSA-P384' }).keyType).toBe('ecdsa-p384');
  });

  it('defaults to ecdsa-p256 when absent or empty', () => {
    expect(spec({ 'acme:domains': 'example.com' }).keyType).toBe('ecdsa-p256');
    expect(spec({ 'acme:domains': 'example.com', 'acme:key-type': '' }).keyType).toBe('ecdsa-p256');
  });

  it.each(['ed25519', 'rsa-1024', 'ecdsa', 'p256'])(
    'rejects the unknown key type %s, listing allowed values',
    (value) => {
      expect(specErrorFor({ 'acme:domains': 'example.com', 'acme:key-type': value }).message).toBe(
        `secret "certs/example": tag acme:key-type value "${value}" is invalid: allowed values are ` +
          'ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096 (default ecdsa-p256)',
      );
    },
  );
});

describe('parseSpec: hosted zone ids', () => {
  it('accepts bare and /hostedzone/ forms, strips the prefix, drops duplicates', () => {
    expect(
      spec({
        'acme:domains': 'example.com',
        'acme:hosted-zone-ids': 'Z1D633PJN98FT9, /hostedzone/Z2ABCDEF, Z1D633PJN98FT9,/hostedzone/Z2ABCDEF',
      }).hostedZoneIds,
    ).toEqual(['Z1D633PJN98FT9', 'Z2ABCDEF']);
  });

  it('treats an empty value as no zone ids', () => {
    expect(spec({ 'acme:domains': 'example.com', 'acme:hosted-zone-ids': ' ' }).hostedZoneIds).toEqual([]);
  });

  it.each([
    'z1d633pjn98ft9',
    'hostedzone/Z123',
    '/hostedzone/',
    'Z-123',
    'Z'.repeat(33),
    'arn:aws:route53:::hostedzone/Z1',
  ])('rejects the zone id %s', (value) => {
    expect(
      specErrorFor({ 'acme:domains': 'example.com', 'acme:hosted-zone-ids': `Z1D633PJN98FT9,${value}` }).message,
    ).toBe(
      `secret "certs/example": tag acme:hosted-zone-ids value ${JSON.stringify(value)} is invalid: a hosted zone id ` +
        'is 1 to 32 upper-case letters and digits, like Z0123456789ABCDEFGHIJ or /hostedzone/Z0123456789ABCDEFGHIJ',
    );
  });
});

describe('parseSpec: profile', () => {
  it('accepts a profile name', () => {
    expect(spec({ 'acme:domains': 'example.com', 'acme:profile': 'shortlived' })).toEqual({
      domains: ['example.com'],
      keyType: 'ecdsa-p256',
      hostedZoneIds: [],
      profile: 'shortlived',
      acmCertificateArns: [],
    });
    expect(spec({ 'acme:domains': 'example.com', 'acme:profile': 'tls_Server-2.0' }).profile).toBe('tls_Server-2.0');
  });

  it('treats an empty profile as absent', () => {
    const result = spec({ 'acme:domains': 'example.com', 'acme:profile': '' });
    expect(result.profile).toBeUndefined();
    expect(result).not.toHaveProperty('profile');
  });

  it.each(['tls server', 'a/b', 'x'.repeat(65), 'prof!le'])('rejects the profile %j', (value) => {
    expect(specErrorFor({ 'acme:domains': 'example.com', 'acme:profile': value }).message).toBe(
      `secret "certs/example": tag acme:profile value ${JSON.stringify(value)} is invalid: a profile name is ` +
        '1 to 64 letters, digits, ".", "_" or "-", like tlsserver or shortlived',
    );
  });
});

describe('parseSpec: unknown tags', () => {
  it.each([
    'acme:domain',
    'acme:keytype',
    'acme:hosted-zone-id',
    'ACME:domains',
    'Acme:Profile',
    'acme:',
    ' acme:domains',
  ])('rejects the unknown acme: tag %j, listing the known ones', (key) => {
    expect(specErrorFor({ 'acme:domains': 'example.com', [key]: 'x' }).message).toBe(
      `secret "certs/example": tag ${key} is not a known acme: tag (tag keys are case-sensitive); the known ones are ` +
        'acme:domains (continued in acme:domains:2, acme:domains:3, …), acme:key-type, acme:hosted-zone-ids, ' +
        'acme:profile, acme:acm-certificate-arns (continued likewise), acme:ca; tags starting with acme: are reserved for the certificate spec',
    );
  });

  describe('acme:acm-certificate-arns', () => {
    const arn = (region: string, n: number) =>
      `arn:aws:acm:${region}:123456789012:certificate/${String(n).padStart(8, '0')}-1111-2222-3333-444444444444`;

    it('lists ACM certificate ARNs, continued like acme:domains, de-duplicated', () => {
      expect(
        spec({
          'acme:domains': 'example.com',
          'acme:acm-certificate-arns': `${arn('us-east-1', 1)}, ${arn('eu-west-1', 2)}`,
          'acme:acm-certificate-arns:2': `${arn('eu-west-1', 2)},${arn('ap-southeast-2', 3)}`,
        }).acmCertificateArns,
      ).toEqual([arn('us-east-1', 1), arn('eu-west-1', 2), arn('ap-southeast-2', 3)]);
    });

    it('names the tag and the value that is not an ACM ARN', () => {
      expect(
        specErrorFor({
          'acme:domains': 'example.com',
          'acme:acm-certificate-arns': `${arn('us-east-1', 1)}`,
          'acme:acm-certificate-arns:2': 'arn:aws:acm:us-east-1:123456789012:certificate/nope',
        }).message,
      ).toMatch(
        /^secret "certs\/example": tag acme:acm-certificate-arns:2 value "arn:aws:acm:us-east-1:123456789012:certificate\/nope" is invalid: an ACM certificate ARN looks like/,
      );
      expect(
        specErrorFor({ 'acme:domains': 'example.com', 'acme:acm-certificate-arns:2': arn('us-east-1', 1) }).message,
      ).toBe(
        'secret "certs/example": tag acme:acm-certificate-arns:2 is present but acme:acm-certificate-arns is missing; the list starts in acme:acm-certificate-arns',
      );
    });

    it('acmArnTags splits a long list at 255 characters and parses back', () => {
      const arns = Array.from({ length: 7 }, (_, i) => arn('eu-central-1', i));
      const tags = acmArnTags(arns);
      expect(tags.map((t) => t.Key)).toEqual([
        'acme:acm-certificate-arns',
        'acme:acm-certificate-arns:2',
        'acme:acm-certificate-arns:3',
        'acme:acm-certificate-arns:4',
      ]); // an ARN is 87 characters: two fit in a tag
      expect(tags.every((t) => t.Value.length <= 255)).toBe(true);
      expect(parseSpec('certs/x', [{ Key: 'acme:domains', Value: 'example.com' }, ...tags]).acmCertificateArns).toEqual(
        arns,
      );
      expect(acmArnTags([])).toEqual([]);
    });
  });

  it('ignores non-acme tags, including the status tags', () => {
    expect(
      spec({
        Environment: 'prod',
        ExpirationDate: '2030-01-01T00:00:00Z',
        IssuedAt: '2029-10-01T00:00:00Z',
        Domains: 'not,checked',
        'acme-domains': 'also ignored',
        'acme:domains': 'example.com',
      }).domains,
    ).toEqual(['example.com']);
  });
});

describe('normaliseDomain', () => {
  it('normalises like parseSpec', () => {
    expect(normaliseDomain('  *.Bücher.Example. ')).toBe('*.xn--bcher-kva.example');
  });

  it('throws a SpecError naming the input', () => {
    expect(() => normaliseDomain('foo*.example.com')).toThrow(SpecError);
    expect(() => normaliseDomain('foo*.example.com')).toThrow(
      `domain name "foo*.example.com" is invalid: ${WILDCARD_LEFTMOST}`,
    );
    expect(() => normaliseDomain('')).toThrow('domain name "" is invalid: the name is empty');
  });
});

describe('foldDnsName', () => {
  it('trims, lower-cases and drops one trailing dot, nothing more', () => {
    expect(foldDnsName('  WWW.Example.COM. ')).toBe('www.example.com');
    expect(foldDnsName('example.com..')).toBe('example.com.');
    expect(foldDnsName('\\052.Example.com')).toBe('\\052.example.com');
    expect(foldDnsName('Bücher.Example')).toBe('bücher.example');
  });

  it('is where the spec check and the certificate comparison agree; Route 53 names differ on purpose', () => {
    // The spec check refuses what is left after one dot; the certificate form keeps it.
    expect(() => normaliseDomain('example.com..')).toThrow(/empty label/);
    expect(normaliseDnsName('example.com..')).toBe('example.com.');
    // Route 53's form decodes \ooo escapes and drops every trailing dot.
    expect(normalizeName('\\052.Example.com..')).toBe('*.example.com');
  });
});

describe('challengeDomain', () => {
  it('strips the wildcard label only', () => {
    expect(challengeDomain('*.example.com')).toBe('example.com');
    expect(challengeDomain('example.com')).toBe('example.com');
    expect(challengeDomain('www.example.com')).toBe('www.example.com');
  });

  it("is the DNS provider's normaliser: canonical form, then the wildcard label removed", () => {
    expect(challengeDomain('*.Example.COM.')).toBe('example.com');
    expect(challengeDomain(' WWW.example.com ')).toBe('www.example.com');
  });

  it('only removes the wildcard label from the names of a parsed spec', () => {
    const spec = parseSpec(SECRET, [
      {
        Key: SPEC_TAGS.domains,
        Value: '*.Example.com.,WWW.example.com,bücher.example,*.xn--bcher-kva.example,example.com',
      },
    ]);
    expect(spec.domains.map(challengeDomain)).toEqual([
      'example.com',
      'www.example.com',
      'xn--bcher-kva.example',
      'xn--bcher-kva.example',
      'example.com',
    ]);
  });
});

describe('KEY_TYPES', () => {
  it('is the one list the spec and the bundle check key types against', () => {
    expect([...KEY_TYPES]).toEqual(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']);
    expect(Object.isFrozen(KEY_TYPES)).toBe(true);
  });
});

describe('domainTags', () => {
  it('writes one tag when the names fit', () => {
    expect(domainTags(['example.com', '*.example.com'])).toEqual([
      { Key: SPEC_TAGS.domains, Value: 'example.com,*.example.com' },
    ]);
  });

  it("never writes a 256-character value, which TagResource refuses (its limit is 255, the Tag type's 256)", () => {
    // 127 + ',' + 128 = 256 characters: one value under the Tag type's limit, over TagResource's.
    const first = `${'a'.repeat(63)}.${'b'.repeat(51)}.example.com`;
    const second = `${'c'.repeat(63)}.${'d'.repeat(52)}.example.com`;
    expect(`${first},${second}`).toHaveLength(256);
    const written = domainTags([first, second]);
    expect(written).toEqual([
      { Key: 'acme:domains', Value: first },
      { Key: 'acme:domains:2', Value: second },
    ]);
    expect(parseSpec(SECRET, written).domains).toEqual([first, second]);
  });

  it('splits into continuation tags of at most 255 characters that parse back to the same list', () => {
    const names = Array.from({ length: 60 }, (_, i) => `host-${i}.some-long-subdomain.example.com`);
    const written = domainTags(names);
    expect(written.length).toBeGreaterThan(1);
    expect(written.map((t) => t.Key)).toEqual(
      written.map((_, i) => (i === 0 ? 'acme:domains' : `acme:domains:${i + 1}`)),
    );
    for (const t of written) expect(t.Value.length).toBeLessThanOrEqual(255);
    expect(parseSpec(SECRET, written).domains).toEqual(names);
  });
});

describe('parseSpec: acme:ca', () => {
  it('lists the CAs a certificate may come from, in order, lower-cased, once each', () => {
    expect(spec({ 'acme:domains': 'example.com', 'acme:ca': ' LetsEncrypt, zerossl ,letsencrypt' }).cas).toEqual([
      'letsencrypt',
      'zerossl',
    ]);
    expect(
      spec({ 'acme:domains': 'example.com', 'acme:ca': 'acme-v02.api.letsencrypt.org, 127.0.0.1:14000' }).cas,
    ).toEqual(['acme-v02.api.letsencrypt.org', '127.0.0.1:14000']);
  });

  it('an empty or absent tag means every CA of the function', () => {
    expect(spec({ 'acme:domains': 'example.com' }).cas).toBeUndefined();
    expect(spec({ 'acme:domains': 'example.com', 'acme:ca': ' , ' }).cas).toBeUndefined();
  });

  it('refuses a name no CA could have, saying how CAs are named', () => {
    expect(specErrorFor({ 'acme:domains': 'example.com', 'acme:ca': 'lets encrypt' }).message).toBe(
      'secret "certs/example": tag acme:ca value "lets encrypt" is invalid: a CA is named by its ACME_CAS "name", ' +
        "or by its directory URL's host (like acme-v02.api.letsencrypt.org)",
    );
  });
});
