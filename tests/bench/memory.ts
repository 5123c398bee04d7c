/**
 * Benchmark 4 — memory. Peak RSS (VmHWM from /proc/<pid>/status, polled, and read last just before
 * the container stops) of the LocalLambda child process running full rotations, vs 128 MiB.
 */
import { startLocalStack } from '../local/stack.js';
import { describeFailure, log, timedRotation, uniqueLabel, vmHwmKiB } from './util.js';
import type { BenchResult } from './types.js';

const LIMIT_MIB = 128;

export async function benchMemory(): Promise<BenchResult> {
  const started = performance.now();
  const result: BenchResult = {
    id: 4,
    title: 'Memory (peak RSS of the process running a rotation)',
    figures: [],
    method: [
      `A fresh LocalLambda container (\`node tests/local/lambda-child.mjs dist/rotation/index.mjs\`, the same process model as ` +
        `Lambda's Node runtime: the runtime plus the bundle). Its VmHWM (the kernel's peak resident set) is polled every 20 ms ` +
        `and read once more after each rotation. Sequence in the one container: a first issuance with ACME account registration ` +
        `(apex + wildcard), a renewal of it, then a 20-name certificate across two zones, and an rsa-4096 certificate ` +
        `(the largest key type). The figure is the peak after each stage ÷ ${LIMIT_MIB} MiB. The container's V8 heap is not ` +
        `limited here (Lambda does not cap the heap either; it kills the sandbox at the memory size).`,
    ],
    details: [],
    seconds: 0,
  };
  const stack = await startLocalStack({ route53ChangeDelayMs: 0 });
  let timer: NodeJS.Timeout | undefined;
  try {
    const zoneA = stack.aws.route53.createZone(`${uniqueLabel('mem-a')}.test`).name.replace(/\.$/, '');
    const zoneB = stack.aws.route53.createZone(`${uniqueLabel('mem-b')}.test`).name.replace(/\.$/, '');
    const account = await stack.createEmptySecret(uniqueLabel('bench/memory-account'));
    const lambda = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: account.arn }, { functionName: 'bench-memory' });
    let peak = 0;
    let pid: number | undefined;
    const poll = async () => {
      pid = lambda.pid ?? pid;
      if (pid === undefined) return;
      const kib = await vmHwmKiB(pid);
      if (kib !== undefined) peak = Math.max(peak, kib);
    };
    timer = setInterval(() => void poll(), 20);

    const l = uniqueLabel('m');
    const big = uniqueLabel('big');
    const rsa = uniqueLabel('rsa');
    const stages: { label: string; domains: string[]; keyType?: string; secret?: string }[] = [
      { label: 'first issuance + account registration (2 names)', domains: [`${l}.${zoneA}`, `*.${l}.${zoneA}`] },
      { label: 'renewal (2 names)', domains: [] },
      {
        label: '20 names, two zones',
        domains: Array.from({ length: 20 }, (_, i) => `h${i}.${big}.${i < 10 ? zoneA : zoneB}`),
      },
      { label: 'rsa-4096 key (2 names)', domains: [`${rsa}.${zoneB}`, `*.${rsa}.${zoneB}`], keyType: 'rsa-4096' },
    ];
    let prevSecret = '';
    const rows = ['| stage | duration | VmHWM after |', '|---|---|---|'];
    for (const st of stages) {
      let secretId = prevSecret;
      if (st.domains.length) {
        const s = await stack.createCertificateSecret(uniqueLabel('bench/mem'), {
          domains: st.domains,
          ...(st.keyType ? { keyType: st.keyType } : {}),
        });
        secretId = s.arn;
      }
      prevSecret = secretId;
      const t = await timedRotation(stack, lambda, secretId);
      if (!t.run.succeeded) throw new Error(`${st.label}: ${describeFailure(t.run, lambda)}`);
      await poll();
      const mib = peak / 1024;
      log(`memory after ${st.label}: ${mib.toFixed(1)} MiB`);
      rows.push(`| ${st.label} | ${(t.ms / 1000).toFixed(2)} s | ${mib.toFixed(1)} MiB |`);
      result.figures.push({
        label: `after ${st.label}`,
        value: `${mib.toFixed(1)} MiB`,
        ratio: mib / LIMIT_MIB,
        target: '≤ 1.0 (128 MiB)',
        pass: mib <= LIMIT_MIB,
      });
    }
    if (lambda.coldStarts !== 1) rows.push('', `(the container restarted: ${lambda.coldStarts} cold starts)`);
    result.details.push(...rows);
  } finally {
    if (timer) clearInterval(timer);
    await stack.stop();
    result.seconds = (performance.now() - started) / 1000;
  }
  return result;
}
