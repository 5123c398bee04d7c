/**
 * Benchmark 6 — throughput under throttling. 100 certificate rotations started together against
 * the local endpoint limited to 5 Route 53 requests per second. Wall time ÷ the floor (Route 53
 * requests admitted ÷ 5 per second); every rotation must succeed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { httpsGet } from '../local/pebble.js';
import { startLocalStack } from '../local/stack.js';
import type { LocalLambda } from '../local/lambda.js';
import { callsByOperation, describeFailure, formatCounts, log, sleep, timedRotation, uniqueLabel } from './util.js';
import { fmtMs, fmtRatio, type BenchResult } from './types.js';

const RATE = 5;
const TARGET = 1.25;
/** Containers initialised at once before the timed window. */
const PREWARM_PARALLEL = 4;

/** Runs every container's init phase with an invocation that has nothing to do, PREWARM_PARALLEL at a time. */
async function prewarm(lambdas: LocalLambda[], event: object): Promise<void> {
  const queue = [...lambdas];
  await Promise.all(
    Array.from({ length: PREWARM_PARALLEL }, async () => {
      for (let l = queue.shift(); l; l = queue.shift()) {
        const r = await l.invoke(event);
        if (!r.ok) throw new Error(`pre-warming ${l.functionName} failed: ${r.error.name}: ${r.error.message}`);
      }
    }),
  );
}

export async function benchThroughput(opts: { rotations?: number; containers?: number } = {}): Promise<BenchResult> {
  const rotations = opts.rotations ?? 100;
  const containers = Math.min(rotations, opts.containers ?? 100);
  const started = performance.now();
  const result: BenchResult = {
    id: 6,
    title: `Throughput under throttling (${rotations} rotations, Route 53 at ${RATE} req/s)`,
    figures: [],
    method: [
      `Local endpoint with a token bucket of ${RATE} Route 53 requests/second (burst ${RATE}; excess requests get ` +
        `\`Throttling\`, as Route 53 does), D = 0. ${rotations} apex + wildcard certificate secrets in one hosted zone, one ` +
        `persisted ACME account (registered by an untimed warm-up rotation, after which the bucket refills). ` +
        `${containers} LocalLambda containers (separate processes) each run ${Math.ceil(rotations / containers)} ` +
        `rotation(s) back to back; all start at once (as Secrets Manager invokes concurrent sandboxes). The containers' ` +
        `init phases run before the timed window, ${PREWARM_PARALLEL} at a time, with an invocation that has nothing to ` +
        `do: in Lambda each sandbox inits on its own CPU, while here ${containers} simultaneous inits on one small ` +
        `machine would starve Pebble and every container (see below). Each container's first createSecret still loads ` +
        `the lazy ACME chunks inside the window. Wall time runs from ` +
        `the first RotateSecret to the last finishSecret. Floor = (Route 53 requests admitted by the bucket − the burst ` +
        `of ${RATE}) ÷ ${RATE}/s; throttled requests take no token, are counted separately and are excluded from the ` +
        `floor, so retries cannot inflate it (calls of failed rotations are in it: compare the ratio only when none failed). ` +
        `A rotation that fails any step counts as a failure (no Secrets Manager retry).`,
    ],
    details: [],
    seconds: 0,
  };
  const stack = await startLocalStack({ route53ChangeDelayMs: 0, route53RateLimitPerSecond: RATE });
  try {
    const zone = stack.aws.route53.createZone(`${uniqueLabel('tput')}.test`).name.replace(/\.$/, '');
    const account = await stack.createEmptySecret(uniqueLabel('bench/tput-account'));
    const env = { ACME_ACCOUNT_SECRET_ID: account.arn };
    const warmLambda = stack.newLambda(env, { functionName: 'bench-tput-warm' });
    const warm = await stack.createCertificateSecret(uniqueLabel('bench/warm'), { domains: [`warm.${zone}`] });
    const w = await timedRotation(stack, warmLambda, warm.arn);
    if (!w.run.succeeded) throw new Error(`warm-up ${describeFailure(w.run, warmLambda)}`);
    await warmLambda.stop();

    const secrets: string[] = [];
    for (let i = 0; i < rotations; i++) {
      const l = uniqueLabel('t');
      secrets.push(
        (
          await stack.createCertificateSecret(uniqueLabel('bench/tput'), {
            domains: [`${l}.${zone}`, `*.${l}.${zone}`],
          })
        ).arn,
      );
    }
    // Invocation timeout 300 s keeps the whole `npm run bench` under 10 minutes even if rotations hang.
    const lambdas: LocalLambda[] = Array.from({ length: containers }, (_, i) =>
      stack.newLambda(env, { functionName: `bench-tput-${i}`, timeoutMs: 300_000 }),
    );
    // Init phases before the timed window, PREWARM_PARALLEL at a time. In Lambda every sandbox inits
    // on its own CPU; here 100 share 2 cores, and 100 simultaneous inits (≈ 0.3 s of CPU each) plus
    // the first createSecret's lazy chunks starve Pebble, the local endpoint and the containers
    // themselves for tens of seconds — long enough for the function's 15 s CA request timeout to
    // fire (the "Pebble stall") and for Lambda's 10 s init limit to be overrun.
    const warmEvent = { Step: 'createSecret', SecretId: warm.arn, ClientRequestToken: w.run.token };
    const prewarmStarted = performance.now();
    await prewarm(lambdas, warmEvent);
    const prewarmMs = performance.now() - prewarmStarted;
    await sleep(1_500); // let the bucket refill after the warm-up
    const from = stack.aws.calls.length;

    const failures: string[] = [];
    const durations: number[] = [];
    const diagDir = process.env.BENCH_DIAG_DIR;
    const samples: string[] = [];
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    // Pebble's own responsiveness, measured from outside the containers: a directory GET per second.
    let probe = 'none yet';
    let probing = false;
    let maxProbeMs = 0;
    let probeFailures = 0;
    let maxLoopMs = 0;
    let maxLoad = 0;
    const probeCa = async () => {
      if (probing) return;
      probing = true;
      const t = performance.now();
      try {
        const res = await httpsGet(stack.pebble.directoryUrl, stack.pebble.listenerCaPem, 30_000);
        probe = `${res.status} in ${fmtMs(performance.now() - t)}`;
        if (res.status !== 200) probeFailures++;
      } catch (err) {
        probeFailures++;
        probe = `failed after ${fmtMs(performance.now() - t)}: ${err instanceof Error ? err.message : String(err)}`;
      } finally {
        maxProbeMs = Math.max(maxProbeMs, performance.now() - t);
        probing = false;
      }
    };
    const sampler = setInterval(() => {
      void probeCa();
      maxLoopMs = Math.max(maxLoopMs, loop.max / 1e6);
      maxLoad = Math.max(maxLoad, loadavg()[0] ?? 0);
      samples.push(
        `pebble /dir ${probe}; ` +
          `${((performance.now() - t0) / 1000).toFixed(0)}s load ${loadavg()[0]!.toFixed(1)} loopMax ${(loop.max / 1e6).toFixed(0)}ms p99 ${(loop.percentile(99) / 1e6).toFixed(0)}ms r53 ${stack.aws.calls.length - from} pebbleLines ${stack.pebble.logs.length} dnsQ ${stack.dns.queries.length} done ${durations.length}`,
      );
      loop.reset();
    }, 1000);
    const t0 = performance.now();
    await Promise.all(
      lambdas.map(async (lambda, i) => {
        for (let j = i; j < rotations; j += containers) {
          try {
            const t = await timedRotation(stack, lambda, secrets[j]!);
            durations.push(t.ms);
            if (!t.run.succeeded) failures.push(`#${j}: ${describeFailure(t.run)}`);
          } catch (err) {
            failures.push(`#${j}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      }),
    );
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    loop.disable();
    if (diagDir) {
      await mkdir(diagDir, { recursive: true });
      await writeFile(join(diagDir, 'samples.log'), samples.join('\n'));
      await writeFile(join(diagDir, 'pebble.log'), stack.pebble.logs.join('\n'));
      await writeFile(join(diagDir, 'failures.log'), failures.join('\n\n'));
      await writeFile(join(diagDir, 'lambdas.log'), lambdas.map((l, i) => `=== ${i}\n${l.logs.join('\n')}`).join('\n'));
    }
    const r53 = stack.aws.calls.slice(from).filter((c) => c.service === 'route53');
    const admitted = r53.filter((c) => c.error !== 'Throttling').length;
    const throttled = r53.length - admitted;
    // Floor: the bucket starts full (burst = RATE tokens), then admits RATE per second. Throttled
    // requests cost no token and are not in it, so retries cannot inflate the floor.
    const floorMs = (Math.max(0, admitted - RATE) / RATE) * 1000;
    const ratio = wallMs / floorMs;
    log(
      `throughput: ${fmtMs(wallMs)} for ${rotations} rotations; route53 admitted ${admitted}, throttled ${throttled}; floor ${fmtMs(floorMs)} → ${fmtRatio(ratio)}; failures ${failures.length}`,
    );
    for (const f of failures.slice(0, 5)) log(`  failure ${f.split('\n')[0]}`);
    result.figures.push(
      {
        label: 'wall time ÷ floor',
        value: `${fmtMs(wallMs)} vs ${fmtMs(floorMs)}`,
        ratio,
        target: `≤ ${TARGET}`,
        pass: ratio <= TARGET,
      },
      {
        label: 'failed rotations',
        value: `${failures.length} of ${rotations}`,
        target: '0',
        pass: failures.length === 0,
      },
    );
    const admittedByOp: Record<string, number> = {};
    const throttledByOp: Record<string, number> = {};
    for (const [key, n] of Object.entries(callsByOperation(stack, 'route53', from))) {
      const op = key.replace(/ \(Throttling\)$/, '');
      const into = op === key ? admittedByOp : throttledByOp;
      into[op] = (into[op] ?? 0) + n;
    }
    const sorted = [...durations].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
    result.details.push(
      `- Route 53 requests: ${r53.length} (${admitted} admitted = ${(admitted / rotations).toFixed(1)} per rotation, ` +
        `${throttled} throttled = ${(throttled / rotations).toFixed(1)} per rotation)`,
      `- admitted by operation: ${formatCounts(admittedByOp)}`,
      `- throttled by operation: ${formatCounts(throttledByOp) || 'none'}`,
      `- containers pre-warmed (init phase) before the timed window, ${PREWARM_PARALLEL} at a time: ${fmtMs(prewarmMs)}`,
      `- machine during the run: Pebble directory probe (one GET per second from the harness) slowest ` +
        `${fmtMs(maxProbeMs)}, ${probeFailures} failed; harness event-loop lag max ${fmtMs(maxLoopMs)}; ` +
        `1-minute load average peak ${maxLoad.toFixed(1)} on ${cpus().length} CPU(s)`,
      `- per-rotation wall time: median ${fmtMs(pct(50))}, p90 ${fmtMs(pct(90))}, max ${fmtMs(pct(100))}`,
      `- failures: ${failures.length}${failures.length ? ` — first: ${failures[0]!.split('\n')[0]}` : ''}`,
    );
  } finally {
    await stack.stop();
    result.seconds = (performance.now() - started) / 1000;
  }
  return result;
}
