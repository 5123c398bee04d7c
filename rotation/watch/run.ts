/**
 * One run of the renewal watch: every certificate secret (found by its `acme:domains` tag) is
 * read, its CA asked for Renewal Information when the time has come, its state kept in tags; the
 * due ones are renewed with RotateSecret at a pace Route 53 can carry (pace.ts), the rest carried
 * over; one line per certificate and one summary (with CloudWatch metrics) are written.
 *
 * Built for the bad days:
 * - What is in flight is what Secrets Manager says, across runs: an AWSPENDING version younger
 *   than the rotation function's timeout plus a margin (its CreatedDate) holds a slot, whoever
 *   started it; an older one is a failed rotation and holds none (see clearFailedRotation).
 * - One run at a time: the function's reserved concurrency is 1 (infra/components/renewal-watch.ts),
 *   so a continuation, the schedule and Lambda's retry of an async event queue up instead of
 *   meeting. Should two runs meet anyway (the bundle deployed without it), the bound is still
 *   counted from Secrets Manager's state, every start is preceded by a re-read (DescribeSecret),
 *   and RotateSecret itself refuses a second rotation of one secret.
 * - Every phase within the run's budget: a CA that fails a few times in a row counts as down for
 *   the run (no more queries to it); renewals due by lifetime start without it; secrets not
 *   examined in time go to the continuation; the summary is written whatever happens.
 */
import { X509Certificate } from 'node:crypto';
import { ariCertId } from '../acme/ari.js';
import { certNotAfter, certNotBefore, parseBundle } from '../bundle.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { FUNCTION_TIMEOUT_SECONDS } from '../rules.js';
import { TAGS } from '../spec.js';
import type { AriResult, DirectoryResult } from './ari.js';
import type { ReconcileSummary } from './reconcile.js';
import { RateGate, startPaced } from './pace.js';
import {
  assess,
  byUrgency,
  RESTART_AFTER_MS,
  shouldAskCa,
  withAnswer,
  withAriError,
  type Assessment,
  type CertificateFacts,
} from './plan.js';
import {
  currentVersion,
  pendingVersion,
  rotationInProgress,
  type FreshSecret,
  type ListedSecret,
  type PendingVersion,
  type RotateOutcome,
} from './secrets.js';
import { readRenewalState, renewalTags, RENEWAL_TAG_PREFIX, tagLimitProblem, type RenewalState } from './tags.js';

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

type Status = 'ok' | 'due' | 'started' | 'deferred' | 'skipped' | 'at-risk' | 'ari-error';

interface Item {
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

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The same Lambda function, whatever version or alias qualifier either ARN carries. */
export function sameFunction(a: string | undefined, b: string): boolean {
  const base = (arn: string) => arn.split(':').slice(0, 7).join(':');
  return a !== undefined && base(a) === base(b);
}

function factsOf(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  const certId = ariCertId(pem);
  return { notBefore: certNotBefore(cert), notAfter: certNotAfter(cert), ...(certId ? { certId } : {}) };
}

const days = (hours: number): number => Math.round((hours / 24) * 10) / 10;

/** What a run shares between its phases. */
interface Run {
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

export async function runWatch(config: WatchConfig, deps: WatchDeps, hop = 0): Promise<WatchSummary> {
  const now = deps.now();
  const run: Run = {
    config,
    deps,
    now,
    inFlightMs: (config.rotationTimeoutMs ?? FUNCTION_TIMEOUT_SECONDS * 1000) + IN_FLIGHT_MARGIN_MS,
    gate: new RateGate(config.tagWritesPerSecond ?? TAG_WRITES_PER_SECOND, () => deps.now().getTime(), deps.sleep),
    caFailures: new Map(),
    stateWrites: [],
  };
  let items: Item[] = [];
  let stats = { inFlight: 0, maxInFlightSeen: 0, notExamined: 0 };
  let left = 0;
  let error: string | undefined;
  try {
    const result = await phases(run);
    ({ items, stats, left } = result);
  } catch (err) {
    error = errorMessage(err);
    deps.logger.error('the watch run stopped early', { error: err });
  }
  await Promise.all(run.stateWrites); // never rejects: a write's failure is the item's tagError
  const summary = report(items, deps, hop, run, stats, error);
  if (hop === 0 && deps.reconcileAcm && items.length > 0) {
    try {
      summary.acm = await deps.reconcileAcm(items.map((i) => i.secret));
    } catch (err) {
      // Every target's problem is reported inside; this is the reconciliation itself failing.
      deps.logger.error('the ACM reconciliation stopped early; the next run goes on', { error: err });
    }
  }
  if (left > 0 && deps.continueWith && hop < MAX_HOPS) {
    try {
      await deps.continueWith(hop + 1);
      summary.continued = true;
    } catch (err) {
      deps.logger.error('could not start the continuation; the next scheduled run goes on', { error: err });
    }
  }
  deps.write(summaryLine(summary, config, now));
  return summary;
}

async function phases(
  run: Run,
): Promise<{ items: Item[]; stats: { inFlight: number; maxInFlightSeen: number; notExamined: number }; left: number }> {
  const { config, deps } = run;
  const { logger } = deps;
  // Every certificate secret carries acme:domains: the spec requires it.
  const all = await deps.secrets.list(TAGS.domains);
  const listed = config.rotationFunctionArn
    ? all.filter((s) => sameFunction(s.rotationLambdaArn, config.rotationFunctionArn as string))
    : all;
  if (listed.length < all.length) {
    logger.info('certificate secrets of other rotation functions left to their own watch', {
      count: all.length - listed.length,
    });
  }
  const items: Item[] = listed.map((secret) => ({ secret, state: readRenewalState(secret.tags) }));
  const concurrency = deps.concurrency ?? 8;
  // The examining stops early enough to leave the starts time (half the budget, at most 2 minutes).
  const startReserveMs = Math.min(120_000, deps.timeLeftMs() / 2);

  // What is in flight, from Secrets Manager: the AWSPENDING versions and their age.
  await mapLimit(
    items.filter((i) => rotationInProgress(i.secret.versions)),
    concurrency,
    (item) => datePending(item, run),
  );
  const inFlight = items.filter((i) => i.pending).length;

  let notExamined = 0;
  await mapLimit(items, concurrency, async (item) => {
    if (deps.timeLeftMs() <= startReserveMs) {
      notExamined++;
      item.status = 'deferred';
      item.reason = 'not examined: the run is out of time; carried over';
      return;
    }
    await examine(item, run);
  });

  // Renew what is due, most urgent first; rotations in flight (whoever started them) hold slots.
  let running = items.filter((i) => i.pending);
  let maxInFlightSeen = running.length;
  const due = items
    .filter(
      (i): i is Item & Required<Pick<Item, 'cert' | 'assessment'>> => i.status === 'due' && !!i.cert && !!i.assessment,
    )
    .sort(byUrgency);
  const paced = await startPaced(due, {
    maxInFlight: config.maxInFlight,
    alreadyRunning: running,
    timeLeftMs: deps.timeLeftMs,
    pollMs: deps.pollMs ?? 5_000,
    sleep: deps.sleep,
    start: async (item) => {
      const outcome = await startOne(item, run);
      if (outcome !== 'skipped') {
        running = [...running, item];
        maxInFlightSeen = Math.max(maxInFlightSeen, running.length);
      }
      return outcome;
    },
    stillRunning: async (list) => {
      const still = await Promise.all(list.map((item) => stillInFlight(item, run)));
      running = list.filter((_, i) => still[i]);
      return running;
    },
    onError: (item, err) => {
      item.status = 'due';
      item.reason = `RotateSecret failed: ${errorMessage(err)}`;
    },
  });
  await Promise.all(run.stateWrites);
  for (const item of paced.deferred) {
    item.status = 'deferred';
    item.reason = `${paced.started.length} renewals started this run (at most ${config.maxInFlight} at once); carried over`;
  }
  return {
    items,
    stats: { inFlight, maxInFlightSeen, notExamined },
    left: paced.deferred.length + notExamined,
  };
}

/**
 * Dates the secret's AWSPENDING version. Young: a rotation in flight (it holds a slot, whichever run,
 * schedule or operator started it). Old: a failed rotation, which holds none.
 */
async function datePending(item: Item, run: Run): Promise<void> {
  const { deps } = run;
  let pending: PendingVersion | undefined;
  try {
    pending = await deps.secrets.pending(item.secret.arn);
  } catch (err) {
    // Without its date, the watch's own record of starting it decides; else it counts as failed.
    const started = item.state.started?.getTime();
    if (started !== undefined && run.now.getTime() - started < run.inFlightMs) item.pending = { since: started };
    else item.undatedPending = pendingVersion(item.secret.versions);
    deps.logger.warn('could not date the pending version (ListSecretVersionIds)', {
      secretName: item.secret.name,
      error: err,
    });
    return;
  }
  if (!pending) return; // ended since the listing
  const age = run.now.getTime() - pending.createdAt.getTime();
  if (age < run.inFlightMs) {
    item.pending = { versionId: pending.versionId, since: pending.createdAt.getTime() };
    return;
  }
  await clearFailedRotation(item, pending, run);
}

/**
 * A failed rotation's AWSPENDING label blocks every later RotateSecret of the secret (the schedule's,
 * an operator's, the watch's). Older than the rotation function's timeout plus a margin, no step of
 * it is still running: the watch takes the label off that version (UpdateSecretVersionStage with
 * RemoveFromVersionId, nothing else; AWSCURRENT is never touched), so the next renewal can start.
 * Should a late retry of the old rotation still arrive, its standard checks find its token no longer
 * AWSPENDING and it stops before touching anything. If the role may not do it, the certificate is
 * reported at risk with the commands that do.
 */
async function clearFailedRotation(item: Item, pending: PendingVersion, run: Run): Promise<void> {
  const { deps } = run;
  const hours = Math.round(((run.now.getTime() - pending.createdAt.getTime()) / 3_600_000) * 10) / 10;
  const failed = { versionId: pending.versionId, createdAt: pending.createdAt, cleared: false };
  item.failedRotation = failed;
  try {
    await run.gate.take();
    await deps.secrets.clearPending(item.secret.arn, pending.versionId);
    failed.cleared = true;
    item.secret.versions = Object.fromEntries(
      Object.entries(item.secret.versions)
        .map(([id, stages]): [string, string[]] => [
          id,
          id === pending.versionId ? stages.filter((s) => s !== 'AWSPENDING') : stages,
        ])
        .filter(([, stages]) => stages.length > 0),
    );
    deps.logger.warn('a failed rotation was cleared: its AWSPENDING label is removed, a renewal may start', {
      secretName: item.secret.name,
      versionId: pending.versionId,
      pendingSince: pending.createdAt.toISOString(),
      hours,
    });
  } catch (err) {
    item.atRisk =
      `a rotation failed: AWSPENDING has been on version ${pending.versionId} since ` +
      `${pending.createdAt.toISOString()} (${hours} h, past the rotation's timeout) and blocks every renewal; ` +
      `the watch could not clear it (${errorMessage(err)}). Read the rotation function's log for that ` +
      `ClientRequestToken, fix the cause, then run: aws secretsmanager update-secret-version-stage ` +
      `--secret-id ${item.secret.arn} --version-stage AWSPENDING --remove-from-version-id ${pending.versionId} ` +
      `&& aws secretsmanager rotate-secret --secret-id ${item.secret.arn}`;
  }
}

/** Is this rotation still in flight? Secrets Manager's labels say; a pending version past the limit does not count. */
async function stillInFlight(item: Item, run: Run): Promise<boolean> {
  const since = item.pending?.since ?? 0;
  if (run.deps.now().getTime() - since >= run.inFlightMs) return false;
  try {
    const fresh = await run.deps.secrets.describe(item.secret.arn);
    return pendingVersion(fresh.versions) !== undefined;
  } catch {
    return true; // unknown: keep holding the slot (until the limit) rather than overload Route 53
  }
}

/**
 * Re-read the secret (ListSecrets may lag by minutes), then start its renewal unless another run,
 * the schedule or an operator's rotate-secret got there first.
 */
async function startOne(item: Item, run: Run): Promise<'started' | 'in-progress' | 'skipped'> {
  const { deps } = run;
  const skip = (reason: string): 'skipped' => {
    item.status = 'skipped';
    item.reason = reason;
    return 'skipped';
  };
  const fresh = await deps.secrets.describe(item.secret.arn);
  if (!fresh.rotationEnabled) return skip('due, but rotation was disabled since the listing');
  const pending = pendingVersion(fresh.versions);
  if (pending !== undefined) {
    if (pending === item.failedRotation?.versionId) {
      return skip('due, but a failed rotation blocks it (see atRisk for the remedy)');
    }
    if (pending === item.undatedPending) {
      // Neither known to be in flight nor known to have failed: it blocks this secret, not a slot.
      return skip('due, but an AWSPENDING version of unknown age blocks it (ListSecretVersionIds refused)');
    }
    item.status = 'skipped';
    item.reason = 'due, and a rotation started since the listing (another run, the schedule or rotate-secret)';
    item.pending = { versionId: pending, since: deps.now().getTime() };
    return 'in-progress';
  }
  if (currentVersion(fresh.versions) !== currentVersion(item.secret.versions)) {
    return skip('renewed since the listing: AWSCURRENT is another version now');
  }
  const fresher = readRenewalState(fresh.tags);
  const startedAt = fresher.started?.getTime();
  if (startedAt !== undefined && deps.now().getTime() - startedAt < RESTART_AFTER_MS) {
    return skip(`another run started a renewal at ${fresher.started?.toISOString()}; not again within 4 h`);
  }
  const outcome = await deps.secrets.rotate(item.secret.arn);
  item.pending = { since: deps.now().getTime() };
  if (outcome === 'in-progress') {
    item.status = 'skipped';
    item.reason = 'Secrets Manager says a rotation is already in progress';
    return outcome;
  }
  item.status = 'started';
  item.secret.tags = fresh.tags;
  writeLater(item, run, { ...item.state, started: deps.now() });
  return outcome;
}

/** Read the certificate, ask the CA when its time has come, keep the state, decide. Never throws. */
async function examine(item: Item, run: Run): Promise<void> {
  const { config, deps, now } = run;
  const { secret } = item;
  let value: string | undefined;
  try {
    value = await deps.secrets.current(secret.arn);
  } catch (err) {
    item.status = 'at-risk';
    item.atRisk = `cannot read the certificate: ${errorMessage(err)}`;
    return;
  }
  const bundle = parseBundle(value);
  if (!bundle) {
    const age = secret.createdAt ? now.getTime() - secret.createdAt.getTime() : Infinity;
    if (item.atRisk) item.status = 'at-risk';
    else if (age < FIRST_ISSUANCE_GRACE_MS) {
      item.status = 'skipped';
      item.reason = 'waiting for the first certificate';
    } else {
      item.status = 'at-risk';
      item.atRisk = 'no certificate a day after the secret was created';
    }
    return;
  }
  let cert: CertificateFacts;
  try {
    cert = factsOf(bundle.certificate);
  } catch (err) {
    item.status = 'at-risk';
    item.atRisk = `the current certificate does not parse: ${errorMessage(err)}`;
    return;
  }
  item.cert = cert;

  let state = item.state;
  if (cert.certId && shouldAskCa(state, cert, now)) {
    const directoryUrl = bundle.acme_directory_url ?? config.directoryUrl;
    const health = run.caFailures.get(directoryUrl);
    if (health && health.count >= CA_DOWN_AFTER) {
      item.ariError = `not asked: the CA ${directoryUrl} counts as down for this run (${health.count} failures in a row, last: ${health.last})`;
    } else {
      // A little jitter, so a fleet's requests do not reach the CA in one burst.
      await deps.sleep(Math.floor(deps.random() * 200));
      const result = await askCa(directoryUrl, cert.certId, run);
      if (result?.ok) state = withAnswer(state, cert, result.answer, now, deps.random);
      else if (result) {
        item.ariError = result.error;
        state = withAriError(state, cert, result.error, now, deps.random, result.retryAfterMs);
      }
    }
  }
  writeLater(item, run, state);

  const assessment = assess(item.state, cert, now, config.nextRunMs ?? 0);
  item.assessment = assessment;
  if (assessment.atRisk) item.atRisk = item.atRisk ? `${assessment.atRisk}; ${item.atRisk}` : assessment.atRisk;
  if (assessment.verdict === 'due') {
    const recent = item.state.started && now.getTime() - item.state.started.getTime() < RESTART_AFTER_MS;
    if (!secret.rotationEnabled) {
      item.status = 'skipped';
      item.reason = 'due, but rotation is not enabled on the secret';
    } else if (item.pending) {
      item.status = 'skipped';
      item.reason = 'due, and a rotation is already in flight';
    } else if (item.failedRotation && !item.failedRotation.cleared) {
      item.status = 'at-risk';
      item.reason = 'due, but a failed rotation blocks it';
    } else if (recent) {
      item.status = 'skipped';
      item.reason = `due, and a renewal was started at ${item.state.started?.toISOString()}; not again within 4 h`;
    } else item.status = 'due';
  } else item.status = item.atRisk ? 'at-risk' : item.ariError ? 'ari-error' : 'ok';
}

/**
 * The CA's answer for one certificate, the CA's failures counted for the run: a timeout, a 5xx or a
 * 429 (or an unreadable directory) counts; an answer of any kind resets the count.
 */
async function askCa(directoryUrl: string, certId: string, run: Run): Promise<AriResult | undefined> {
  const fail = (error: string): void => {
    const count = (run.caFailures.get(directoryUrl)?.count ?? 0) + 1;
    run.caFailures.set(directoryUrl, { count, last: error });
  };
  const dir = await run.deps.ari.renewalInfoBase(directoryUrl);
  if (!dir.ok) {
    fail(dir.error);
    return { ok: false, error: dir.error, caFailure: true };
  }
  if (!dir.base) return undefined;
  const result = await run.deps.ari.renewalInfo(dir.base, certId);
  if (!result.ok && result.caFailure) fail(result.error);
  else run.caFailures.delete(directoryUrl);
  return result;
}

/** Write the state's tags when they differ from the secret's, paced and within the 50-tag limit; never throws. */
/**
 * The item's new state at once, its tags written in the background (each item's writes in order,
 * all paced by the run's tag gate and awaited before the run reports): starting the renewals that
 * are due need not wait for a fleet's tag writes at the gate's pace.
 */
function writeLater(item: Item, run: Run, state: RenewalState): void {
  item.state = state;
  item.writing = (item.writing ?? Promise.resolve()).then(() => writeState(item, run, state));
  run.stateWrites.push(item.writing);
}

async function writeState(item: Item, run: Run, state: RenewalState): Promise<void> {
  const { deps } = run;
  const { set, remove } = renewalTags(state);
  const have = new Map(
    item.secret.tags.filter((t) => t.Key?.startsWith(RENEWAL_TAG_PREFIX)).map((t) => [t.Key, t.Value]),
  );
  const changed = Object.fromEntries(Object.entries(set).filter(([k, v]) => have.get(k) !== v));
  const gone = remove.filter((k) => have.has(k));
  item.state = state;
  if (Object.keys(changed).length === 0 && gone.length === 0) return;
  const limit = tagLimitProblem(item.secret.tags, changed, gone);
  if (limit) {
    item.tagError = limit;
    deps.logger.error('could not write the renewal state tags', { secretName: item.secret.name, error: limit });
    return;
  }
  try {
    // One token right before each call (TagResource, then UntagResource), so the pace holds per call.
    if (Object.keys(changed).length > 0) {
      await run.gate.take();
      await deps.secrets.tag(item.secret.arn, changed, []);
    }
    if (gone.length > 0) {
      await run.gate.take();
      await deps.secrets.tag(item.secret.arn, {}, gone);
    }
    item.secret.tags = [
      ...item.secret.tags.filter((t) => !t.Key?.startsWith(RENEWAL_TAG_PREFIX)),
      ...Object.entries(set).map(([Key, Value]) => ({ Key, Value })),
    ];
  } catch (err) {
    item.tagError = errorMessage(err);
    deps.logger.error('could not write the renewal state tags', { secretName: item.secret.name, error: err });
  }
}

function report(
  items: Item[],
  deps: WatchDeps,
  hop: number,
  run: Run,
  stats: { inFlight: number; maxInFlightSeen: number; notExamined: number },
  error: string | undefined,
): WatchSummary {
  let minHours: number | undefined;
  for (const item of items) {
    const a = item.assessment;
    if (a) minHours = minHours === undefined ? a.hoursLeft : Math.min(minHours, a.hoursLeft);
    const line = {
      secretName: item.secret.name,
      status: item.status ?? 'ok',
      ...(a ? { daysLeft: days(a.hoursLeft), renewAt: a.renewAt.toISOString(), basis: a.basis } : {}),
      ...(item.state.window
        ? { windowStart: item.state.window.start.toISOString(), windowEnd: item.state.window.end.toISOString() }
        : {}),
      ...(item.state.explanation ? { explanationUrl: item.state.explanation } : {}),
      ...(item.reason ? { reason: item.reason } : {}),
      ...(item.atRisk ? { atRisk: item.atRisk } : {}),
      ...(item.ariError ? { ariError: item.ariError } : {}),
      ...(item.tagError ? { tagError: item.tagError } : {}),
      ...(item.failedRotation
        ? {
            failedRotation: {
              versionId: item.failedRotation.versionId,
              pendingSince: item.failedRotation.createdAt.toISOString(),
              cleared: item.failedRotation.cleared,
            },
          }
        : {}),
    };
    if (item.atRisk) deps.logger.warn('certificate', line);
    else deps.logger.info('certificate', line);
  }
  const count = (s: Status): number => items.filter((i) => i.status === s).length;
  return {
    checked: items.length,
    due: items.filter((i) => i.assessment?.verdict === 'due').length,
    started: count('started'),
    deferred: count('deferred'),
    skipped: count('skipped'),
    failed: items.filter((i) => i.status === 'due').length,
    atRisk: items.filter((i) => i.atRisk).length,
    ariErrors: items.filter((i) => i.ariError).length,
    continuation: hop,
    continued: false,
    ...(minHours !== undefined ? { minHoursToExpiry: minHours } : {}),
    inFlight: stats.inFlight,
    maxInFlightSeen: stats.maxInFlightSeen,
    failedRotations: items.filter((i) => i.failedRotation).length,
    failedRotationsCleared: items.filter((i) => i.failedRotation?.cleared).length,
    caDown: [...run.caFailures].filter(([, h]) => h.count >= CA_DOWN_AFTER).map(([url]) => url),
    notExamined: stats.notExamined,
    tagWrites: run.gate.taken,
    tagErrors: items.filter((i) => i.tagError).length,
    ...(error !== undefined ? { error } : {}),
  };
}

/** The summary as one JSON line in Embedded Metric Format (CloudWatch reads the metrics from it). */
function summaryLine(s: WatchSummary, config: WatchConfig, now: Date): string {
  const metrics = [
    { Name: 'CertificatesAtRisk', Unit: 'Count' },
    { Name: 'RenewalsDue', Unit: 'Count' },
    { Name: 'RenewalsStarted', Unit: 'Count' },
    { Name: 'RenewalsDeferred', Unit: 'Count' },
    { Name: 'AriErrors', Unit: 'Count' },
    { Name: 'RotationsInFlight', Unit: 'Count' },
    { Name: 'FailedRotations', Unit: 'Count' },
    ...(s.minHoursToExpiry !== undefined ? [{ Name: 'MinHoursToExpiry', Unit: 'None' }] : []),
  ];
  return JSON.stringify({
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [{ Namespace: config.metricNamespace, Dimensions: [['Stack']], Metrics: metrics }],
    },
    Stack: config.metricStack,
    timestamp: now.toISOString(),
    level: 'info',
    message: 'watch summary',
    CertificatesAtRisk: s.atRisk,
    RenewalsDue: s.due,
    RenewalsStarted: s.started,
    RenewalsDeferred: s.deferred,
    AriErrors: s.ariErrors,
    RotationsInFlight: s.inFlight,
    FailedRotations: s.failedRotations,
    ...(s.minHoursToExpiry !== undefined ? { MinHoursToExpiry: s.minHoursToExpiry } : {}),
    ...s,
  });
}
