/**
 * Thin adapter over the ACM SDK client: DescribeCertificate and ImportCertificate, each in the
 * region of the certificate's ARN (one client per region, made on first use), SDK errors mapped
 * to AwsServiceError, every call counted. ACM imports at about one request a second: throttling
 * beyond the SDK's own retries is waited out with jittered backoff while the invocation has time,
 * as for Route 53.
 */
import { ACMClient, DescribeCertificateCommand, ImportCertificateCommand } from '@aws-sdk/client-acm';
import { AwsServiceError, sdkErrorMessage } from '../lib/errors.js';
import { backoffDelay } from '../lib/deadline.js';
import { parseAcmArn } from '../certificate/acm-arns.js';
import { retry } from '../lib/retry.js';

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

const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'Throttling', 'RequestLimitExceeded']);

function isThrottling(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    THROTTLING.has(err.name) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 429
  );
}

function mapError(op: AcmOperation, arn: string, err: unknown, lead?: string): AwsServiceError {
  if (err instanceof AwsServiceError) return err;
  const name = err instanceof Error ? err.name || 'Error' : 'Error';
  const message = err instanceof Error ? sdkErrorMessage(err) : String(err);
  return new AwsServiceError('ACM', op, name, `${arn}: ${message || '(no message)'}`, {
    cause: err,
    ...(lead ? { lead } : {}),
  });
}

export interface AcmAdapterOptions {
  /** Milliseconds the adapter may still spend waiting out throttling; unset: 5 waits at most. */
  budgetMs?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class AcmAdapter {
  readonly calls: Record<AcmOperation, number> = { DescribeCertificate: 0, ImportCertificate: 0 };
  constructor(
    /** The client of a region; the caller keeps one per region (rotation/acm/session.ts). */
    private readonly clientFor: (region: string) => ACMClient,
    private readonly opts: AcmAdapterOptions = {},
  ) {}

  private client(arn: string): ACMClient {
    const parsed = parseAcmArn(arn);
    const region = typeof parsed === 'string' ? undefined : parsed.region;
    if (!region) throw mapError('DescribeCertificate', arn, new Error('not an ACM certificate ARN'));
    return this.clientFor(region);
  }

  private call<T>(op: AcmOperation, arn: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    return retry(
      () => {
        this.calls[op]++;
        return fn();
      },
      {
        retryable: isThrottling,
        waitMs: (_err, attempt) => backoffDelay(attempt - 1, 400, 4_000, this.opts.random),
        ...(this.opts.budgetMs ? { remainingMs: this.opts.budgetMs } : { maxAttempts: 6 }),
        ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
        giveUp: (err, why) =>
          mapError(
            op,
            arn,
            err,
            why.reason === 'final'
              ? undefined
              : `ACM throttled ${op} for ${Math.round((Date.now() - started) / 1000)} s and the function has no time left to wait`,
          ),
      },
    );
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
