/**
 * Benchmark 7 — a fleet renewed by the watch at once (a mass revocation: every window in the past),
 * under Route 53 at 5 requests/s. Two parts:
 * - end to end, a real subset: the built watch and rotation bundles in LocalLambda containers,
 *   Pebble behind the ARI front, the local endpoint throttling Route 53;
 * - 1,000 certificates, which one machine cannot run as 1,000 containers, simulated in virtual
 *   time with the watch's own pacer and the rotation's own backoff and poll schedules
 *   (fleet-sim.ts), for a local-like Route 53 (changes INSYNC at once) and a slow one (60 s).
 * Fleet time ÷ floor (Route 53 requests admitted ÷ 5/s); no rotation may fail or come near its timeout.
 */
import { fileURLToPath } from 'node:url';

import { revocationDrill } from '../local/revocation-drill.js';
import { serveRotations } from '../local/rotation-service.js';
import { startLocalStack } from '../local/stack.js';
import type { LocalLambda } from '../local/lambda.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../../rotation/certificate/rules.js';
import { NEAR_TIMEOUT_MS, simulateBadDay, simulateFleet } from './fleet-sim.js';
import { fmtMs, fmtRatio, type BenchResult } from './types.js';
import { describeFailure, log, timedRotation, uniqueLabel } from './util.js';

const RATE = 5;
const TARGET = 1.15;
const WATCH_BUNDLE = fileURLToPath(new URL('../../dist/watch/index.mjs', import.meta.url));
/** Containers initialised before the timed window, this many at once. */
const PREWARM_PARALLEL = 4;

export async function benchFleet(opts: { certificates?: number; maxInFlight?: number } = {}): Promise<BenchResult> {
  const n = opts.certificates ?? 40;
  const maxInFlight = opts.maxInFlight ?? 10;
  const started = performance.now();
  const result: BenchResult = {
    id: 7,
    title: `Fleet renewal by the watch (Route 53 at ${RATE} req/s)`,
    figures: [],
    method: [
      `**End to end (${n} certificates).** Local endpoint throttling Route 53 at ${RATE} requests/s (burst ${RATE}), ` +
        `D = 0, Pebble behind the ARI front. ${n} apex + wildcard certificates are issued first (untimed), then the ` +
        `CA moves every suggested window into the past (a revocation drill) and one watch invocation (the built ` +
        `dist/watch bundle, WATCH_MAX_CONCURRENT_ROTATIONS=${maxInFlight}, so it has to pace) renews them all; each ` +
        `RotateSecret it makes runs the four steps in a rotation container, as Secrets Manager invokes the function ` +
        `(containers initialised before the timed window, ${PREWARM_PARALLEL} at a time, as in benchmark 6). Fleet ` +
        `time runs from the watch's invocation to the last finishSecret. Floor = (Route 53 requests admitted − the ` +
        `burst) ÷ ${RATE}/s; throttled requests take no token and are not in it.`,
      `**Simulated (1,000 certificates).** tests/bench/fleet-sim.ts: virtual time, the watch's pacer ` +
        `(\`startPaced\`, ${DEFAULT_MAX_IN_FLIGHT} in flight, the default), the Route 53 adapter's backoff and the INSYNC poll schedule ` +
        `from rotation/, Route 53 as a ${RATE}/s token bucket, each rotation as its Route 53 requests in order plus ` +
        `1.5 s elsewhere (CA, Secrets Manager, invocations), the watch's reads (100 ms per 8 certificates), its 5 s ` +
        `poll, its 840 s budget per invocation and its continuations. A rotation fails when its DNS wait passes 300 s ` +
        `or it runs past 900 s; "near the timeout" is past 450 s. It runs the same configuration as the end-to-end ` +
        `part too, so the model can be checked against the real run.`,
    ],
    details: [],
    seconds: 0,
  };

  // ---------------------------------------------------------------- end to end
  const stack = await startLocalStack({ route53ChangeDelayMs: 0, route53RateLimitPerSecond: RATE, ari: true });
  try {
    const zone = stack.aws.route53.createZone(`${uniqueLabel('fleet')}.test`).name.replace(/\.$/, '');
    const account = await stack.createEmptySecret(uniqueLabel('bench/fleet-account'));
    const env = { ACME_ACCOUNT_SECRET_ID: account.arn };
    const issuers = Array.from({ length: 8 }, (_, i) =>
      stack.newLambda(env, { functionName: `bench-fleet-issue-${i}` }),
    );
    const secrets: { arn: string }[] = [];
    for (let i = 0; i < n; i++) {
      const l = uniqueLabel('f');
      secrets.push(
        await stack.createCertificateSecret(uniqueLabel('bench/fleet'), {
          domains: [`${l}.${zone}`, `*.${l}.${zone}`],
        }),
      );
    }
    // First issuance, 8 at a time (untimed).
    const queue = [...secrets];
    let warmToken = '';
    await Promise.all(
      issuers.map(async (lambda) => {
        for (let s = queue.shift(); s; s = queue.shift()) {
          const t = await timedRotation(stack, lambda, s.arn);
          if (!t.run.succeeded) throw new Error(`first issuance ${describeFailure(t.run, lambda)}`);
          warmToken = t.run.token;
        }
      }),
    );
    for (const l of issuers) await l.stop();
    // Rotation containers, initialised before the timed window.
    const pool: LocalLambda[] = Array.from({ length: maxInFlight }, (_, i) =>
      stack.newLambda(env, { functionName: `bench-fleet-${i}`, timeoutMs: 300_000 }),
    );
    const lastSecret = secrets.at(-1)!.arn;
    const noop = { Step: 'createSecret', SecretId: lastSecret, ClientRequestToken: warmToken };
    const waiting = [...pool];
    await Promise.all(
      Array.from({ length: PREWARM_PARALLEL }, async () => {
        for (let l = waiting.shift(); l; l = waiting.shift()) await l.invoke(noop);
      }),
    );
    const watch = stack.newLambda(
      { WATCH_MAX_CONCURRENT_ROTATIONS: String(maxInFlight) },
      { bundlePath: WATCH_BUNDLE, functionName: 'bench-fleet-watch', timeoutMs: 900_000 },
    );
    await watch.invoke({ continuation: 99 }); // its init phase, and every certificate's state (windows ahead)
    await revocationDrill(
      stack,
      secrets.map((s) => {
        const leaf = (JSON.parse(stack.aws.secrets.valueAt(s.arn, 'AWSCURRENT') ?? '{}') as { certificate: string })
          .certificate;
        return { secretArn: s.arn, certId: stack.ari.certificateOf(leaf)?.certId ?? '' };
      }),
    );
    await new Promise((r) => setTimeout(r, 1_500)); // the bucket refills
    const service = serveRotations(stack, { env, pool });
    const from = stack.aws.calls.length;
    const t0 = performance.now();
    const run = await watch.invoke({});
    if (!run.ok) throw new Error(`the watch failed: ${run.error.message}`);
    const runs = await service.settled();
    const fleetMs = performance.now() - t0;
    service.detach();
    const summary = run.result as { started: number; deferred: number; due: number };
    const failures = runs.filter((r) => !r.succeeded);
    const r53 = stack.aws.calls.slice(from).filter((c) => c.service === 'route53');
    const admitted = r53.filter((c) => c.error !== 'Throttling').length;
    const floorMs = (Math.max(0, admitted - RATE) / RATE) * 1000;
    const durations = runs.map((r) => r.attempts.flat().reduce((t, s) => t + s.result.durationMs, 0));
    const maxRotationMs = Math.max(...durations);
    const ratio = fleetMs / floorMs;
    log(`fleet e2e: ${runs.length} rotations in ${fmtMs(fleetMs)}; floor ${fmtMs(floorMs)} → ${fmtRatio(ratio)}`);
    result.figures.push(
      {
        label: `end to end, ${n} certificates: fleet time ÷ floor`,
        value: `${fmtMs(fleetMs)} vs ${fmtMs(floorMs)}`,
        ratio,
        target: `≤ ${TARGET}`,
        pass: ratio <= TARGET,
      },
      {
        label: `end to end: failed / near the timeout`,
        value: `${failures.length} / ${durations.filter((d) => d > NEAR_TIMEOUT_MS).length} of ${runs.length} (slowest ${fmtMs(maxRotationMs)})`,
        target: '0 / 0',
        pass: failures.length === 0 && runs.length === n && durations.every((d) => d <= NEAR_TIMEOUT_MS),
      },
    );
    const sim = await simulateFleet({ certificates: n, maxInFlight, insyncMs: 0, otherMs: 1_500 });
    result.details.push(
      `- end to end: the watch found ${summary.due} due and started ${summary.started} (${summary.deferred} deferred); ` +
        `${runs.length} rotations ran, ${failures.length} failed${failures[0] ? ` (first: ${failures[0].lastError?.message})` : ''}`,
      `- Route 53: ${admitted} requests admitted (${(admitted / n).toFixed(1)} per rotation), ${r53.length - admitted} throttled`,
      `- the model on the same configuration: fleet ÷ floor ${fmtRatio(sim.fleetMs / sim.floorMs)}, ` +
        `${(sim.admitted / n).toFixed(1)} requests per rotation, slowest rotation ${fmtMs(sim.maxRotationMs)}`,
    );
  } finally {
    await stack.stop();
  }

  // ---------------------------------------------------------------- simulated 1,000
  for (const insyncMs of [0, 60_000]) {
    const sim = await simulateFleet({
      certificates: 1000,
      maxInFlight: DEFAULT_MAX_IN_FLIGHT,
      insyncMs,
      otherMs: 1_500,
    });
    const ratio = sim.fleetMs / sim.floorMs;
    const label = insyncMs === 0 ? 'changes INSYNC at once' : `changes INSYNC after ${insyncMs / 1000} s`;
    log(`fleet sim (${label}): ${fmtMs(sim.fleetMs)} vs floor ${fmtMs(sim.floorMs)} → ${fmtRatio(ratio)}`);
    result.figures.push(
      {
        label: `simulated 1,000, ${label}: fleet time ÷ floor`,
        value: `${fmtMs(sim.fleetMs)} vs ${fmtMs(sim.floorMs)}`,
        ratio,
        target: `≤ ${TARGET}`,
        pass: ratio <= TARGET,
      },
      {
        label: `simulated 1,000, ${label}: failed / near the timeout`,
        value: `${sim.failed} / ${sim.nearTimeout} (slowest ${fmtMs(sim.maxRotationMs)}, longest DNS wait ${fmtMs(sim.maxDnsWaitMs)})`,
        target: '0 / 0',
        pass: sim.failed === 0 && sim.nearTimeout === 0,
      },
    );
    result.details.push(
      `- simulated, ${label}: ${(sim.admitted / 1000).toFixed(1)} Route 53 requests admitted per rotation, ` +
        `${(sim.throttled / 1000).toFixed(0)} throttled; ${sim.hops} continuation invocation(s) of the watch`,
    );
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/**
 * Benchmark 8 — the watch's bad day, 1,000 certificates: 10 % carry a failed rotation's AWSPENDING
 * (made 3 h before, past the rotation's timeout), about 60 % are due by lifetime, the CA does not
 * answer during the first run (10 s timeouts), and the schedule's next run arrives while the first
 * run's continuation is still working. The real runWatch against the local Secrets Manager model
 * (its labels, version dates, RotateSecret refusals and its 50/s tagging rate), in virtual time.
 */
export async function benchWatchBadDay(): Promise<BenchResult> {
  const started = performance.now();
  const CERTIFICATES = 1000;
  const base = {
    certificates: CERTIFICATES,
    stalePendingShare: 0.1,
    dueShare: 0.6,
    maxInFlight: DEFAULT_MAX_IN_FLIGHT,
    secondRunAtMs: 900_000,
  };
  const result: BenchResult = {
    id: 8,
    title: "The watch's bad day (1,000 certificates, failed rotations, the CA down, two runs meeting)",
    figures: [],
    method: [
      `tests/bench/fleet-sim.ts \`simulateBadDay\`: the watch's own \`runWatch\` (rotation/watch/run.ts) against the ` +
        `local Secrets Manager model (tests/local/aws/secretsmanager.ts: staging labels, version CreatedDate, ` +
        `RotateSecret refusing a second rotation, TagResource+UntagResource throttled beyond 50/s) in virtual time, ` +
        `20 ms per Secrets Manager call. ${CERTIFICATES} secrets with real 90-day certificates: 10 % carry a failed ` +
        `rotation's AWSPENDING made 3 h earlier (past the rotation's 900 s timeout + 10 min), about 60 % are due by ` +
        `lifetime. The CA does not answer during the first invocation (every directory or renewalInfo request ` +
        `times out after 10 s), then answers like Let's Encrypt (a window at 2/3 of the lifetime, Retry-After 6 h). ` +
        `A rotation takes 40–140 s (the range benchmark 7 measures at 50 in flight) and then promotes its version ` +
        `as finishSecret does. The schedule's next run arrives at 900 s, while run 1's continuation works; with ` +
        `reserved concurrency 1 (the deployment) it waits for its slot, as Lambda retries a throttled event; the ` +
        `same day is also run without the lock, so both runs really meet.`,
      `"In flight" is counted every second from Secrets Manager's labels (AWSPENDING on a version RotateSecret ` +
        `made that day), not from the watch's own count; duplicates are secrets RotateSecret started twice; tag ` +
        `writes per second are the busiest one-second window of the calls Secrets Manager admitted.`,
    ],
    details: [],
    seconds: 0,
  };
  for (const lock of [true, false]) {
    const r = await simulateBadDay({ ...base, lock });
    const label = lock ? 'reserved concurrency 1' : 'no lock (the runs meet)';
    log(
      `bad day (${label}): ${r.dueStartedWithinTwoRuns}/${r.due} due started within two runs, ` +
        `max in flight ${r.maxInFlight}, duplicates ${r.duplicateRotations}, tag writes ${r.maxTagWritesPerSecond}/s`,
    );
    result.figures.push(
      {
        label: `bad day, ${label}: due renewals started within two runs`,
        value: `${r.dueStartedWithinTwoRuns} of ${r.due}`,
        target: 'all',
        pass: r.dueStartedWithinTwoRuns === r.due,
      },
      {
        label: `bad day, ${label}: duplicate rotations / most in flight (Secrets Manager's labels)`,
        value: `${r.duplicateRotations} / ${r.maxInFlight}`,
        // The bound is the deployment's (the lock): without it, only "no duplicate" is by design.
        ...(lock
          ? {
              target: `0 / ≤ ${DEFAULT_MAX_IN_FLIGHT}`,
              pass: r.duplicateRotations === 0 && r.maxInFlight <= DEFAULT_MAX_IN_FLIGHT,
            }
          : {}),
      },
      {
        label: `bad day, ${label}: tag writes in the busiest second (throttled)`,
        value: `${r.maxTagWritesPerSecond}/s (${r.tagThrottled})`,
        target: '< 50/s (0)',
        pass: r.maxTagWritesPerSecond < 50 && r.tagThrottled === 0,
      },
    );
    result.details.push(
      `- ${label}: ${r.invocations} invocations over ${(r.dayMs / 1000).toFixed(0)} s; ${r.failedCleared} of ` +
        `${r.failedRotations} failed rotations cleared; ${r.askedWhileDown} requests to the CA while it was down ` +
        `(then counted down for the run); ${r.tagWrites} tag writes in all`,
      ...r.summaries.map(
        (s) =>
          `  - run ending at ${String(s.at)} s (continuation ${String(s.continuation)}): checked ${String(s.checked)}, ` +
          `due ${String(s.due)}, started ${String(s.started)}, skipped ${String(s.skipped)}, deferred ` +
          `${String(s.deferred)}, in flight at its start ${String(s.inFlight)}, failed rotations cleared ` +
          `${String(s.failedRotationsCleared)}, CA down: ${(s.caDown as string[]).join(', ') || 'no'}, tag writes ` +
          `${String(s.tagWrites)}`,
      ),
    );
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
