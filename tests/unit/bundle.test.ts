import { STATUS_TAG_KEYS } from '../../rotation/certificate/tags.js';
import { classifyCurrentValue } from '../../rotation/certificate/current-value.js';
import { X509Certificate, createPrivateKey, generateKeyPairSync, createSecretKey, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildBundle,
  keyTypeOf,
  parseBundle,
  publicSummary,
  splitPemCertificates,
  type CertificateBundle,
} from '../../rotation/certificate/bundle.js';
import { statusTags } from '../../rotation/function/steps/finish.js';
import { VerificationError } from '../../rotation/lib/errors.js';
import { makeLeaf, makeRootCa, makeTestPki, pooledKey, type TestPki } from '../helpers/certs.js';
import { PKCS1_RSA_KEY_LABEL, PKCS8_KEY_START } from '../helpers/pem-markers.js';

/** Base64 lines of a PEM key (what must never leak into messages). */
function keyLines(pem: string): string[] {
  return pem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'));
}

function expectNoKeyMaterial(text: string, keyPem: string): void {
  expect(text).not.toMatch(/-----(BEGIN|END)/);
  for (const line of keyLines(keyPem)) expect(text).not.toContain(line);
}

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki({ names: ['example.com', '*.example.com'], keyType: 'ecdsa-p256', subjectCn: 'example.com' });
});

describe('splitPemCertificates', () => {
  it('returns normalised CERTIFICATE blocks in order and ignores junk', () => {
    const [leaf, inter] = splitPemCertificates(pki.fullchainPem);
    const messy =
      'Bag Attributes\r\n  friendlyName: x\r\nsubject=/CN=example.com\r\n' +
      leaf!.replace(/\n/g, '\r\n') +
      '\n\n' +
      pki.leaf.keyPem +
      '-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n' +
      '   ' +
      inter!.replace(/\n/g, '\n   ') +
      'trailing text';
    const blocks = splitPemCertificates(messy);
    expect(blocks).toEqual([leaf, inter]);
    for (const b of blocks) {
      expect(b).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
      expect(b.split('\n').every((l) => l.length <= 64)).toBe(true);
    }
  });

  it('returns [] for text without certificates', () => {
    expect(splitPemCertificates('')).toEqual([]);
    expect(splitPemCertificates('hello')).toEqual([]);
    expect(splitPemCertificates(pki.leaf.keyPem)).toEqual([]);
  });
});

describe('buildBundle', () => {
  it('splits leaf and intermediates and computes every field', () => {
    const issuedAt = new Date('2026-01-02T03:04:05.678Z');
    const b = buildBundle({
      certificatePem: 'junk before\n' + pki.fullchainPem + '\njunk after',
      privateKeyPem: pki.leaf.keyPem,
      keyType: 'ecdsa-p256',
      domains: ['example.com', '*.example.com'],
      issuedAt,
    });
    const leaf = pki.leaf.cert;
    expect(b.certificate).toBe(splitPemCertificates(pki.leaf.certPem)[0]);
    expect(b.chain).toBe(pki.chainPem);
    expect(b.fullchain).toBe(b.certificate + b.chain);
    expect(new X509Certificate(b.certificate).fingerprint256).toBe(leaf.fingerprint256);
    expect(b.private_key).toMatch(PKCS8_KEY_START);
    expect(b.expiry).toBe(new Date(leaf.validTo).toISOString());
    expect(b.expiry).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(b.not_before).toBe(new Date(leaf.validFrom).toISOString());
    expect(b.issued_at).toBe('2026-01-02T03:04:05.678Z');
    expect(b.domains).toEqual(['example.com', '*.example.com']);
    expect(b.serial).toBe(leaf.serialNumber.toUpperCase());
    expect(b.serial).toMatch(/^[0-9A-F]+$/);
    expect(b.issuer).toBe(`O=acme-rotation tests, CN=${pki.intermediates[0]!.name}`);
    expect(b.subject).toBe('CN=example.com');
    expect(b.key_type).toBe('ecdsa-p256');
    expect(b.fingerprint_sha256).toBe(leaf.fingerprint256.replace(/:/g, ''));
    expect(b.fingerprint_sha256).toMatch(/^[0-9A-F]{64}$/);
    expect(b.schema_version).toBe(1);
  });

  it('gives an empty chain when the CA sends only the leaf, and an empty subject when there is none', () => {
    const root = makeRootCa();
    const leaf = makeLeaf(root, { dnsNames: ['a.example'] });
    const b = buildBundle({
      certificatePem: leaf.certPem,
      privateKeyPem: leaf.keyPem,
      keyType: 'ecdsa-p256',
      domains: ['a.example'],
    });
    expect(b.chain).toBe('');
    expect(b.fullchain).toBe(b.certificate);
    expect(b.subject).toBe('');
    expect(Date.parse(b.issued_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('re-encodes a PKCS#1 / SEC 1 key as PKCS#8', () => {
    const rsa = pooledKey('rsa-2048');
    const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain(PKCS1_RSA_KEY_LABEL);
    const b = buildBundle({
      certificatePem: pki.fullchainPem,
      privateKeyPem: pkcs1,
      keyType: 'rsa-2048',
      domains: ['x'],
    });
    expect(b.private_key).toMatch(PKCS8_KEY_START);
    expect(keyTypeOf(createPrivateKey(b.private_key))).toBe('rsa-2048');
  });

  it('throws VerificationError when there is no certificate', () => {
    const run =
      (certificatePem: string): (() => CertificateBundle) =>
      () =>
        buildBundle({ certificatePem, privateKeyPem: pki.leaf.keyPem, keyType: 'ecdsa-p256', domains: ['a'] });
    expect(run('')).toThrow(VerificationError);
    expect(run('<html>502 Bad Gateway</html>')).toThrow(
      'The CA returned no PEM certificate (no CERTIFICATE block found)',
    );
    expect(run(pki.leaf.keyPem)).toThrow('no PEM certificate');
  });

  it('throws VerificationError when a certificate block is not X.509', () => {
    const bogus = `-----BEGIN CERTIFICATE-----\n${randomBytes(300).toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(() =>
      buildBundle({ certificatePem: bogus, privateKeyPem: pki.leaf.keyPem, keyType: 'ecdsa-p256', domains: ['a'] }),
    ).toThrow("The CA's leaf certificate does not parse as X.509");
    expect(() =>
      buildBundle({
        certificatePem: pki.leaf.certPem + bogus,
        privateKeyPem: pki.leaf.keyPem,
        keyType: 'ecdsa-p256',
        domains: ['a'],
      }),
    ).toThrow("The CA's chain certificate 1 does not parse as X.509");
  });

  it('throws VerificationError without quoting the key when the key does not parse', () => {
    const broken = pki.leaf.keyPem.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
    let caught: unknown;
    try {
      buildBundle({ certificatePem: pki.fullchainPem, privateKeyPem: broken, keyType: 'ecdsa-p256', domains: ['a'] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(VerificationError);
    expect((caught as VerificationError).code).toBe('VerificationFailed');
    expect((caught as Error).message).toBe('The private key does not parse as an unencrypted PEM private key');
    expectNoKeyMaterial((caught as Error).message, pki.leaf.keyPem);
  });
});

describe('status tags', () => {
  it('are the keys the rotation writes and the stack grants, as the README lists them', () => {
    const b = buildBundle({
      certificatePem: pki.fullchainPem,
      privateKeyPem: pki.leaf.keyPem,
      keyType: 'ecdsa-p256',
      domains: ['example.com', '*.example.com'],
      issuedAt: new Date('2026-01-02T03:04:05.678Z'),
    });
    expect(STATUS_TAG_KEYS).toEqual(['ExpirationDate', 'IssuedAt', 'Domains']);
    expect(Object.keys(statusTags(b))).toEqual([...STATUS_TAG_KEYS]);
  });
});

describe('parseBundle', () => {
  it.each([
    ['undefined', undefined],
    ['empty string', ''],
    ['whitespace', '  \n '],
    ['garbage', 'garbage'],
    ['truncated JSON', '{"certificate": "-----BEGIN CERTIFICATE-----\\nMIIB'],
    ["another app's JSON", '{"username":"x","password":"y"}'],
    ['null', 'null'],
    ['an array', '[1,2]'],
    ['a JSON string', '"-----BEGIN CERTIFICATE-----"'],
    ['a number', '42'],
    ['a placeholder', '{"placeholder":true}'],
  ])('returns undefined for %s', (_label, value) => {
    expect(parseBundle(value)).toBeUndefined();
  });

  it('returns undefined for bundles missing or mistyping a required field', () => {
    const good = pki.bundle;
    const variants: Array<Record<string, unknown>> = [
      { ...good, certificate: undefined },
      { ...good, certificate: 'not pem' },
      { ...good, private_key: undefined },
      { ...good, private_key: 'not pem' },
      { ...good, private_key: pki.leaf.certPem },
      { ...good, fullchain: undefined },
      { ...good, fullchain: 42 },
      { ...good, domains: undefined },
      { ...good, domains: 'example.com' },
      { ...good, domains: ['example.com', 3] },
      // looks like PEM, but is not a certificate
      {
        ...good,
        certificate: `-----BEGIN CERTIFICATE-----\n${randomBytes(200).toString('base64')}\n-----END CERTIFICATE-----\n`,
      },
    ];
    for (const v of variants) expect(parseBundle(JSON.stringify(v))).toBeUndefined();
  });

  it('round-trips a bundle written by buildBundle', () => {
    expect(parseBundle(JSON.stringify(pki.bundle))).toEqual(pki.bundle);
  });

  it('drops unknown fields', () => {
    const parsed = parseBundle(JSON.stringify({ ...pki.bundle, extra: 'x' }));
    expect(parsed).toEqual(pki.bundle);
    expect(parsed).not.toHaveProperty('extra');
  });

  it('keeps stored fields (normalised) so that verification can compare them', () => {
    const stored = { ...pki.bundle, serial: 'ab:cd:01', expiry: '2030-01-01T00:00:00+00:00' };
    const parsed = parseBundle(JSON.stringify(stored))!;
    expect(parsed.serial).toBe('ABCD01');
    expect(parsed.expiry).toBe('2030-01-01T00:00:00.000Z');
  });

  it('completes a seed-format bundle (PKCS#1 RSA key, no serial/issuer/key_type)', () => {
    const rsaPki = makeTestPki({
      names: ['example.com', '*.example.com'],
      keyType: 'rsa-2048',
      key: pooledKey('rsa-2048'),
    });
    const leaf = rsaPki.leaf.cert;
    const seed = {
      certificate: rsaPki.leaf.certPem,
      private_key: rsaPki.leaf.key.export({ type: 'pkcs1', format: 'pem' }).toString(),
      chain: rsaPki.chainPem,
      fullchain: rsaPki.fullchainPem,
      expiry: new Date(leaf.validTo).toISOString().replace('.000Z', '+00:00'),
      domains: ['example.com', '*.example.com'],
      issued_at: '2024-12-10T00:00:00+00:00',
    };
    const parsed = parseBundle(JSON.stringify(seed));
    expect(parsed).toBeDefined();
    expect(parsed).toMatchObject({
      certificate: seed.certificate,
      private_key: seed.private_key,
      chain: seed.chain,
      fullchain: seed.fullchain,
      expiry: new Date(leaf.validTo).toISOString(),
      issued_at: '2024-12-10T00:00:00.000Z',
      not_before: new Date(leaf.validFrom).toISOString(),
      domains: seed.domains,
      serial: leaf.serialNumber.toUpperCase(),
      issuer: `O=acme-rotation tests, CN=${rsaPki.intermediates[0]!.name}`,
      subject: '',
      key_type: 'rsa-2048',
      fingerprint_sha256: leaf.fingerprint256.replace(/:/g, ''),
      schema_version: 1,
    });
  });

  it('derives chain from fullchain and issued_at from notBefore when a seed bundle lacks them', () => {
    const { chain: _chain, issued_at: _issuedAt, ...rest } = pki.bundle;
    const parsed = parseBundle(JSON.stringify({ ...rest, serial: undefined, key_type: undefined }))!;
    expect(parsed.chain).toBe(pki.chainPem);
    expect(parsed.issued_at).toBe(pki.bundle.not_before);
    expect(parsed.key_type).toBe('ecdsa-p256');
    expect(parsed.serial).toBe(pki.bundle.serial);
  });

  it('returns undefined when key_type is missing and the key type is unsupported', () => {
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
    const seed = {
      ...pki.bundle,
      key_type: undefined,
      private_key: p521.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    expect(parseBundle(JSON.stringify(seed))).toBeUndefined();
  });
});

describe('keyTypeOf', () => {
  it('names the supported key types, for private and public keys', () => {
    expect(keyTypeOf(pooledKey('ecdsa-p256'))).toBe('ecdsa-p256');
    expect(keyTypeOf(pooledKey('ecdsa-p384'))).toBe('ecdsa-p384');
    expect(keyTypeOf(pooledKey('rsa-2048'))).toBe('rsa-2048');
    expect(keyTypeOf(pooledKey('rsa-3072'))).toBe('rsa-3072');
    expect(keyTypeOf(pki.leaf.cert.publicKey)).toBe('ecdsa-p256');
  });

  it('is undefined for anything else', () => {
    expect(keyTypeOf(generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey)).toBeUndefined();
    expect(keyTypeOf(generateKeyPairSync('ed25519').privateKey)).toBeUndefined();
    expect(keyTypeOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)).toBeUndefined();
    expect(keyTypeOf(createSecretKey(randomBytes(32)))).toBeUndefined();
  });
});

describe('publicSummary', () => {
  it('carries the metadata and no key or PEM', () => {
    const s = publicSummary(pki.bundle);
    expect(s).toEqual({
      expiry: pki.bundle.expiry,
      issued_at: pki.bundle.issued_at,
      not_before: pki.bundle.not_before,
      domains: pki.bundle.domains,
      serial: pki.bundle.serial,
      issuer: pki.bundle.issuer,
      subject: pki.bundle.subject,
      key_type: pki.bundle.key_type,
      fingerprint_sha256: pki.bundle.fingerprint_sha256,
      schema_version: 1,
    });
    const json = JSON.stringify(s);
    expect(json).not.toContain('-----BEGIN');
    expectNoKeyMaterial(json, pki.leaf.keyPem);
  });
});

describe('classifyCurrentValue', () => {
  it.each([
    ['no value', undefined],
    ['an empty string', ''],
    ['whitespace', ' \n'],
    ['{}', '{}'],
    ['{} with spaces', ' { } '],
  ])('treats %s as empty (no certificate yet)', (_label, value) => {
    expect(classifyCurrentValue(value)).toEqual({ kind: 'empty' });
  });

  it('recognises our bundle', () => {
    expect(classifyCurrentValue(JSON.stringify(pki.bundle))).toEqual({ kind: 'bundle', bundle: pki.bundle });
  });

  it.each([
    ['text', 'hunter2-secret', 'text that is not JSON (14 characters)'],
    [
      'truncated JSON',
      '{"certificate": "-----BEGIN CERTIFICATE-----\nMIIB',
      'JSON that does not parse (49 characters; truncated?)',
    ],
    [
      "another application's JSON",
      '{"username":"app","password":"hunter2-secret"}',
      'a JSON object with the field(s) username, password',
    ],
    ['null', 'null', 'a JSON null'],
    ['an array', '["hunter2-secret"]', 'a JSON array'],
    ['a number', '42', 'a JSON number'],
    ['a JSON string', '"hunter2-secret"', 'a JSON string'],
  ])('calls %s foreign, describing it without quoting it', (_label, value, description) => {
    const found = classifyCurrentValue(value);
    expect(found).toEqual({ kind: 'foreign', description });
    expect(JSON.stringify(found)).not.toContain('hunter2');
  });

  it('names at most 8 fields, shortened, with odd characters replaced', () => {
    const fields = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}`, 'x']));
    expect(classifyCurrentValue(JSON.stringify(fields))).toEqual({
      kind: 'foreign',
      description: 'a JSON object with the field(s) f0, f1, f2, f3, f4, f5, f6, f7 and 2 more',
    });
    const odd = classifyCurrentValue(JSON.stringify({ ['k\n"' + 'y'.repeat(40)]: 1 }));
    expect(odd).toEqual({ kind: 'foreign', description: `a JSON object with the field(s) k??${'y'.repeat(29)}…` });
  });

  it('calls a bundle of ours with an unusable part damaged, naming the part and never a value', () => {
    const garbageCert = `-----BEGIN CERTIFICATE-----\n${randomBytes(60).toString('base64')}\n-----END CERTIFICATE-----\n`;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...pki.bundle, certificate: garbageCert }, 'its certificate does not parse as X.509'],
      [{ ...pki.bundle, certificate: 'garbage' }, 'its certificate field holds no PEM certificate'],
      [{ ...pki.bundle, private_key: 'garbage' }, 'its private_key field holds no PEM private key'],
      [{ ...pki.bundle, fullchain: '' }, 'its fullchain field holds no PEM certificate'],
      [{ ...pki.bundle, domains: 'example.com' }, 'its domains field is not a list of names'],
    ];
    for (const [value, problem] of cases) {
      const found = classifyCurrentValue(JSON.stringify(value));
      expect(found).toEqual({ kind: 'damaged', problem });
      expectNoKeyMaterial(JSON.stringify(found), pki.leaf.keyPem);
    }
  });
});

describe('the issuing CA and the CAs fallen back from', () => {
  it('are recorded by buildBundle and read back by parseBundle; malformed fallback entries are dropped', () => {
    const fallbacks = [
      {
        ca: 'letsencrypt',
        directory_url: 'https://acme-v02.api.letsencrypt.org/directory',
        error_code: 'AcmeUnreachable',
        reason: 'the CA could not be reached',
      },
    ];
    const b = buildBundle({
      certificatePem: pki.fullchainPem,
      privateKeyPem: pki.leaf.keyPem,
      keyType: 'ecdsa-p256',
      domains: ['example.com', '*.example.com'],
      issuedBy: {
        directoryUrl: 'https://acme.zerossl.com/v2/DV90',
        accountUrl: 'https://acme.zerossl.com/acct/1',
        ca: 'zerossl',
      },
      fallbacks,
    });
    expect(b).toMatchObject({
      acme_directory_url: 'https://acme.zerossl.com/v2/DV90',
      acme_account_url: 'https://acme.zerossl.com/acct/1',
      acme_ca: 'zerossl',
      acme_fallbacks: fallbacks,
    });
    const stored = JSON.parse(JSON.stringify(b)) as Record<string, unknown>;
    expect(parseBundle(JSON.stringify(stored))).toMatchObject({ acme_ca: 'zerossl', acme_fallbacks: fallbacks });
    stored.acme_fallbacks = [...fallbacks, { ca: 'x' }, 'junk'];
    expect(parseBundle(JSON.stringify(stored))?.acme_fallbacks).toEqual(fallbacks);
    delete stored.acme_fallbacks;
    delete stored.acme_ca;
    const plain = parseBundle(JSON.stringify(stored));
    expect(plain?.acme_ca).toBeUndefined();
    expect(plain?.acme_fallbacks).toBeUndefined();
  });
});
