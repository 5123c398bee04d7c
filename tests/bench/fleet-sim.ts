/**
 * A fleet too large for one machine (1,000 rotations would be 1,000 Lambda containers), simulated
 * in virtual time with the project's own decision code: the watch's pacer (`startPaced`), the
 * Route 53 adapter's throttling backoff (`backoffDelay`, 0.4–4 s after the SDK's 3 attempts) and
 * the INSYNC poll schedule (`pollDelay`, 15 % of the time waited, 250 ms – 5 s). What is modelled:
 * Route 53 as a token bucket (5 requests/s, burst 5; a throttled request costs no token), each
 * rotation as its Route 53 requests in order (ListHostedZonesByName, ListResourceRecordSets, the
 * change, GetChange until the change has been PENDING for `insyncMs`, the clean-up change) plus
 * the time it spends elsewhere (CA, Secrets Manager, Lambda invocations: `otherMs`, measured
 * end-to-end in benchmark 2), the watch's listing and ARI reads (100 ms per 8 certificates), its
 * 5 s poll of running rotations, its 840 s budget per invocation and a continuation invocation
 * after it. A rotation fails when its DNS wait passes DNS_PROPAGATION_TIMEOUT_SECONDS (300 s) or
 * it runs past the 900 s function timeout.
 */
import { backoffDelay, pollDelay } from '../../rotation/lib/deadline.js';
import { DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS } from '../../rotation/certificate/rules.js';
import { FUNCTION_TIMEOUT_SECONDS } from '../../rotation/lib/deadline.js';
import { startPaced } from '../../rotation/watch/pace.js';

export interface FleetSimOptions {
  certificates: number;
  maxInFlight: number;
  /** How long a change stays PENDING. */
  insyncMs: number;
  /** A rotation's time outside Route 53 (CA, Secrets Manager, invocations). */
  otherMs: number;
  rate?: number;
  seed?: number;
}

export interface FleetSimResult {
  fleetMs: number;
  floorMs: number;
  admitted: number;
  throttled: number;
  failed: number;
  maxRotationMs: number;
  maxDnsWaitMs: number;
  /** Rotations that took more than half the function timeout. */
  nearTimeout: number;
  hops: number;
}

const FUNCTION_TIMEOUT_MS = FUNCTION_TIMEOUT_SECONDS * 1000;
const DNS_BUDGET_MS = DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS * 1000;
/** Past this a rotation counts as near its timeout. */
export const NEAR_TIMEOUT_MS = FUNCTION_TIMEOUT_MS / 2;
const WATCH_BUDGET_MS = 840_000;
const WATCH_POLL_MS = 5_000;

/** Virtual time: timers run in time order; everything simulated awaits `sleep`. */
class Clock {
  now = 0;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.timers.push({ at: this.now + Math.max(0, ms), seq: this.seq++, resolve });
    });
  /** Runs until `done` settles. */
  async run<T>(done: Promise<T>): Promise<T> {
    let finished = false;
    let value: T | undefined;
    void done.then((v) => {
      finished = true;
      value = v;
    });
    while (!finished) {
      // Let every ready continuation run before time moves.
      for (let i = 0; i < 20; i++) await Promise.resolve();
      if (finished) break;
      if (this.timers.length === 0) {
        await new Promise((r) => setImmediate(r));
        if (this.timers.length === 0 && !finished) throw new Error('simulation stalled');
        continue;
      }
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.now = next.at;
      next.resolve();
    }
    return value as T;
  }
}

/** A small deterministic PRNG (mulberry32), so a run can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function simulateFleet(opts: FleetSimOptions): Promise<FleetSimResult> {
  const clock = new Clock();
  const random = prng(opts.seed ?? 1);
  const rate = opts.rate ?? 5;
  let tokens = rate;
  let refilledAt = 0;
  let admitted = 0;
  let throttled = 0;
  const take = (): boolean => {
    tokens = Math.min(rate, tokens + ((clock.now - refilledAt) / 1000) * rate);
    refilledAt = clock.now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
  /** One logical Route 53 call: the SDK's 3 attempts, then the adapter's backoff, until admitted. */
  const route53 = async (): Promise<void> => {
    for (let wait = 0; ; wait++) {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (take()) {
          admitted++;
          await clock.sleep(40);
          return;
        }
        throttled++;
        if (attempt < 2) await clock.sleep(random() * 100 * 2 ** attempt);
      }
      await clock.sleep(backoffDelay(wait, 400, 4_000, random));
    }
  };

  let failed = 0;
  let maxRotationMs = 0;
  let maxDnsWaitMs = 0;
  let nearTimeout = 0;
  let lastEnd = 0;
  const running = new Set<number>();

  const rotation = async (id: number): Promise<void> => {
    const start = clock.now;
    running.add(id);
    try {
      await clock.sleep(opts.otherMs * 0.3); // invocations, DescribeSecret, reads, the order
      await route53(); // ListHostedZonesByName
      await route53(); // ListResourceRecordSets (zone check)
      await route53(); // ChangeResourceRecordSets (create)
      const submitted = clock.now;
      if (opts.insyncMs > 0) {
        for (;;) {
          await clock.sleep(pollDelay(clock.now - submitted, 250, 5_000, 0.15));
          await route53(); // GetChange
          if (clock.now - submitted >= opts.insyncMs) break;
        }
      }
      const dnsWait = clock.now - submitted;
      maxDnsWaitMs = Math.max(maxDnsWaitMs, dnsWait);
      await clock.sleep(opts.otherMs * 0.5); // propagation check, validation, finalize
      await route53(); // ChangeResourceRecordSets (clean-up)
      await clock.sleep(opts.otherMs * 0.2); // testSecret, finishSecret
      const took = clock.now - start;
      maxRotationMs = Math.max(maxRotationMs, took);
      if (took > NEAR_TIMEOUT_MS) nearTimeout++;
      if (dnsWait > DNS_BUDGET_MS || took > FUNCTION_TIMEOUT_MS) failed++;
    } finally {
      running.delete(id);
      lastEnd = Math.max(lastEnd, clock.now);
    }
  };

  const all = Array.from({ length: opts.certificates }, (_, i) => i);
  const rotations: Promise<void>[] = [];
  const watch = async (): Promise<number> => {
    let queue = all;
    let hops = 0;
    let carried: number[] = [];
    while (queue.length > 0) {
      const began = clock.now;
      // Listing, AWSCURRENT reads and ARI asks, 8 at a time.
      await clock.sleep(Math.ceil(opts.certificates / 8) * 100);
      const result = await startPaced(queue, {
        maxInFlight: opts.maxInFlight,
        alreadyRunning: carried.filter((id) => running.has(id)),
        start: async (id) => {
          rotations.push(rotation(id));
          return 'started';
        },
        stillRunning: async (list) => list.filter((id) => running.has(id)),
        timeLeftMs: () => WATCH_BUDGET_MS - (clock.now - began),
        pollMs: WATCH_POLL_MS,
        sleep: clock.sleep,
        onError: () => undefined,
      });
      carried = [...running];
      queue = result.deferred;
      if (queue.length > 0) {
        hops++;
        await clock.sleep(1_000); // the continuation invocation
      }
    }
    return hops;
  };
  const hops = await clock.run(watch());
  await clock.run(Promise.all(rotations));
  return {
    fleetMs: lastEnd,
    floorMs: (Math.max(0, admitted - rate) / rate) * 1000,
    admitted,
    throttled,
    failed,
    maxRotationMs,
    maxDnsWaitMs,
    nearTimeout,
    hops,
  };
}

// ------------------------------------------------------------------------------------------------
// The watch's bad day: the real runWatch against the local Secrets Manager model, in virtual time.

export interface BadDayOptions {
  certificates: number;
  /** Share of the secrets carrying a failed rotation's AWSPENDING (older than the rotation's timeout). */
  stalePendingShare: number;
  /** Share of the secrets due by lifetime when the day begins (besides the failed ones). */
  dueShare: number;
  maxInFlight: number;
  /** Reserved concurrency 1 (the deployment): a second invocation waits for the running one. */
  lock: boolean;
  /** When the schedule's next run arrives (it meets run 1's continuation). */
  secondRunAtMs: number;
  seed?: number;
}

export interface BadDayResult {
  /** Due renewals at the start, and how many of them were started by the end of the second run. */
  due: number;
  dueStartedWithinTwoRuns: number;
  /** Secrets RotateSecret started more than once during the day. */
  duplicateRotations: number;
  /** The most rotations running at once, counted from Secrets Manager's labels every second. */
  maxInFlight: number;
  /** Failed rotations found and cleared. */
  failedRotations: number;
  failedCleared: number;
  /** renewalInfo/directory requests sent while the CA was not answering. */
  askedWhileDown: number;
  /** TagResource + UntagResource: most in any one second, in total, and refused (ThrottlingException). */
  maxTagWritesPerSecond: number;
  tagWrites: number;
  tagThrottled: number;
  /** Invocations of the watch (runs and continuations), and how long the day took. */
  invocations: number;
  summaries: Record<string, unknown>[];
  dayMs: number;
}

export async function simulateBadDay(opts: BadDayOptions): Promise<BadDayResult> {
  const { SecretsManagerService } = await import('../local/aws/secretsmanager.js');
  const { runWatch } = await import('../../rotation/watch/run.js');
  const { createLogger } = await import('../../rotation/lib/log.js');
  const { issueCertificate, keyPem, makeRootCa, pooledKey } = await import('../helpers/certs.js');
  const { certIdOf } = await import('../local/ari-certid.js');

  const clock = new Clock();
  const random = prng(opts.seed ?? 7);
  const T0 = Date.now();
  let skew = -3 * 3_600_000; // the secrets (and the failed rotations' AWSPENDING) were made 3 h ago
  const service = new SecretsManagerService({ now: () => T0 + clock.now + skew });
  const HOUR = 3_600_000;
  const DAY = 24 * HOUR;
  const LAMBDA = 'arn:aws:lambda:us-east-1:123456789012:function:bench-rotation';

  // The fleet: real certificates (ECDSA, 90 days), a share due by lifetime, a share with a failed rotation.
  const root = makeRootCa({ cn: 'Bench Bad Day Root' });
  const key = pooledKey('ecdsa-p256');
  const privateKey = keyPem(key);
  const lifetimes = new Map<string, { notBefore: number; notAfter: number }>();
  const bundle = (name: string, ageMs: number): string => {
    const notBefore = T0 - ageMs;
    const pem = issueCertificate({
      subjectCn: name,
      key,
      issuer: root,
      notBefore: new Date(notBefore),
      notAfter: new Date(notBefore + 90 * DAY),
      dnsNames: [name],
    }).pem;
    lifetimes.set(certIdOf(pem) ?? '', { notBefore, notAfter: notBefore + 90 * DAY });
    return JSON.stringify({
      certificate: pem,
      fullchain: `${pem}${root.certPem}`,
      private_key: privateKey,
      domains: [name],
    });
  };
  const token = (label: string, i: number) => `${label}-${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`;
  const due = new Set<string>();
  const stale = Math.round(opts.certificates * opts.stalePendingShare);
  for (let i = 0; i < opts.certificates; i++) {
    const name = `c${i}.bench.example`;
    const isDue = random() < opts.dueShare;
    const rec = service.seedSecret({
      name: `bench/bad-day/${i}`,
      rotationEnabled: true,
      rotationLambdaArn: LAMBDA,
      tags: { 'acme:domains': name },
      versions: {
        [token('current', i)]: { value: bundle(name, isDue ? 61 * DAY : 10 * DAY), stages: ['AWSCURRENT'] },
        ...(i < stale ? { [token('failed', i)]: { stages: ['AWSPENDING'] } } : {}),
      },
    });
    if (isDue) due.add(rec.arn);
  }
  skew = 0;
  const fresh = bundle('renewed.bench.example', 0);

  // Rotations: RotateSecret's stub, then, after 40–140 s (the fleet benchmark's range at 50 in
  // flight), the new certificate promoted as finishSecret does.
  const rotatedAt = new Map<string, number[]>();
  const rotations: Promise<void>[] = [];
  service.onRotate = (info) => {
    rotatedAt.set(info.arn, [...(rotatedAt.get(info.arn) ?? []), clock.now]);
    rotations.push(
      (async () => {
        await clock.sleep(40_000 + random() * 100_000);
        const current = Object.entries(service.stagesOf(info.arn)).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
        service.handle('PutSecretValue', {
          SecretId: info.arn,
          ClientRequestToken: info.token,
          SecretString: fresh,
          VersionStages: ['AWSPENDING'],
        });
        service.handle('UpdateSecretVersionStage', {
          SecretId: info.arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: info.token,
          RemoveFromVersionId: current,
        });
        service.handle('UpdateSecretVersionStage', {
          SecretId: info.arn,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: info.token,
        });
      })(),
    );
  };

  // In flight, from Secrets Manager's labels: AWSPENDING on a version RotateSecret made today.
  let maxInFlight = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      let n = 0;
      for (const s of service.list()) {
        for (const v of s.versions.values()) if (v.stages.has('AWSPENDING') && v.createdAt >= T0) n++;
      }
      maxInFlight = Math.max(maxInFlight, n);
      await clock.sleep(1_000);
    }
  })();

  // Secrets Manager as the watch reaches it (20 ms a call), mapped like rotation/watch/secrets.ts.
  const call = async (op: string, input: Record<string, unknown>): Promise<Record<string, unknown>> => {
    await clock.sleep(20);
    try {
      return service.handle(op, input) as Record<string, unknown>;
    } catch (err) {
      const e = err as { code?: string; message: string };
      throw Object.assign(new Error(`${e.code}: ${e.message}`), { awsCode: e.code });
    }
  };
  type Raw = { ARN: string; Name: string; RotationEnabled?: boolean; RotationLambdaARN?: string; CreatedDate?: number };
  const secrets = {
    list: async (tagKey: string) => {
      const out = [];
      let next: string | undefined;
      do {
        const page = await call('ListSecrets', {
          Filters: [{ Key: 'tag-key', Values: [tagKey] }],
          MaxResults: 100,
          ...(next ? { NextToken: next } : {}),
        });
        for (const s of page.SecretList as (Raw & {
          SecretVersionsToStages: Record<string, string[]>;
          Tags: { Key: string; Value: string }[];
        })[]) {
          out.push({
            arn: s.ARN,
            name: s.Name,
            rotationEnabled: s.RotationEnabled === true,
            ...(s.RotationLambdaARN ? { rotationLambdaArn: s.RotationLambdaARN } : {}),
            ...(s.CreatedDate ? { createdAt: new Date(s.CreatedDate * 1000) } : {}),
            versions: s.SecretVersionsToStages ?? {},
            tags: s.Tags ?? [],
          });
        }
        next = page.NextToken as string | undefined;
      } while (next);
      return out;
    },
    current: async (arn: string) =>
      (await call('GetSecretValue', { SecretId: arn, VersionStage: 'AWSCURRENT' })).SecretString as string,
    tag: async (arn: string, set: Record<string, string>, remove: string[]) => {
      const tags = Object.entries(set).map(([Key, Value]) => ({ Key, Value }));
      if (tags.length > 0) await call('TagResource', { SecretId: arn, Tags: tags });
      if (remove.length > 0) await call('UntagResource', { SecretId: arn, TagKeys: remove });
    },
    rotate: async (arn: string) => {
      try {
        await call('RotateSecret', { SecretId: arn });
        return 'started' as const;
      } catch (err) {
        if (/previous rotation isn't complete/i.test((err as Error).message)) return 'in-progress' as const;
        throw err;
      }
    },
    describe: async (arn: string) => {
      const d = await call('DescribeSecret', { SecretId: arn });
      return {
        rotationEnabled: d.RotationEnabled === true,
        versions: (d.VersionIdsToStages ?? {}) as Record<string, string[]>,
        tags: (d.Tags ?? []) as { Key: string; Value: string }[],
      };
    },
    pending: async (arn: string) => {
      const out = await call('ListSecretVersionIds', { SecretId: arn });
      for (const v of out.Versions as { VersionId: string; VersionStages: string[]; CreatedDate: number }[]) {
        if (v.VersionStages.includes('AWSPENDING') && !v.VersionStages.includes('AWSCURRENT')) {
          return { versionId: v.VersionId, createdAt: new Date(v.CreatedDate * 1000) };
        }
      }
      return undefined;
    },
    clearPending: async (arn: string, versionId: string) => {
      await call('UpdateSecretVersionStage', {
        SecretId: arn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: versionId,
      });
    },
  };

  // The CA: not answering (10 s timeouts) during the first run, then Let's Encrypt-like answers.
  let caDown = true;
  let askedWhileDown = 0;
  const timeout = async (what: string) => {
    askedWhileDown++;
    await clock.sleep(10_000);
    return `${what}: no answer within 10000 ms`;
  };
  const ari = {
    renewalInfoBase: async () => {
      if (caDown) return { ok: false as const, error: await timeout('could not read the directory') };
      await clock.sleep(50);
      return { ok: true as const, base: 'https://ca.bench/renewal-info' };
    },
    renewalInfo: async (_base: string, certId: string) => {
      if (caDown) return { ok: false as const, error: await timeout(`renewalInfo ${certId}`), caFailure: true };
      await clock.sleep(50);
      const life = lifetimes.get(certId);
      if (!life) return { ok: false as const, error: 'HTTP 404', caFailure: false };
      const start = life.notBefore + ((life.notAfter - life.notBefore) * 2) / 3;
      return {
        ok: true as const,
        answer: {
          start: new Date(start),
          end: new Date(start + (life.notAfter - life.notBefore) / 45),
          retryAfterMs: 6 * HOUR,
        },
      };
    },
  };

  // Lambda: the watch's invocations; with the lock, one at a time (a throttled event is retried).
  const logger = createLogger({}, { level: 'error', sink: () => undefined });
  const summaries: Record<string, unknown>[] = [];
  let busyUntil = 0;
  let running = 0;
  let invocations = 0;
  const invocationsDone: Promise<void>[] = [];
  const invoke = (hop: number, onEnd?: () => void): void => {
    invocationsDone.push(
      (async () => {
        while (opts.lock && running > 0) await clock.sleep(10_000); // throttled, retried by Lambda
        running++;
        invocations++;
        const began = clock.now;
        try {
          const summary = await runWatch(
            {
              directoryUrl: 'https://ca.bench/directory',
              maxInFlight: opts.maxInFlight,
              metricNamespace: 'Bench',
              metricStack: 'bench',
              nextRunMs: HOUR,
            },
            {
              secrets,
              ari,
              logger,
              write: () => undefined,
              now: () => new Date(T0 + clock.now),
              random,
              sleep: clock.sleep,
              timeLeftMs: () => 840_000 - (clock.now - began),
              continueWith: async (next) => {
                invoke(next);
              },
            },
            hop,
          );
          summaries.push({ at: Math.round(clock.now / 1000), ...summary });
        } finally {
          running--;
          busyUntil = Math.max(busyUntil, clock.now);
          onEnd?.();
        }
      })(),
    );
  };

  // Run 1 at t = 0 with the CA down; the CA is back when run 1's first invocation ends. Run 2 (the
  // schedule) arrives while run 1's continuation still works.
  let run2Ended = -1;
  invoke(0, () => {
    caDown = false;
  });
  const day = (async () => {
    await clock.sleep(opts.secondRunAtMs);
    await new Promise<void>((resolve) =>
      invoke(0, () => {
        run2Ended = clock.now;
        resolve();
      }),
    );
    // Every invocation (continuations included) and every rotation it started.
    for (let seen = 0; seen < invocationsDone.length; seen = invocationsDone.length) await Promise.all(invocationsDone);
    await Promise.all(rotations);
    sampling = false;
    await sampler;
  })();
  await clock.run(day);

  const startedBy = (t: number) => [...due].filter((arn) => (rotatedAt.get(arn) ?? []).some((at) => at <= t)).length;
  const writes = service.tagWrites.map((t) => t - T0);
  let maxPerSecond = 0;
  for (let i = 0, j = 0; i < writes.length; i++) {
    while ((writes[i] as number) - (writes[j] as number) >= 1000) j++;
    maxPerSecond = Math.max(maxPerSecond, i - j + 1);
  }
  const failedCleared = summaries.reduce((n, s) => n + Number(s.failedRotationsCleared ?? 0), 0);
  return {
    due: due.size,
    dueStartedWithinTwoRuns: startedBy(run2Ended),
    duplicateRotations: [...rotatedAt.values()].filter((l) => l.length > 1).length,
    maxInFlight,
    failedRotations: stale,
    failedCleared,
    askedWhileDown,
    maxTagWritesPerSecond: maxPerSecond,
    tagWrites: service.tagWrites.length,
    tagThrottled: service.tagThrottled,
    invocations,
    summaries,
    dayMs: clock.now,
  };
}
