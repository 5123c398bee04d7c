/**
 * Test PKI built with node:crypto only (a small DER encoder; no openssl, no temp files):
 * root CAs, intermediates and leaves with any validity window, SANs, key type and extensions,
 * including deliberately broken ones. `makeTestPki()` gives a complete, valid bundle for given
 * names and key type (also for e2e tests).
 */
import { type KeyType } from '../../rotation/certificate/key-types.js';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { buildBundle, type CertificateBundle } from '../../rotation/certificate/bundle.js';

// ---------------------------------------------------------------- DER

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const nul = (): Buffer => Buffer.from([0x05, 0x00]);
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);

function intBytes(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && ((b[i + 1] as number) & 0x80) === 0) i++;
  const trimmed = b.subarray(i);
  return tlv(0x02, ((trimmed[0] as number) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function int(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  return intBytes(Buffer.from(bytes));
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const stack: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const y = d.getUTCFullYear();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // YYYYMMDDHHMMSS
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(digits.slice(2) + 'Z', 'ascii'));
  return tlv(0x18, Buffer.from(digits + 'Z', 'ascii'));
}

function name(attrs: Array<[string, string]>): Buffer {
  const OIDS: Record<string, string> = { CN: '2.5.4.3', O: '2.5.4.10', C: '2.5.4.6', OU: '2.5.4.11' };
  return seq(
    ...attrs.map(([k, v]) => set(seq(oid(OIDS[k] ?? k), tlv(k === 'C' ? 0x13 : 0x0c, Buffer.from(v, 'utf8'))))),
  );
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${b64.join('\n')}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------- keys

const keyCache = new Map<KeyType, KeyObject[]>();

/** A fresh key of the given type. */
export function generateKey(type: KeyType): KeyObject {
  switch (type) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'rsa-3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey;
  }
}

/**
 * The n-th key of a per-process pool (RSA generation is slow). Distinct n give distinct keys.
 * Use for CA keys and leaves where freshness does not matter.
 */
export function pooledKey(type: KeyType, n = 0): KeyObject {
  let pool = keyCache.get(type);
  if (!pool) keyCache.set(type, (pool = []));
  while (pool.length <= n) pool.push(generateKey(type));
  return pool[n] as KeyObject;
}

export function keyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function signatureAlgorithm(key: KeyObject): { alg: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'ec') {
    const p384 = key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
    return p384
      ? { alg: seq(oid('1.2.840.10045.4.3.3')), hash: 'sha384' }
      : { alg: seq(oid('1.2.840.10045.4.3.2')), hash: 'sha256' };
  }
  return { alg: seq(oid('1.2.840.113549.1.1.11'), nul()), hash: 'sha256' };
}

// ---------------------------------------------------------------- certificates

export interface CertSpec {
  subjectCn?: string;
  /** Extra subject attributes (default O=acme-rotation tests). */
  subjectO?: string;
  /** The subject's private key (its public half goes into the certificate). */
  key: KeyObject;
  /** Issuer; omitted = self-signed. */
  issuer?: TestCa;
  notBefore: Date;
  notAfter: Date;
  /** basicConstraints CA flag; undefined = no basicConstraints extension. */
  ca?: boolean;
  pathLen?: number;
  /** DNS SANs; undefined = no SAN extension. */
  dnsNames?: string[];
  /** IP SANs (v4 dotted). */
  ipAddresses?: string[];
  /** Extended key usage OIDs; undefined = none. */
  eku?: string[];
  /** keyUsage bits as a byte (0x80 digitalSignature, 0x20 keyEncipherment, 0x04 keyCertSign, 0x02 cRLSign). */
  keyUsage?: number;
  /** Write authorityKeyIdentifier (default true for issued certificates). */
  authorityKeyId?: boolean;
  serial?: Buffer;
  /** Further extensions (extnValue contents as DER), written before all the others. */
  extraExtensions?: Array<{ oid: string; critical?: boolean; value: Buffer }>;
}

export interface TestCa {
  cert: X509Certificate;
  certPem: string;
  key: KeyObject;
  keyPem: string;
  /** Subject CN. */
  name: string;
  subjectDer: Buffer;
  keyId: Buffer;
}

function keyIdOf(key: KeyObject): Buffer {
  return createHash('sha1').update(spkiOf(key)).digest();
}

function spkiOf(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

function bitsByte(byte: number): Buffer {
  let unused = 0;
  while (unused < 7 && (byte & (1 << unused)) === 0) unused++;
  return bitString(Buffer.from([byte]), byte === 0 ? 0 : unused);
}

/** Issue (sign) a certificate; returns its DER and the subject name DER. */
export function issueCertificate(spec: CertSpec): {
  der: Buffer;
  pem: string;
  cert: X509Certificate;
  subjectDer: Buffer;
} {
  const subjectDer = name([
    ...(spec.subjectO === '' ? [] : ([['O', spec.subjectO ?? 'acme-rotation tests']] as Array<[string, string]>)),
    ...(spec.subjectCn ? ([['CN', spec.subjectCn]] as Array<[string, string]>) : []),
  ]);
  const issuerDer = spec.issuer ? spec.issuer.subjectDer : subjectDer;
  const signingKey = spec.issuer ? spec.issuer.key : spec.key;
  const { alg, hash } = signatureAlgorithm(signingKey);
  const serialBytes = spec.serial ?? randomBytes(16);
  if (!spec.serial) serialBytes[0] = ((serialBytes[0] as number) & 0x7f) | 0x01;

  const exts: Buffer[] = [];
  const ext = (id: string, critical: boolean, value: Buffer): void => {
    exts.push(seq(oid(id), ...(critical ? [bool(true)] : []), octets(value)));
  };
  for (const extra of spec.extraExtensions ?? []) ext(extra.oid, extra.critical ?? false, extra.value);
  if (spec.ca !== undefined) {
    ext(
      '2.5.29.19',
      true,
      seq(...(spec.ca ? [bool(true), ...(spec.pathLen !== undefined ? [int(spec.pathLen)] : [])] : [])),
    );
  }
  if (spec.keyUsage !== undefined) ext('2.5.29.15', true, bitsByte(spec.keyUsage));
  if (spec.eku) ext('2.5.29.37', false, seq(...spec.eku.map(oid)));
  if (spec.dnsNames || spec.ipAddresses) {
    ext(
      '2.5.29.17',
      false,
      seq(
        ...(spec.dnsNames ?? []).map((n) => tlv(0x82, Buffer.from(n, 'ascii'))),
        ...(spec.ipAddresses ?? []).map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
      ),
    );
  }
  ext('2.5.29.14', false, octets(keyIdOf(spec.key)));
  if (spec.issuer && spec.authorityKeyId !== false) ext('2.5.29.35', false, seq(tlv(0x80, spec.issuer.keyId)));

  const tbs = seq(
    explicit(0, int(2)),
    intBytes(serialBytes),
    alg,
    issuerDer,
    seq(time(spec.notBefore), time(spec.notAfter)),
    subjectDer,
    spkiOf(spec.key),
    explicit(3, seq(...exts)),
  );
  const signature = sign(hash, tbs, signingKey);
  const der = seq(tbs, alg, bitString(signature));
  const certPem = pem('CERTIFICATE', der);
  return { der, pem: certPem, cert: new X509Certificate(certPem), subjectDer };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface CaOptions {
  cn?: string;
  keyType?: KeyType;
  key?: KeyObject;
  notBefore?: Date;
  notAfter?: Date;
  /** Write authorityKeyIdentifier in an issued CA (default true). */
  authorityKeyId?: boolean;
  /** basicConstraints pathLenConstraint (default none). */
  pathLen?: number;
}

function toCa(issued: ReturnType<typeof issueCertificate>, key: KeyObject, cn: string): TestCa {
  return {
    cert: issued.cert,
    certPem: issued.pem,
    key,
    keyPem: keyPem(key),
    name: cn,
    subjectDer: issued.subjectDer,
    keyId: keyIdOf(key),
  };
}

let caCounter = 0;

/** A self-signed root CA. */
export function makeRootCa(opts: CaOptions = {}): TestCa {
  const cn = opts.cn ?? `acme-rotation Test Root ${++caCounter}`;
  const key = opts.key ?? generateKey(opts.keyType ?? 'ecdsa-p256');
  const now = Date.now();
  const issued = issueCertificate({
    subjectCn: cn,
    key,
    notBefore: opts.notBefore ?? new Date(now - DAY),
    notAfter: opts.notAfter ?? new Date(now + 3650 * DAY),
    ca: true,
    keyUsage: 0x86,
  });
  return toCa(issued, key, cn);
}

/** An intermediate CA issued by `issuer`. */
export function makeIntermediateCa(issuer: TestCa, opts: CaOptions = {}): TestCa {
  const cn = opts.cn ?? `acme-rotation Test Intermediate ${++caCounter}`;
  const key = opts.key ?? generateKey(opts.keyType ?? 'ecdsa-p256');
  const now = Date.now();
  const issued = issueCertificate({
    subjectCn: cn,
    key,
    issuer,
    notBefore: opts.notBefore ?? new Date(now - DAY),
    notAfter: opts.notAfter ?? new Date(now + 1825 * DAY),
    ca: true,
    pathLen: opts.pathLen,
    keyUsage: 0x86,
    authorityKeyId: opts.authorityKeyId,
  });
  return toCa(issued, key, cn);
}

export interface LeafOptions {
  /** DNS SANs written into the certificate; undefined with `noSan` = no SAN extension. */
  dnsNames: string[];
  noSan?: boolean;
  ipAddresses?: string[];
  keyType?: KeyType;
  key?: KeyObject;
  notBefore?: Date;
  notAfter?: Date;
  /** basicConstraints CA:TRUE on the leaf (a bad leaf). */
  ca?: boolean;
  /** EKU OIDs; default serverAuth. */
  eku?: string[];
  subjectCn?: string;
  authorityKeyId?: boolean;
}

export interface TestLeaf {
  cert: X509Certificate;
  certPem: string;
  key: KeyObject;
  keyPem: string;
}

export const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** A leaf issued by `issuer`; by default valid from 1 h ago for 30 days, serverAuth, non-CA. */
export function makeLeaf(issuer: TestCa, opts: LeafOptions): TestLeaf {
  const key = opts.key ?? generateKey(opts.keyType ?? 'ecdsa-p256');
  const now = Date.now();
  const rsa = key.asymmetricKeyType === 'rsa';
  const issued = issueCertificate({
    subjectCn: opts.subjectCn,
    subjectO: '',
    key,
    issuer,
    notBefore: opts.notBefore ?? new Date(now - HOUR),
    notAfter: opts.notAfter ?? new Date(now + 30 * DAY),
    ca: opts.ca ?? false,
    keyUsage: rsa ? 0xa0 : 0x80,
    eku: opts.eku ?? [SERVER_AUTH],
    dnsNames: opts.noSan ? undefined : opts.dnsNames,
    ipAddresses: opts.ipAddresses,
    authorityKeyId: opts.authorityKeyId,
  });
  return { cert: issued.cert, certPem: issued.pem, key, keyPem: keyPem(key) };
}

export interface TestPkiOptions extends Partial<LeafOptions> {
  /** Spec names (the bundle's domains); also the SANs unless `dnsNames` is given. */
  names: string[];
  keyType?: KeyType;
  /** Reuse a root (e.g. one shared by a test file). Default: a fresh root. */
  root?: TestCa;
  /** Number of intermediates between root and leaf (default 1). */
  intermediates?: number;
  /** Append the root itself to the chain. */
  includeRoot?: boolean;
  issuedAt?: Date;
}

export interface TestPki {
  root: TestCa;
  /** From the root down to the leaf's issuer. */
  intermediates: TestCa[];
  leaf: TestLeaf;
  /** Intermediates PEM, leaf's issuer first (what a CA sends after the leaf). */
  chainPem: string;
  fullchainPem: string;
  /** buildBundle() of the above. */
  bundle: CertificateBundle;
  /** Pass as VerifyOptions.trustedRootsPem. */
  trustedRootsPem: string[];
}

/** A complete PKI and a valid bundle for `names` (tweakable through the leaf options). */
export function makeTestPki(opts: TestPkiOptions): TestPki {
  const keyType = opts.keyType ?? 'ecdsa-p256';
  const root = opts.root ?? makeRootCa();
  const intermediates: TestCa[] = [];
  let issuer = root;
  for (let i = 0; i < (opts.intermediates ?? 1); i++) {
    issuer = makeIntermediateCa(issuer);
    intermediates.push(issuer);
  }
  const leaf = makeLeaf(issuer, { ...opts, dnsNames: opts.dnsNames ?? opts.names, keyType });
  const chainCerts = [...intermediates].reverse().map((c) => c.certPem);
  if (opts.includeRoot) chainCerts.push(root.certPem);
  const chainPem = chainCerts.join('');
  const fullchainPem = leaf.certPem + chainPem;
  const bundle = buildBundle({
    certificatePem: fullchainPem,
    privateKeyPem: leaf.keyPem,
    keyType,
    domains: opts.names,
    issuedAt: opts.issuedAt,
  });
  return { root, intermediates, leaf, chainPem, fullchainPem, bundle, trustedRootsPem: [root.certPem] };
}
