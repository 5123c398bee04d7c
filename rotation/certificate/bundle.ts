/**
 * The certificate secret's value: a JSON bundle compatible with the predecessor's format (aws-certbot-lambda)
 * (certificate, private_key, chain, fullchain, expiry, issued_at, domains) plus the fields
 * consumers and the rotation need (serial, issuer, key_type, ...). README.md "Secret value (JSON)"
 * shows the format.
 *
 * Only node built-ins: this file is part of the Lambda bundle.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { VerificationError } from '../lib/errors.js';

import { KEY_TYPES, type KeyType } from './key-types.js';

/** The key types, defined once (key-types.ts). */

export function isKeyType(value: unknown): value is KeyType {
  return typeof value === 'string' && (KEY_TYPES as readonly string[]).includes(value);
}

/** A CA a rotation fell away from before the issuing one (rotation/acme/fallback.ts). */
export interface CaFallbackRecord {
  /** Its name (ACME_CAS `name`, else its directory's host). */
  ca: string;
  directory_url: string;
  /** The error code of its failure. */
  error_code: string;
  /** Why it counted as the CA's own failure. */
  reason: string;
}

export interface CertificateBundle {
  /** Leaf certificate, PEM. */
  certificate: string;
  /** Private key, PKCS#8 PEM. */
  private_key: string;
  /** Intermediates, PEM, concatenated; '' when there are none. */
  chain: string;
  /** certificate + chain. */
  fullchain: string;
  /** notAfter, ISO 8601 UTC. */
  expiry: string;
  /** When the bundle was stored, ISO 8601 UTC. */
  issued_at: string;
  /** notBefore, ISO 8601 UTC. */
  not_before: string;
  /** The names the certificate was requested for, in spec order. */
  domains: string[];
  /** Serial number, uppercase hex without colons. */
  serial: string;
  /** Issuer DN on one line (RDNs joined by ", "). */
  issuer: string;
  /** Subject DN on one line; may be '' (ACME CAs may issue certificates with an empty subject). */
  subject: string;
  key_type: KeyType;
  /** SHA-256 of the leaf's DER, uppercase hex without colons. */
  fingerprint_sha256: string;
  /**
   * The CA (directory URL) and ACME account that issued the certificate. A renewal names the
   * certificate it replaces (RFC 9773 `replaces`) only when both are the renewal's own: a CA
   * refuses to let one account replace another's certificate. Optional: a bundle without them
   * (the predecessor's, for one) is renewed without `replaces`.
   */
  acme_directory_url?: string;
  acme_account_url?: string;
  /** The issuing CA's name (ACME_CAS `name`, else its directory's host), for notices and metrics. */
  acme_ca?: string;
  /**
   * The CAs this rotation fell away from before the issuing one, and why (their own failures to
   * serve, rotation/acme/fallback.ts); absent when the first CA tried issued it.
   */
  acme_fallbacks?: CaFallbackRecord[];
  schema_version: 1;
}

const CERT_BLOCK_RE = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
export const PRIVATE_KEY_PEM_RE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z0-9 ]*PRIVATE KEY-----/;

/** Re-wrap base64 at 64 columns between PEM armour lines, with a trailing newline. */
function toPem(label: string, base64: string): string {
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * The `CERTIFICATE` blocks of a PEM text, in order, each normalised (64-column base64, `\n` line
 * ends, trailing newline). Text around and between blocks (explanatory text, other PEM types,
 * CRLF line ends) is ignored, as are blocks whose body is not base64. The DER is not parsed here.
 */
export function splitPemCertificates(pem: string): string[] {
  if (typeof pem !== 'string') return [];
  const out: string[] = [];
  for (const match of pem.matchAll(CERT_BLOCK_RE)) {
    const body = (match[1] ?? '').replace(/\s+/g, '');
    if (body.length === 0 || !BASE64_RE.test(body)) continue;
    out.push(toPem('CERTIFICATE', body));
  }
  return out;
}

/** A PEM certificate parsed; undefined when there is none or it does not parse as X.509. */
export function parseCertificate(pem: string | undefined): X509Certificate | undefined {
  if (pem === undefined) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/** Key type of a private or public key object; undefined for other algorithms, curves or sizes. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  if (key.type === 'secret') return undefined;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    switch (details.namedCurve) {
      case 'prime256v1':
      case 'P-256':
        return 'ecdsa-p256';
      case 'secp384r1':
      case 'P-384':
        return 'ecdsa-p384';
      default:
        return undefined;
    }
  }
  if (key.asymmetricKeyType === 'rsa') {
    switch (details.modulusLength) {
      case 2048:
        return 'rsa-2048';
      case 3072:
        return 'rsa-3072';
      case 4096:
        return 'rsa-4096';
      default:
        return undefined;
    }
  }
  return undefined;
}

/** Human description of a key for messages ("ec secp521r1", "rsa 1024 bits"). No key material. */
export function describeKey(key: KeyObject): string {
  const type = keyTypeOf(key);
  if (type) return type;
  const d = key.asymmetricKeyDetails ?? {};
  if (d.namedCurve) return `${key.asymmetricKeyType ?? 'unknown'} ${d.namedCurve}`;
  if (d.modulusLength) return `${key.asymmetricKeyType ?? 'unknown'} ${d.modulusLength} bits`;
  return key.asymmetricKeyType ?? key.type;
}

/** notAfter of a certificate as a Date (Node 20 has no validToDate). */
export function certNotAfter(cert: X509Certificate): Date {
  const d = (cert as { validToDate?: Date }).validToDate;
  return d instanceof Date ? d : new Date(cert.validTo);
}

/** notBefore of a certificate as a Date. */
export function certNotBefore(cert: X509Certificate): Date {
  const d = (cert as { validFromDate?: Date }).validFromDate;
  return d instanceof Date ? d : new Date(cert.validFrom);
}

/** Uppercase hex without colons, spaces or redundant leading zero bytes. */
export function normaliseSerial(serial: string): string {
  const hex = serial.replace(/[\s:]/g, '').toUpperCase();
  const stripped = hex.replace(/^(00)+(?=.)/, '');
  return stripped.length > 0 ? stripped : '0';
}

/** A DN as Node prints it (one RDN per line) on one line. */
export function oneLineDn(dn: string): string {
  return dn
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .join(', ');
}

/** Uppercase hex SHA-256 fingerprint without colons. */
export function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256.replace(/:/g, '').toUpperCase();
}

/** Certificate-derived fields of the bundle. */
function certificateFields(
  leaf: X509Certificate,
): Pick<CertificateBundle, 'expiry' | 'not_before' | 'serial' | 'issuer' | 'subject' | 'fingerprint_sha256'> {
  return {
    expiry: certNotAfter(leaf).toISOString(),
    not_before: certNotBefore(leaf).toISOString(),
    serial: normaliseSerial(leaf.serialNumber),
    issuer: oneLineDn(leaf.issuer),
    subject: oneLineDn(leaf.subject ?? ''),
    fingerprint_sha256: fingerprintOf(leaf),
  };
}

/**
 * Build the secret value from what the CA returned (leaf first, then intermediates; non-certificate
 * text is ignored) and the key we generated. The key is re-encoded as PKCS#8 PEM.
 * Throws VerificationError when there is no parsable certificate or the key does not parse.
 * Does not check that key and certificate belong together: that is verifyBundle's job.
 */
export function buildBundle(input: {
  certificatePem: string;
  privateKeyPem: string;
  keyType: KeyType;
  domains: string[];
  issuedAt?: Date;
  /** The CA and account that issued it (recorded for the next renewal's `replaces`). */
  issuedBy?: { directoryUrl: string; accountUrl?: string; ca?: string };
  /** CAs fallen away from before the issuing one. */
  fallbacks?: CaFallbackRecord[];
}): CertificateBundle {
  const blocks = splitPemCertificates(input.certificatePem);
  if (blocks.length === 0) {
    throw new VerificationError('The CA returned no PEM certificate (no CERTIFICATE block found)');
  }
  const parsed = blocks.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      const what = i === 0 ? 'leaf certificate' : `chain certificate ${i}`;
      throw new VerificationError(`The CA's ${what} does not parse as X.509`, { cause: err });
    }
  });
  const leaf = parsed[0] as X509Certificate;

  let privateKey: string;
  try {
    privateKey = createPrivateKey({ key: input.privateKeyPem, format: 'pem' })
      .export({ type: 'pkcs8', format: 'pem' })
      .toString();
  } catch (err) {
    // The cause is OpenSSL's decoder error; it never quotes the key.
    throw new VerificationError('The private key does not parse as an unencrypted PEM private key', { cause: err });
  }

  const certificate = blocks[0] as string;
  const chain = blocks.slice(1).join('');
  return {
    certificate,
    private_key: privateKey,
    chain,
    fullchain: certificate + chain,
    ...certificateFields(leaf),
    issued_at: (input.issuedAt ?? new Date()).toISOString(),
    domains: [...input.domains],
    key_type: input.keyType,
    ...(input.issuedBy ? { acme_directory_url: input.issuedBy.directoryUrl } : {}),
    ...(input.issuedBy?.accountUrl ? { acme_account_url: input.issuedBy.accountUrl } : {}),
    ...(input.issuedBy?.ca ? { acme_ca: input.issuedBy.ca } : {}),
    ...(input.fallbacks?.length ? { acme_fallbacks: input.fallbacks.map((f) => ({ ...f })) } : {}),
    schema_version: 1,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isoOrUndefined(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** Stored fall-back records, each with string fields; anything else is dropped. */
function fallbacksOf(v: unknown): Pick<CertificateBundle, 'acme_fallbacks'> {
  if (!Array.isArray(v)) return {};
  const list = v
    .filter(isRecord)
    .filter((f) => ['ca', 'directory_url', 'error_code', 'reason'].every((k) => typeof f[k] === 'string'))
    .map((f) => ({
      ca: f.ca as string,
      directory_url: f.directory_url as string,
      error_code: f.error_code as string,
      reason: f.reason as string,
    }));
  return list.length > 0 ? { acme_fallbacks: list } : {};
}

/**
 * Parse a stored SecretString. Returns undefined ("no certificate yet") when it is missing, empty,
 * not JSON, not an object with PEM-looking `certificate`, `private_key`, `fullchain` strings and a
 * string-array `domains`, or when the leaf certificate does not parse. Never throws.
 *
 * The predecessor's bundles (without serial/issuer/key_type/...) are completed from the certificate and
 * key. Stored fields that are present are kept (dates normalised to ISO 8601 UTC, serial to
 * uppercase hex) so that verifyBundle can detect a bundle whose fields disagree with its
 * certificate. Unknown extra fields are dropped.
 */
export function parseBundle(secretString: string | undefined): CertificateBundle | undefined {
  try {
    if (typeof secretString !== 'string' || secretString.trim() === '') return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(secretString);
    } catch {
      return undefined;
    }
    if (!isRecord(raw)) return undefined;
    const { certificate, private_key: privateKey, fullchain, domains } = raw;
    if (typeof certificate !== 'string' || !certificate.includes('-----BEGIN CERTIFICATE-----')) return undefined;
    if (typeof fullchain !== 'string' || !fullchain.includes('-----BEGIN CERTIFICATE-----')) return undefined;
    if (typeof privateKey !== 'string' || !PRIVATE_KEY_PEM_RE.test(privateKey)) return undefined;
    if (!Array.isArray(domains) || !domains.every((d): d is string => typeof d === 'string')) return undefined;

    const leaf = parseCertificate(splitPemCertificates(certificate)[0]);
    if (!leaf) return undefined;
    const fromCert = certificateFields(leaf);

    let chain: string;
    if (typeof raw.chain === 'string') {
      chain = raw.chain;
    } else {
      // Seed bundles always carry chain; tolerate its absence by deriving it from fullchain.
      chain = splitPemCertificates(fullchain).slice(1).join('');
    }

    let keyType: KeyType | undefined = isKeyType(raw.key_type) ? raw.key_type : undefined;
    if (!keyType) {
      try {
        keyType = keyTypeOf(createPrivateKey({ key: privateKey, format: 'pem' }));
      } catch {
        keyType = undefined;
      }
      if (!keyType) return undefined;
    }

    const storedSerial = nonEmptyString(raw.serial);
    const storedFingerprint = nonEmptyString(raw.fingerprint_sha256);
    const notBefore = isoOrUndefined(raw.not_before) ?? fromCert.not_before;
    return {
      certificate,
      private_key: privateKey,
      chain,
      fullchain,
      expiry: isoOrUndefined(raw.expiry) ?? fromCert.expiry,
      // A predecessor's bundle without issued_at: the certificate's notBefore is the best estimate.
      issued_at: isoOrUndefined(raw.issued_at) ?? notBefore,
      not_before: notBefore,
      domains: [...domains],
      serial: storedSerial ? normaliseSerial(storedSerial) : fromCert.serial,
      issuer: typeof raw.issuer === 'string' ? raw.issuer : fromCert.issuer,
      subject: typeof raw.subject === 'string' ? raw.subject : fromCert.subject,
      key_type: keyType,
      fingerprint_sha256: storedFingerprint
        ? storedFingerprint.replace(/:/g, '').toUpperCase()
        : fromCert.fingerprint_sha256,
      ...(nonEmptyString(raw.acme_directory_url) ? { acme_directory_url: raw.acme_directory_url as string } : {}),
      ...(nonEmptyString(raw.acme_account_url) ? { acme_account_url: raw.acme_account_url as string } : {}),
      ...(nonEmptyString(raw.acme_ca) ? { acme_ca: raw.acme_ca as string } : {}),
      ...fallbacksOf(raw.acme_fallbacks),
      schema_version: 1,
    };
  } catch {
    return undefined;
  }
}

/** A summary safe to log and publish: no key, no PEM. */
export function publicSummary(
  b: CertificateBundle,
): Omit<CertificateBundle, 'private_key' | 'certificate' | 'chain' | 'fullchain'> {
  return {
    expiry: b.expiry,
    issued_at: b.issued_at,
    not_before: b.not_before,
    domains: [...b.domains],
    serial: b.serial,
    issuer: b.issuer,
    subject: b.subject,
    key_type: b.key_type,
    fingerprint_sha256: b.fingerprint_sha256,
    schema_version: b.schema_version,
  };
}
