import { parseCertificate } from '../certificate/bundle.js';
import { authorityKeyIdentifier } from '../x509/extensions.js';

/**
 * The ACME Renewal Information certificate identifier (RFC 9773 §4.1):
 * base64url(AKI keyIdentifier) "." base64url(serial number INTEGER content bytes).
 * Sent as `replaces` in a renewal's newOrder: such orders are exempt from Let's Encrypt's rate limits.
 */
export function ariCertId(certificatePem: string): string | undefined {
  const cert = parseCertificate(certificatePem);
  if (!cert) return undefined;
  const aki = authorityKeyIdentifier(cert);
  if (!aki || aki.length === 0) return undefined;
  let serial = Buffer.from(cert.serialNumber.length % 2 ? `0${cert.serialNumber}` : cert.serialNumber, 'hex');
  if ((serial[0] ?? 0) >= 0x80) serial = Buffer.concat([Buffer.from([0]), serial]); // DER INTEGER is signed
  return `${aki.toString('base64url')}.${serial.toString('base64url')}`;
}
