/**
 * Static (offline) checks of a certificate bundle for testSecret: PEM, key, key type, SANs,
 * leaf constraints, validity window, chain links, trust anchor, fullchain, bundle fields.
 * Each failure throws a VerificationCheckError naming the check; messages never carry key material.
 */
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
  type KeyType,
} from '../bundle.js';
import { VerificationCheckError, type CheckName } from '../errors.js';
import { basicConstraintsCa } from '../x509/extensions.js';
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
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';
const ANY_EKU_OID = '2.5.29.37.0';

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

/** Run every static check in order; throws at the first failure. */
export function runStaticChecks(input: StaticCheckInput): StaticCheckResult {
  const { bundle, now } = input;
  const checks: CheckName[] = [];
  const nowMs = now.getTime();

  // --- pem: the certificate fields hold parsable certificates.
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
  checks.push('pem');

  // --- private-key: exactly one unencrypted PKCS#8 key that parses.
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
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: keyText, format: 'pem' });
  } catch (err) {
    // The cause is OpenSSL's decoder error, which never quotes the key.
    return fail('private-key', 'the private key does not parse as PKCS#8', err);
  }
  checks.push('private-key');

  // --- key-match
  if (!leaf.checkPrivateKey(privateKey)) {
    fail(
      'key-match',
      `the private key (${describeKey(privateKey)}) does not match the leaf certificate's public key (${describeKey(leaf.publicKey)})`,
    );
  }
  checks.push('key-match');

  // --- key-type
  const actualType = keyTypeOf(privateKey);
  if (actualType !== input.expectedKeyType) {
    fail(
      'key-type',
      `the key is ${actualType ?? describeKey(privateKey)} but the spec asks for ${input.expectedKeyType}`,
    );
  }
  checks.push('key-type');

  // --- san
  const san = parseSubjectAltName(leaf.subjectAltName);
  const sanDiff = diffNames(input.expectedDomains, san.dns);
  const unexpectedOther = san.other;
  if (!leaf.subjectAltName) {
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
  checks.push('san');

  // --- leaf-not-ca
  if (leaf.ca || basicConstraintsCa(leaf) === true)
    fail('leaf-not-ca', 'the leaf certificate is a CA (basicConstraints CA:TRUE); a server certificate is required');
  checks.push('leaf-not-ca');

  // --- leaf-usage: if extendedKeyUsage is present it must allow TLS server authentication.
  // (X509Certificate#keyUsage is Node's name for the extended key usage OIDs.)
  const eku = leaf.keyUsage;
  if (eku !== undefined && !eku.includes(SERVER_AUTH_OID) && !eku.includes(ANY_EKU_OID)) {
    fail(
      'leaf-usage',
      `the leaf's extendedKeyUsage (${eku.join(', ') || 'empty'}) does not include serverAuth (${SERVER_AUTH_OID})`,
    );
  }
  checks.push('leaf-usage');

  // --- validity
  const notBefore = certNotBefore(leaf);
  const notAfter = certNotAfter(leaf);
  const nb = notBefore.getTime();
  const na = notAfter.getTime();
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
  // RFC 5280 validity is inclusive of both ends, hence the extra second.
  const lifetimeMs = na - nb + 1000;
  const minRemainingMs = input.minRemainingMs ?? minRemainingFor(lifetimeMs);
  if (na - nowMs < minRemainingMs) {
    fail(
      'validity',
      `the certificate expires at ${notAfter.toISOString()}, only ${formatDuration(na - nowMs)} from now; at least ${formatDuration(minRemainingMs)} of remaining validity is required` +
        (input.minRemainingMs === undefined ? ` (half its ${formatDuration(lifetimeMs)} lifetime, at most 24 h)` : ''),
    );
  }
  checks.push('validity');

  // --- lifetime-policy: only when the operator set a cap.
  if (input.maxLifetimeMs !== undefined) {
    if (lifetimeMs > input.maxLifetimeMs + 1000) {
      throw new VerificationCheckError(
        'lifetime-policy',
        `the certificate lifetime of ${formatDuration(lifetimeMs)} exceeds MAX_CERTIFICATE_LIFETIME_DAYS (${formatDuration(input.maxLifetimeMs)}); ` +
          'the CA issued it as configured: raise or unset MAX_CERTIFICATE_LIFETIME_DAYS, or ask the CA for shorter certificates (acme:profile)',
        { code: LIFETIME_POLICY_CODE },
      );
    }
    checks.push('lifetime-policy');
  }

  // --- chain: each certificate is issued by the next, by name and by signature; issuers are CAs.
  const path = [leaf, ...chain];
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

  // --- trust-anchor: walking up from the leaf, some certificate is a trusted root or is signed by one.
  const trustedFingerprints = new Set(input.trustedRoots.map((r) => r.fingerprint256));
  let anchorAt = -1;
  for (let i = 0; i < path.length && anchorAt < 0; i++) {
    const cert = path[i] as X509Certificate;
    if (i > 0 && trustedFingerprints.has(cert.fingerprint256)) {
      anchorAt = i - 1; // cert itself is the root; the previous one is the last to check
      break;
    }
    for (const root of input.trustedRoots) {
      if (cert.checkIssued(root) && cert.verify(root.publicKey)) {
        anchorAt = i;
        break;
      }
    }
  }
  // Intermediates up to the anchor must be within their validity (the handshake would fail too,
  // with a less precise message).
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
  checks.push('chain');

  if (anchorAt < 0) {
    const last = path[path.length - 1] as X509Certificate;
    fail(
      'trust-anchor',
      `the chain does not lead to a trusted root: ${position(path.length - 1)} (${describeCert(last)}) is issued by ${oneLineDn(last.issuer) || '(empty name)'}, which is not among the ${input.trustedRoots.length} trusted roots`,
    );
  }
  checks.push('trust-anchor');

  // --- fullchain = certificate + chain (compared block by block, whitespace-insensitive).
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
  checks.push('fullchain');

  // --- domains: the bundle's domains field names the spec's names.
  if (!Array.isArray(bundle.domains)) fail('domains', 'the bundle has no domains array');
  const domDiff = diffNames(input.expectedDomains, bundle.domains);
  if (domDiff.missing.length || domDiff.unexpected.length) {
    fail('domains', `the bundle's domains do not match the spec: ${describeDiff(domDiff)}`);
  }
  checks.push('domains');

  // --- fields: stored metadata agrees with the certificate.
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
  checks.push('fields');

  return { leaf, chain, privateKey, checks };
}
