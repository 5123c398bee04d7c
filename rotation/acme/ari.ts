import { X509Certificate } from 'node:crypto';

/** Read a DER length at `pos`; returns [length, offset of the content]. */
function derLength(der: Buffer, pos: number): [number, number] {
  const first = der[pos] ?? 0;
  if (first < 0x80) return [first, pos + 1];
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (der[pos + 1 + i] ?? 0);
  return [len, pos + 1 + n];
}

// OID 2.5.29.35 (authorityKeyIdentifier), DER-encoded with its tag and length.
const AKI_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x23]);

/** The authority key identifier's keyIdentifier bytes, or undefined. */
export function authorityKeyId(cert: X509Certificate): Buffer | undefined {
  const der = cert.raw;
  const at = der.indexOf(AKI_OID);
  if (at < 0) return undefined;
  let pos = at + AKI_OID.length;
  if (der[pos] === 0x01) pos += 3; // critical BOOLEAN
  if (der[pos] !== 0x04) return undefined; // extnValue OCTET STRING
  pos = derLength(der, pos + 1)[1];
  if (der[pos] !== 0x30) return undefined; // AuthorityKeyIdentifier SEQUENCE
  pos = derLength(der, pos + 1)[1];
  if (der[pos] !== 0x80) return undefined; // [0] keyIdentifier
  const [len, start] = derLength(der, pos + 1);
  return der.subarray(start, start + len);
}

/**
 * The ACME Renewal Information certificate identifier (RFC 9773 §4.1):
 * base64url(AKI keyIdentifier) "." base64url(serial number INTEGER content bytes).
 * Sent as `replaces` in a renewal's newOrder: such orders are exempt from Let's Encrypt's rate limits.
 */
export function ariCertId(certificatePem: string): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch {
    return undefined;
  }
  const aki = authorityKeyId(cert);
  if (!aki || aki.length === 0) return undefined;
  let serial = Buffer.from(cert.serialNumber.length % 2 ? `0${cert.serialNumber}` : cert.serialNumber, 'hex');
  if ((serial[0] ?? 0) >= 0x80) serial = Buffer.concat([Buffer.from([0]), serial]); // DER INTEGER is signed
  return `${aki.toString('base64url')}.${serial.toString('base64url')}`;
}
