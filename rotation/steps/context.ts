import type { Config } from '../config.js';
import type { Deadline } from '../deadline.js';
import type { DnsProvider } from '../dns/provider.js';
import type { Logger } from '../log.js';
import type { SecretDescription, SecretsAdapter } from '../aws/secrets.js';
import type { CaClient } from '../acme/ca.js';
import type { CertificateBundle } from '../bundle.js';
import type { CertificateSpec } from '../spec.js';
import type { VerifyOptions, VerifyResult } from '../verify/index.js';
import type { PlacedRecord } from '../dns/provider.js';

/** Everything a step needs; built once per invocation by the handler, injectable in tests. */
export interface StepContext {
  config: Config;
  secrets: SecretsAdapter;
  secret: SecretDescription;
  token: string;
  /** The event's RotationToken (assumed-role / cross-account rotation), passed to PutSecretValue. */
  rotationToken?: string;
  logger: Logger;
  deadline: Deadline;
  /** DNS provider for this certificate (zone ids from the spec). */
  dns: (spec: CertificateSpec) => DnsProvider;
  /** Propagation check of placed TXT values (authoritative nameservers or DNS_RESOLVERS). */
  waitForPropagation: (dns: DnsProvider, placed: PlacedRecord[], deadline: Deadline) => Promise<void>;
  /** The CA client with a registered account. */
  ca: () => Promise<CaClient>;
  /**
   * Start what ca() will need that only reads (its modules, the account secret's value), so it
   * overlaps other work. Registers nothing: that waits for ca() itself.
   */
  prefetchCa?: () => void;
  verify: (bundle: CertificateBundle, opts: VerifyOptions) => Promise<VerifyResult>;
  now: () => Date;
  /** Route 53 calls made so far in this invocation, by operation (for the call-count log). */
  route53Calls?: () => Record<string, number>;
}
