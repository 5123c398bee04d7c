import { type CaSettings } from '../../acme/choice.js';
import type { CaClient } from '../../acme/ca.js';
import type { AcmPort } from '../../acm/session.js';
import type { SecretDescription, SecretsAdapter } from '../../aws/secrets.js';
import type { CertificateBundle } from '../../certificate/bundle.js';
import type { Config } from '../../config/config.js';
import type { Deadline } from '../../lib/deadline.js';
import type { CaaLookup } from '../../acme/caa.js';
import type { Dns01Solver } from '../../dns01/solver.js';
import type { Logger } from '../../lib/log.js';
import type { CertificateSpec } from '../../certificate/spec.js';
import type { VerifyOptions, VerifyResult } from '../../x509/verify.js';

/** The CA, for one invocation (rotation/function/ca-session.ts). */
export interface CaPort {
  /**
   * Start what client() will need that only reads (its modules, the account secret's value), so
   * it overlaps other work. Registers nothing: that waits for client() itself.
   */
  prefetch(): void;
  /** The CA client with a registered account (registered on first use of the account). */
  client(): Promise<CaClient>;
  /** The client of one of the configured CAs (config.cas), with its own account; client() is the first's. */
  clientFor(ca: CaSettings): Promise<CaClient>;
  /** The names a CA answers to in CAA records (its directory's meta.caaIdentities); undefined when it lists none. */
  caaIdentities(ca: CaSettings): Promise<string[] | undefined>;
  /** CAA lookups (RFC 8659) through DNS_RESOLVERS or the system's resolver. */
  caa: CaaLookup;
}

/** DNS, for one invocation (rotation/function/dns-session.ts). */
export interface DnsPort {
  /** The DNS-01 solver for this certificate (its names and zone ids from the spec), on this invocation's secret. */
  solverFor(spec: CertificateSpec): Dns01Solver;
  /** Calls made so far in this invocation, by operation, for the call-count log ({} when none). */
  calls(): Record<string, number>;
}

/**
 * What a step works with: the rotation event's facts, the configuration, the ports to Secrets
 * Manager, the CA and DNS, the certificate checks, and the invocation's deadline, logger and clock.
 * Built once per invocation by the handler (index.ts wires the real ports), injectable in tests.
 */
export interface StepContext {
  config: Config;
  secret: SecretDescription;
  token: string;
  /** The event's RotationToken (assumed-role / cross-account rotation), passed to PutSecretValue. */
  rotationToken?: string;
  logger: Logger;
  deadline: Deadline;
  /** Secrets Manager, this invocation's adapter (its reads started beside DescribeSecret included). */
  secrets: SecretsAdapter;
  ca: CaPort;
  dns: DnsPort;
  acm: AcmPort;
  verify: (bundle: CertificateBundle, opts: VerifyOptions) => Promise<VerifyResult>;
  now: () => Date;
}
