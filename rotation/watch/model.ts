/**
 * The renewal watch's model: its settings and ports, what it knows of each certificate during a
 * run (Item), what a run shares between its phases (Run), and the summary it reports.
 */
import type { Logger } from '../lib/log.js';
import type { AriResult, DirectoryResult } from '../acme/renewal-info.js';
import type { RateGate } from './pace.js';
import type { Assessment, CertificateFacts } from './plan.js';
import type { ReconcileSummary } from './reconcile.js';
import type { FreshSecret, ListedSecret, PendingVersion, RotateOutcome } from './secrets.js';
import type { RenewalState } from './tags.js';

/** A new secret gets this long for its first certificate before it counts as at risk. */
export const FIRST_ISSUANCE_GRACE_MS = 24 * 3_600_000;
/**
 * Added to the rotation function's timeout before an AWSPENDING version counts as a failed
 * rotation: createSecret may take the whole timeout; Secrets Manager's invocation of the three
 * short steps after it, and its own delays, fit in ten minutes with room to spare.
 */
export const IN_FLIGHT_MARGIN_MS = 10 * 60_000;
/** A CA that fails this many requests in a row (timeouts, 5xx, 429) counts as down for the run. */
export const CA_DOWN_AFTER = 3;
/**
 * The watch's share of Secrets Manager's tagging rate: TagResource and UntagResource together
 * allow 50 requests/s per account and region (Secrets Manager quotas), shared with every rotation
 * (in-flight and status tags, a few calls each) and anything else in the account. 10/s leaves four
 * fifths to them, and a first run over 1,000 secrets still writes its state in under two minutes.
 */
export const TAG_WRITES_PER_SECOND = 10;
/** Continuations of one run (each a new invocation), at most: a day's backlog at the default pace. */
export const MAX_HOPS = 24;

export interface WatchConfig {
  directoryUrl: string;
  maxInFlight: number;
  metricNamespace: string;
  metricStack: string;
  /** When set, secrets rotated by another function (another stack's) are not this watch's. */
  rotationFunctionArn?: string;
  /** Time until the next scheduled run (its longest gap): a renewal moment before it is due now (RFC 9773 §4.2). */
  nextRunMs?: number;
  /** The rotation function's timeout; default FUNCTION_TIMEOUT_SECONDS. */
  rotationTimeoutMs?: number;
  /** Tag and version-stage writes per second; default TAG_WRITES_PER_SECOND. */
  tagWritesPerSecond?: number;
}

export interface WatchSecretsPort {
  list(tagKey: string): Promise<ListedSecret[]>;
  current(arn: string): Promise<string | undefined>;
  tag(arn: string, set: Record<string, string>, remove: string[]): Promise<void>;
  rotate(arn: string): Promise<RotateOutcome>;
  /** DescribeSecret: the secret now. */
  describe(arn: string): Promise<FreshSecret>;
  /** ListSecretVersionIds: the AWSPENDING version off AWSCURRENT and its CreatedDate. */
  pending(arn: string): Promise<PendingVersion | undefined>;
  /** UpdateSecretVersionStage: AWSPENDING off a failed rotation's version. */
  clearPending(arn: string, versionId: string): Promise<void>;
}

export interface AriPort {
  renewalInfoBase(directoryUrl: string): Promise<DirectoryResult>;
  renewalInfo(base: string, certId: string): Promise<AriResult>;
}

export interface WatchDeps {
  secrets: WatchSecretsPort;
  ari: AriPort;
  logger: Logger;
  /** Raw output line (the summary's Embedded Metric Format must reach CloudWatch Logs as is). */
  write: (line: string) => void;
  now: () => Date;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Time this run may still spend (examining, then starting renewals). */
  timeLeftMs: () => number;
  /** Go on in a new invocation (hop number given); unset: carry over to the next scheduled run. */
  continueWith?: (hop: number) => Promise<void>;
  pollMs?: number;
  /** Certificates read and CAs asked at once. */
  concurrency?: number;
  /**
   * Re-delivery to ACM (reconcile.ts): AWSCURRENT imported wherever an ARN's serial differs. Run
   * once per scheduled run (not by its continuations), after the renewals are started: a renewal
   * is the more urgent, and the ARNs it touches are looked at by the next run.
   */
  reconcileAcm?: (secrets: readonly ListedSecret[]) => Promise<ReconcileSummary>;
}

export type Status = 'ok' | 'due' | 'started' | 'deferred' | 'skipped' | 'at-risk' | 'ari-error';

export interface Item {
  secret: ListedSecret;
  cert?: CertificateFacts;
  state: RenewalState;
  assessment?: Assessment;
  status?: Status;
  reason?: string;
  atRisk?: string;
  ariError?: string;
  tagError?: string;
  /** Its renewal-state writes, one after the other (writeLater). */
  writing?: Promise<void>;
  /** The AWSPENDING version off AWSCURRENT and since when, while it counts as in flight. */
  pending?: { versionId?: string; since: number };
  /** A failed rotation found on this secret (AWSPENDING older than the in-flight limit). */
  failedRotation?: { versionId: string; createdAt: Date; cleared: boolean };
  /** An AWSPENDING version whose age could not be read (ListSecretVersionIds refused). */
  undatedPending?: string;
}

export interface WatchSummary {
  checked: number;
  due: number;
  started: number;
  deferred: number;
  skipped: number;
  atRisk: number;
  ariErrors: number;
  failed: number;
  continuation: number;
  continued: boolean;
  minHoursToExpiry?: number;
  /** Rotations in flight (young AWSPENDING versions) when the run began, whoever started them. */
  inFlight: number;
  /** The most rotations in flight at once during the run, as the pacer counted them. */
  maxInFlightSeen: number;
  /** AWSPENDING versions older than the in-flight limit: failed rotations. */
  failedRotations: number;
  /** Of those, the ones whose AWSPENDING label the watch removed. */
  failedRotationsCleared: number;
  /** Directory URLs that counted as down for this run. */
  caDown: string[];
  /** Secrets left for the continuation without being examined (out of time). */
  notExamined: number;
  /** TagResource, UntagResource and UpdateSecretVersionStage calls made. */
  tagWrites: number;
  /** Secrets whose renewal state could not be written (a refusal, or the 50-tag limit). */
  tagErrors: number;
  /** Why the run stopped early, when it did. */
  error?: string;
  /** What the ACM reconciliation found and did (scheduled runs, when it ran). */
  acm?: ReconcileSummary;
}

/** What a run shares between its phases. */
export interface Run {
  config: WatchConfig;
  deps: WatchDeps;
  now: Date;
  inFlightMs: number;
  gate: RateGate;
  /** Failures in a row per directory URL, and the last one. */
  caFailures: Map<string, { count: number; last: string }>;
  /**
   * Renewal-state writes (writeLater), awaited before the run reports: paced by the tag gate, they
   * must not hold back a start (a rotation started is recorded by Secrets Manager's AWSPENDING,
   * which the next run reads; the tag only adds when).
   */
  stateWrites: Promise<void>[];
}
