/**
 * One run of the renewal watch: every certificate secret (found by its `acme:domains` tag) is
 * read, its CA asked for Renewal Information when the time has come, its state kept in tags; the
 * due ones are renewed with RotateSecret at a pace Route 53 can carry (pace.ts), the rest carried
 * over; one line per certificate and one summary (with CloudWatch metrics) are written.
 */
import { X509Certificate } from 'node:crypto';
import { ariCertId } from '../acme/ari.js';
import { certNotAfter, certNotBefore, parseBundle } from '../bundle.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { AriResult } from './ari.js';
import { startPaced } from './pace.js';
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
import { rotationInProgress, type ListedSecret, type RotateOutcome } from './secrets.js';
import { readRenewalState, renewalTags, RENEWAL_TAG_PREFIX, type RenewalState } from './tags.js';

/** The tag that marks a certificate secret. */
export const CERTIFICATE_TAG = 'acme:domains';
/** A new secret gets this long for its first certificate before it counts as at risk. */
export const FIRST_ISSUANCE_GRACE_MS = 24 * 3_600_000;
/** A rotation holds its pacing slot at most this long: one that failed waits for Secrets Manager's retry. */
export const SLOT_MAX_MS = 15 * 60_000;
/** Continuations of one run (each a new invocation), at most: a day's backlog at the default pace. */
export const MAX_HOPS = 24;

export interface WatchConfig {
  directoryUrl: string;
  maxInFlight: number;
  metricNamespace: string;
  metricStack: string;
  /** When set, secrets rotated by another function (another stack's) are not this watch's. */
  rotationFunctionArn?: string;
}

export interface WatchSecretsPort {
  list(tagKey: string): Promise<ListedSecret[]>;
  current(arn: string): Promise<string | undefined>;
  tag(arn: string, set: Record<string, string>, remove: string[]): Promise<void>;
  rotate(arn: string): Promise<RotateOutcome>;
  versions(arn: string): Promise<Record<string, string[]>>;
}

export interface AriPort {
  renewalInfoBase(directoryUrl: string): Promise<{ ok: true; base: string | undefined } | { ok: false; error: string }>;
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
  /** Time this run may still spend starting renewals. */
  timeLeftMs: () => number;
  /** Go on in a new invocation (hop number given); unset: carry over to the next scheduled run. */
  continueWith?: (hop: number) => Promise<void>;
  pollMs?: number;
  /** Certificates read and CAs asked at once. */
  concurrency?: number;
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
  /** When it began to hold a pacing slot. */
  slotSince?: number;
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

export async function runWatch(config: WatchConfig, deps: WatchDeps, hop = 0): Promise<WatchSummary> {
  const { logger } = deps;
  const now = deps.now();
  const all = await deps.secrets.list(CERTIFICATE_TAG);
  const listed = config.rotationFunctionArn
    ? all.filter((s) => sameFunction(s.rotationLambdaArn, config.rotationFunctionArn as string))
    : all;
  if (listed.length < all.length) {
    logger.info('certificate secrets of other rotation functions left to their own watch', {
      count: all.length - listed.length,
    });
  }
  const items: Item[] = listed.map((secret) => ({ secret, state: readRenewalState(secret.tags) }));

  await mapLimit(items, deps.concurrency ?? 8, (item) => examine(item, config, deps, now));

  // Renew what is due, most urgent first; rotations already running hold their slots.
  const running = items.filter((i) => i.secret.rotationEnabled && rotationInProgress(i.secret.versions));
  for (const r of running) r.slotSince = deps.now().getTime();
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
      const outcome = await deps.secrets.rotate(item.secret.arn);
      item.slotSince = deps.now().getTime();
      if (outcome === 'started') {
        item.status = 'started';
        item.state = { ...item.state, started: deps.now() };
        await writeState(item, deps, item.state);
      } else {
        item.status = 'skipped';
        item.reason = 'Secrets Manager says a rotation is already in progress';
      }
      return outcome;
    },
    stillRunning: async (list) => {
      const still = await Promise.all(
        list.map(async (item) => {
          if (deps.now().getTime() - (item.slotSince ?? 0) > SLOT_MAX_MS) return undefined;
          try {
            return rotationInProgress(await deps.secrets.versions(item.secret.arn)) ? item : undefined;
          } catch {
            return item; // unknown: keep holding the slot rather than overload Route 53
          }
        }),
      );
      return still.filter((i): i is Item => i !== undefined);
    },
    onError: (item, err) => {
      item.status = 'due';
      item.reason = `RotateSecret failed: ${errorMessage(err)}`;
    },
  });
  for (const item of paced.deferred) {
    item.status = 'deferred';
    item.reason = `${paced.started.length} renewals started this run (at most ${config.maxInFlight} at once); carried over`;
  }

  const summary = report(items, deps, hop);
  if (paced.deferred.length > 0 && deps.continueWith && hop < MAX_HOPS) {
    try {
      await deps.continueWith(hop + 1);
      summary.continued = true;
    } catch (err) {
      logger.error('could not start the continuation; the next scheduled run goes on', { error: err });
    }
  }
  deps.write(summaryLine(summary, config, now));
  return summary;
}

/** Read the certificate, ask the CA when its time has come, keep the state, decide. Never throws. */
async function examine(item: Item, config: WatchConfig, deps: WatchDeps, now: Date): Promise<void> {
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
    if (age < FIRST_ISSUANCE_GRACE_MS) {
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
    // A little jitter, so a fleet's requests do not reach the CA in one burst.
    await deps.sleep(Math.floor(deps.random() * 200));
    const dir = await deps.ari.renewalInfoBase(directoryUrl);
    const result: AriResult | undefined = !dir.ok
      ? { ok: false, error: dir.error }
      : dir.base
        ? await deps.ari.renewalInfo(dir.base, cert.certId)
        : undefined;
    if (result?.ok) state = withAnswer(state, cert, result.answer, now, deps.random);
    else if (result) {
      item.ariError = result.error;
      state = withAriError(state, cert, result.error, now, deps.random);
    }
  }
  await writeState(item, deps, state);

  const assessment = assess(item.state, cert, now);
  item.assessment = assessment;
  if (assessment.atRisk) item.atRisk = assessment.atRisk;
  if (assessment.verdict === 'due') {
    const recent = item.state.started && now.getTime() - item.state.started.getTime() < RESTART_AFTER_MS;
    if (!secret.rotationEnabled) {
      item.status = 'skipped';
      item.reason = 'due, but rotation is not enabled on the secret';
    } else if (rotationInProgress(secret.versions)) {
      item.status = 'skipped';
      item.reason = "due, and a rotation is already in progress (or awaits Secrets Manager's retry)";
    } else if (recent) {
      item.status = 'skipped';
      item.reason = `due, and a renewal was started at ${item.state.started?.toISOString()}; not again within 4 h`;
    } else item.status = 'due';
  } else item.status = item.atRisk ? 'at-risk' : item.ariError ? 'ari-error' : 'ok';
}

/** Write the state's tags when they differ from the secret's (a failure is logged; the run goes on). */
async function writeState(item: Item, deps: WatchDeps, state: RenewalState): Promise<void> {
  const { set, remove } = renewalTags(state);
  const have = new Map(
    item.secret.tags.filter((t) => t.Key?.startsWith(RENEWAL_TAG_PREFIX)).map((t) => [t.Key, t.Value]),
  );
  const changed = Object.entries(set).filter(([k, v]) => have.get(k) !== v);
  const gone = remove.filter((k) => have.has(k));
  item.state = state;
  if (changed.length === 0 && gone.length === 0) return;
  try {
    await deps.secrets.tag(item.secret.arn, Object.fromEntries(changed), gone);
    item.secret.tags = [
      ...item.secret.tags.filter((t) => !t.Key?.startsWith(RENEWAL_TAG_PREFIX)),
      ...Object.entries(set).map(([Key, Value]) => ({ Key, Value })),
    ];
  } catch (err) {
    deps.logger.error('could not write the renewal state tags', { secretName: item.secret.name, error: err });
  }
}

function report(items: Item[], deps: WatchDeps, hop: number): WatchSummary {
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
    ...(s.minHoursToExpiry !== undefined ? { MinHoursToExpiry: s.minHoursToExpiry } : {}),
    ...s,
  });
}
