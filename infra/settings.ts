/**
 * The settings every resource is declared from, as the validator (validate.ts) produces them,
 * normalised; and what each feature's check of its own settings shares: Problems, which collects
 * every problem (one `pulumi preview` shows them all), each message starting with the key it is
 * about, and the readers of a value as given (a raw config string, objects and lists as JSON, or
 * a typed arg: a list, a number, an Output). Pure: no Pulumi.
 */
import { type KeyType } from '../rotation/certificate/key-types.js';
import type * as pulumi from '@pulumi/pulumi';

import { wholeNumberIn } from '../rotation/certificate/rules.js';
import type { CaSetting } from './ca.js';
import type { ZoneRef } from './hosted-zones.js';
import type { Lifetime, Schedule, WatchSchedule } from './schedules.js';

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

// Reporting.

export const quote = (v: unknown): string => JSON.stringify(v);

export class Problems {
  readonly list: string[] = [];
  /** `prefix`: `<namespace>:` (stack config) or '' (component args). */
  constructor(private readonly prefix: string) {}
  key(key: string): string {
    return `${this.prefix}${key}`;
  }
  add(key: string, message: string): void {
    this.list.push(`${this.key(key)}: ${message}`);
  }
  addRaw(message: string): void {
    this.list.push(message);
  }
}

// Reading a value as given.

/**
 * A value known only at deploy time: a Pulumi Output or a promise. Told apart without importing
 * Pulumi (this module stays pure): an Output carries `__pulumiOutput`.
 */
export function isPending(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  return (
    (v as { __pulumiOutput?: unknown }).__pulumiOutput === true || typeof (v as { then?: unknown }).then === 'function'
  );
}

export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    // Pulumi stores YAML objects and lists as JSON; a plain string here means a scalar was set.
    return raw;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function stringList(
  p: Problems,
  key: string,
  value: unknown,
  opts: { nonEmpty?: boolean } = {},
): string[] | undefined {
  if (typeof value === 'string') value = value.split(',').map((s) => s.trim());
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    p.add(key, `expected a list of strings, got ${quote(value)}`);
    return undefined;
  }
  const list = (value as string[]).map((s) => s.trim()).filter((s) => s !== '');
  if (opts.nonEmpty && list.length === 0) {
    p.add(key, 'must not be empty');
    return undefined;
  }
  return list;
}

export function integer(
  p: Problems,
  key: string,
  raw: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = wholeNumberIn(raw, min, max);
  if (n === undefined) p.add(key, `${quote(raw)} is not a whole number between ${min} and ${max}`);
  return n;
}

export function optionalString(raw: string | undefined): string | undefined {
  const v = raw?.trim();
  return v ? v : undefined;
}
