/**
 * Local AWS Certificate Manager (JSON 1.1 protocol, `X-Amz-Target: CertificateManager.<Op>`),
 * for imported certificates only: ImportCertificate (new and re-import), DescribeCertificate,
 * GetCertificate, ListCertificates and the certificate tags.
 *
 * ACM is regional: every request works in the region of its SigV4 credential scope (the SDK signs
 * with its configured region even against a custom endpoint), and an ARN of another region or
 * account is refused, as the real service refuses it.
 *
 * What ACM refuses is modelled with the real error names (ValidationException for content the
 * service cannot accept, ResourceNotFoundException, InvalidArnException, LimitExceededException,
 * InvalidTagException, TooManyTagsException); the messages follow the real ones where they are
 * documented or commonly reported, and are close paraphrases otherwise:
 * - Certificate: PEM, exactly one certificate, parsable, currently valid, an issuer, a domain name
 *   or IP address, and a key ACM supports (RSA 1024/2048/3072/4096, EC P-256/P-384/P-521);
 * - PrivateKey: PEM, unencrypted, at most 5,120 bytes, the certificate's own key;
 * - CertificateChain: PEM certificates, each certifying the one before it (the leaf's issuer
 *   first), without the leaf itself;
 * - re-import (ACM User Guide, "Prerequisites for importing" and "Reimport a certificate"): the
 *   ARN must exist in this region and account, the key algorithm cannot change, Tags are not
 *   permitted, a KeyUsage or ExtendedKeyUsage extension cannot be added when the current
 *   certificate lacks it, and a value the current certificate has cannot be removed — except the
 *   EKU client authentication, and the KU keyEncipherment on ECDSA keys;
 * - quotas per region: imported certificates held (default 2,500) and imports in the last 365
 *   days (default 5,000; every import, re-imports included, counts here).
 *
 * `handle(operation, input, region)` is synchronous and returns the JSON output object or throws an
 * LocalServiceError; JsonService (protocols.ts) does the wire format, the dispatcher (dispatcher.ts)
 * the rate limit and the faults.
 */
import { parseSubjectAltName } from '../../../rotation/x509/names.js';
import { ANY_KEY_BLOCK_START, ENCRYPTED_KEY_HEADER } from '../../helpers/pem-markers.js';
import { createPrivateKey, createPublicKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
// A second reader of KeyUsage (the product reads it with rotation/x509/): the model must not share
// the code whose decisions it judges. (acme-client brings @peculiar/x509 along.)
import { KeyUsageFlags, KeyUsagesExtension, X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { credentialScope } from './credential-scope.js';
import { LocalServiceError } from './errors.js';
import { JsonService } from './protocols.js';
import type { Call, ServiceRequest } from './types.js';

export type AcmKeyAlgorithm =
  'RSA_1024' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096' | 'EC_prime256v1' | 'EC_secp384r1' | 'EC_secp521r1';

export interface AcmExtendedKeyUsage {
  Name: string;
  OID: string;
}

/** One stored certificate, as the test accessors give it. */
export interface AcmCertificateRecord {
  arn: string;
  region: string;
  /** The leaf as imported (PEM). */
  certificatePem: string;
  /** The chain as imported (PEM), when one was given. */
  chainPem?: string;
  privateKeyPem: string;
  /** ACM's format: lower-case hex bytes joined by ':'. */
  serial: string;
  keyAlgorithm: AcmKeyAlgorithm;
  domainName: string;
  subjectAlternativeNames: string[];
  /** EKU OIDs of the current certificate; undefined when it has no EKU extension. */
  extendedKeyUsageOids?: string[];
  /** KeyUsage names (DIGITAL_SIGNATURE, …) of the current certificate; undefined when it has no KU extension. */
  keyUsageNames?: string[];
  /** How many times ImportCertificate wrote this ARN (1 after the first import). */
  importCount: number;
  /** Epoch milliseconds of the first import. */
  createdAt: number;
  /** Epoch milliseconds of the latest import. */
  importedAt: number;
  inUseBy: string[];
  tags: Map<string, string>;
}

export interface AcmLimits {
  /** Imported certificates held per region (ACM default 2,500). */
  maxCertificates: number;
  /** ImportCertificate calls per region in the last 365 days (ACM default 5,000). */
  importsPerYear: number;
}

export interface AcmOptions {
  accountId?: string;
  now?: () => number;
  limits?: Partial<AcmLimits>;
}

type Input = Record<string, unknown>;

const YEAR_MS = 365 * 24 * 3_600_000;
const MAX_CERTIFICATE_BYTES = 32_768;
const MAX_PRIVATE_KEY_BYTES = 5_120;
const MAX_CHAIN_BYTES = 2_097_152;
const MAX_TAGS = 50;
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
/** DescribeCertificate's KeyUsage names, by KeyUsage bit (RFC 5280 §4.2.1.3). */
const KU_NAMES: Array<[KeyUsageFlags, string]> = [
  [KeyUsageFlags.digitalSignature, 'DIGITAL_SIGNATURE'],
  [KeyUsageFlags.nonRepudiation, 'NON_REPUDIATION'],
  [KeyUsageFlags.keyEncipherment, 'KEY_ENCIPHERMENT'],
  [KeyUsageFlags.dataEncipherment, 'DATA_ENCIPHERMENT'],
  [KeyUsageFlags.keyAgreement, 'KEY_AGREEMENT'],
  [KeyUsageFlags.keyCertSign, 'CERTIFICATE_SIGNING'],
  [KeyUsageFlags.cRLSign, 'CRL_SIGNING'],
  [KeyUsageFlags.encipherOnly, 'ENCIPHER_ONLY'],
  [KeyUsageFlags.decipherOnly, 'DECIPHER_ONLY'],
];
/** The CertificateArn constraint of the ACM API reference. */
const ARN_PATTERN = /^arn:[\w+=/,.@-]+:acm:[\w+=/,.@-]*:[0-9]+:[\w+=,.@-]+(\/[\w+=,.@-]+)*$/;
const ARN_PATTERN_TEXT = 'arn:[\\w+=/,.@-]+:acm:[\\w+=/,.@-]*:[0-9]+:[\\w+=,.@-]+(/[\\w+=,.@-]+)*';
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const STATUSES = ['PENDING_VALIDATION', 'ISSUED', 'INACTIVE', 'EXPIRED', 'VALIDATION_TIMED_OUT', 'REVOKED', 'FAILED'];
/** ListCertificates without Includes.keyTypes lists only these. */
const DEFAULT_LIST_KEY_TYPES: AcmKeyAlgorithm[] = ['RSA_1024', 'RSA_2048'];

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'TLS_WEB_SERVER_AUTHENTICATION',
  '1.3.6.1.5.5.7.3.2': 'TLS_WEB_CLIENT_AUTHENTICATION',
  '1.3.6.1.5.5.7.3.3': 'CODE_SIGNING',
  '1.3.6.1.5.5.7.3.4': 'EMAIL_PROTECTION',
  '1.3.6.1.5.5.7.3.5': 'IPSEC_END_SYSTEM',
  '1.3.6.1.5.5.7.3.6': 'IPSEC_TUNNEL',
  '1.3.6.1.5.5.7.3.7': 'IPSEC_USER',
  '1.3.6.1.5.5.7.3.8': 'TIME_STAMPING',
  '1.3.6.1.5.5.7.3.9': 'OCSP_SIGNING',
  '2.5.29.37.0': 'ANY',
};

function validation(message: string): LocalServiceError {
  return new LocalServiceError('ValidationException', message);
}

function seconds(ms: number): number {
  return ms / 1000;
}

/** ACM's serial format: the certificate's serial as lower-case hex bytes joined by ':'. */
export function acmSerial(cert: X509Certificate): string {
  let hex = cert.serialNumber.toLowerCase();
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return (hex.match(/../g) ?? []).join(':');
}

/** The ACM KeyAlgorithm of a public key, or undefined when ACM does not support it. */
export function acmKeyAlgorithm(key: KeyObject): AcmKeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    switch (details?.modulusLength) {
      case 1024:
        return 'RSA_1024';
      case 2048:
        return 'RSA_2048';
      case 3072:
        return 'RSA_3072';
      case 4096:
        return 'RSA_4096';
      default:
        return undefined;
    }
  }
  if (key.asymmetricKeyType === 'ec') {
    switch (details?.namedCurve) {
      case 'prime256v1':
        return 'EC_prime256v1';
      case 'secp384r1':
        return 'EC_secp384r1';
      case 'secp521r1':
        return 'EC_secp521r1';
      default:
        return undefined;
    }
  }
  return undefined;
}

/** The KeyUsage names of a certificate; undefined when it has no KeyUsage extension. */
function keyUsageNames(pem: string): string[] | undefined {
  const ku = new PeculiarCertificate(pem).getExtension(KeyUsagesExtension);
  if (!ku) return undefined;
  return KU_NAMES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, name]) => name);
}

function extendedKeyUsages(oids: string[] | undefined): AcmExtendedKeyUsage[] {
  return (oids ?? []).map((oid) => ({ Name: EKU_NAMES[oid] ?? 'CUSTOM', OID: oid }));
}

/** Decodes a blob member (base64 on the wire) to its text. */
function blobText(input: Input, field: string, maxBytes: number): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
    throw new LocalServiceError('SerializationException', `${field} must be a base64-encoded blob.`);
  }
  const bytes = Buffer.from(v, 'base64');
  const member = field.charAt(0).toLowerCase() + field.slice(1);
  if (bytes.length < 1) {
    throw validation(
      `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length greater than or equal to 1`,
    );
  }
  if (bytes.length > maxBytes) {
    throw validation(
      `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${maxBytes}`,
    );
  }
  return bytes.toString('utf8');
}

function optString(input: Input, field: string): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new LocalServiceError('SerializationException', `${field} must be a string.`);
  return v;
}

interface ParsedArn {
  region: string;
  account: string;
}

/** The parts of an ACM certificate ARN; anything else ACM refuses before looking anything up. */
function parseArn(arn: string, member = 'certificateArn'): ParsedArn {
  if (arn.length < 20 || arn.length > 2048 || !ARN_PATTERN.test(arn)) {
    throw validation(
      `1 validation error detected: Value '${arn}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${ARN_PATTERN_TEXT}`,
    );
  }
  const parts = arn.split(':');
  const resource = parts.slice(5).join(':');
  if (!/^certificate\/[\w-]+$/.test(resource)) {
    throw new LocalServiceError('InvalidArnException', `The ARN ${arn} is not a valid certificate ARN.`);
  }
  return { region: parts[3] as string, account: parts[4] as string };
}

/** The DNS names and IP addresses of the subjectAltName extension. */
function sanNames(cert: X509Certificate): string[] {
  const { dns, other } = parseSubjectAltName(cert.subjectAltName);
  const ip = 'IP Address:';
  return [...dns, ...other.filter((o) => o.startsWith(ip)).map((o) => o.slice(ip.length))];
}

/**
 * An attribute of a distinguished name as node:crypto prints it (one `K=V` per line). An empty
 * name comes back undefined at run time, whatever the typings say.
 */
function dnAttribute(dn: string | undefined, key: string): string | undefined {
  for (const line of (dn ?? '').split('\n')) {
    if (line.startsWith(`${key}=`)) return line.slice(key.length + 1);
  }
  return undefined;
}

interface ParsedImport {
  leaf: X509Certificate;
  certificatePem: string;
  chainPem?: string;
  privateKeyPem: string;
  keyAlgorithm: AcmKeyAlgorithm;
  domainName: string;
  sans: string[];
  ekuOids?: string[];
  kuNames?: string[];
}

export class AcmService extends JsonService {
  readonly name = 'acm';
  protected readonly targetPrefix = 'CertificateManager';
  readonly accountId: string;
  readonly limits: AcmLimits;
  private readonly now: () => number;
  private readonly byArn = new Map<string, AcmCertificateRecord>();
  /** Epoch ms of every import, by region (the 365-day quota). */
  private readonly importTimes = new Map<string, number[]>();

  constructor(options: AcmOptions = {}) {
    super();
    this.accountId = options.accountId ?? '123456789012';
    this.now = options.now ?? Date.now;
    this.limits = { maxCertificates: 2500, importsPerYear: 5000, ...options.limits };
  }

  // ------------------------------------------------------------ test accessors

  /** The stored certificates (of one region, or all), oldest first. */
  certificates(region?: string): AcmCertificateRecord[] {
    return [...this.byArn.values()].filter((c) => region === undefined || c.region === region);
  }

  certificate(arn: string): AcmCertificateRecord | undefined {
    return this.byArn.get(arn);
  }

  /** What DescribeCertificate reports in InUseBy (e.g. a CloudFront distribution's ARN). */
  setInUseBy(arn: string, resources: string[]): void {
    const record = this.byArn.get(arn);
    if (!record) throw new Error(`local ACM: no certificate ${arn}`);
    record.inUseBy = [...resources];
  }

  // ------------------------------------------------------------ operations

  /** A call works in the region of its SigV4 credential scope (recorded with the call). */
  override route(request: ServiceRequest): Call | undefined {
    const call = super.route(request);
    const region = credentialScope(request)?.region;
    return call && region !== undefined ? { ...call, region } : call;
  }

  protected run(call: Call): unknown {
    if (call.region === undefined) {
      throw new LocalServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    return this.handle(call.operation, call.input as Input, call.region);
  }

  handle(operation: string, input: Input, region: string): unknown {
    switch (operation) {
      case 'ImportCertificate':
        return this.importCertificate(input, region);
      case 'DescribeCertificate':
        return { Certificate: this.describe(this.find(input, region)) };
      case 'GetCertificate': {
        const record = this.find(input, region);
        return {
          Certificate: record.certificatePem,
          ...(record.chainPem !== undefined ? { CertificateChain: record.chainPem } : {}),
        };
      }
      case 'ListCertificates':
        return this.listCertificates(input, region);
      case 'AddTagsToCertificate': {
        const record = this.find(input, region);
        const tags = this.parseTags(input['Tags']);
        if (tags === undefined || tags.length === 0) {
          throw validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
          );
        }
        const merged = new Map(record.tags);
        for (const t of tags) merged.set(t.Key, t.Value);
        if (merged.size > MAX_TAGS) {
          throw new LocalServiceError('TooManyTagsException', `A certificate can have at most ${MAX_TAGS} tags.`);
        }
        record.tags = merged;
        return {};
      }
      case 'RemoveTagsFromCertificate': {
        const record = this.find(input, region);
        if (this.parseTags(input['Tags']) === undefined) {
          throw validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
          );
        }
        for (const t of input['Tags'] as { Key: string; Value?: unknown }[]) {
          // A tag given with a value is removed only when the value matches.
          if (t.Value === undefined || t.Value === null || record.tags.get(t.Key) === t.Value) {
            record.tags.delete(t.Key);
          }
        }
        return {};
      }
      case 'ListTagsForCertificate': {
        const record = this.find(input, region);
        return { Tags: [...record.tags].map(([Key, Value]) => ({ Key, Value })) };
      }
      default:
        throw new LocalServiceError('UnknownOperationException', `The local ACM does not implement ${operation}.`);
    }
  }

  /** The certificate an input's CertificateArn names, in this region and account. */
  private find(input: Input, region: string): AcmCertificateRecord {
    const arn = optString(input, 'CertificateArn');
    if (arn === undefined) {
      throw validation(
        "1 validation error detected: Value null at 'certificateArn' failed to satisfy constraint: Member must not be null",
      );
    }
    this.checkArnScope(arn, region);
    const record = this.byArn.get(arn);
    if (!record) {
      throw new LocalServiceError('ResourceNotFoundException', `Could not find certificate ${arn}.`);
    }
    return record;
  }

  /** An ARN of another region or account names nothing this regional endpoint can reach. */
  private checkArnScope(arn: string, region: string): void {
    const parsed = parseArn(arn);
    if (parsed.region !== region) {
      throw new LocalServiceError(
        'InvalidArnException',
        `The certificate ARN ${arn} is in region ${parsed.region}, not in the region of the request (${region}).`,
      );
    }
    if (parsed.account !== this.accountId) {
      throw new LocalServiceError(
        'InvalidArnException',
        `The certificate ARN ${arn} belongs to account ${parsed.account}, not to the caller's account.`,
      );
    }
  }

  private importCertificate(input: Input, region: string): { CertificateArn: string } {
    const arn = optString(input, 'CertificateArn');
    const rawTags = input['Tags'];
    if (arn !== undefined && rawTags !== undefined && rawTags !== null) {
      // Even an empty list is refused.
      throw validation('Tagging is not permitted on re-import.');
    }
    const certificateText = blobText(input, 'Certificate', MAX_CERTIFICATE_BYTES);
    const privateKeyText = blobText(input, 'PrivateKey', MAX_PRIVATE_KEY_BYTES);
    const chainText = blobText(input, 'CertificateChain', MAX_CHAIN_BYTES);
    if (certificateText === undefined) {
      throw validation(
        "1 validation error detected: Value null at 'certificate' failed to satisfy constraint: Member must not be null",
      );
    }
    if (privateKeyText === undefined) {
      throw validation(
        "1 validation error detected: Value null at 'privateKey' failed to satisfy constraint: Member must not be null",
      );
    }
    const tags = arn === undefined ? this.parseTags(rawTags) : undefined;
    if (tags !== undefined && tags.length > MAX_TAGS) {
      throw new LocalServiceError('TooManyTagsException', `A certificate can have at most ${MAX_TAGS} tags.`);
    }

    let existing: AcmCertificateRecord | undefined;
    if (arn !== undefined) {
      this.checkArnScope(arn, region);
      existing = this.byArn.get(arn);
      if (!existing) {
        throw new LocalServiceError('ResourceNotFoundException', `Could not find certificate ${arn}.`);
      }
    }

    const parsed = this.parseImport(certificateText, privateKeyText, chainText);
    if (existing) this.checkReimport(existing, parsed);

    const now = this.now();
    const times = (this.importTimes.get(region) ?? []).filter((t) => t > now - YEAR_MS);
    this.importTimes.set(region, times);
    if (!existing && this.certificates(region).length >= this.limits.maxCertificates) {
      throw new LocalServiceError(
        'LimitExceededException',
        `You have reached the quota of ${this.limits.maxCertificates} imported certificates in ${region}.`,
      );
    }
    if (times.length >= this.limits.importsPerYear) {
      throw new LocalServiceError(
        'LimitExceededException',
        `You have reached the quota of ${this.limits.importsPerYear} certificate imports in the last 365 days in ${region}.`,
      );
    }
    times.push(now);

    const fields = {
      certificatePem: parsed.certificatePem,
      privateKeyPem: parsed.privateKeyPem,
      serial: acmSerial(parsed.leaf),
      keyAlgorithm: parsed.keyAlgorithm,
      domainName: parsed.domainName,
      subjectAlternativeNames: parsed.sans,
      importedAt: now,
    };
    if (existing) {
      Object.assign(existing, fields, { importCount: existing.importCount + 1 });
      // The chain is replaced as a whole: a re-import without one leaves none.
      existing.chainPem = parsed.chainPem;
      existing.extendedKeyUsageOids = parsed.ekuOids;
      existing.keyUsageNames = parsed.kuNames;
      return { CertificateArn: existing.arn };
    }
    const record: AcmCertificateRecord = {
      arn: `arn:aws:acm:${region}:${this.accountId}:certificate/${randomUUID()}`,
      region,
      ...fields,
      ...(parsed.chainPem !== undefined ? { chainPem: parsed.chainPem } : {}),
      ...(parsed.ekuOids !== undefined ? { extendedKeyUsageOids: parsed.ekuOids } : {}),
      ...(parsed.kuNames !== undefined ? { keyUsageNames: parsed.kuNames } : {}),
      importCount: 1,
      createdAt: now,
      inUseBy: [],
      tags: new Map((tags ?? []).map((t) => [t.Key, t.Value])),
    };
    this.byArn.set(record.arn, record);
    return { CertificateArn: record.arn };
  }

  /** Everything ACM checks in the material itself. */
  private parseImport(certificateText: string, privateKeyText: string, chainText: string | undefined): ParsedImport {
    const blocks = certificateText.match(CERT_BLOCK) ?? [];
    if (blocks.length === 0) {
      throw validation('The certificate is not PEM-encoded or is not valid.');
    }
    if (blocks.length > 1) {
      throw validation(
        'The certificate field contains more than one certificate. You can specify only one certificate in this field.',
      );
    }
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(blocks[0] as string);
    } catch {
      throw validation('The certificate is not PEM-encoded or is not valid.');
    }
    const now = this.now();
    if (now < Date.parse(leaf.validFrom)) {
      throw validation('The certificate is not valid yet: its NotBefore is in the future.');
    }
    if (now > Date.parse(leaf.validTo)) {
      throw validation('The certificate has expired: its NotAfter is in the past.');
    }
    if ((leaf.issuer ?? '').trim() === '') {
      throw validation('The certificate has an empty Issuer field.');
    }
    const keyAlgorithm = acmKeyAlgorithm(leaf.publicKey);
    if (keyAlgorithm === undefined) {
      throw validation(
        'The certificate key algorithm is not supported. ACM supports RSA 1024, 2048, 3072 and 4096 bit and EC P-256, P-384 and P-521 keys.',
      );
    }
    const sans = sanNames(leaf);
    const cn = dnAttribute(leaf.subject, 'CN');
    const domainName = cn ?? sans[0];
    if (domainName === undefined) {
      throw validation('The certificate must contain a domain name or an IP address.');
    }

    if (!ANY_KEY_BLOCK_START.test(privateKeyText)) {
      throw validation('The private key is not PEM-encoded or is not valid.');
    }
    if (privateKeyText.includes(ENCRYPTED_KEY_HEADER) || /Proc-Type:\s*4,ENCRYPTED/.test(privateKeyText)) {
      throw validation('The private key is encrypted. You cannot import a private key protected by a passphrase.');
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: privateKeyText, format: 'pem' });
    } catch {
      throw validation('The private key is not PEM-encoded or is not valid.');
    }
    const certSpki = leaf.publicKey.export({ type: 'spki', format: 'der' });
    const keySpki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    if (!certSpki.equals(keySpki)) {
      throw validation('The private key does not match the public key in the certificate.');
    }

    let chainPem: string | undefined;
    if (chainText !== undefined) {
      const chainBlocks = chainText.match(CERT_BLOCK) ?? [];
      if (chainBlocks.length === 0) {
        throw validation('The certificate chain is not PEM-encoded or is not valid.');
      }
      const chain: X509Certificate[] = [];
      for (const block of chainBlocks) {
        try {
          chain.push(new X509Certificate(block));
        } catch {
          throw validation('The certificate chain is not PEM-encoded or is not valid.');
        }
      }
      if (chain.some((c) => c.fingerprint256 === leaf.fingerprint256)) {
        throw validation('The certificate chain must not contain the certificate being imported.');
      }
      let child = leaf;
      for (const parent of chain) {
        if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
          throw validation(
            'Could not validate the certificate with the certificate chain: each certificate in the chain must directly certify the one preceding it.',
          );
        }
        child = parent;
      }
      chainPem = chainText;
    }

    const kuNames = keyUsageNames(blocks[0] as string);
    return {
      leaf,
      certificatePem: certificateText,
      ...(chainPem !== undefined ? { chainPem } : {}),
      privateKeyPem: privateKeyText,
      keyAlgorithm,
      domainName,
      sans: sans.length > 0 ? sans : [domainName],
      // node:crypto's X509Certificate#keyUsage is the ExtendedKeyUsage list, despite its name.
      ...(leaf.keyUsage !== undefined ? { ekuOids: [...leaf.keyUsage] } : {}),
      ...(kuNames !== undefined ? { kuNames } : {}),
    };
  }

  /** What a re-import cannot change (the ACM "Reimport a certificate" conditions). */
  private checkReimport(existing: AcmCertificateRecord, next: ParsedImport): void {
    if (existing.keyAlgorithm !== next.keyAlgorithm) {
      throw validation(
        `The key algorithm of the new certificate (${next.keyAlgorithm}) must match the key algorithm of the certificate it replaces (${existing.keyAlgorithm}).`,
      );
    }
    // "you cannot add a KeyUsage or ExtendedKeyUsage extension if the extension was not present
    // in the previously imported certificate"
    if (existing.keyUsageNames === undefined && next.kuNames !== undefined) {
      throw validation(
        'You cannot add a KeyUsage extension that was not present in the previously imported certificate.',
      );
    }
    if (existing.extendedKeyUsageOids === undefined && next.ekuOids !== undefined) {
      throw validation(
        'You cannot add an ExtendedKeyUsage extension that was not present in the previously imported certificate.',
      );
    }
    // "you can add new extension values, but you cannot remove existing values", except
    // keyEncipherment from ECDSA certificates and the client authentication EKU.
    const ecdsa = next.keyAlgorithm.startsWith('EC_');
    const kuAfter = new Set(next.kuNames ?? []);
    const kuDropped = (existing.keyUsageNames ?? []).filter(
      (name) => !kuAfter.has(name) && !(ecdsa && name === 'KEY_ENCIPHERMENT'),
    );
    if (kuDropped.length > 0) {
      throw validation(
        `You cannot remove existing KeyUsage values from the previously imported certificate: ${kuDropped.join(', ')}.`,
      );
    }
    const ekuAfter = new Set(next.ekuOids ?? []);
    const ekuDropped = (existing.extendedKeyUsageOids ?? []).filter(
      (oid) => oid !== CLIENT_AUTH_OID && !ekuAfter.has(oid),
    );
    if (ekuDropped.length > 0) {
      throw validation(
        `You cannot remove existing ExtendedKeyUsage values from the previously imported certificate: ${ekuDropped.map((oid) => EKU_NAMES[oid] ?? oid).join(', ')}.`,
      );
    }
  }

  private describe(record: AcmCertificateRecord): Input {
    const cert = new X509Certificate(record.certificatePem);
    return {
      CertificateArn: record.arn,
      DomainName: record.domainName,
      SubjectAlternativeNames: record.subjectAlternativeNames,
      Serial: record.serial,
      Subject: (cert.subject ?? '').split('\n').join(','),
      Issuer: dnAttribute(cert.issuer, 'O') ?? dnAttribute(cert.issuer, 'CN') ?? '',
      CreatedAt: seconds(record.createdAt),
      ImportedAt: seconds(record.importedAt),
      Status: this.statusOf(cert),
      NotBefore: seconds(Date.parse(cert.validFrom)),
      NotAfter: seconds(Date.parse(cert.validTo)),
      KeyAlgorithm: record.keyAlgorithm,
      InUseBy: record.inUseBy,
      Type: 'IMPORTED',
      KeyUsages: (record.keyUsageNames ?? []).map((Name) => ({ Name })),
      ExtendedKeyUsages: extendedKeyUsages(record.extendedKeyUsageOids),
      RenewalEligibility: 'INELIGIBLE',
      Options: { CertificateTransparencyLoggingPreference: 'ENABLED' },
    };
  }

  /** An imported certificate is ISSUED until its NotAfter passes. */
  private statusOf(cert: X509Certificate): string {
    return this.now() > Date.parse(cert.validTo) ? 'EXPIRED' : 'ISSUED';
  }

  private listCertificates(input: Input, region: string): Input {
    const statuses = input['CertificateStatuses'];
    if (statuses !== undefined && (!Array.isArray(statuses) || statuses.some((s) => !STATUSES.includes(String(s))))) {
      throw validation(
        `1 validation error detected: Value at 'certificateStatuses' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [${STATUSES.join(', ')}]]`,
      );
    }
    const includes = (input['Includes'] ?? {}) as Input;
    const keyTypes = Array.isArray(includes['keyTypes']) ? (includes['keyTypes'] as string[]) : DEFAULT_LIST_KEY_TYPES;
    const maxItems = input['MaxItems'];
    if (maxItems !== undefined && (typeof maxItems !== 'number' || maxItems < 1 || maxItems > 1000)) {
      throw validation(
        `1 validation error detected: Value '${String(maxItems)}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000`,
      );
    }
    const token = optString(input, 'NextToken');
    let start = 0;
    if (token !== undefined) {
      start = Number(Buffer.from(token, 'base64').toString('utf8'));
      if (!Number.isInteger(start) || start < 0) {
        throw new LocalServiceError('InvalidArgsException', 'The NextToken is not valid.');
      }
    }
    const matching = this.certificates(region).filter((record) => {
      const status = this.statusOf(new X509Certificate(record.certificatePem));
      return (
        keyTypes.includes(record.keyAlgorithm) &&
        (!Array.isArray(statuses) || statuses.length === 0 || statuses.includes(status))
      );
    });
    const limit = typeof maxItems === 'number' ? maxItems : matching.length;
    const page = matching.slice(start, start + limit);
    const next = start + limit < matching.length ? start + limit : undefined;
    return {
      CertificateSummaryList: page.map((record) => {
        const cert = new X509Certificate(record.certificatePem);
        return {
          CertificateArn: record.arn,
          DomainName: record.domainName,
          SubjectAlternativeNameSummaries: record.subjectAlternativeNames,
          HasAdditionalSubjectAlternativeNames: false,
          Status: this.statusOf(cert),
          Type: 'IMPORTED',
          KeyAlgorithm: record.keyAlgorithm,
          KeyUsages: record.keyUsageNames ?? [],
          ExtendedKeyUsages: extendedKeyUsages(record.extendedKeyUsageOids).map((e) => e.Name),
          InUse: record.inUseBy.length > 0,
          RenewalEligibility: 'INELIGIBLE',
          NotBefore: seconds(Date.parse(cert.validFrom)),
          NotAfter: seconds(Date.parse(cert.validTo)),
          CreatedAt: seconds(record.createdAt),
          ImportedAt: seconds(record.importedAt),
        };
      }),
      ...(next !== undefined ? { NextToken: Buffer.from(String(next)).toString('base64') } : {}),
    };
  }

  /** Tags as ACM validates them (1–128 character keys, values up to 256, no `aws:` prefix). */
  private parseTags(raw: unknown): { Key: string; Value: string }[] | undefined {
    if (raw === undefined || raw === null) return undefined;
    if (!Array.isArray(raw)) throw new LocalServiceError('SerializationException', 'Tags must be a list.');
    if (raw.length === 0) {
      throw validation(
        "1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    }
    return raw.map((t: unknown) => {
      const tag = (t ?? {}) as { Key?: unknown; Value?: unknown };
      const key = typeof tag.Key === 'string' ? tag.Key : '';
      const value = typeof tag.Value === 'string' ? tag.Value : '';
      if (key.length < 1 || key.length > 128 || value.length > 256) {
        throw new LocalServiceError('InvalidTagException', `The tag ${key}=${value} is not valid.`);
      }
      if (key.toLowerCase().startsWith('aws:')) {
        throw new LocalServiceError('InvalidTagException', `The tag key ${key} uses the reserved prefix aws:.`);
      }
      return { Key: key, Value: value };
    });
  }
}
