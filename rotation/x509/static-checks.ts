/**
 * Static (offline) checks of a certificate bundle for testSecret: PEM, key, key type, SANs,
 * leaf constraints, validity window, chain links, trust anchor, fullchain, bundle fields.
 * STATIC_CHECKS lists them by name, in the order they run; each is a function of what the earlier
 * ones read (Facts). Each failure throws a VerificationCheckError naming the check; messages never
 * carry key material.
 */
import { type KeyType } from '../certificate/key-types.js';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import {
  certNotAfter,
  certNotBefore,
  describeKey,
  fingerprintOf,
  keyTypeOf,
  normaliseSerial,
  oneLineDn,
  splitPemCertificates,
  type CertificateBundle,
} from '../certificate/bundle.js';
import { VerificationCheckError, type CheckName } from '../lib/errors.js';
import { basicConstraintsCa, OID_EKU_ANY, OID_EKU_SERVER_AUTH } from './extensions.js';
import { describeCert, describeDiff, diffNames, formatDuration, parseSubjectAltName } from './names.js';

function fail(check: CheckName, detail: string, cause?: unknown): never {
  throw new VerificationCheckError(check, detail, cause === undefined ? undefined : { cause });
}

/**
 * Error code of the lifetime cap (MAX_CERTIFICATE_LIFETIME_DAYS): the certificate is sound, the
 * operator's policy refuses it, so it is told apart from VerificationFailed.
 */
export const LIFETIME_POLICY_CODE = 'CertificateLifetimePolicy';

/**
 * The remaining validity a pending certificate must still have, from its own lifetime: half of it,
 * at most 24 h. A 90-day or a 6-day certificate needs 24 h; a 24-hour certificate (a private CA's
 * short-lived one) needs 12 h, which one fresh from the CA has, where a fixed 24 h never could be met.
 */
export function minRemainingFor(lifetimeMs: number): number {
  return Math.min(24 * 3_600_000, lifetimeMs / 2);
}

function position(i: number): string {
  return i === 0 ? 'the leaf' : `chain certificate ${i}`;
}

const KEY_BLOCK_RE = /-----BEGIN ([A-Z0-9 ]*?) ?PRIVATE KEY-----/g;

export interface StaticCheckInput {
  bundle: CertificateBundle;
  expectedDomains: string[];
  expectedKeyType: KeyType;
  now: Date;
  trustedRoots: X509Certificate[];
  /** Minimum remaining validity; default minRemainingFor(the certificate's lifetime). */
  minRemainingMs?: number;
  maxClockSkewMs: number;
  /**
   * The operator's cap on the lifetime (MAX_CERTIFICATE_LIFETIME_DAYS); none by default: the CA
   * chosen sets the lifetime (a private CA may issue for years; 398 days binds public CAs only).
   */
  maxLifetimeMs?: number;
}

export interface StaticCheckResult {
  leaf: X509Certificate;
  /** Intermediates, in order. */
  chain: X509Certificate[];
  privateKey: KeyObject;
  checks: CheckName[];
}

function parseCerts(pems: string[], what: (i: number) => string): X509Certificate[] {
  return pems.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      return fail('pem', `${what(i)} does not parse as X.509`, err);
    }
  });
}

/** The bundle's certificates, as the pem check reads them. */
interface Certificates {
  leafBlocks: string[];
  chainBlocks: string[];
  fullchainBlocks: string[];
  leaf: X509Certificate;
  /** Intermediates, in order. */
  chain: X509Certificate[];
  /** The leaf, then the intermediates. */
  path: X509Certificate[];
}

/** The pem check: the certificate fields hold parsable certificates. */
function readCertificates(bundle: CertificateBundle): Certificates {
  if (!bundle || typeof bundle.certificate !== 'string') fail('pem', 'the bundle has no certificate field');
  const leafBlocks = splitPemCertificates(bundle.certificate);
  if (leafBlocks.length === 0) fail('pem', 'the certificate field holds no PEM certificate');
  if (leafBlocks.length > 1) {
    fail('pem', `the certificate field holds ${leafBlocks.length} certificates; it must hold only the leaf`);
  }
  const leaf = parseCerts(leafBlocks, () => 'the leaf certificate')[0] as X509Certificate;
  const chainBlocks = splitPemCertificates(typeof bundle.chain === 'string' ? bundle.chain : '');
  const chain = parseCerts(chainBlocks, (i) => `chain certificate ${i + 1}`);
  const fullchainBlocks = splitPemCertificates(typeof bundle.fullchain === 'string' ? bundle.fullchain : '');
  parseCerts(fullchainBlocks, (i) => `fullchain certificate ${i + 1}`);
  return { leafBlocks, chainBlocks, fullchainBlocks, leaf, chain, path: [leaf, ...chain] };
}

/** The private-key check: exactly one unencrypted PKCS#8 key that parses. */
function readPrivateKey(bundle: CertificateBundle): KeyObject {
  const keyText = typeof bundle.private_key === 'string' ? bundle.private_key : '';
  const labels = [...keyText.matchAll(KEY_BLOCK_RE)].map((m) => (m[1] ?? '').trim());
  if (labels.length === 0) fail('private-key', 'the private_key field holds no PEM private key');
  if (labels.length > 1) fail('private-key', `the private_key field holds ${labels.length} private keys; expected one`);
  const label = labels[0] as string;
  if (label === 'ENCRYPTED') {
    fail(
      'private-key',
      'the private key is encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY"); an unencrypted PKCS#8 key is required',
    );
  }
  if (label !== '') {
    const kind = label === 'RSA' ? 'PKCS#1' : label === 'EC' ? 'SEC 1' : 'a legacy format';
    fail(
      'private-key',
      `the private key is not PKCS#8: found a "${label} PRIVATE KEY" block (${kind}); expected "PRIVATE KEY"`,
    );
  }
  try {
    return createPrivateKey({ key: keyText, format: 'pem' });
  } catch (err) {
    // The cause is OpenSSL's decoder error, which never quotes the key.
    return fail('private-key', 'the private key does not parse as PKCS#8', err);
  }
}

/** The leaf's validity window. */
interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
  nb: number;
  na: number;
  /** RFC 5280 validity is inclusive of both ends, hence the extra second. */
  lifetimeMs: number;
}

/**
 * Walking up from the leaf, the index of the last certificate to check: the one a trusted root
 * signed, or the one below a trusted root the chain carries; -1 when the chain reaches no root.
 */
function findAnchor(path: X509Certificate[], trustedRoots: X509Certificate[]): number {
  const trustedFingerprints = new Set(trustedRoots.map((r) => r.fingerprint256));
  for (let i = 0; i < path.length; i++) {
    const cert = path[i] as X509Certificate;
    if (i > 0 && trustedFingerprints.has(cert.fingerprint256)) return i - 1; // cert itself is the root
    for (const root of trustedRoots) {
      if (cert.checkIssued(root) && cert.verify(root.publicKey)) return i;
    }
  }
  return -1;
}

/**
 * What the checks read from the bundle, each piece read once, by the first check that needs it.
 * The checks run in order, so the certificates are read by the pem check and the key by the
 * private-key check, and a failure to read them is named after those checks.
 */
class Facts {
  readonly nowMs: number;
  private certs?: Certificates;
  private key?: KeyObject;
  private validity?: ValidityWindow;
  private anchor?: number;

  constructor(readonly input: StaticCheckInput) {
    this.nowMs = input.now.getTime();
  }

  get bundle(): CertificateBundle {
    return this.input.bundle;
  }

  get certificates(): Certificates {
    return (this.certs ??= readCertificates(this.input.bundle));
  }

  get leaf(): X509Certificate {
    return this.certificates.leaf;
  }

  get privateKey(): KeyObject {
    return (this.key ??= readPrivateKey(this.input.bundle));
  }

  get window(): ValidityWindow {
    if (!this.validity) {
      const notBefore = certNotBefore(this.leaf);
      const notAfter = certNotAfter(this.leaf);
      const nb = notBefore.getTime();
      const na = notAfter.getTime();
      this.validity = { notBefore, notAfter, nb, na, lifetimeMs: na - nb + 1000 };
    }
    return this.validity;
  }

  /** findAnchor over the leaf and the chain. */
  get anchorAt(): number {
    return (this.anchor ??= findAnchor(this.certificates.path, this.input.trustedRoots));
  }
}

function keyMatch(f: Facts): void {
  if (!f.leaf.checkPrivateKey(f.privateKey)) {
    fail(
      'key-match',
      `the private key (${describeKey(f.privateKey)}) does not match the leaf certificate's public key (${describeKey(f.leaf.publicKey)})`,
    );
  }
}

function keyType(f: Facts): void {
  const actualType = keyTypeOf(f.privateKey);
  if (actualType !== f.input.expectedKeyType) {
    fail(
      'key-type',
      `the key is ${actualType ?? describeKey(f.privateKey)} but the spec asks for ${f.input.expectedKeyType}`,
    );
  }
}

function subjectAltNames(f: Facts): void {
  const san = parseSubjectAltName(f.leaf.subjectAltName);
  const sanDiff = diffNames(f.input.expectedDomains, san.dns);
  const unexpectedOther = san.other;
  if (!f.leaf.subjectAltName) {
    fail(
      'san',
      `SANs do not match the spec: the certificate has no subjectAltName extension; ${describeDiff(sanDiff)}`,
    );
  }
  if (sanDiff.missing.length || sanDiff.unexpected.length || unexpectedOther.length) {
    fail(
      'san',
      `SANs do not match the spec: ${describeDiff({ missing: sanDiff.missing, unexpected: [...sanDiff.unexpected, ...unexpectedOther] })}`,
    );
  }
}

function leafNotCa(f: Facts): void {
  if (f.leaf.ca || basicConstraintsCa(f.leaf) === true)
    fail('leaf-not-ca', 'the leaf certificate is a CA (basicConstraints CA:TRUE); a server certificate is required');
}

/** If extendedKeyUsage is present it must allow TLS server authentication. */
function leafUsage(f: Facts): void {
  // X509Certificate#keyUsage is Node's name for the extended key usage OIDs.
  const eku = f.leaf.keyUsage;
  if (eku !== undefined && !eku.includes(OID_EKU_SERVER_AUTH) && !eku.includes(OID_EKU_ANY)) {
    fail(
      'leaf-usage',
      `the leaf's extendedKeyUsage (${eku.join(', ') || 'empty'}) does not include serverAuth (${OID_EKU_SERVER_AUTH})`,
    );
  }
}

function validity(f: Facts): void {
  const { input, nowMs } = f;
  const { now } = input;
  const { notBefore, notAfter, nb, na, lifetimeMs } = f.window;
  if (Number.isNaN(nb) || Number.isNaN(na)) fail('validity', 'the leaf validity dates do not parse');
  if (na <= nb) {
    fail(
      'validity',
      `the validity window is empty: notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`,
    );
  }
  if (nb > nowMs + input.maxClockSkewMs) {
    fail(
      'validity',
      `the certificate is not yet valid: notBefore ${notBefore.toISOString()} is ${formatDuration(nb - nowMs)} after now (${now.toISOString()}); allowed clock skew is ${formatDuration(input.maxClockSkewMs)}`,
    );
  }
  if (na <= nowMs) fail('validity', `the certificate expired at ${notAfter.toISOString()} (now ${now.toISOString()})`);
  const minRemainingMs = input.minRemainingMs ?? minRemainingFor(lifetimeMs);
  if (na - nowMs < minRemainingMs) {
    fail(
      'validity',
      `the certificate expires at ${notAfter.toISOString()}, only ${formatDuration(na - nowMs)} from now; at least ${formatDuration(minRemainingMs)} of remaining validity is required` +
        (input.minRemainingMs === undefined ? ` (half its ${formatDuration(lifetimeMs)} lifetime, at most 24 h)` : ''),
    );
  }
}

/** The operator's cap on the lifetime, when one is set (the table runs this check only then). */
function lifetimePolicy(f: Facts): void {
  const { lifetimeMs } = f.window;
  const maxLifetimeMs = f.input.maxLifetimeMs;
  if (maxLifetimeMs !== undefined && lifetimeMs > maxLifetimeMs + 1000) {
    throw new VerificationCheckError(
      'lifetime-policy',
      `the certificate lifetime of ${formatDuration(lifetimeMs)} exceeds MAX_CERTIFICATE_LIFETIME_DAYS (${formatDuration(maxLifetimeMs)}); ` +
        'the CA issued it as configured: raise or unset MAX_CERTIFICATE_LIFETIME_DAYS, or ask the CA for shorter certificates (acme:profile)',
      { code: LIFETIME_POLICY_CODE },
    );
  }
}

/** Each certificate is issued by the next, by name and by signature; issuers are CAs. */
function chainLinks(f: Facts): void {
  const { path } = f.certificates;
  for (let i = 0; i + 1 < path.length; i++) {
    const child = path[i] as X509Certificate;
    const parent = path[i + 1] as X509Certificate;
    if (!parent.ca) fail('chain', `${position(i + 1)} (${describeCert(parent)}) is not a CA certificate`);
    if (!child.checkIssued(parent)) {
      fail(
        'chain',
        `the chain does not link: ${position(i)} (${describeCert(child)}, issuer ${oneLineDn(child.issuer)}) is not issued by ${position(i + 1)} (${describeCert(parent)})`,
      );
    }
    if (!child.verify(parent.publicKey)) {
      fail(
        'chain',
        `the chain does not link: the signature of ${position(i)} (${describeCert(child)}) does not verify with the key of ${position(i + 1)} (${describeCert(parent)})`,
      );
    }
  }
  // Intermediates up to the anchor must be within their validity (the handshake would fail too,
  // with a less precise message).
  const { anchorAt, nowMs, input } = f;
  for (let i = 1; i < path.length && (anchorAt < 0 || i <= anchorAt); i++) {
    const cert = path[i] as X509Certificate;
    const cNb = certNotBefore(cert).getTime();
    const cNa = certNotAfter(cert).getTime();
    if (cNa <= nowMs)
      fail('chain', `${position(i)} (${describeCert(cert)}) expired at ${certNotAfter(cert).toISOString()}`);
    if (cNb > nowMs + input.maxClockSkewMs) {
      fail('chain', `${position(i)} (${describeCert(cert)}) is not valid before ${certNotBefore(cert).toISOString()}`);
    }
  }
}

/** Walking up from the leaf, some certificate is a trusted root or is signed by one. */
function trustAnchor(f: Facts): void {
  if (f.anchorAt >= 0) return;
  const { path } = f.certificates;
  const last = path[path.length - 1] as X509Certificate;
  fail(
    'trust-anchor',
    `the chain does not lead to a trusted root: ${position(path.length - 1)} (${describeCert(last)}) is issued by ${oneLineDn(last.issuer) || '(empty name)'}, which is not among the ${f.input.trustedRoots.length} trusted roots`,
  );
}

/** fullchain = certificate + chain, compared block by block, whitespace-insensitive. */
function fullchain(f: Facts): void {
  const { leafBlocks, chainBlocks, fullchainBlocks } = f.certificates;
  const expectedFull = [...leafBlocks, ...chainBlocks];
  if (fullchainBlocks.length !== expectedFull.length) {
    fail(
      'fullchain',
      `fullchain is not certificate + chain: fullchain holds ${fullchainBlocks.length} certificates, certificate + chain hold ${expectedFull.length}`,
    );
  }
  fullchainBlocks.forEach((block, i) => {
    if (block !== expectedFull[i]) {
      fail('fullchain', `fullchain is not certificate + chain: certificate ${i + 1} of fullchain differs`);
    }
  });
}

/** The bundle's domains field names the spec's names. */
function domains(f: Facts): void {
  const { bundle } = f;
  if (!Array.isArray(bundle.domains)) fail('domains', 'the bundle has no domains array');
  const domDiff = diffNames(f.input.expectedDomains, bundle.domains);
  if (domDiff.missing.length || domDiff.unexpected.length) {
    fail('domains', `the bundle's domains do not match the spec: ${describeDiff(domDiff)}`);
  }
}

/** Stored metadata agrees with the certificate. */
function fields(f: Facts): void {
  const { bundle, leaf, input } = f;
  const { notBefore, notAfter } = f.window;
  const problems: string[] = [];
  const sameInstant = (stored: unknown, actual: Date): boolean =>
    typeof stored === 'string' && Date.parse(stored) === actual.getTime();
  if (!sameInstant(bundle.expiry, notAfter)) {
    problems.push(
      `expiry ${JSON.stringify(bundle.expiry)} is not the certificate's notAfter ${notAfter.toISOString()}`,
    );
  }
  if (bundle.not_before !== undefined && !sameInstant(bundle.not_before, notBefore)) {
    problems.push(
      `not_before ${JSON.stringify(bundle.not_before)} is not the certificate's notBefore ${notBefore.toISOString()}`,
    );
  }
  const serial = normaliseSerial(leaf.serialNumber);
  if (typeof bundle.serial !== 'string' || normaliseSerial(bundle.serial) !== serial) {
    problems.push(`serial ${JSON.stringify(bundle.serial)} is not the certificate's serial ${serial}`);
  }
  const fp = fingerprintOf(leaf);
  if (
    bundle.fingerprint_sha256 !== undefined &&
    String(bundle.fingerprint_sha256).replace(/:/g, '').toUpperCase() !== fp
  ) {
    problems.push(`fingerprint_sha256 is not the certificate's fingerprint ${fp}`);
  }
  if (bundle.key_type !== input.expectedKeyType) {
    problems.push(`key_type ${JSON.stringify(bundle.key_type)} is not the spec's ${input.expectedKeyType}`);
  }
  if (problems.length) fail('fields', `the bundle's fields do not match the certificate: ${problems.join('; ')}`);
}

/** One static check: its name (the one its failure carries) and what it does. */
interface StaticCheck {
  id: Exclude<CheckName, 'handshake'>;
  run: (f: Facts) => void;
  /** When present, the check runs only if this says so. */
  applies?: (input: StaticCheckInput) => boolean;
}

/** The static checks, in the order they run: each relies on the ones before it having passed. */
const STATIC_CHECKS: readonly StaticCheck[] = [
  { id: 'pem', run: (f) => void f.certificates },
  { id: 'private-key', run: (f) => void f.privateKey },
  { id: 'key-match', run: keyMatch },
  { id: 'key-type', run: keyType },
  { id: 'san', run: subjectAltNames },
  { id: 'leaf-not-ca', run: leafNotCa },
  { id: 'leaf-usage', run: leafUsage },
  { id: 'validity', run: validity },
  { id: 'lifetime-policy', run: lifetimePolicy, applies: (input) => input.maxLifetimeMs !== undefined },
  { id: 'chain', run: chainLinks },
  { id: 'trust-anchor', run: trustAnchor },
  { id: 'fullchain', run: fullchain },
  { id: 'domains', run: domains },
  { id: 'fields', run: fields },
];

/** Run every static check in order; throws at the first failure. */
export function runStaticChecks(input: StaticCheckInput): StaticCheckResult {
  const facts = new Facts(input);
  const checks: CheckName[] = [];
  for (const check of STATIC_CHECKS) {
    if (check.applies && !check.applies(input)) continue;
    check.run(facts);
    checks.push(check.id);
  }
  return { leaf: facts.leaf, chain: facts.certificates.chain, privateKey: facts.privateKey, checks };
}
