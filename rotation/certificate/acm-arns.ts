/**
 * ACM certificate ARNs and what ACM can take, as rules without I/O: the ARN's parts (its region
 * is where the certificate lives), the key algorithm each key type becomes in ACM (re-import
 * cannot change it), and CloudFront's narrower list.
 */
import type { KeyType } from './key-types.js';

export interface AcmArn {
  arn: string;
  partition: string;
  region: string;
  account: string;
  id: string;
}

const ACM_ARN_RE = /^arn:(aws|aws-cn|aws-us-gov):acm:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):certificate\/([0-9a-f-]{36})$/;

/** The parts of an ACM certificate ARN, or why it is not one. */
export function parseAcmArn(text: string): AcmArn | string {
  const m = ACM_ARN_RE.exec(text.trim());
  if (!m) {
    return 'an ACM certificate ARN looks like arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-…-… (aws acm list-certificates lists them)';
  }
  return {
    arn: text.trim(),
    partition: m[1] as string,
    region: m[2] as string,
    account: m[3] as string,
    id: m[4] as string,
  };
}

/** The account of a Secrets Manager secret ARN (the function's own, for the secrets it rotates). */
export function accountOfArn(arn: string): string | undefined {
  return /^arn:[^:]+:[^:]+:[^:]*:(\d{12}):/.exec(arn)?.[1];
}

/** ACM's KeyAlgorithm for each key type. */
export const ACM_KEY_ALGORITHM: Record<KeyType, string> = {
  'ecdsa-p256': 'EC_prime256v1',
  'ecdsa-p384': 'EC_secp384r1',
  'rsa-2048': 'RSA_2048',
  'rsa-3072': 'RSA_3072',
  'rsa-4096': 'RSA_4096',
};

/** Key types CloudFront serves (RSA up to 4096, EC P-256 only): a us-east-1 certificate it uses must keep to them. */
export const CLOUDFRONT_KEY_TYPES: readonly KeyType[] = ['ecdsa-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

export interface AcmTargetFacts {
  type?: string;
  keyAlgorithm?: string;
  inUseBy: string[];
}

/** Why a target cannot take the certificate, and what to do about it. */
export interface TargetProblem {
  problem: string;
  remedy: string;
}

/**
 * Why this ACM certificate cannot take a certificate of `keyType` by re-import, or undefined.
 * Only imported certificates can be re-imported; the key algorithm cannot change; a us-east-1
 * certificate a CloudFront distribution uses must have a key CloudFront accepts.
 */
export function targetProblem(target: AcmArn, facts: AcmTargetFacts, keyType: KeyType): TargetProblem | undefined {
  if (facts.type !== undefined && facts.type !== 'IMPORTED') {
    return {
      problem: `it is an ACM-issued (${facts.type}) certificate; only imported certificates can be re-imported`,
      remedy: 'import a certificate and name its ARN in acme:acm-certificate-arns',
    };
  }
  const wanted = ACM_KEY_ALGORITHM[keyType];
  if (facts.keyAlgorithm !== undefined && facts.keyAlgorithm !== wanted) {
    return {
      problem:
        `its key algorithm is ${facts.keyAlgorithm} and acme:key-type asks for ${keyType} (${wanted}); ` +
        'ACM re-import cannot change the algorithm',
      remedy: 'set acme:key-type to match, or import a new certificate and name its ARN',
    };
  }
  const cloudfront = facts.inUseBy.filter((arn) => /^arn:[^:]+:cloudfront:/.test(arn));
  if (target.region === 'us-east-1' && cloudfront.length > 0 && !CLOUDFRONT_KEY_TYPES.includes(keyType)) {
    return {
      problem: `CloudFront (${cloudfront[0]}) uses it, and CloudFront does not accept ${keyType} keys (it takes RSA or ECDSA P-256)`,
      remedy:
        'set acme:key-type to ecdsa-p256 or an RSA type, import a certificate of that type and name its ARN ' +
        '(re-import cannot change the algorithm)',
    };
  }
  return undefined;
}
