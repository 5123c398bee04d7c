/**
 * Benchmark 5 — calls per rotation: Route 53 and Secrets Manager by operation (the local
 * endpoint's call log) and CA requests (Pebble logs one line per request), per zone, for a first
 * issuance and a renewal, with D = 2 s so GetChange polling is realistic.
 */
import { startLocalStack, type LocalStack } from '../local/stack.js';
import {
  caRequests,
  callsByOperation,
  describeFailure,
  formatCounts,
  log,
  settleLogs,
  timedRotation,
  total,
  uniqueLabel,
} from './util.js';
import type { BenchResult } from './types.js';

const D_MS = 2_000;

interface Counted {
  route53: Record<string, number>;
  secretsManager: Record<string, number>;
  ca: Record<string, number>;
  other: Record<string, number>;
}

export async function benchCalls(): Promise<BenchResult> {
  const started = performance.now();
  const result: BenchResult = {
    id: 5,
    title: 'Calls per rotation',
    figures: [],
    method: [
      `Route 53 changes PENDING for D = ${D_MS / 1000} s. One warm LocalLambda with a persisted ACME account (registered by an ` +
        `untimed warm-up rotation). For an apex + wildcard certificate in one zone, and apex + wildcard in each of two zones ` +
        `(4 names), the first issuance and a renewal are counted separately: Route 53 and Secrets Manager by operation from the ` +
        `local endpoint's call log (the driver's own RotateSecret — Secrets Manager's part — is listed but is not the function's), ` +
        `and CA requests from Pebble's per-request log lines ("POST /order-plz -> calling handler()"). ` +
        `Target: ChangeResourceRecordSets = 2 per zone (one to create, one to clean up).`,
    ],
    details: [],
    seconds: 0,
  };
  const stack = await startLocalStack({ route53ChangeDelayMs: D_MS });
  try {
    const zoneA = stack.aws.route53.createZone(`${uniqueLabel('calls-a')}.test`).name.replace(/\.$/, '');
    const zoneB = stack.aws.route53.createZone(`${uniqueLabel('calls-b')}.test`).name.replace(/\.$/, '');
    const account = await stack.createEmptySecret(uniqueLabel('bench/calls-account'));
    const lambda = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: account.arn }, { functionName: 'bench-calls' });

    const warm = await stack.createCertificateSecret(uniqueLabel('bench/warm'), { domains: [`w.${zoneA}`] });
    const w = await timedRotation(stack, lambda, warm.arn);
    if (!w.run.succeeded) throw new Error(`warm-up ${describeFailure(w.run, lambda)}`);

    const count = async (s: LocalStack, secretId: string): Promise<Counted> => {
      await settleLogs();
      const aws0 = s.aws.calls.length;
      const ca0 = s.pebble.logs.length;
      const t = await timedRotation(s, lambda, secretId);
      if (!t.run.succeeded) throw new Error(describeFailure(t.run, lambda));
      await settleLogs();
      const other: Record<string, number> = {};
      for (const svc of ['sns', 'events']) {
        const c = callsByOperation(s, svc, aws0);
        for (const [k, v] of Object.entries(c)) other[`${svc}:${k}`] = v;
      }
      return {
        route53: callsByOperation(s, 'route53', aws0),
        secretsManager: callsByOperation(s, 'secretsmanager', aws0),
        ca: caRequests(s, ca0),
        other,
      };
    };

    const a = uniqueLabel('one');
    const b = uniqueLabel('two');
    const cases = [
      { label: 'one zone (apex + wildcard)', zones: 1, domains: [`${a}.${zoneA}`, `*.${a}.${zoneA}`] },
      {
        label: 'two zones (apex + wildcard in each)',
        zones: 2,
        domains: [`${b}.${zoneA}`, `*.${b}.${zoneA}`, `${b}.${zoneB}`, `*.${b}.${zoneB}`],
      },
    ];
    const rows = [
      '| certificate | rotation | Route 53 | Secrets Manager | CA requests | other |',
      '|---|---|---|---|---|---|',
    ];
    for (const c of cases) {
      const secret = await stack.createCertificateSecret(uniqueLabel('bench/calls'), { domains: c.domains });
      for (const kind of ['first issuance', 'renewal']) {
        const n = await count(stack, secret.arn);
        const changes = n.route53.ChangeResourceRecordSets ?? 0;
        log(
          `calls ${c.label} ${kind}: route53 ${total(n.route53)} (${formatCounts(n.route53)}); sm ${total(n.secretsManager)}; ca ${total(n.ca)}`,
        );
        rows.push(
          `| ${c.label} | ${kind} | **${total(n.route53)}**: ${formatCounts(n.route53)} | **${total(n.secretsManager)}**: ${formatCounts(n.secretsManager)} | **${total(n.ca)}**: ${formatCounts(n.ca)} | ${formatCounts(n.other) || '—'} |`,
        );
        result.figures.push({
          label: `${c.label}, ${kind}: ChangeResourceRecordSets per zone`,
          value: `R53 ${total(n.route53)} / SM ${total(n.secretsManager)} / CA ${total(n.ca)}`,
          ratio: changes / c.zones,
          target: '= 2',
          pass: changes === 2 * c.zones,
        });
      }
    }
    result.details.push(...rows);
  } finally {
    await stack.stop();
    result.seconds = (performance.now() - started) / 1000;
  }
  return result;
}
