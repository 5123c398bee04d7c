/**
 * RFC 9773 §4.1 certificate identifiers computed a second way, for the CA front (ari-ca.ts) and
 * the tests: straight from the certificate's DER with a minimal reader of the few ASN.1 structures
 * involved, sharing no code with rotation/ (which goes through Node's X509Certificate and the
 * extension parser in rotation/x509/). The serial's content octets are taken as encoded — sign
 * byte included — rather than rebuilt from a number, so the two implementations can disagree
 * where a bug would hide (a leading zero, a high bit).
 *
 *   certID = base64url(AKI keyIdentifier) "." base64url(serialNumber INTEGER content octets)
 */

interface Tlv {
  tag: number;
  /** The content octets. */
  value: Buffer;
  /** Offset just past this element. */
  end: number;
}

/** One DER element at `offset` (definite lengths only, as DER requires). */
function readTlv(der: Buffer, offset: number): Tlv {
  const tag = der[offset];
  let lengthByte = der[offset + 1];
  if (tag === undefined || lengthByte === undefined) throw new Error(`DER ends at offset ${offset}`);
  let pos = offset + 2;
  let length = lengthByte;
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 4) throw new Error(`unsupported DER length form at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) {
      lengthByte = der[pos++];
      if (lengthByte === undefined) throw new Error('DER length runs past the end');
      length = length * 256 + lengthByte;
    }
  }
  const end = pos + length;
  if (end > der.length) throw new Error(`DER element at offset ${offset} runs past the end`);
  return { tag, value: der.subarray(pos, end), end };
}

/** The elements inside a constructed element's content. */
function children(value: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = 0; pos < value.length;) {
    const tlv = readTlv(value, pos);
    out.push(tlv);
    pos = tlv.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OID = 0x06;
const OCTET_STRING = 0x04;
const VERSION = 0xa0; // [0] EXPLICIT
const EXTENSIONS = 0xa3; // [3] EXPLICIT
const KEY_IDENTIFIER = 0x80; // [0] IMPLICIT OCTET STRING
/** id-ce-authorityKeyIdentifier, 2.5.29.35, DER-encoded. */
const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]);

function want(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) throw new Error(`${what}: expected tag 0x${tag.toString(16)}`);
  return tlv;
}

/** The DER of the first certificate in a PEM text. */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m?.[1]) throw new Error('no certificate in the PEM text');
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

/** The AKI keyIdentifier and the serial's content octets, read from the DER. */
export function certIdParts(der: Buffer): { keyIdentifier: Buffer | undefined; serial: Buffer } {
  const cert = want(readTlv(der, 0), SEQUENCE, 'Certificate');
  const tbs = children(want(children(cert.value)[0], SEQUENCE, 'tbsCertificate').value);
  let i = 0;
  if (tbs[0]?.tag === VERSION) i++;
  const serial = want(tbs[i], INTEGER, 'serialNumber').value;
  const extensions = tbs.find((t) => t.tag === EXTENSIONS);
  let keyIdentifier: Buffer | undefined;
  if (extensions) {
    const list = want(children(extensions.value)[0], SEQUENCE, 'Extensions');
    for (const ext of children(list.value)) {
      const parts = children(want(ext, SEQUENCE, 'Extension').value);
      if (!want(parts[0], OID, 'extnID').value.equals(AKI_OID)) continue;
      const octets = want(parts.at(-1), OCTET_STRING, 'extnValue').value;
      const aki = want(readTlv(octets, 0), SEQUENCE, 'AuthorityKeyIdentifier');
      keyIdentifier = children(aki.value).find((t) => t.tag === KEY_IDENTIFIER)?.value;
    }
  }
  return { keyIdentifier, serial };
}

/** The RFC 9773 certID of a certificate (PEM), or undefined when it has no AKI keyIdentifier. */
export function certIdOf(pem: string): string | undefined {
  const { keyIdentifier, serial } = certIdParts(pemToDer(pem));
  if (!keyIdentifier || keyIdentifier.length === 0) return undefined;
  return `${keyIdentifier.toString('base64url')}.${serial.toString('base64url')}`;
}
