/**
 * What the validator produces: the settings every resource is declared from, normalised, and
 * the choices some of them are limited to.
 */
import type { CaSetting } from './ca.js';
import type * as pulumi from '@pulumi/pulumi';

import type { KeyType } from '../../rotation/certificate/spec.js';
import type { Lifetime, Schedule, WatchSchedule } from '../schedules.js';
import type { ZoneRef } from '../hosted-zones.js';

export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** An ACM certificate the rotation re-imports every new certificate into. */
export interface AcmTarget {
  region: string;
  /** An existing (imported) certificate's ARN; undefined = one the program creates in `region`. */
  arn?: string;
}

export interface CertificateSettings {
  /** Logical name: resource names and the secret name's last part. Never rename (new secret). */
  name: string;
  secretName: string;
  /** Normalised (lower case, punycode), de-duplicated. */
  domains: string[];
  keyType: KeyType;
  profile?: string;
  /**
   * Explicit zone ids; undefined = matched against the stack's hostedZones. Outputs (a zone's
   * id from the consumer's program) stay as given, resolved at deploy time.
   */
  hostedZoneIds?: pulumi.Input<string>[];
  /** Record-name patterns `_acme-challenge` CNAMEs of this certificate point to. */
  cnameTargets: string[];
  lifetime?: Lifetime;
  schedule: Schedule;
  description: string;
  /**
   * ACM certificates to deploy to, at most one per region (the stack exports them by region):
   * new ones the program creates with a placeholder, and existing ones given by ARN.
   */
  acm: AcmTarget[];
  /**
   * `acme:*` tags except `acme:hosted-zone-ids` and `acme:acm-certificate-arns` (resolved at
   * deploy time: the zones are looked up, new ACM certificates get their ARNs when created).
   */
  specTags: Record<string, string>;
}

export interface Settings {
  /** The Pulumi project (the stack's config namespace): descriptions and the metrics' Stack dimension. */
  namespace: string;
  stack: string;
  /** What every problem's key starts with: `<namespace>:` for stack config, '' for component args. */
  keyPrefix: string;
  /** Prefix of named resources (function, log groups, alarms, rules). */
  namePrefix: string;
  /**
   * The CAs the function falls back through, in order (`cas`, or the one CA of `ca`); never
   * empty. `directoryUrl`, `eabKid` and `preferredChain` are the first one's.
   */
  cas: CaSetting[];
  directoryUrl: string;
  email?: string;
  persistentAccount: boolean;
  /** Name of the ACME account secret (persistent accounts): `<namePrefix>/acme-account`. */
  accountSecretName: string;
  eabKid?: string;
  notificationEmail?: string;
  /** An existing topic for the notices; undefined = the component creates one. */
  notificationTopicArn?: pulumi.Input<string>;
  /** As configured: a bus name or ARN (or an Output, taken as given). */
  eventBus?: pulumi.Input<string>;
  logRetentionDays: number;
  logLevel: LogLevel;
  kmsKeyArn?: pulumi.Input<string>;
  secretNamePrefix: string;
  recoveryWindowDays: number;
  memoryMb: number;
  dnsResolvers?: string;
  dnsPropagationTimeoutSeconds?: number;
  acmeTimeoutSeconds?: number;
  /** ACME_PREFERRED_CHAIN: the root name of the chain to keep when the CA offers several. */
  preferredChain?: string;
  /** MAX_CERTIFICATE_LIFETIME_DAYS: the operator's cap; none when unset. */
  maxCertificateLifetimeDays?: number;
  /** PEM of a private CA's root(s), shipped with the function and trusted through NODE_EXTRA_CA_CERTS. */
  caRootsPem?: string;
  /** When the renewal watch runs (an EventBridge schedule expression) and its longest gap. */
  watchSchedule: WatchSchedule;
  /** WATCH_MAX_CONCURRENT_ROTATIONS; unset = the watch's own default. */
  watchMaxConcurrentRotations?: number;
  hostedZones: ZoneRef[];
  /** ROUTE53_EXTERNAL_ID: the one external id sent with every AssumeRole of a zone's role. */
  route53ExternalId?: string;
  tags: Record<string, string>;
  certificates: CertificateSettings[];
}

/** Who the settings are for: the Pulumi project and stack. */
export interface Origin {
  /** The Pulumi project: descriptions, the metrics' Stack dimension. */
  project: string;
  stack: string;
}
