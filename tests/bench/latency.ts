/**
 * Benchmark 1 — propagation-bound latency. Route 53 holds each change PENDING for D = 2 s; a full
 * four-step rotation's wall time ÷ D for certificates of 1, 5 and 20 names in one zone and split
 * across two zones. The floor is one change + one wait per zone, run in parallel: ≈ 1 × D.
 */
import { startLocalStack } from '../local/stack.js';
import { describeFailure, formatPhases, log, median, phaseTimes, timedRotation, uniqueLabel } from './util.js';
import { fmtMs, fmtRatio, type BenchResult, type Figure } from './types.js';

const D_MS = 2_000;
const TARGET = 1.3;

export async function benchLatency(opts: { runs?: number } = {}): Promise<BenchResult> {
  const runs = opts.runs ?? 3;
  const started = performance.now();
  const result: BenchResult = {
    id: 1,
    title: 'Propagation-bound latency (rotation wall time ÷ D, D = 2 s)',
    figures: [],
    method: [
      `Local Route 53 with every change PENDING for D = ${D_MS / 1000} s (its GetChange answers INSYNC only after D). ` +
        `One warm LocalLambda container (the built bundle) and a persisted ACME account (warm-up rotation first, not timed). ` +
        `Each certificate is rotated ${runs} times (RotateSecret → createSecret, setSecret, testSecret, finishSecret, as the driver plays Secrets Manager); ` +
        `the figure is the median wall time ÷ D. Names are fresh per run (\`hN.<label>.<zone>\`); "two zones" splits the names evenly ` +
        `between two hosted zones (a 1-name certificate cannot span two zones).`,
    ],
    details: [],
    seconds: 0,
  };
  const stack = await startLocalStack({ route53ChangeDelayMs: D_MS });
  try {
    const zoneA = stack.aws.route53.createZone(`${uniqueLabel('lat-a')}.test`).name.replace(/\.$/, '');
    const zoneB = stack.aws.route53.createZone(`${uniqueLabel('lat-b')}.test`).name.replace(/\.$/, '');
    const account = await stack.createEmptySecret(uniqueLabel('bench/latency-account'));
    const lambda = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: account.arn }, { functionName: 'bench-latency' });

    const namesFor = (n: number, zones: string[]): string[] => {
      const out: string[] = [];
      const label = uniqueLabel('c');
      for (let i = 0; i < n; i++) {
        const zone = zones[Math.floor((i * zones.length) / n)]!;
        out.push(`h${i}.${label}.${zone}`);
      }
      return out;
    };

    // Warm-up: container cold start and ACME account registration stay out of the figures.
    const warm = await stack.createCertificateSecret(uniqueLabel('bench/warm'), { domains: namesFor(1, [zoneA]) });
    const w = await timedRotation(stack, lambda, warm.arn);
    if (!w.run.succeeded) throw new Error(`warm-up ${describeFailure(w.run, lambda)}`);

    const cases: { n: number; zones: string[]; label: string }[] = [
      { n: 1, zones: [zoneA], label: '1 name, one zone' },
      { n: 5, zones: [zoneA], label: '5 names, one zone' },
      { n: 5, zones: [zoneA, zoneB], label: '5 names, two zones' },
      { n: 20, zones: [zoneA], label: '20 names, one zone' },
      { n: 20, zones: [zoneA, zoneB], label: '20 names, two zones' },
    ];
    const rows: string[] = [
      '| certificate | runs (s) | median ÷ D | phases of the last run (from the function log) |',
      '|---|---|---|---|',
    ];
    for (const c of cases) {
      const secret = await stack.createCertificateSecret(uniqueLabel('bench/lat'), { domains: namesFor(c.n, c.zones) });
      const times: number[] = [];
      let phases: Record<string, number> = {};
      for (let i = 0; i < runs; i++) {
        const logFrom = lambda.logs.length;
        const t = await timedRotation(stack, lambda, secret.arn);
        if (!t.run.succeeded) throw new Error(`${c.label}: ${describeFailure(t.run, lambda)}`);
        times.push(t.ms);
        phases = phaseTimes(lambda, logFrom);
      }
      const m = median(times);
      const ratio = m / D_MS;
      log(`latency ${c.label}: ${times.map((t) => fmtMs(t)).join(', ')} → ${fmtRatio(ratio)} × D`);
      const fig: Figure = { label: c.label, value: fmtMs(m), ratio, target: `≤ ${TARGET}`, pass: ratio <= TARGET };
      result.figures.push(fig);
      rows.push(
        `| ${c.label} | ${times.map((t) => (t / 1000).toFixed(2)).join(', ')} | ${fmtRatio(ratio)} | ${formatPhases(phases)} |`,
      );
    }
    result.details.push(...rows);
  } finally {
    await stack.stop();
    result.seconds = (performance.now() - started) / 1000;
  }
  return result;
}
