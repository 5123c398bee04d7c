/**
 * The RFC 9773 certificate identifier against the RFC's own example (Appendix A, §4.1) and
 * against a second implementation that reads the DER directly (tests/local/ari-certid.ts), on
 * certificates made to hit the edge cases: a serial with its high bit set (a sign byte in DER),
 * short serials, and no authority key identifier at all.
 */
import { describe, expect, it } from 'vitest';
import { ariCertId } from '../../rotation/acme/ari.js';
import { certIdOf, certIdParts, pemToDer } from '../local/ari-certid.js';
import { issueCertificate, makeRootCa, pooledKey } from '../helpers/certs.js';

/** RFC 9773, Appendix A ("Example Certificate"), as published. */
const RFC_9773_APPENDIX_A = `-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
`;
/** RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 0x0087654321. */
const RFC_9773_CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

describe('RFC 9773 Appendix A', () => {
  it("the product's identifier is the RFC's", () => {
    expect(ariCertId(RFC_9773_APPENDIX_A)).toBe(RFC_9773_CERT_ID);
  });

  it("the independent reader's identifier is the RFC's, from the bytes §4.1 lists", () => {
    const { keyIdentifier, serial } = certIdParts(pemToDer(RFC_9773_APPENDIX_A));
    expect(keyIdentifier?.toString('hex')).toBe('69885b6b87464041e1b37b847ba0ae2cde01c8d4');
    expect(serial.toString('hex')).toBe('0087654321');
    expect(certIdOf(RFC_9773_APPENDIX_A)).toBe(RFC_9773_CERT_ID);
  });
});

describe('the two implementations agree where bugs hide', () => {
  const root = makeRootCa({ cn: 'CertID Test Root' });
  const now = Date.now();
  const leaf = (serial?: Buffer, authorityKeyId = true) =>
    issueCertificate({
      subjectCn: 'certid.example.com',
      key: pooledKey('ecdsa-p256'),
      issuer: root,
      notBefore: new Date(now - 3_600_000),
      notAfter: new Date(now + 86_400_000),
      dnsNames: ['certid.example.com'],
      authorityKeyId,
      ...(serial ? { serial } : {}),
    }).pem;

  it.each([
    ['the high bit set: DER adds a sign byte', Buffer.from('87654321', 'hex'), 'AIdlQyE'],
    ['leading zero bytes: DER drops them', Buffer.from('0000127f', 'hex'), 'En8'],
    ['one byte', Buffer.from('01', 'hex'), 'AQ'],
    ['20 bytes, the longest RFC 5280 allows', Buffer.from('7f'.repeat(20), 'hex'), 'f39_f39_f39_f39_f39_f39_f38'],
  ])('serial with %s', (_what, serial, expectedSerialPart) => {
    const pem = leaf(serial);
    const id = certIdOf(pem);
    expect(id).toBe(`${root.keyId.toString('base64url')}.${expectedSerialPart}`);
    expect(ariCertId(pem)).toBe(id);
  });

  it('on random serials', () => {
    for (let i = 0; i < 16; i++) {
      const pem = leaf();
      expect(ariCertId(pem)).toBe(certIdOf(pem));
    }
  });

  it('gives none for a certificate without an authority key identifier', () => {
    const pem = leaf(undefined, false);
    expect(certIdOf(pem)).toBeUndefined();
    expect(ariCertId(pem)).toBeUndefined();
  });
});
