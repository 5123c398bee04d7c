import { type KeyType } from '../../rotation/certificate/key-types.js';
import { handshakeServername, tlsHandshakeCheck } from '../../rotation/x509/handshake.js';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, type CertificateBundle } from '../../rotation/certificate/bundle.js';
import { VerificationError, type VerificationCheckError, type CheckName } from '../../rotation/lib/errors.js';
import { issuingRoots, trustedRoots, verifyBundle, type VerifyOptions } from '../../rotation/x509/verify.js';
import { LIFETIME_POLICY_CODE, minRemainingFor } from '../../rotation/x509/static-checks.js';
import { normaliseDnsName } from '../../rotation/certificate/domains.js';
import { diffNames, formatDuration, parseSubjectAltName } from '../../rotation/x509/names.js';
import {
  CLIENT_AUTH,
  makeIntermediateCa,
  makeLeaf,
  makeRootCa,
  makeTestPki,
  pooledKey,
  type TestCa,
  type TestPki,
  type TestPkiOptions,
} from '../helpers/certs.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NAMES = ['example.com', 'www.example.com'];

/** Every private key PEM that went into a fixture, to prove no message ever quotes one. */
const keysUsed = new Set<string>();
const messagesSeen: string[] = [];

let root: TestCa;
let intermediate: TestCa;

beforeAll(() => {
  root = makeRootCa({ cn: 'verify-test Root' });
  intermediate = makeIntermediateCa(root, { cn: 'verify-test Intermediate' });
  keysUsed.add(root.keyPem).add(intermediate.keyPem);
});

afterAll(() => {
  // No thrown message quotes any key (PEM armour or base64 body).
  expect(messagesSeen.length).toBeGreaterThan(20);
  for (const msg of messagesSeen) {
    expect(msg).not.toMatch(/-----(BEGIN|END)/);
    for (const keyPem of keysUsed) {
      for (const line of keyPem.split('\n'))
        if (line.length >= 16 && !line.startsWith('-----')) expect(msg).not.toContain(line);
    }
  }
});

/** A PKI under the shared root (fresh leaf key). */
function pki(opts: Partial<TestPkiOptions> & { names?: string[] } = {}): TestPki {
  const p = makeTestPki({ names: NAMES, root, ...opts });
  keysUsed.add(p.leaf.keyPem);
  for (const c of p.intermediates) keysUsed.add(c.keyPem);
  return p;
}

function opts(p: { trustedRootsPem: string[] }, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return { expectedDomains: NAMES, expectedKeyType: 'ecdsa-p256', trustedRootsPem: p.trustedRootsPem, ...extra };
}

/** Expect verifyBundle to fail the named check with a message matching `detail`. */
async function expectFailure(
  promise: Promise<unknown>,
  check: CheckName,
  detail: string | RegExp,
): Promise<VerificationCheckError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected check "${check}" to fail`).toBeInstanceOf(VerificationError);
  const err = caught as VerificationCheckError;
  messagesSeen.push(err.message);
  expect(err.code).toBe('VerificationFailed');
  expect(err.name).toBe('VerificationError');
  expect(err.check).toBe(check);
  expect(err.message.startsWith(`Certificate check "${check}" failed: `)).toBe(true);
  if (typeof detail === 'string') expect(err.message).toContain(detail);
  else expect(err.message).toMatch(detail);
  return err;
}

const ALL_CHECKS = [
  'pem',
  'private-key',
  'key-match',
  'key-type',
  'san',
  'leaf-not-ca',
  'leaf-usage',
  'validity',
  'chain',
  'trust-anchor',
  'fullchain',
  'domains',
  'fields',
  'handshake',
];

describe('verifyBundle: valid bundles', () => {
  it.each<[KeyType]>([['ecdsa-p256'], ['ecdsa-p384'], ['rsa-2048']])(
    'accepts a %s bundle, handshake included',
    async (keyType) => {
      const p = pki({ keyType, key: pooledKey(keyType, 1) });
      const result = await verifyBundle(p.bundle, opts(p, { expectedKeyType: keyType }));
      expect(result).toEqual({ serial: p.bundle.serial, expiry: p.bundle.expiry, checks: ALL_CHECKS });
    },
  );

  it('accepts a wildcard certificate (the handshake uses a sample label)', async () => {
    const names = ['example.com', '*.example.com'];
    const p = pki({ names });
    const result = await verifyBundle(p.bundle, opts(p, { expectedDomains: names }));
    expect(result.checks).toContain('handshake');
    expect(handshakeServername('*.Example.com')).toBe('acme-rotation-check.example.com');
  });

  it('compares names case-insensitively, as sets, ignoring a trailing dot', async () => {
    const p = pki({ names: ['WWW.Example.com', 'example.com'], dnsNames: ['example.com', 'www.example.com'] });
    const result = await verifyBundle(
      p.bundle,
      opts(p, { expectedDomains: ['www.example.com.', 'EXAMPLE.com', 'example.com'] }),
    );
    expect(result.checks).toEqual(ALL_CHECKS);
  });

  it('accepts a leaf signed directly by the root (empty chain)', async () => {
    const p = pki({ intermediates: 0 });
    expect(p.bundle.chain).toBe('');
    expect((await verifyBundle(p.bundle, opts(p))).checks).toEqual(ALL_CHECKS);
  });

  it('accepts two intermediates, and a chain that ends in the trusted root itself', async () => {
    const p2 = pki({ intermediates: 2 });
    expect((await verifyBundle(p2.bundle, opts(p2))).checks).toEqual(ALL_CHECKS);
    const withRoot = pki({ includeRoot: true });
    expect((await verifyBundle(withRoot.bundle, opts(withRoot))).checks).toEqual(ALL_CHECKS);
  });

  it('accepts a notBefore slightly in the future, within the clock skew (handshake too)', async () => {
    const p = pki({ notBefore: new Date(Date.now() + 60_000) });
    expect((await verifyBundle(p.bundle, opts(p))).checks).toEqual(ALL_CHECKS);
  });

  it('trusts the roots in NODE_EXTRA_CA_CERTS without trustedRootsPem', async () => {
    const p = pki();
    const dir = mkdtempSync(join(tmpdir(), 'verify-test-'));
    const file = join(dir, 'extra-ca.pem');
    writeFileSync(file, `# test roots\n${makeRootCa().certPem}${root.certPem}`);
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    try {
      delete process.env.NODE_EXTRA_CA_CERTS;
      await expectFailure(
        verifyBundle(p.bundle, { expectedDomains: NAMES, expectedKeyType: 'ecdsa-p256' }),
        'trust-anchor',
        'the chain does not lead to a trusted root',
      );
      process.env.NODE_EXTRA_CA_CERTS = file;
      const result = await verifyBundle(p.bundle, { expectedDomains: NAMES, expectedKeyType: 'ecdsa-p256' });
      expect(result.checks).toEqual(ALL_CHECKS);
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skips the handshake when asked', async () => {
    const p = pki();
    const result = await verifyBundle(p.bundle, opts(p, { handshake: false }));
    expect(result.checks).toEqual(ALL_CHECKS.filter((c) => c !== 'handshake'));
  });

  it('accepts a seed-style bundle (expiry with +00:00, serial with colons)', async () => {
    const p = pki();
    const seedish: CertificateBundle = {
      ...p.bundle,
      expiry: p.bundle.expiry.replace('.000Z', '+00:00'),
      serial: p.bundle.serial.match(/../g)!.join(':').toLowerCase(),
    };
    expect((await verifyBundle(seedish, opts(p, { handshake: false }))).serial).toBe(p.bundle.serial);
  });
});

describe('verifyBundle: failures', () => {
  it('pem: the certificate does not parse', async () => {
    const p = pki();
    const garbage = `-----BEGIN CERTIFICATE-----\n${Buffer.from('this is not DER').toString('base64')}\n-----END CERTIFICATE-----\n`;
    await expectFailure(
      verifyBundle({ ...p.bundle, certificate: garbage }, opts(p)),
      'pem',
      'the leaf certificate does not parse as X.509',
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, certificate: '' }, opts(p)),
      'pem',
      'the certificate field holds no PEM certificate',
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, certificate: p.fullchainPem }, opts(p)),
      'pem',
      'the certificate field holds 2 certificates; it must hold only the leaf',
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, chain: garbage }, opts(p)),
      'pem',
      'chain certificate 1 does not parse as X.509',
    );
  });

  it('private-key: missing, not PKCS#8, encrypted, two keys, corrupt', async () => {
    const p = pki();
    const key = p.leaf.key;
    const sec1 = key.export({ type: 'sec1', format: 'pem' }).toString();
    const encrypted = key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString();
    const rsa = pooledKey('rsa-2048');
    const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' }).toString();
    keysUsed.add(sec1).add(encrypted).add(pkcs1);
    await expectFailure(
      verifyBundle({ ...p.bundle, private_key: '' }, opts(p)),
      'private-key',
      'the private_key field holds no PEM private key',
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, private_key: sec1 }, opts(p)),
      'private-key',
      'the private key is not PKCS#8: found a "EC PRIVATE KEY" block (SEC 1); expected "PRIVATE KEY"',
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, private_key: pkcs1 }, opts(p)),
      'private-key',
      'found a "RSA PRIVATE KEY" block (PKCS#1)',
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, private_key: encrypted }, opts(p)),
      'private-key',
      'the private key is encrypted PKCS#8',
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, private_key: p.bundle.private_key + p.bundle.private_key }, opts(p)),
      'private-key',
      'the private_key field holds 2 private keys; expected one',
    );
    const corrupt = p.bundle.private_key.replace(/\n[A-Za-z0-9+/]{8}/, '\nAAAAAAAA');
    await expectFailure(
      verifyBundle({ ...p.bundle, private_key: corrupt }, opts(p)),
      'private-key',
      'the private key does not parse as PKCS#8',
    );
  });

  it('key-match: the key belongs to another certificate', async () => {
    const p = pki();
    const other = pki();
    await expectFailure(
      verifyBundle({ ...p.bundle, private_key: other.bundle.private_key }, opts(p)),
      'key-match',
      "the private key (ecdsa-p256) does not match the leaf certificate's public key (ecdsa-p256)",
    );
    const rsa = pki({ keyType: 'rsa-2048', key: pooledKey('rsa-2048') });
    await expectFailure(
      verifyBundle({ ...p.bundle, private_key: rsa.bundle.private_key }, opts(p)),
      'key-match',
      "the private key (rsa-2048) does not match the leaf certificate's public key (ecdsa-p256)",
    );
  });

  it('key-type: the key is not the one the spec asks for', async () => {
    const p = pki();
    await expectFailure(
      verifyBundle(p.bundle, opts(p, { expectedKeyType: 'rsa-2048' })),
      'key-type',
      'the key is ecdsa-p256 but the spec asks for rsa-2048',
    );
    const p384 = pki({ keyType: 'ecdsa-p384' });
    await expectFailure(
      verifyBundle(p384.bundle, opts(p384)),
      'key-type',
      'the key is ecdsa-p384 but the spec asks for ecdsa-p256',
    );
    const rsa = pki({ keyType: 'rsa-2048', key: pooledKey('rsa-2048') });
    await expectFailure(
      verifyBundle(rsa.bundle, opts(rsa, { expectedKeyType: 'rsa-3072' })),
      'key-type',
      'the key is rsa-2048 but the spec asks for rsa-3072',
    );
  });

  it('san: a name is missing', async () => {
    const p = pki({ dnsNames: ['example.com'] });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'san',
      /SANs do not match the spec: missing www\.example\.com$/,
    );
  });

  it('san: an extra name is present', async () => {
    const p = pki({ dnsNames: [...NAMES, 'foo.example.com'] });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'san',
      /SANs do not match the spec: unexpected foo\.example\.com$/,
    );
  });

  it('san: missing and unexpected together, and non-DNS SANs', async () => {
    const p = pki({ dnsNames: ['example.com', 'foo.example.com'], ipAddresses: ['127.0.0.1'] });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'san',
      'SANs do not match the spec: missing www.example.com; unexpected foo.example.com, IP Address:127.0.0.1',
    );
  });

  it('san: no subjectAltName extension at all', async () => {
    const p = pki({ noSan: true, subjectCn: 'example.com' });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'san',
      'SANs do not match the spec: the certificate has no subjectAltName extension; missing example.com, www.example.com',
    );
  });

  it('san: a wildcard certificate does not satisfy a spec for a single name', async () => {
    const p = pki({ names: ['*.example.com'] });
    await expectFailure(
      verifyBundle(p.bundle, opts(p, { expectedDomains: ['www.example.com'] })),
      'san',
      'SANs do not match the spec: missing www.example.com; unexpected *.example.com',
    );
  });

  it('leaf-not-ca: the leaf says CA:TRUE', async () => {
    const p = pki({ ca: true });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'leaf-not-ca',
      'the leaf certificate is a CA (basicConstraints CA:TRUE)',
    );
  });

  it('leaf-usage: extendedKeyUsage without serverAuth', async () => {
    const p = pki({ eku: [CLIENT_AUTH] });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'leaf-usage',
      "the leaf's extendedKeyUsage (1.3.6.1.5.5.7.3.2) does not include serverAuth (1.3.6.1.5.5.7.3.1)",
    );
  });

  it('validity: expired', async () => {
    const notAfter = new Date(Date.now() - DAY);
    const p = pki({ notBefore: new Date(Date.now() - 40 * DAY), notAfter });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'validity',
      `the certificate expired at ${new Date(Math.floor(notAfter.getTime() / 1000) * 1000).toISOString()}`,
    );
  });

  it('validity: expires too soon', async () => {
    const now = new Date();
    const p = pki({ notBefore: new Date(now.getTime() - 30 * DAY), notAfter: new Date(now.getTime() + 2 * HOUR) });
    await expectFailure(
      verifyBundle(p.bundle, opts(p, { now })),
      'validity',
      /only 2 h from now; at least 24 h of remaining validity is required \(half its \S+ days lifetime, at most 24 h\)$/,
    );
    // ... but fine with a smaller minimum
    expect((await verifyBundle(p.bundle, opts(p, { now, minRemainingMs: HOUR }))).checks).toEqual(ALL_CHECKS);
  });

  it('validity: not yet valid', async () => {
    const now = new Date();
    const p = pki({ notBefore: new Date(now.getTime() + 2 * HOUR) });
    await expectFailure(
      verifyBundle(p.bundle, opts(p, { now })),
      'validity',
      /the certificate is not yet valid: notBefore \S+ is 2 h after now \(\S+\); allowed clock skew is 5 min$/,
    );
  });

  it('validity: empty window', async () => {
    const t = Date.now() - HOUR;
    const p = pki({ notBefore: new Date(t), notAfter: new Date(t - 1000) });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'validity',
      /the validity window is empty: notAfter \S+ is not after notBefore/,
    );
  });

  it("validity: no lifetime cap by default; a private CA's 5-year certificate passes", async () => {
    const p = pki({ notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 1825 * DAY) });
    expect((await verifyBundle(p.bundle, opts(p))).checks).toEqual(ALL_CHECKS);
  });

  it("lifetime-policy: an operator's cap refuses longer certificates with its own error code", async () => {
    const p = pki({ notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 399 * DAY) });
    const err = await verifyBundle(p.bundle, opts(p, { maxLifetimeMs: 398 * DAY })).then(
      () => undefined,
      (e: unknown) => e as VerificationCheckError,
    );
    expect(err).toBeInstanceOf(VerificationError);
    expect(err?.check).toBe('lifetime-policy');
    expect(err?.code).toBe(LIFETIME_POLICY_CODE);
    expect(err?.message).toMatch(
      /^Certificate check "lifetime-policy" failed: the certificate lifetime of 400 days exceeds MAX_CERTIFICATE_LIFETIME_DAYS \(398 days\); the CA issued it as configured: raise or unset MAX_CERTIFICATE_LIFETIME_DAYS/,
    );
    // Within the cap, the policy check runs and passes.
    const ok = pki({ notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 397 * DAY) });
    const checks = (await verifyBundle(ok.bundle, opts(ok, { handshake: false, maxLifetimeMs: 398 * DAY }))).checks;
    expect(checks).toContain('lifetime-policy');
    expect(checks.indexOf('lifetime-policy')).toBe(checks.indexOf('validity') + 1);
  });

  it('validity: the minimum remaining validity is half the lifetime, at most 24 h', () => {
    expect(minRemainingFor(90 * DAY)).toBe(24 * HOUR);
    expect(minRemainingFor(160 * HOUR)).toBe(24 * HOUR);
    expect(minRemainingFor(24 * HOUR)).toBe(12 * HOUR);
    expect(minRemainingFor(2 * HOUR)).toBe(HOUR);
  });

  it('validity: a fresh 24-hour certificate (step-ca style) and a 160-hour shortlived one verify', async () => {
    const now = Date.now();
    const day = pki({ notBefore: new Date(now - 60_000), notAfter: new Date(now - 60_000 + 24 * HOUR) });
    expect((await verifyBundle(day.bundle, opts(day))).checks).toEqual(ALL_CHECKS);
    const shortlived = pki({ notBefore: new Date(now - HOUR), notAfter: new Date(now - HOUR + 160 * HOUR) });
    expect((await verifyBundle(shortlived.bundle, opts(shortlived))).checks).toEqual(ALL_CHECKS);
  });

  it('validity: a 24-hour certificate past half its life fails, naming the scaled minimum', async () => {
    const now = Date.now();
    const old = pki({ notBefore: new Date(now - 14 * HOUR), notAfter: new Date(now + 10 * HOUR) });
    await expectFailure(
      verifyBundle(old.bundle, opts(old, { handshake: false })),
      'validity',
      /only 10 h from now; at least 12 h of remaining validity is required \(half its 24 h lifetime, at most 24 h\)$/,
    );
  });

  it('chain: the intermediate is from another CA', async () => {
    const p = pki();
    const stranger = makeIntermediateCa(root, { cn: 'verify-test Stranger' });
    const chain = stranger.certPem;
    await expectFailure(
      verifyBundle({ ...p.bundle, chain, fullchain: p.bundle.certificate + chain }, opts(p)),
      'chain',
      /the chain does not link: the leaf \(SAN example\.com, issuer O=acme-rotation tests, CN=acme-rotation Test Intermediate \d+\) is not issued by chain certificate 1 \(CN=verify-test Stranger\)/,
    );
  });

  it('chain: same issuer name, different key (the signature does not verify)', async () => {
    const p = pki({ root, authorityKeyId: false });
    const impostor = makeIntermediateCa(root, { cn: p.intermediates[0]!.name });
    const chain = impostor.certPem;
    await expectFailure(
      verifyBundle({ ...p.bundle, chain, fullchain: p.bundle.certificate + chain }, opts(p)),
      'chain',
      /the chain does not link: the signature of the leaf \(SAN example\.com\) does not verify with the key of chain certificate 1 \(CN=acme-rotation Test Intermediate \d+\)/,
    );
  });

  it('chain: intermediates in the wrong order', async () => {
    const p = pki({ intermediates: 2 });
    const [upper, lower] = p.intermediates;
    const chain = upper!.certPem + lower!.certPem;
    await expectFailure(
      verifyBundle({ ...p.bundle, chain, fullchain: p.bundle.certificate + chain }, opts(p)),
      'chain',
      'the chain does not link: the leaf',
    );
  });

  it('chain: an intermediate that is not a CA', async () => {
    const p = pki();
    const notCa = makeLeaf(intermediate, { dnsNames: ['ca.example'] });
    keysUsed.add(notCa.keyPem);
    const chain = notCa.certPem;
    await expectFailure(
      verifyBundle({ ...p.bundle, chain, fullchain: p.bundle.certificate + chain }, opts(p)),
      'chain',
      'chain certificate 1 (SAN ca.example) is not a CA certificate',
    );
  });

  it('chain: an expired intermediate', async () => {
    const old = makeIntermediateCa(root, {
      cn: 'verify-test Old',
      notBefore: new Date(Date.now() - 90 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const leaf = makeLeaf(old, { dnsNames: NAMES });
    keysUsed.add(leaf.keyPem);
    const bundle = buildBundle({
      certificatePem: leaf.certPem + old.certPem,
      privateKeyPem: leaf.keyPem,
      keyType: 'ecdsa-p256',
      domains: NAMES,
    });
    await expectFailure(
      verifyBundle(bundle, opts({ trustedRootsPem: [root.certPem] })),
      'chain',
      /chain certificate 1 \(CN=verify-test Old\) expired at /,
    );
  });

  it('trust-anchor: an untrusted root', async () => {
    const p = makeTestPki({ names: NAMES, root: makeRootCa({ cn: 'verify-test Untrusted Root' }) });
    keysUsed.add(p.leaf.keyPem);
    await expectFailure(
      verifyBundle(p.bundle, opts({ trustedRootsPem: [root.certPem] })),
      'trust-anchor',
      /the chain does not lead to a trusted root: chain certificate 1 \(CN=acme-rotation Test Intermediate \d+\) is issued by O=acme-rotation tests, CN=verify-test Untrusted Root, which is not among the \d+ trusted roots/,
    );
  });

  it('trust-anchor: the intermediate is missing from the chain', async () => {
    const p = pki();
    await expectFailure(
      verifyBundle({ ...p.bundle, chain: '', fullchain: p.bundle.certificate }, opts(p)),
      'trust-anchor',
      /the chain does not lead to a trusted root: the leaf \(SAN example\.com\) is issued by O=acme-rotation tests, CN=acme-rotation Test Intermediate \d+/,
    );
  });

  it('accepts a leaf alone when its intermediate is trusted along with the root (handshake included)', async () => {
    const p = pki();
    const leafOnly = { ...p.bundle, chain: '', fullchain: p.bundle.certificate };
    const result = await verifyBundle(leafOnly, {
      ...opts(p),
      trustedRootsPem: [...p.trustedRootsPem, p.bundle.chain],
    });
    expect(result.checks).toEqual(ALL_CHECKS);
  });

  it('trust-anchor: a self-signed "root" in the chain that is not trusted', async () => {
    const other = makeRootCa({ cn: 'verify-test Lookalike' });
    const p = makeTestPki({ names: NAMES, root: other, includeRoot: true });
    keysUsed.add(p.leaf.keyPem);
    await expectFailure(
      verifyBundle(p.bundle, opts({ trustedRootsPem: [root.certPem] })),
      'trust-anchor',
      'chain certificate 2 (CN=verify-test Lookalike) is issued by O=acme-rotation tests, CN=verify-test Lookalike',
    );
  });

  it('fullchain: not certificate + chain', async () => {
    const p = pki();
    await expectFailure(
      verifyBundle({ ...p.bundle, fullchain: p.bundle.certificate }, opts(p)),
      'fullchain',
      'fullchain is not certificate + chain: fullchain holds 1 certificates, certificate + chain hold 2',
    );
    const other = pki();
    await expectFailure(
      verifyBundle({ ...p.bundle, fullchain: other.bundle.certificate + p.bundle.chain }, opts(p)),
      'fullchain',
      'fullchain is not certificate + chain: certificate 1 of fullchain differs',
    );
  });

  it('fullchain: whitespace and line-end differences are fine', async () => {
    const p = pki();
    const crlf = p.bundle.fullchain.replace(/\n/g, '\r\n');
    expect((await verifyBundle({ ...p.bundle, fullchain: crlf }, opts(p, { handshake: false }))).checks).toContain(
      'fullchain',
    );
  });

  it("domains: the bundle's domains field is not the spec", async () => {
    const p = pki({ names: ['example.com', 'old.example.com'], dnsNames: NAMES });
    await expectFailure(
      verifyBundle(p.bundle, opts(p)),
      'domains',
      "the bundle's domains do not match the spec: missing www.example.com; unexpected old.example.com",
    );
  });

  it('fields: expiry, serial, not_before, fingerprint or key_type disagree with the certificate', async () => {
    const p = pki();
    await expectFailure(
      verifyBundle({ ...p.bundle, expiry: '2099-01-01T00:00:00.000Z' }, opts(p)),
      'fields',
      `the bundle's fields do not match the certificate: expiry "2099-01-01T00:00:00.000Z" is not the certificate's notAfter ${p.bundle.expiry}`,
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, serial: '01' }, opts(p)),
      'fields',
      `serial "01" is not the certificate's serial ${p.bundle.serial}`,
    );
    await expectFailure(verifyBundle({ ...p.bundle, expiry: 'soon' }, opts(p)), 'fields', 'expiry "soon" is not');
    await expectFailure(
      verifyBundle({ ...p.bundle, not_before: '2020-01-01T00:00:00Z' }, opts(p)),
      'fields',
      'not_before "2020-01-01T00:00:00Z" is not',
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, fingerprint_sha256: 'AB' }, opts(p)),
      'fields',
      "fingerprint_sha256 is not the certificate's fingerprint",
    );
    await expectFailure(
      verifyBundle({ ...p.bundle, key_type: 'ecdsa-p384' }, opts(p)),
      'fields',
      `key_type "ecdsa-p384" is not the spec's ecdsa-p256`,
    );
  });

  it('handshake: fails where only a real TLS client notices (path length exceeded)', async () => {
    const constrained = makeIntermediateCa(root, { cn: 'verify-test PathLen0', pathLen: 0 });
    const below = makeIntermediateCa(constrained, { cn: 'verify-test Below' });
    const leaf = makeLeaf(below, { dnsNames: NAMES });
    keysUsed.add(leaf.keyPem).add(constrained.keyPem).add(below.keyPem);
    const bundle = buildBundle({
      certificatePem: leaf.certPem + below.certPem + constrained.certPem,
      privateKeyPem: leaf.keyPem,
      keyType: 'ecdsa-p256',
      domains: NAMES,
    });
    const o = opts({ trustedRootsPem: [root.certPem] });
    expect((await verifyBundle(bundle, { ...o, handshake: false })).checks).toContain('fields');
    await expectFailure(
      verifyBundle(bundle, o),
      'handshake',
      'TLS handshake failed for 2 of 2 name(s): example.com: the client does not trust the chain: PATH_LENGTH_EXCEEDED; www.example.com: the client does not trust the chain: PATH_LENGTH_EXCEEDED',
    );
  });
});

describe('issuingRoots (the handshake client trusts only the roots that can issue the path)', () => {
  it('keeps the roots named as an issuer in the path, whatever the case or spacing, and only those', () => {
    const other = makeRootCa({ cn: 'verify-test Other Root' });
    const p = pki({ intermediates: 1 });
    const roots = trustedRoots([other.certPem, ...p.trustedRootsPem]);
    expect(roots.pems.length).toBeGreaterThan(100); // Node's store, the two test roots
    const path = [p.bundle.certificate, p.bundle.chain].map((pem) => new X509Certificate(pem));
    expect(issuingRoots(roots, path)).toEqual(p.trustedRootsPem.map((pem) => pem.trim() + '\n'));
    // OpenSSL matches names canonically: a differently spelled issuer still finds its root.
    const spelled = { issuer: path[1]!.issuer.toUpperCase().replace(/ /g, '  ') } as X509Certificate;
    expect(issuingRoots(roots, [spelled])).toHaveLength(1);
    // A trusted intermediate climbs on to its own root (OpenSSL does not stop at a non-self-signed anchor).
    const leafOnly = [new X509Certificate(p.bundle.certificate)];
    const withIntermediate = trustedRoots([other.certPem, p.bundle.chain, ...p.trustedRootsPem]);
    expect(issuingRoots(withIntermediate, leafOnly)).toHaveLength(2);
    // No root issues it (the static checks fail such a bundle first): the whole store, not none.
    expect(issuingRoots(roots, [{ issuer: 'CN=nobody' } as X509Certificate])).toBe(roots.pems);
  });
});

describe('tlsHandshakeCheck', () => {
  function activeNetHandles(): number {
    return process.getActiveResourcesInfo().filter((r) => /TCP|TLS|Pipe/.test(r)).length;
  }

  async function settle(): Promise<number> {
    await new Promise((r) => setTimeout(r, 20));
    return activeNetHandles();
  }

  it('passes for every name with the right trust, and leaves nothing open', async () => {
    const p = pki({ names: ['example.com', '*.example.com'] });
    const before = await settle();
    await tlsHandshakeCheck({
      keyPem: p.bundle.private_key,
      certChainPem: p.fullchainPem,
      names: p.bundle.domains,
      caPems: [root.certPem],
    });
    expect(await settle()).toBe(before);
  });

  it('fails when the client does not trust the root, and still closes everything', async () => {
    const p = pki();
    const before = await settle();
    await expectFailure(
      tlsHandshakeCheck({
        keyPem: p.bundle.private_key,
        certChainPem: p.fullchainPem,
        names: ['example.com'],
        caPems: [makeRootCa().certPem],
      }),
      'handshake',
      'TLS handshake failed for 1 of 1 name(s): example.com: the client does not trust the chain: UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    );
    expect(await settle()).toBe(before);
  });

  it('fails the identity check for a name the certificate does not cover', async () => {
    const p = pki({ names: ['www.example.com'] });
    await expectFailure(
      tlsHandshakeCheck({
        keyPem: p.bundle.private_key,
        certChainPem: p.fullchainPem,
        names: ['www.example.com', 'other.example.com', '*.example.com'],
        caPems: [root.certPem],
      }),
      'handshake',
      /^Certificate check "handshake" failed: TLS handshake failed for 2 of 3 name\(s\): other\.example\.com: identity check failed: Hostname\/IP does not match certificate's altnames: Host: other\.example\.com\. is not in the cert's altnames: DNS:www\.example\.com; \*\.example\.com \(as acme-rotation-check\.example\.com\): identity check failed: /,
    );
  });

  it('fails when the server cannot load a mismatched key', async () => {
    const p = pki();
    const other = pki();
    await expectFailure(
      tlsHandshakeCheck({
        keyPem: other.bundle.private_key,
        certChainPem: p.fullchainPem,
        names: ['example.com'],
        caPems: [root.certPem],
      }),
      'handshake',
      'the TLS server cannot load the key and certificate: ',
    );
  });

  it('is time-bounded', async () => {
    const p = pki({
      keyType: 'rsa-2048',
      key: pooledKey('rsa-2048'),
      names: Array.from({ length: 10 }, (_, i) => `n${i}.example.com`),
    });
    const before = await settle();
    const started = Date.now();
    await expectFailure(
      tlsHandshakeCheck({
        keyPem: p.bundle.private_key,
        certChainPem: p.fullchainPem,
        names: p.bundle.domains,
        caPems: [root.certPem],
        timeoutMs: 0,
      }),
      'handshake',
      /no TLS handshake within 0 ms/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await settle()).toBe(before);
  });
});

describe('name helpers', () => {
  it('normalises names', () => {
    expect(normaliseDnsName(' WWW.Example.COM. ')).toBe('www.example.com');
    expect(normaliseDnsName('*.Bücher.example')).toBe('*.xn--bcher-kva.example');
  });

  it('diffs name sets', () => {
    expect(diffNames(['a.example', 'B.example', 'a.example'], ['b.example', 'c.example'])).toEqual({
      missing: ['a.example'],
      unexpected: ['c.example'],
    });
  });

  it("parses Node's subjectAltName strings, quoted entries included", () => {
    expect(parseSubjectAltName('DNS:a.example, DNS:*.b.example, IP Address:1.2.3.4')).toEqual({
      dns: ['a.example', '*.b.example'],
      other: ['IP Address:1.2.3.4'],
    });
    expect(parseSubjectAltName('DNS:"evil.example, DNS:good.example", DNS:x.example')).toEqual({
      dns: ['evil.example, DNS:good.example', 'x.example'],
      other: [],
    });
    expect(parseSubjectAltName(undefined)).toEqual({ dns: [], other: [] });
  });

  it('formats durations', () => {
    expect(formatDuration(2 * HOUR)).toBe('2 h');
    expect(formatDuration(400 * DAY)).toBe('400 days');
    expect(formatDuration(5 * 60_000)).toBe('5 min');
    expect(formatDuration(1500)).toBe('1.5 s');
  });
});
