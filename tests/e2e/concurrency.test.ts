/**
 * End-to-end: rotations running at the same moment in separate Lambda containers.
 *
 * - Two certificates whose names share `_acme-challenge.<name>` (apex vs. wildcard; the same name
 *   in both), held at a gate until both are about to touch DNS: both succeed, each certificate
 *   has its own names, neither rotation removed or overwrote the other's TXT value while it was
 *   needed (replayed from the recorded Route 53 change batches), and the zone ends with no TXT.
 * - 50 certificates rotated at once in 50 containers against Route 53 throttled at 5 requests/s:
 *   all succeed, every invariant holds, and Route 53 calls per rotation are reported and bounded.
 *
 * Outcomes only (secret versions, certificates, zone contents, recorded calls, notices).
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { CallRecord } from '../local/aws/types.js';
import { rotate, type RotationRun } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import {
  changeBatches,
  expectConsistentBundle,
  expectNoKeyMaterial,
  noticesFor,
  parseStoredBundle,
  startE2eStack,
  startGateProxy,
  txtRecordsIn,
  uniqueLabel,
  uniqueSecretName,
  uniqueZoneName,
  versionsWith,
} from './helpers.js';

const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const INFLIGHT_TAG = 'acme-rotation:inflight';

/** Stacks started by the running test; stopped after it whatever happened. */
const stacks: LocalStack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

/** The step errors of a run, for a readable failure message. */
function runErrors(run: RotationRun): string[] {
  return run.attempts.flat().flatMap((s) => (s.result.ok ? [] : [`${s.step}: ${s.result.error.message}`]));
}

function expectSucceeded(run: RotationRun, what: string): void {
  expect(runErrors(run), `${what}: step errors`).toEqual([]);
  expect(run.succeeded, `${what} succeeded`).toBe(true);
  expect(run.attempts.map((a) => a.map((s) => s.step))).toEqual([STEPS]);
}

/** The TXT values a rotation recorded in its in-flight tags before touching DNS (its own values). */
function inflightValues(calls: CallRecord[], secretArn: string): string[] {
  const values = new Set<string>();
  for (const c of calls) {
    if (c.service !== 'secretsmanager' || c.operation !== 'TagResource' || c.error) continue;
    const input = c.input as { SecretId?: string; Tags?: { Key?: string; Value?: string }[] };
    if (input.SecretId !== secretArn) continue;
    for (const t of input.Tags ?? []) {
      if (t.Key?.startsWith(`${INFLIGHT_TAG}:`)) for (const v of (t.Value ?? '').split(' ')) if (v) values.add(v);
    }
  }
  return [...values];
}

interface TxtChange {
  action: string;
  name: string;
  values: string[];
}

interface Batch {
  changes: TxtChange[];
  error?: string;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** ChangeResourceRecordSets calls on a zone, in order, each change with its own name and values. */
function batchesOf(calls: CallRecord[], zoneId: string): Batch[] {
  const out: Batch[] = [];
  for (const call of calls) {
    if (call.service !== 'route53' || call.operation !== 'ChangeResourceRecordSets') continue;
    const input = call.input as { path: string; body?: unknown };
    if (/\/hostedzone\/([^/]+)\//.exec(input.path)?.[1] !== zoneId) continue;
    const body = input.body as {
      ChangeResourceRecordSetsRequest?: { ChangeBatch?: { Changes?: { Change?: unknown } } };
    };
    const changes = asArray(body.ChangeResourceRecordSetsRequest?.ChangeBatch?.Changes?.Change) as {
      Action?: string;
      ResourceRecordSet?: { Name?: string; ResourceRecords?: { ResourceRecord?: unknown } };
    }[];
    out.push({
      changes: changes.map((c) => ({
        action: String(c.Action),
        name: String(c.ResourceRecordSet?.Name).replace(/\.$/, ''),
        values: (asArray(c.ResourceRecordSet?.ResourceRecords?.ResourceRecord) as { Value?: unknown }[]).map((r) =>
          String(r.Value).replace(/^"|"$/g, ''),
        ),
      })),
      ...(call.error !== undefined ? { error: call.error } : {}),
    });
  }
  return out;
}

/**
 * The TXT values at `fqdn` after each accepted batch that touched it, replaying the batches in
 * order. Asserts compare-and-swap on the way: a DELETE names the exact current record, a CREATE
 * alone only goes where there is none, never an UPSERT.
 */
function replay(batches: Batch[], fqdn: string): string[][] {
  const out: string[][] = [];
  let state: string[] = [];
  for (const b of batches) {
    if (b.error !== undefined) continue;
    const here = b.changes.filter((c) => c.name === fqdn);
    if (here.length === 0) continue;
    expect(here.map((c) => c.action).sort(), `changes at ${fqdn} in one batch`).toSatisfy(
      (a: string[]) => ['CREATE', 'DELETE'].includes(a.join()) || a.join() === 'CREATE,DELETE',
    );
    const del = here.find((c) => c.action === 'DELETE');
    const create = here.find((c) => c.action === 'CREATE');
    if (del) expect([...del.values].sort(), 'DELETE names the exact current record').toEqual([...state].sort());
    else expect(state, 'CREATE alone only where there was no record').toEqual([]);
    state = create ? [...create.values] : [];
    out.push(state);
  }
  return out;
}

interface PairSecret {
  arn: string;
  name: string;
  domains: string[];
}

/**
 * Rotates two certificates at the same moment in two containers. Their createSecret calls are
 * held at the in-flight TagResource (written just before the first Route 53 change) until both
 * got there, so both read `_acme-challenge.<shared>` before either wrote it.
 */
async function racePair(
  prefix: string,
  domainsOf: (zone: string) => [string[], string[]],
  shared: (zone: string) => string,
) {
  const e2e = await startE2eStack();
  const stack = e2e.stack;
  stacks.push(stack);
  const zoneName = uniqueZoneName(prefix);
  const zone = stack.aws.route53.createZone(zoneName);
  const [domainsA, domainsB] = domainsOf(zoneName);
  const secrets: PairSecret[] = [];
  for (const [tag, domains] of [
    ['a', domainsA],
    ['b', domainsB],
  ] as const) {
    const s = await stack.createCertificateSecret(
      uniqueSecretName(`${prefix}-${tag}`),
      { domains },
      { placeholder: '{}' },
    );
    secrets.push({ ...s, domains });
  }
  const account = await stack.createEmptySecret(uniqueSecretName(`${prefix}-account`));
  // Register the shared account first, so the race is about DNS and nothing else.
  const warm = e2e.notifyingLambda({ ACME_ACCOUNT_SECRET_ID: account.arn });
  const warmSecret = await stack.createCertificateSecret(uniqueSecretName(`${prefix}-warm`), {
    domains: [`warm.${zoneName}`],
  });
  expectSucceeded(await rotate({ client: stack.sm, lambda: warm, secretId: warmSecret.arn }), 'warm-up');

  const arns = new Set(secrets.map((s) => s.arn));
  const gate = await startGateProxy({
    target: stack.aws.url,
    hold: (target, input) =>
      target === 'secretsmanager.TagResource' &&
      arns.has(String(input.SecretId)) &&
      Array.isArray(input.Tags) &&
      (input.Tags as { Key?: unknown }[]).some((t) => t.Key === INFLIGHT_TAG),
    count: 2,
    maxWaitMs: 30_000,
  });
  try {
    const lambdas = secrets.map(() =>
      e2e.notifyingLambda({ ACME_ACCOUNT_SECRET_ID: account.arn, AWS_ENDPOINT_URL: gate.url }),
    );
    const from = stack.aws.calls.length;
    const runs = await Promise.all(
      secrets.map((s, i) => rotate({ client: stack.sm, lambda: lambdas[i] as LocalLambda, secretId: s.arn })),
    );
    const calls = stack.aws.calls.slice(from);

    // Both got to DNS together, and both rotations succeeded with their own names.
    expect(gate.held, 'both rotations were held at the gate').toBe(2);
    for (const [i, run] of runs.entries()) {
      const s = secrets[i] as PairSecret;
      expectSucceeded(run, s.name);
      expectConsistentBundle(
        parseStoredBundle(stack.aws.secrets.valueAt(s.arn, 'AWSCURRENT')),
        s.domains,
        'ecdsa-p256',
      );
      expect(noticesFor(stack, s.name).events.map((e) => e.detail.status)).toEqual(['success']);
    }

    // Whose value is whose: each rotation recorded its values before touching DNS.
    const fqdn = `_acme-challenge.${shared(zoneName)}`;
    const [allA, allB] = secrets.map((s) => inflightValues(calls, s.arn)) as [string[], string[]];
    expect(allA.length).toBe(domainsA.length);
    expect(allB.length).toBe(domainsB.length);
    expect(allA.filter((v) => allB.includes(v))).toEqual([]);

    // Replay the accepted batches on the shared name: compare-and-swap only (no UPSERT), and a
    // rotation's values stay in the record from the batch that added them until the batch that
    // removes them — which must be the same rotation's clean-up, after validation.
    const batches = batchesOf(calls, zone.id);
    expect(batches.flatMap((b) => b.changes.map((c) => c.action))).not.toContain('UPSERT');
    const history = replay(batches, fqdn);
    // A certificate with several names has values at other names too: keep those seen at fqdn.
    const seen = new Set(history.flat());
    const [valuesA, valuesB] = [allA, allB].map((vs) => vs.filter((v) => seen.has(v))) as [string[], string[]];
    expect(valuesA.length, `secret A's value at ${fqdn}`).toBe(1);
    expect(valuesB.length, `secret B's value at ${fqdn}`).toBe(1);
    const mergedSeen = history.some((after) => [...valuesA, ...valuesB].every((v) => after.includes(v)));
    const conflicts = batches.filter((b) => b.error !== undefined);
    for (const c of conflicts)
      expect(c.error, 'only compare-and-swap conflicts are rejected').toBe('InvalidChangeBatch');
    // Each accepted batch either only adds values or only removes them, and what one removes
    // belongs to a single rotation (its clean-up): nobody's value was replaced or dropped by the other.
    for (const [i, after] of history.entries()) {
      const before = history[i - 1] ?? [];
      const added = after.filter((v) => !before.includes(v));
      const removed = before.filter((v) => !after.includes(v));
      expect(added.length === 0 || removed.length === 0, `batch ${i} at ${fqdn} replaced values`).toBe(true);
      if (removed.length > 0) {
        expect(
          removed.every((v) => valuesA.includes(v)) || removed.every((v) => valuesB.includes(v)),
          `batch ${i} removed values of both rotations: ${removed.join(',')}`,
        ).toBe(true);
      }
    }
    for (const ours of [valuesA, valuesB]) {
      const added = history.findIndex((after) => ours.every((v) => after.includes(v)));
      expect(added, `values ${ours.join(',')} were written`).toBeGreaterThanOrEqual(0);
      const removed = history.findIndex((after, i) => i > added && ours.some((v) => !after.includes(v)));
      expect(removed, `values ${ours.join(',')} were removed later`).toBeGreaterThan(added);
      // Removed all at once, and for good.
      expect(history.slice(removed).every((after) => ours.every((v) => !after.includes(v)))).toBe(true);
    }
    console.log(
      `[concurrency] ${prefix}: ${history.length} accepted batches at ${fqdn}, ${conflicts.length} compare-and-swap conflict(s), merged record seen: ${mergedSeen}`,
    );
    expect(mergedSeen || conflicts.length > 0, 'the merged record held both values, or a conflict was retried').toBe(
      true,
    );

    // Nothing left in the zone; nothing pending; no key material anywhere.
    expect(txtRecordsIn(stack, zone.id)).toEqual([]);
    for (const s of secrets) {
      const stages = stack.aws.secrets.stagesOf(s.arn);
      expect(versionsWith(stages, 'AWSPENDING')).toEqual([]);
      expect(Object.keys(stack.aws.secrets.tagsOf(s.arn)).filter((k) => k.startsWith('acme-rotation:'))).toEqual([]);
    }
    expectNoKeyMaterial(stack, [warm, ...lambdas]);
  } finally {
    await gate.stop();
  }
}

describe('concurrent rotations sharing _acme-challenge.<name>', () => {
  it('apex in one certificate, wildcard in the other: both issued, neither value clobbered', async () => {
    await racePair(
      'share-wild',
      (z) => [[`x.${z}`], [`*.x.${z}`]],
      (z) => `x.${z}`,
    );
  });

  it('the same name in both certificates: both issued, neither value clobbered', async () => {
    await racePair(
      'share-same',
      (z) => [
        [`y.${z}`, `a.y.${z}`],
        [`y.${z}`, `b.y.${z}`],
      ],
      (z) => `y.${z}`,
    );
  });
});

// ------------------------------------------------------------------------------------------------

/** Starts every container (its init phase) with an invocation that has nothing to do, `parallel` at a time. */
async function prewarm(lambdas: LocalLambda[], event: object, parallel = 4): Promise<void> {
  const queue = [...lambdas];
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let l = queue.shift(); l; l = queue.shift()) {
        const r = await l.invoke(event);
        expect(r.ok, `warming ${l.functionName}: ${r.ok ? '' : r.error.message}`).toBe(true);
      }
    }),
  );
}

const MANY = 50;
const RATE = 5;
/** Admitted Route 53 calls a rotation may make (D ≈ 0): discovery 1, reads 2, changes 2, GetChange ~1–3. */
const MAX_ADMITTED_PER_ROTATION = 10;

describe('many rotations at once under Route 53 throttling', () => {
  it(
    `rotates ${MANY} certificates in ${MANY} containers at ${RATE} Route 53 requests/s: all succeed, invariants hold`,
    { timeout: 240_000 },
    async () => {
      const stack = await startLocalStack({ route53RateLimitPerSecond: RATE, route53ChangeDelayMs: 100 });
      stacks.push(stack);
      const topicArn = stack.aws.sns.createTopic('acme-rotation-concurrency');
      stack.aws.events.createEventBus('acme-rotation-concurrency');
      const zoneName = uniqueZoneName('many');
      const zone = stack.aws.route53.createZone(zoneName);
      const account = await stack.createEmptySecret(uniqueSecretName('many-account'));
      const env = {
        ACME_ACCOUNT_SECRET_ID: account.arn,
        NOTIFICATION_TOPIC_ARN: topicArn,
        EVENT_BUS_NAME: 'acme-rotation-concurrency',
      };

      // One warm-up rotation registers the shared ACME account (50 registrations would not be real).
      const warm = stack.newLambda(env, { functionName: 'acme-rotation-warm' });
      const warmSecret = await stack.createCertificateSecret(uniqueSecretName('many-warm'), {
        domains: [`warm.${zoneName}`],
      });
      const warmRun = await rotate({ client: stack.sm, lambda: warm, secretId: warmSecret.arn });
      expectSucceeded(warmRun, 'warm-up');
      await warm.stop();

      const secrets: PairSecret[] = [];
      for (let i = 0; i < MANY; i++) {
        const label = uniqueLabel('m');
        const domains = [`${label}.${zoneName}`, `*.${label}.${zoneName}`];
        const s = await stack.createCertificateSecret(uniqueSecretName('many'), { domains }, { placeholder: '{}' });
        secrets.push({ ...s, domains });
      }
      const lambdas = secrets.map((_, i) =>
        stack.newLambda(env, { functionName: `acme-rotation-${i}`, timeoutMs: 180_000 }),
      );
      // Each Lambda sandbox has its own CPU for its init phase; here 50 share 2 cores, and 50
      // simultaneous inits overrun Lambda's 10 s init limit ("Init phase timed out") and starve
      // everything else. So the containers are started before the rotations, a few at a time, with
      // an invocation that has nothing to do (the warm-up's token is already AWSCURRENT).
      await prewarm(lambdas, { Step: 'createSecret', SecretId: warmSecret.arn, ClientRequestToken: warmRun.token });
      await new Promise((r) => setTimeout(r, 1_500)); // the bucket refills after the warm-up
      const from = stack.aws.calls.length;
      const started = performance.now();
      const runs = await Promise.all(
        secrets.map((s, i) => rotate({ client: stack.sm, lambda: lambdas[i] as LocalLambda, secretId: s.arn })),
      );
      const wallS = (performance.now() - started) / 1000;
      const calls = stack.aws.calls.slice(from);

      // Report first (also when the outcome assertions below fail).
      const r53 = calls.filter((c) => c.service === 'route53');
      const admitted = r53.filter((c) => c.error !== 'Throttling');
      const throttled = r53.length - admitted.length;
      const byOp = (list: CallRecord[]) => {
        const out: Record<string, number> = {};
        for (const c of list) out[c.operation] = (out[c.operation] ?? 0) + 1;
        return out;
      };
      const perRotation = (n: number) => (n / MANY).toFixed(2);
      const admittedByOp = byOp(admitted);
      const throttledByOp = byOp(r53.filter((c) => c.error === 'Throttling'));
      const failures = runs.flatMap((run, i) => runErrors(run).map((e) => `${secrets[i]?.name}: ${e}`));
      console.log(
        [
          `[concurrency] ${MANY} rotations in ${wallS.toFixed(1)} s at ${RATE} Route 53 req/s; failed: ${runs.filter((r) => !r.succeeded).length}`,
          `[concurrency] Route 53 admitted ${admitted.length} (${perRotation(admitted.length)}/rotation, floor ${(admitted.length / RATE).toFixed(1)} s), throttled ${throttled} (${perRotation(throttled)}/rotation)`,
          `[concurrency] admitted per rotation by operation: ${Object.entries(admittedByOp)
            .map(([op, n]) => `${op} ${perRotation(n)}`)
            .join(', ')}`,
          `[concurrency] throttled by operation: ${Object.entries(throttledByOp)
            .map(([op, n]) => `${op} ${n}`)
            .join(', ')}`,
          ...failures.slice(0, 10).map((f) => `[concurrency] failure ${f}`),
        ].join('\n'),
      );

      // Every rotation succeeded.
      expect(failures).toEqual([]);
      expect(runs.filter((r) => !r.succeeded)).toHaveLength(0);

      // Invariants, per certificate.
      for (const [i, s] of secrets.entries()) {
        const run = runs[i] as RotationRun;
        expectConsistentBundle(
          parseStoredBundle(stack.aws.secrets.valueAt(s.arn, 'AWSCURRENT')),
          s.domains,
          'ecdsa-p256',
        );
        const stages = stack.aws.secrets.stagesOf(s.arn);
        expect(versionsWith(stages, 'AWSCURRENT')).toEqual([run.token]);
        expect(
          versionsWith(stages, 'AWSPENDING').filter((id) => !versionsWith(stages, 'AWSCURRENT').includes(id)),
        ).toEqual([]);
        expect(Object.keys(stack.aws.secrets.tagsOf(s.arn)).filter((k) => k.startsWith('acme-rotation:'))).toEqual([]);
        expect(noticesFor(stack, s.name).events.map((e) => e.detail.status)).toEqual(['success']);
      }
      expect(txtRecordsIn(stack, zone.id)).toEqual([]);
      expectNoKeyMaterial(stack, lambdas);

      // Route 53 calls per rotation: one create and one clean-up change each (distinct names: no
      // compare-and-swap conflicts), and a bounded total; throttling is reported, not hidden.
      const accepted = changeBatches(calls).filter((b) => b.error === undefined);
      expect(accepted).toHaveLength(2 * MANY);
      expect(admitted.length).toBeLessThanOrEqual(MAX_ADMITTED_PER_ROTATION * MANY);
      expect(admitted.length / RATE, 'admitted calls fit the wall time at the rate').toBeLessThanOrEqual(wallS + 1);
    },
  );
});
