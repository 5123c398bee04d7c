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
 * - One run at a time: the function's reserved concurrency is 1 (infra/watch.ts),
 *   so a continuation, the schedule and Lambda's retry of an async event queue up instead of
 *   meeting. Should two runs meet anyway (the bundle deployed without it), the bound is still
 *   counted from Secrets Manager's state, every start is preceded by a re-read (DescribeSecret),
 *   and RotateSecret itself refuses a second rotation of one secret.
 * - Every phase within the run's budget: a CA that fails a few times in a row counts as down for
 *   the run (no more queries to it); renewals due by lifetime start without it; secrets not
 *   examined in time go to the continuation; the summary is written whatever happens.
 */
import { RENEWAL_TAG_PREFIX, SPEC_TAGS } from '../certificate/tags.js';
import { X509Certificate } from 'node:crypto';
import { ariCertId } from '../acme/ari.js';
import { certNotAfter, certNotBefore, parseBundle } from '../certificate/bundle.js';
import { errorMessage } from '../lib/errors.js';
import { FUNCTION_TIMEOUT_SECONDS } from '../lib/deadline.js';
import type { AriResult } from '../acme/renewal-info.js';
import { RateGate, startPaced } from './pace.js';
import {
  assess,
  byUrgency,
  RESTART_AFTER_MS,
  shouldAskCa,
  withAnswer,
  withAriError,
  type CertificateFacts,
} from './plan.js';
import { currentVersion, pendingVersion, rotationInProgress } from './secrets.js';
import {
  CA_DOWN_AFTER,
  FIRST_ISSUANCE_GRACE_MS,
  IN_FLIGHT_MARGIN_MS,
  MAX_HOPS,
  TAG_WRITES_PER_SECOND,
  type Item,
  type Run,
  type WatchConfig,
  type WatchDeps,
  type WatchSummary,
} from './model.js';
import { datePending, stillInFlight } from './pending.js';
import { report, summaryLine } from './report.js';
import { readRenewalState, renewalTags, tagLimitProblem, type RenewalState } from './tags.js';

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
  const all = await deps.secrets.list(SPEC_TAGS.domains);
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
