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
import { backoffDelay, pollDelay } from '../../rotation/deadline.js';
import { DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS, FUNCTION_TIMEOUT_SECONDS } from '../../rotation/rules.js';
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
