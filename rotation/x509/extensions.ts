/**
 * Certificate extensions read from the DER (RFC 5280 §4.1), for the few facts node:crypto's
 * X509Certificate does not expose as such: the authority key identifier, the basicConstraints
 * cA flag as written, and the keyUsage and extendedKeyUsage extensions as present or absent
 * (ACM's re-import rule turns on whether an extension is there at all).
 *
 * The reader walks the structure — Certificate → TBSCertificate → extensions [3] → Extension — and
 * never searches the bytes: a subject, a SAN or another extension may hold any byte sequence,
 * including an extension's OID. Every length is checked against its enclosing element; anything
 * that does not parse reads as "no such extension" (undefined), never as a guess.
 *
 * Written by hand rather than with @peculiar/x509 (already bundled with acme-client): that library
 * and its ASN.1 schema stack would add hundreds of KiB and tens of milliseconds to the Lambda's init,
 * and testSecret, which needs basicConstraintsCa, is not lazily loaded.
 */
import type { X509Certificate } from 'node:crypto';

/** One DER element: its tag byte and the bounds of its contents within the buffer. */
interface Element {
  tag: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the last content byte. */
  end: number;
}

const TAG_BOOLEAN = 0x01;
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;
const TAG_VERSION = 0xa0; // [0] EXPLICIT Version
const TAG_ISSUER_UID = 0x81; // [1] IMPLICIT UniqueIdentifier
const TAG_SUBJECT_UID = 0x82; // [2] IMPLICIT UniqueIdentifier
const TAG_EXTENSIONS = 0xa3; // [3] EXPLICIT Extensions
const TAG_KEY_IDENTIFIER = 0x80; // AuthorityKeyIdentifier's [0] IMPLICIT KeyIdentifier

export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
export const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
export const OID_KEY_USAGE = '2.5.29.15';
export const OID_EXTENDED_KEY_USAGE = '2.5.29.37';
/** ExtendedKeyUsage purposes (RFC 5280 §4.2.1.12) the project reasons about. */
export const OID_EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const OID_EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const OID_EKU_ANY = '2.5.29.37.0';

/**
 * The element at `offset`, which must end by `limit`; undefined if it does not.
 * Definite lengths only (DER has no other). Long-form lengths are read also when not minimally
 * encoded, as OpenSSL reads them: a certificate node:crypto parsed must read the same here.
 * Multi-byte (high-number) tags do not occur in the structures walked here and read as malformed.
 */
function readElement(der: Uint8Array, offset: number, limit: number): Element | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = der[offset] as number;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    // n = 0 is the indefinite form, which DER forbids. A length too large for a double only grows:
    // it fails the bound below all the same.
    if (n === 0 || start + n > limit) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (der[start + i] as number);
    start += n;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

/** The elements that exactly fill `parent`'s contents; undefined if they do not. */
function childrenOf(der: Uint8Array, parent: Element): Element[] | undefined {
  const out: Element[] = [];
  for (let offset = parent.start; offset < parent.end;) {
    const child = readElement(der, offset, parent.end);
    if (!child) return undefined;
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** The single element that exactly fills the bytes [start, end) (e.g. an extnValue); or undefined. */
function soleElement(der: Uint8Array, start: number, end: number): Element | undefined {
  const el = readElement(der, start, end);
  return el && el.end === end ? el : undefined;
}

/** Dotted form of an OBJECT IDENTIFIER's contents; undefined if malformed. */
function decodeOid(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  const arcs: bigint[] = [];
  let value = 0n;
  let inArc = false;
  for (const b of bytes) {
    if (!inArc && b === 0x80) return undefined; // a sub-identifier may not start with a zero group
    value = (value << 7n) | BigInt(b & 0x7f);
    inArc = (b & 0x80) !== 0;
    if (!inArc) {
      arcs.push(value);
      value = 0n;
    }
  }
  if (inArc) return undefined; // the last sub-identifier is unterminated
  const first = arcs[0] as bigint;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

function rawOf(cert: X509Certificate | Uint8Array): Uint8Array {
  return cert instanceof Uint8Array ? cert : cert.raw;
}

function bufferOf(der: Uint8Array, el: Element): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + el.start, el.end - el.start);
}

/** One Extension of a certificate (RFC 5280 §4.1: extnID, critical DEFAULT FALSE, extnValue). */
export interface CertificateExtension {
  /** extnID, dotted (e.g. "2.5.29.19"). */
  oid: string;
  critical: boolean;
  /** extnValue's contents: the DER of the extension's own structure (a view of the certificate's bytes). */
  value: Buffer;
}

/** The [3] extensions element of the TBSCertificate, null when the certificate has none, undefined if malformed. */
function extensionsElement(der: Uint8Array): Element | null | undefined {
  const certificate = soleElement(der, 0, der.length);
  if (!certificate || certificate.tag !== TAG_SEQUENCE) return undefined;
  const tbs = childrenOf(der, certificate)?.[0];
  if (!tbs || tbs.tag !== TAG_SEQUENCE) return undefined;
  const fields = childrenOf(der, tbs);
  if (!fields) return undefined;
  // version [0] OPTIONAL, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo,
  // issuerUniqueID [1] OPTIONAL, subjectUniqueID [2] OPTIONAL, extensions [3] OPTIONAL — in that order.
  let i = fields[0]?.tag === TAG_VERSION ? 1 : 0;
  if (fields[i]?.tag !== TAG_INTEGER) return undefined;
  i++;
  for (let n = 0; n < 5; n++, i++) if (fields[i]?.tag !== TAG_SEQUENCE) return undefined;
  if (fields[i]?.tag === TAG_ISSUER_UID) i++;
  if (fields[i]?.tag === TAG_SUBJECT_UID) i++;
  const extensions = fields[i];
  if (!extensions) return null;
  if (extensions.tag !== TAG_EXTENSIONS || i !== fields.length - 1) return undefined;
  return extensions;
}

/**
 * Every extension of the certificate, in order; [] when it has none (e.g. X.509 v1), undefined if
 * the certificate or its extensions do not parse.
 */
export function certificateExtensions(cert: X509Certificate | Uint8Array): CertificateExtension[] | undefined {
  const der = rawOf(cert);
  const wrapper = extensionsElement(der);
  if (wrapper === null) return [];
  if (!wrapper) return undefined;
  const list = soleElement(der, wrapper.start, wrapper.end);
  if (!list || list.tag !== TAG_SEQUENCE) return undefined;
  const items = childrenOf(der, list);
  if (!items) return undefined;
  const out: CertificateExtension[] = [];
  for (const item of items) {
    if (item.tag !== TAG_SEQUENCE) return undefined;
    const parts = childrenOf(der, item);
    if (!parts || parts.length < 2 || parts.length > 3) return undefined;
    const id = parts[0] as Element;
    const value = parts[parts.length - 1] as Element;
    if (id.tag !== TAG_OID || value.tag !== TAG_OCTET_STRING) return undefined;
    const oid = decodeOid(der.subarray(id.start, id.end));
    if (oid === undefined) return undefined;
    let critical = false;
    if (parts.length === 3) {
      const flag = parts[1] as Element;
      if (flag.tag !== TAG_BOOLEAN || flag.end - flag.start !== 1) return undefined;
      critical = der[flag.start] !== 0;
    }
    out.push({ oid, critical, value: bufferOf(der, value) });
  }
  return out;
}

/**
 * The extension with this OID (dotted), or undefined when the certificate has none or does not
 * parse. RFC 5280 allows one instance of each extension; should a certificate carry two, the
 * first is the one read.
 */
export function findExtension(cert: X509Certificate | Uint8Array, oid: string): CertificateExtension | undefined {
  return certificateExtensions(cert)?.find((e) => e.oid === oid);
}

/** extnValue's contents for the extension with this OID (dotted), or undefined. */
export function extensionValue(cert: X509Certificate | Uint8Array, oid: string): Buffer | undefined {
  return findExtension(cert, oid)?.value;
}

/**
 * The keyIdentifier of the authorityKeyIdentifier extension (RFC 5280 §4.2.1.1), or undefined when
 * the extension is absent, does not parse, or names the issuer only by name and serial.
 */
export function authorityKeyIdentifier(cert: X509Certificate | Uint8Array): Buffer | undefined {
  const value = extensionValue(cert, OID_AUTHORITY_KEY_IDENTIFIER);
  if (!value) return undefined;
  const aki = soleElement(value, 0, value.length);
  if (!aki || aki.tag !== TAG_SEQUENCE) return undefined;
  const keyId = childrenOf(value, aki)?.[0];
  return keyId && keyId.tag === TAG_KEY_IDENTIFIER ? bufferOf(value, keyId) : undefined;
}

/**
 * The cA flag of the basicConstraints extension (RFC 5280 §4.2.1.9) as written: true for CA:TRUE,
 * false when cA is FALSE or absent (its default), undefined when the extension is absent or does not
 * parse. (X509Certificate#ca is OpenSSL's X509_check_ca, which says false for a certificate with
 * CA:TRUE but without keyCertSign — still a CA certificate by its own claim.)
 */
export function basicConstraintsCa(cert: X509Certificate | Uint8Array): boolean | undefined {
  const value = extensionValue(cert, OID_BASIC_CONSTRAINTS);
  if (!value) return undefined;
  const bc = soleElement(value, 0, value.length);
  if (!bc || bc.tag !== TAG_SEQUENCE) return undefined;
  const fields = childrenOf(value, bc);
  if (!fields) return undefined;
  const first = fields[0];
  return !!first && first.tag === TAG_BOOLEAN && first.end - first.start === 1 && value[first.start] !== 0;
}

/** The KeyUsage bits of RFC 5280 §4.2.1.3, in bit order (bit 0 is digitalSignature). */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

export type KeyUsageBit = (typeof KEY_USAGE_BITS)[number];

/**
 * The bits set in the keyUsage extension (RFC 5280 §4.2.1.3), in bit order; undefined when the
 * extension is absent or does not parse. An extension with no bit set reads as [] (present, empty).
 */
export function keyUsage(cert: X509Certificate | Uint8Array): KeyUsageBit[] | undefined {
  const value = extensionValue(cert, OID_KEY_USAGE);
  if (!value) return undefined;
  const bits = soleElement(value, 0, value.length);
  if (!bits || bits.tag !== TAG_BIT_STRING || bits.end === bits.start) return undefined;
  const unused = value[bits.start] as number;
  const bytes = value.subarray(bits.start + 1, bits.end);
  if (unused > 7 || (bytes.length === 0 && unused !== 0)) return undefined;
  const length = bytes.length * 8 - unused;
  return KEY_USAGE_BITS.filter((_, i) => i < length && ((bytes[i >> 3] as number) & (0x80 >> (i & 7))) !== 0);
}

/**
 * The KeyPurposeId OIDs of the extendedKeyUsage extension (RFC 5280 §4.2.1.12), dotted, in order;
 * undefined when the extension is absent or does not parse.
 */
export function extendedKeyUsage(cert: X509Certificate | Uint8Array): string[] | undefined {
  const value = extensionValue(cert, OID_EXTENDED_KEY_USAGE);
  if (!value) return undefined;
  const list = soleElement(value, 0, value.length);
  if (!list || list.tag !== TAG_SEQUENCE) return undefined;
  const items = childrenOf(value, list);
  if (!items || items.length === 0) return undefined;
  const out: string[] = [];
  for (const item of items) {
    if (item.tag !== TAG_OID) return undefined;
    const oid = decodeOid(value.subarray(item.start, item.end));
    if (oid === undefined) return undefined;
    out.push(oid);
  }
  return out;
}
