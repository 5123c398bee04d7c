import { createHash, type X509Certificate } from 'node:crypto';
import { KeyUsageFlags, KeyUsagesExtension, X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { ariCertId } from '../../rotation/acme/ari.js';
import {
  authorityKeyIdentifier,
  basicConstraintsCa,
  certificateExtensions,
  extendedKeyUsage,
  extensionValue,
  findExtension,
  keyUsage,
} from '../../rotation/x509/extensions.js';
import {
  issueCertificate,
  makeIntermediateCa,
  makeLeaf,
  makeRootCa,
  pooledKey,
  type TestCa,
} from '../helpers/certs.js';

// A small DER encoder for extension values and for synthetic certificate skeletons.
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, content: Buffer): Buffer =>
  Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(BigInt);
  const out: number[] = [];
  for (const arc of [(arcs[0] as bigint) * 40n + (arcs[1] as bigint), ...arcs.slice(2)]) {
    const groups = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}
const extension = (id: string, value: Buffer, critical?: boolean): Buffer =>
  seq(oid(id), ...(critical === undefined ? [] : [bool(critical)]), octets(value));

const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
const EXT_KEY_USAGE = '2.5.29.37';
const SUBJECT_ALT_NAME = '2.5.29.17';
const SUBJECT_KEY_ID = '2.5.29.14';
const AUTHORITY_KEY_ID = '2.5.29.35';

/** authorityKeyIdentifier's OID as it is encoded in an Extension: the bytes a byte scan looks for. */
const AKI_OID_DER = oid(AUTHORITY_KEY_ID);
/** What a byte scan for AKI_OID_DER would take for the extension: an extnValue naming a keyIdentifier "decoy". */
const DECOY_AKI = Buffer.concat([AKI_OID_DER, octets(seq(tlv(0x80, Buffer.from('decoy'))))]);

const DAY = 86_400_000;
const root = makeRootCa();
const intermediate = makeIntermediateCa(root);

function issued(spec: Partial<Parameters<typeof issueCertificate>[0]> & { issuer?: TestCa }): X509Certificate {
  const now = Date.now();
  return issueCertificate({
    key: pooledKey('ecdsa-p256', 1),
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
    ...spec,
  }).cert;
}

function keyIdOf(cert: X509Certificate): Buffer {
  return createHash('sha1')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
    .digest();
}

/** The DER INTEGER content of the certificate's serial, as ARI wants it. */
function serialContent(cert: X509Certificate): Buffer {
  const serial = Buffer.from(cert.serialNumber.length % 2 ? `0${cert.serialNumber}` : cert.serialNumber, 'hex');
  return (serial[0] as number) >= 0x80 ? Buffer.concat([Buffer.from([0]), serial]) : serial;
}

/** True when the AKI OID's bytes occur in the DER before the real extension's (the last occurrence). */
function decoyPrecedesRealAki(cert: X509Certificate): boolean {
  const first = cert.raw.indexOf(AKI_OID_DER);
  return first >= 0 && first < cert.raw.lastIndexOf(AKI_OID_DER);
}

describe('certificateExtensions: the extensions of real certificates, in order, with their critical flags', () => {
  it('lists a leaf’s extensions as written', () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['a.example'] }).cert;
    expect(certificateExtensions(leaf)?.map((e) => [e.oid, e.critical])).toEqual([
      [BASIC_CONSTRAINTS, true],
      [KEY_USAGE, true],
      [EXT_KEY_USAGE, false],
      [SUBJECT_ALT_NAME, false],
      [SUBJECT_KEY_ID, false],
      [AUTHORITY_KEY_ID, false],
    ]);
  });

  it('lists a root’s extensions (no authorityKeyIdentifier) as written', () => {
    expect(certificateExtensions(root.cert)?.map((e) => [e.oid, e.critical])).toEqual([
      [BASIC_CONSTRAINTS, true],
      [KEY_USAGE, true],
      [SUBJECT_KEY_ID, false],
    ]);
  });

  it('gives extnValue’s contents: the extension’s own DER', () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['a.example'] }).cert;
    expect(extensionValue(leaf, SUBJECT_KEY_ID)?.toString('hex')).toBe(octets(keyIdOf(leaf)).toString('hex'));
    expect(extensionValue(leaf, SUBJECT_ALT_NAME)?.toString('hex')).toBe(
      seq(tlv(0x82, Buffer.from('a.example'))).toString('hex'),
    );
    expect(extensionValue(leaf, '1.2.3.4')).toBeUndefined();
  });

  it('reports the critical flag of any extension, also a critical one written first', () => {
    const cert = issued({
      issuer: intermediate,
      authorityKeyId: false,
      extraExtensions: [
        { oid: '1.3.6.1.4.1.55555.1', critical: true, value: seq() },
        { oid: AUTHORITY_KEY_ID, critical: true, value: seq(tlv(0x80, intermediate.keyId)) },
      ],
    });
    expect(findExtension(cert, '1.3.6.1.4.1.55555.1')).toEqual({
      oid: '1.3.6.1.4.1.55555.1',
      critical: true,
      value: seq(),
    });
    expect(findExtension(cert, AUTHORITY_KEY_ID)?.critical).toBe(true);
    expect(findExtension(cert, SUBJECT_KEY_ID)?.critical).toBe(false);
    expect(authorityKeyIdentifier(cert)?.toString('hex')).toBe(intermediate.keyId.toString('hex'));
  });

  it('reads extensions whose lengths take the long form', () => {
    const names = Array.from({ length: 40 }, (_, i) => `host-${i}.long-form-length.example`);
    const leaf = makeLeaf(intermediate, { dnsNames: names }).cert;
    expect(extensionValue(leaf, SUBJECT_ALT_NAME)?.length).toBeGreaterThan(1000);
    expect(authorityKeyIdentifier(leaf)?.toString('hex')).toBe(intermediate.keyId.toString('hex'));
  });
});

describe('authorityKeyIdentifier', () => {
  it('is the issuer’s key identifier', () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['a.example'] }).cert;
    expect(authorityKeyIdentifier(leaf)?.toString('hex')).toBe(intermediate.keyId.toString('hex'));
    expect(authorityKeyIdentifier(intermediate.cert)?.toString('hex')).toBe(root.keyId.toString('hex'));
  });

  it('is undefined for a certificate without the extension', () => {
    expect(authorityKeyIdentifier(root.cert)).toBeUndefined();
    const leaf = makeLeaf(intermediate, { dnsNames: ['a.example'], authorityKeyId: false }).cert;
    expect(authorityKeyIdentifier(leaf)).toBeUndefined();
  });

  it('is undefined when the extension names the issuer only by name and serial (no keyIdentifier)', () => {
    const cert = issued({
      issuer: intermediate,
      authorityKeyId: false,
      extraExtensions: [{ oid: AUTHORITY_KEY_ID, value: seq(tlv(0x82, Buffer.from([0x01, 0x02]))) }],
    });
    expect(findExtension(cert, AUTHORITY_KEY_ID)).toBeDefined();
    expect(authorityKeyIdentifier(cert)).toBeUndefined();
  });

  it('is the real one when the AKI OID bytes occur first in the subject', () => {
    const cert = issued({ issuer: intermediate, subjectCn: `x${DECOY_AKI.toString('latin1')}` });
    expect(decoyPrecedesRealAki(cert)).toBe(true);
    expect(authorityKeyIdentifier(cert)?.toString('hex')).toBe(intermediate.keyId.toString('hex'));
  });

  it('is the real one when the AKI OID bytes and a whole decoy extnValue occur first in a SAN', () => {
    const leaf = makeLeaf(intermediate, { dnsNames: [DECOY_AKI.toString('latin1'), 'a.example'] });
    expect(leaf.cert.raw.includes(DECOY_AKI)).toBe(true);
    expect(decoyPrecedesRealAki(leaf.cert)).toBe(true);
    expect(authorityKeyIdentifier(leaf.cert)?.toString('hex')).toBe(intermediate.keyId.toString('hex'));
  });

  it('is the real one when another extension’s value holds the AKI OID bytes, and absent without the real one', () => {
    const decoyExtension = { oid: '1.3.6.1.4.1.55555.2', value: seq(seq(DECOY_AKI)) };
    const withReal = issued({ issuer: intermediate, extraExtensions: [decoyExtension] });
    expect(decoyPrecedesRealAki(withReal)).toBe(true);
    expect(authorityKeyIdentifier(withReal)?.toString('hex')).toBe(intermediate.keyId.toString('hex'));
    const withoutReal = issued({ issuer: intermediate, authorityKeyId: false, extraExtensions: [decoyExtension] });
    expect(withoutReal.raw.includes(DECOY_AKI)).toBe(true);
    expect(authorityKeyIdentifier(withoutReal)).toBeUndefined();
  });
});

describe('ariCertId reads the AKI through the walker', () => {
  it('is base64url(issuer key id).base64url(serial), past a decoy in the SAN', () => {
    const leaf = makeLeaf(intermediate, { dnsNames: [DECOY_AKI.toString('latin1')] });
    expect(ariCertId(leaf.certPem)).toBe(
      `${intermediate.keyId.toString('base64url')}.${serialContent(leaf.cert).toString('base64url')}`,
    );
  });

  it('keeps the sign byte of a serial whose top bit is set', () => {
    const cert = issueCertificate({
      key: pooledKey('ecdsa-p256', 1),
      issuer: intermediate,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + DAY),
      serial: Buffer.from('00f1e2d3c4', 'hex'),
    });
    expect(ariCertId(cert.pem)).toBe(
      `${intermediate.keyId.toString('base64url')}.${Buffer.from('00f1e2d3c4', 'hex').toString('base64url')}`,
    );
  });

  it('is undefined without an AKI, even with a decoy in the DER', () => {
    const leaf = makeLeaf(intermediate, { dnsNames: [DECOY_AKI.toString('latin1')], authorityKeyId: false });
    expect(leaf.cert.raw.includes(DECOY_AKI)).toBe(true);
    expect(ariCertId(leaf.certPem)).toBeUndefined();
    expect(ariCertId('not a certificate')).toBeUndefined();
  });
});

describe('basicConstraintsCa', () => {
  it('is true for CA certificates and false for a CA:FALSE leaf', () => {
    expect(basicConstraintsCa(root.cert)).toBe(true);
    expect(basicConstraintsCa(intermediate.cert)).toBe(true);
    const leaf = makeLeaf(intermediate, { dnsNames: ['a.example'] }).cert;
    expect(basicConstraintsCa(leaf)).toBe(false);
    expect(leaf.ca).toBe(false);
  });

  it('is true for CA:TRUE without keyCertSign, which OpenSSL’s check does not call a CA', () => {
    const cert = issued({ issuer: intermediate, ca: true, keyUsage: 0x80, dnsNames: ['a.example'] });
    expect(cert.ca).toBe(false);
    expect(basicConstraintsCa(cert)).toBe(true);
    expect(findExtension(cert, BASIC_CONSTRAINTS)?.critical).toBe(true);
    expect(findExtension(cert, KEY_USAGE)?.critical).toBe(true);
  });

  it('reads a non-critical basicConstraints too', () => {
    const cert = issued({
      issuer: intermediate,
      extraExtensions: [{ oid: BASIC_CONSTRAINTS, value: seq(bool(true)) }],
    });
    expect(findExtension(cert, BASIC_CONSTRAINTS)?.critical).toBe(false);
    expect(basicConstraintsCa(cert)).toBe(true);
  });

  it('is undefined without the extension, also when its OID bytes occur in the subject', () => {
    const decoy = Buffer.concat([oid(BASIC_CONSTRAINTS), octets(seq(bool(true)))]).toString('latin1');
    const cert = issued({ issuer: intermediate, subjectCn: decoy });
    expect(cert.raw.includes(oid(BASIC_CONSTRAINTS))).toBe(true);
    expect(findExtension(cert, BASIC_CONSTRAINTS)).toBeUndefined();
    expect(basicConstraintsCa(cert)).toBeUndefined();
  });
});

describe('malformed or unusual DER reads as "no such extension", never as a guess', () => {
  /** A certificate skeleton: TBSCertificate fields as given, then an empty algorithm and signature. */
  const certificate = (...tbsFields: Buffer[]): Buffer => seq(seq(...tbsFields), seq(), tlv(0x03, Buffer.from([0])));
  const v3 = tlv(0xa0, tlv(0x02, Buffer.from([2])));
  const serial = tlv(0x02, Buffer.from([1]));
  const middle = [seq(), seq(), seq(), seq(), seq()]; // signature, issuer, validity, subject, subjectPublicKeyInfo
  const extensions = (...exts: Buffer[]): Buffer => tlv(0xa3, seq(...exts));
  const bcTrue = extension(BASIC_CONSTRAINTS, seq(bool(true)), true);

  it('reads a well-formed skeleton (the baseline of the cases below)', () => {
    const der = certificate(v3, serial, ...middle, extensions(bcTrue));
    expect(certificateExtensions(der)).toEqual([{ oid: BASIC_CONSTRAINTS, critical: true, value: seq(bool(true)) }]);
    expect(basicConstraintsCa(der)).toBe(true);
  });

  it('reads no extensions from a certificate without them (v1, or v3 without [3])', () => {
    expect(certificateExtensions(certificate(serial, ...middle))).toEqual([]);
    expect(certificateExtensions(certificate(v3, serial, ...middle))).toEqual([]);
    expect(basicConstraintsCa(certificate(serial, ...middle))).toBeUndefined();
  });

  it('steps over issuerUniqueID and subjectUniqueID', () => {
    const der = certificate(
      v3,
      serial,
      ...middle,
      tlv(0x81, Buffer.from([0, 1])),
      tlv(0x82, Buffer.from([0, 2])),
      extensions(bcTrue),
    );
    expect(basicConstraintsCa(der)).toBe(true);
  });

  it('reads long-form lengths, minimal or not', () => {
    const der = certificate(v3, serial, ...middle, extensions(bcTrue));
    // Re-encode the outermost length (short or 0x81/0x82 form) as 0x84 00 00 LL LL.
    const headerLength = der[1] === 0x81 ? 3 : der[1] === 0x82 ? 4 : 2;
    const content = der.subarray(headerLength);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(content.length);
    const nonMinimal = Buffer.concat([Buffer.from([0x30, 0x84]), length, content]);
    expect(basicConstraintsCa(nonMinimal)).toBe(true);
  });

  it('decodes extension OIDs exactly, large arcs included', () => {
    const big = '2.25.329800735698586629295641978511506172918';
    const der = certificate(v3, serial, ...middle, extensions(extension(big, seq()), bcTrue));
    expect(certificateExtensions(der)?.map((e) => e.oid)).toEqual([big, BASIC_CONSTRAINTS]);
  });

  it.each([
    ['truncated', certificate(v3, serial, ...middle, extensions(bcTrue)).subarray(0, -1)],
    [
      'followed by extra bytes',
      Buffer.concat([certificate(v3, serial, ...middle, extensions(bcTrue)), Buffer.from([0])]),
    ],
    ['indefinite length', Buffer.from([0x30, 0x80, 0x00, 0x00])],
    ['a length past the end', Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00])],
    ['empty', Buffer.alloc(0)],
    ['extensions not last', certificate(v3, serial, ...middle, extensions(bcTrue), seq())],
    ['a missing TBSCertificate field', certificate(v3, serial, seq(), seq(), seq(), seq(), extensions(bcTrue))],
    [
      'a critical flag that is not a one-byte BOOLEAN',
      certificate(
        v3,
        serial,
        ...middle,
        extensions(seq(oid(BASIC_CONSTRAINTS), tlv(0x01, Buffer.from([0xff, 0xff])), octets(seq(bool(true))))),
      ),
    ],
    [
      'an extnValue that is not an OCTET STRING',
      certificate(v3, serial, ...middle, extensions(seq(oid(BASIC_CONSTRAINTS), seq(bool(true))))),
    ],
    [
      'an unterminated OID',
      certificate(v3, serial, ...middle, extensions(seq(tlv(0x06, Buffer.from([0x55, 0x9d])), octets(seq())), bcTrue)),
    ],
    [
      'an element overrunning its parent',
      certificate(v3, serial, ...middle, tlv(0xa3, Buffer.concat([Buffer.from([0x30, 0x7f]), seq(bcTrue)]))),
    ],
  ])('%s', (_name, der) => {
    expect(certificateExtensions(der)).toBeUndefined();
    expect(basicConstraintsCa(der)).toBeUndefined();
    expect(authorityKeyIdentifier(der)).toBeUndefined();
  });

  it('reads basicConstraints whose value is not a BasicConstraints SEQUENCE as undefined', () => {
    const der = certificate(v3, serial, ...middle, extensions(extension(BASIC_CONSTRAINTS, bool(true), true)));
    expect(findExtension(der, BASIC_CONSTRAINTS)).toBeDefined();
    expect(basicConstraintsCa(der)).toBeUndefined();
  });
});

describe('keyUsage and extendedKeyUsage: present or absent, as written', () => {
  it('reads the KU bits of a leaf, a CA, and none without the extension (checked against a second reader)', () => {
    const rsaLeaf = makeLeaf(intermediate, { dnsNames: ['rsa.example.com'], keyType: 'rsa-2048' }).cert;
    expect(keyUsage(rsaLeaf)).toEqual(['digitalSignature', 'keyEncipherment']);
    // A second reader agrees: @peculiar/x509 (acme-client's dependency) sets the same flags.
    const peculiar = new PeculiarCertificate(rsaLeaf.toString()).getExtension(KeyUsagesExtension);
    expect(peculiar?.usages).toBe(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment);
    expect(keyUsage(root.cert)).toEqual(['digitalSignature', 'keyCertSign', 'cRLSign']);
    expect(keyUsage(issued({ dnsNames: ['a.example.com'] }))).toBeUndefined();
  });

  it('reads a bit past the first byte (decipherOnly) and an empty bit string as present but empty', () => {
    // BIT STRING: 7 unused bits, bytes 0x80 0x80 → bits 0 (digitalSignature) and 8 (decipherOnly).
    const both = issued({
      dnsNames: ['a.example.com'],
      extraExtensions: [{ oid: KEY_USAGE, critical: true, value: tlv(0x03, Buffer.from([7, 0x80, 0x80])) }],
    });
    expect(keyUsage(both)).toEqual(['digitalSignature', 'decipherOnly']);
    const empty = issued({
      dnsNames: ['a.example.com'],
      extraExtensions: [{ oid: KEY_USAGE, value: tlv(0x03, Buffer.from([0])) }],
    });
    expect(keyUsage(empty)).toEqual([]);
  });

  it('reads a malformed KU as absent', () => {
    for (const value of [
      tlv(0x03, Buffer.from([8, 0x80])),
      tlv(0x04, Buffer.from([0, 0x80])),
      tlv(0x03, Buffer.alloc(0)),
    ]) {
      expect(
        keyUsage(issued({ dnsNames: ['a.example.com'], extraExtensions: [{ oid: KEY_USAGE, value }] })),
      ).toBeUndefined();
    }
  });

  it('reads the EKU purposes in order, and none without the extension (node:crypto’s own list agrees)', () => {
    const leaf = issued({ dnsNames: ['a.example.com'], eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'] });
    expect(extendedKeyUsage(leaf)).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    // node:crypto's X509Certificate#keyUsage is, despite its name, the EKU list.
    expect(extendedKeyUsage(leaf)).toEqual(leaf.keyUsage);
    expect(extendedKeyUsage(issued({ dnsNames: ['a.example.com'] }))).toBeUndefined();
    const bad = issued({
      dnsNames: ['a.example.com'],
      extraExtensions: [{ oid: EXT_KEY_USAGE, value: seq(tlv(0x04, Buffer.from([1]))) }],
    });
    expect(extendedKeyUsage(bad)).toBeUndefined();
  });
});
