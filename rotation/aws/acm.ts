/**
 * Thin adapter over the ACM SDK client: DescribeCertificate and ImportCertificate, each in the
 * region of the certificate's ARN (one client per region, made on first use), every call made
 * through the AWS call layer (aws/calls.ts): counted, SDK errors mapped to AwsServiceError with
 * the ARN, and throttling (ACM imports about one a second) waited out by the SDK's retry loop
 * while the invocation has time, as for Route 53.
 */
import { ACMClient, DescribeCertificateCommand, ImportCertificateCommand } from '@aws-sdk/client-acm';
import { parseAcmArn } from '../certificate/acm-arns.js';
import { AwsCalls, mapAwsError, type ThrottlePolicy } from './calls.js';

export interface AcmCertificateInfo {
  arn: string;
  /** ACM's serial: lower-case hex bytes joined by ':'. */
  serial?: string;
  keyAlgorithm?: string;
  type?: string;
  status?: string;
  /** ARNs of the resources using it (load balancers, distributions, APIs). */
  inUseBy: string[];
  /** KeyUsage names of the certificate it holds (DIGITAL_SIGNATURE, …); empty without the extension. */
  keyUsages: string[];
  /** ExtendedKeyUsage purposes of the certificate it holds; empty without the extension. */
  extendedKeyUsages: { name: string; oid?: string }[];
}

export interface AcmImport {
  /** The leaf alone (ACM refuses a chain here). */
  certificate: string;
  /** The intermediates; empty when there are none. */
  chain: string;
  /** PKCS#8 PEM, unencrypted. */
  privateKey: string;
}

export type AcmOperation = 'DescribeCertificate' | 'ImportCertificate';

/** How throttling is waited out (aws/calls.ts); unset `budgetMs`: 5 waits at most. */
export type AcmAdapterOptions = Pick<ThrottlePolicy, 'budgetMs' | 'sleep' | 'random'>;

export class AcmAdapter {
  private readonly aws: AwsCalls;
  constructor(
    /** The client of a region; the caller keeps one per region (rotation/acm/session.ts). */
    private readonly clientFor: (region: string) => ACMClient,
    opts: AcmAdapterOptions = {},
  ) {
    this.aws = new AwsCalls('ACM', { throttle: opts }, ['DescribeCertificate', 'ImportCertificate']);
  }

  /** Calls made, by operation. */
  get calls(): Readonly<Record<AcmOperation, number>> {
    return this.aws.calls as Record<AcmOperation, number>;
  }

  private client(arn: string): ACMClient {
    const parsed = parseAcmArn(arn);
    const region = typeof parsed === 'string' ? undefined : parsed.region;
    if (!region)
      throw mapAwsError('ACM', 'DescribeCertificate', new Error('not an ACM certificate ARN'), { subject: arn });
    return this.clientFor(region);
  }

  private call<T>(op: AcmOperation, arn: string, fn: () => Promise<T>): Promise<T> {
    return this.aws.run(op, fn, { subject: arn });
  }

  async describe(arn: string): Promise<AcmCertificateInfo> {
    const out = await this.call('DescribeCertificate', arn, () =>
      this.client(arn).send(new DescribeCertificateCommand({ CertificateArn: arn })),
    );
    const c = out.Certificate ?? {};
    return {
      arn,
      ...(c.Serial ? { serial: c.Serial } : {}),
      ...(c.KeyAlgorithm ? { keyAlgorithm: c.KeyAlgorithm } : {}),
      ...(c.Type ? { type: c.Type } : {}),
      ...(c.Status ? { status: c.Status } : {}),
      inUseBy: c.InUseBy ?? [],
      keyUsages: (c.KeyUsages ?? []).flatMap((k) => (k.Name ? [k.Name] : [])),
      extendedKeyUsages: (c.ExtendedKeyUsages ?? []).flatMap((e) =>
        e.Name || e.OID ? [{ name: e.Name ?? 'CUSTOM', ...(e.OID ? { oid: e.OID } : {}) }] : [],
      ),
    };
  }

  /** Re-import into `arn` (the ARN stays; every service attached to it serves the new certificate). */
  async import(arn: string, pem: AcmImport): Promise<void> {
    await this.call('ImportCertificate', arn, () =>
      this.client(arn).send(
        new ImportCertificateCommand({
          CertificateArn: arn,
          Certificate: Buffer.from(pem.certificate),
          PrivateKey: Buffer.from(pem.privateKey),
          ...(pem.chain.trim() ? { CertificateChain: Buffer.from(pem.chain) } : {}),
        }),
      ),
    );
  }
}

/**
 * A client for one region. Made here, in the module the rotation loads on first use, because a
 * dynamic import of the SDK package itself reaches its CommonJS build without the named exports.
 */
export function newAcmClient(config: object, region: string): ACMClient {
  return new ACMClient({ ...config, region });
}
