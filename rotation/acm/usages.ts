/**
 * ACM's re-import rule for the KeyUsage and ExtendedKeyUsage extensions (ACM User Guide,
 * "Prerequisites for importing ACM certificates" and "Reimport a certificate"), as a rule without
 * I/O: a re-import cannot add either extension when the certificate the ARN holds lacks it, and
 * cannot remove a value it has — except EKU clientAuth, and KU keyEncipherment on ECDSA keys.
 *
 * The certificate held is read from DescribeCertificate (KeyUsages, ExtendedKeyUsages: ACM lists
 * none for an extension the certificate lacks), the new one from its DER (rotation/x509/), so a
 * refusal is named — the extension, the values, what to do — before ImportCertificate is tried.
 */
import type { X509Certificate } from 'node:crypto';
import {
  extendedKeyUsage,
  keyUsage,
  OID_EKU_ANY,
  OID_EKU_CLIENT_AUTH,
  OID_EKU_SERVER_AUTH,
  type KeyUsageBit,
} from '../x509/extensions.js';

/** DescribeCertificate's KeyUsage names, by RFC 5280 bit name. */
export const ACM_KEY_USAGE_NAMES: Record<KeyUsageBit, string> = {
  digitalSignature: 'DIGITAL_SIGNATURE',
  nonRepudiation: 'NON_REPUDIATION',
  keyEncipherment: 'KEY_ENCIPHERMENT',
  dataEncipherment: 'DATA_ENCIPHERMENT',
  keyAgreement: 'KEY_AGREEMENT',
  keyCertSign: 'CERTIFICATE_SIGNING',
  cRLSign: 'CRL_SIGNING',
  encipherOnly: 'ENCIPHER_ONLY',
  decipherOnly: 'DECIPHER_ONLY',
};

/** DescribeCertificate's ExtendedKeyUsage names, by OID (RFC 5280 §4.2.1.12's purposes). */
export const ACM_EKU_NAMES: Record<string, string> = {
  [OID_EKU_SERVER_AUTH]: 'TLS_WEB_SERVER_AUTHENTICATION',
  [OID_EKU_CLIENT_AUTH]: 'TLS_WEB_CLIENT_AUTHENTICATION',
  '1.3.6.1.5.5.7.3.3': 'CODE_SIGNING',
  '1.3.6.1.5.5.7.3.4': 'EMAIL_PROTECTION',
  '1.3.6.1.5.5.7.3.5': 'IPSEC_END_SYSTEM',
  '1.3.6.1.5.5.7.3.6': 'IPSEC_TUNNEL',
  '1.3.6.1.5.5.7.3.7': 'IPSEC_USER',
  '1.3.6.1.5.5.7.3.8': 'TIME_STAMPING',
  '1.3.6.1.5.5.7.3.9': 'OCSP_SIGNING',
  [OID_EKU_ANY]: 'ANY',
};

/** The KU and EKU values of the certificate an ARN holds, as DescribeCertificate lists them. */
export interface HeldUsages {
  /** KeyUsage names (DIGITAL_SIGNATURE, …); empty when the certificate has no KeyUsage extension. */
  keyUsages: string[];
  /** ExtendedKeyUsage purposes; empty when the certificate has no ExtendedKeyUsage extension. */
  extendedKeyUsages: { name: string; oid?: string }[];
}

export interface UsageProblem {
  extension: 'KeyUsage' | 'ExtendedKeyUsage';
  /** `added`: the held certificate lacks the extension; `removed`: values it has are missing. */
  kind: 'added' | 'removed';
  /** The values concerned (ACM's names). */
  values: string[];
  /** What ACM would refuse, in a sentence. */
  problem: string;
  /** What to do about it. */
  remedy: string;
}

const NEW_ARN_REMEDY =
  'import the new certificate as a new ACM certificate (aws acm import-certificate without --certificate-arn), ' +
  'move the load balancers or distributions to it, and name its ARN in acme:acm-certificate-arns in place of this one';

/**
 * Why ACM would refuse to re-import `next` over the certificate that holds `held`, or undefined.
 * `ecdsa`: the keys are ECDSA (a re-import cannot change the algorithm, so both are or neither is).
 */
export function reimportUsageProblem(
  held: HeldUsages,
  next: X509Certificate | Uint8Array,
  ecdsa: boolean,
): UsageProblem | undefined {
  const nextKu = keyUsage(next)?.map((bit) => ACM_KEY_USAGE_NAMES[bit]);
  const nextEku = extendedKeyUsage(next);
  const heldKu = held.keyUsages;
  const heldEku = held.extendedKeyUsages.map((e) => e.oid ?? oidOfName(e.name)).filter((o) => o !== undefined);

  if (heldKu.length === 0 && nextKu !== undefined) {
    return {
      extension: 'KeyUsage',
      kind: 'added',
      values: nextKu,
      problem:
        `the certificate it holds has no KeyUsage extension and the new one has (${nextKu.join(', ') || 'empty'}); ` +
        'ACM cannot add a KeyUsage extension by re-import',
      remedy: NEW_ARN_REMEDY,
    };
  }
  if (heldEku.length === 0 && nextEku !== undefined) {
    const names = nextEku.map(ekuName);
    return {
      extension: 'ExtendedKeyUsage',
      kind: 'added',
      values: names,
      problem:
        `the certificate it holds has no ExtendedKeyUsage extension and the new one has (${names.join(', ')}); ` +
        'ACM cannot add an ExtendedKeyUsage extension by re-import',
      remedy: NEW_ARN_REMEDY,
    };
  }
  const known = new Set(Object.values(ACM_KEY_USAGE_NAMES));
  const kuKept = new Set(nextKu ?? []);
  // Values ACM lists that are not RFC 5280 bits (ANY, CUSTOM) are left to ACM to judge.
  const kuDropped = heldKu.filter(
    (name) => known.has(name) && !kuKept.has(name) && !(ecdsa && name === 'KEY_ENCIPHERMENT'),
  );
  if (kuDropped.length > 0) return removed('KeyUsage', kuDropped);
  const ekuKept = new Set(nextEku ?? []);
  const ekuDropped = heldEku.filter((oid) => oid !== OID_EKU_CLIENT_AUTH && !ekuKept.has(oid)).map(ekuName);
  if (ekuDropped.length > 0) return removed('ExtendedKeyUsage', ekuDropped);
  return undefined;
}

function removed(extension: UsageProblem['extension'], values: string[]): UsageProblem {
  return {
    extension,
    kind: 'removed',
    values,
    problem:
      `the certificate it holds has ${extension} ${values.join(', ')} and the new one does not; ` +
      `ACM cannot remove a ${extension} value by re-import`,
    remedy:
      `issue with a profile (acme:profile) or CA whose certificates keep ${values.join(', ')}, ` +
      `or ${NEW_ARN_REMEDY}`,
  };
}

function ekuName(oid: string): string {
  return ACM_EKU_NAMES[oid] ?? oid;
}

function oidOfName(name: string): string | undefined {
  return Object.entries(ACM_EKU_NAMES).find(([, n]) => n === name)?.[0];
}
