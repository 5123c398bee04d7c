/**
 * Benchmark 6 — throughput under throttling. 100 certificate rotations started together against
 * the local endpoint limited to 5 Route 53 requests per second. Wall time ÷ the floor (Route 53
 * requests admitted ÷ 5 per second); every rotation must succeed.
 */
import { startLocalStack } from '../local/stack.js';
import type { LocalLambda } from '../local/lambda.js';
import { callsByOperation, describeFailure, formatCounts, log, sleep, timedRotation, uniqueLabel } from './util.js';
import { fmtMs, fmtRatio, type BenchResult } from './types.js';

const RATE = 5;
const TARGET = 1.25;

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
        `${containers} LocalLambda containers (separate processes, cold) each run ${Math.ceil(rotations / containers)} ` +
        `rotation(s) back to back; all start at once (as Secrets Manager invokes concurrent sandboxes). Wall time runs from ` +
        `the first RotateSecret to the last finishSecret. Floor = Route 53 requests admitted by the bucket ÷ ${RATE}/s ` +
        `(throttled requests are counted separately and excluded from the floor, so retries cannot inflate it). ` +
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
    const lambdas: LocalLambda[] = Array.from({ length: containers }, (_, i) =>
      stack.newLambda(env, { functionName: `bench-tput-${i}`, timeoutMs: 420_000 }),
    );
    await sleep(1_500); // let the bucket refill after the warm-up
    const from = stack.aws.calls.length;

    const failures: string[] = [];
    const durations: number[] = [];
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
    const r53 = stack.aws.calls.slice(from).filter((c) => c.service === 'route53');
    const admitted = r53.filter((c) => c.error !== 'Throttling').length;
    const throttled = r53.length - admitted;
    const floorMs = (admitted / RATE) * 1000;
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
    const sorted = [...durations].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
    result.details.push(
      `- Route 53 requests: ${r53.length} (${admitted} admitted = ${(admitted / rotations).toFixed(1)} per rotation, ` +
        `${throttled} throttled); admitted by operation: ${formatCounts(callsByOperation(stack, 'route53', from))}`,
      `- per-rotation wall time: median ${fmtMs(pct(50))}, p90 ${fmtMs(pct(90))}, max ${fmtMs(pct(100))}`,
      `- failures: ${failures.length}${failures.length ? ` — first: ${failures[0]!.split('\n')[0]}` : ''}`,
    );
  } finally {
    await stack.stop();
    result.seconds = (performance.now() - started) / 1000;
  }
  return result;
}
