/**
 * Benchmark 2 — overhead over the bare protocol. D = 0. A full four-step rotation of an apex +
 * wildcard certificate ÷ the same order done directly with acme-client (bare-acme.ts, in a child
 * process trusting Pebble through NODE_EXTRA_CA_CERTS) against the same Pebble. Runs alternate
 * (rotation, baseline, rotation, …) so drift on a noisy machine hits both; medians are compared.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { RecordChange } from '../local/aws/route53.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { describeFailure, formatPhases, log, median, phaseTimes, timedRotation, uniqueLabel } from './util.js';
import { fmtMs, fmtRatio, type BenchResult } from './types.js';

const TARGET = 1.5;
const CHILD = fileURLToPath(new URL('./bare-acme.ts', import.meta.url));

class Baseline {
  private readonly proc: ChildProcess;
  private readonly ready: Promise<void>;
  private nextId = 0;
  private waiting = new Map<number, { resolve: (ms: number) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly stack: LocalStack,
    private readonly zoneId: string,
  ) {
    this.proc = fork(CHILD, [], {
      execArgv: ['--import', 'tsx'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        NODE_EXTRA_CA_CERTS: stack.trustFile,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.proc.once('exit', (code) => {
        const err = new Error(`baseline child exited (${code})`);
        reject(err);
        for (const w of this.waiting.values()) w.reject(err);
      });
      this.proc.on('message', (raw: unknown) => {
        const msg = raw as {
          type: string;
          id: number;
          ms?: number;
          message?: string;
          fqdn?: string;
          values?: string[];
          action?: 'UPSERT' | 'DELETE';
        };
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'txt') {
          const change: RecordChange = {
            action: msg.action!,
            record: { name: msg.fqdn!, type: 'TXT', ttl: 60, values: msg.values!.map((v) => `"${v}"`) },
          };
          this.stack.aws.route53.changeRecords(this.zoneId, [change]);
          this.proc.send({ type: 'txtDone', id: msg.id });
        } else if (msg.type === 'done' || msg.type === 'error') {
          const w = this.waiting.get(msg.id);
          this.waiting.delete(msg.id);
          if (msg.type === 'done') w?.resolve(msg.ms!);
          else w?.reject(new Error(`baseline: ${msg.message}`));
        }
      });
    });
  }

  async run(names: string[]): Promise<number> {
    await this.ready;
    const id = ++this.nextId;
    const done = new Promise<number>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.proc.send({
      type: 'run',
      id,
      names,
      dnsServer: `${this.stack.dns.address}:${this.stack.dns.port}`,
      directoryUrl: this.stack.pebble.directoryUrl,
    });
    return done;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    if (this.proc.connected) this.proc.disconnect();
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(killer);
  }
}

const SETTLE_MS = 100;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

export async function benchOverhead(opts: { runs?: number; warmups?: number } = {}): Promise<BenchResult> {
  const runs = opts.runs ?? 11;
  // Both sides are warm processes; the first few runs of each still compile (JIT) as they go.
  const warmups = opts.warmups ?? 5;
  const started = performance.now();
  const result: BenchResult = {
    id: 2,
    title: 'Overhead over the bare protocol (rotation ÷ acme-client alone, D = 0)',
    figures: [],
    method: [
      `D = 0 (changes INSYNC at once). Rotation: one warm LocalLambda container with a persisted ACME account, ` +
        `one apex + wildcard certificate secret rotated ${runs} times (renewals), timed from RotateSecret to the end of finishSecret. ` +
        `Baseline (tests/bench/bare-acme.ts): a warm child process with NODE_EXTRA_CA_CERTS = the stack's trust file and one acme.Client ` +
        `for all its runs (so it keeps the directory and the account URL, as the warm rotation container keeps the directory and its persisted account), running ` +
        `createAccount (in the warm-up run only), createOrder, getAuthorizations, getChallengeKeyAuthorization, TXT written straight into the ` +
        `local Route 53 (one record set per name, values merged), a wait until the DNS responder serves it, completeChallenge, ` +
        `waitForValidStatus, finalizeOrder, getCertificate, then the TXT record deleted — for a fresh apex + wildcard name each run, ` +
        `ECDSA P-256 keys as the rotation's default, and acme-client backoffMin 50 ms (its 5 s default would flatter the ratio). ` +
        `Runs alternate rotation/baseline after ${warmups} untimed warm-ups of each (both processes compile as they go: the first runs are slower), ` +
        `each side starting ${SETTLE_MS} ms after the other ended (so neither meets the other's trailing work: log flush, garbage collection, Pebble's own); ` +
        `the figure is median ÷ median of ${runs}.`,
    ],
    details: [],
    seconds: 0,
  };
  const stack = await startLocalStack({ route53ChangeDelayMs: 0 });
  let baseline: Baseline | undefined;
  try {
    const zoneName = `${uniqueLabel('ovh')}.test`;
    const zone = stack.aws.route53.createZone(zoneName);
    const zoneApex = zone.name.replace(/\.$/, '');
    const account = await stack.createEmptySecret(uniqueLabel('bench/overhead-account'));
    const lambda = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: account.arn }, { functionName: 'bench-overhead' });
    baseline = new Baseline(stack, zone.id);
    const label = uniqueLabel('rot');
    const secret = await stack.createCertificateSecret(uniqueLabel('bench/overhead'), {
      domains: [`${label}.${zoneApex}`, `*.${label}.${zoneApex}`],
    });
    const bareNames = () => {
      const l = uniqueLabel('bare');
      return [`${l}.${zoneApex}`, `*.${l}.${zoneApex}`];
    };

    const rot: number[] = [];
    const bare: number[] = [];
    let phases: Record<string, number> = {};
    const steps: Record<string, number[]> = {};
    for (let i = 1 - warmups; i <= runs; i++) {
      const logFrom = lambda.logs.length;
      // Each side starts on a quiet machine: the other side's trailing work (its process's log
      // flush and garbage collection, Pebble finishing its own work) must not land in its window.
      await settle();
      const r = await timedRotation(stack, lambda, secret.arn);
      if (!r.run.succeeded) throw new Error(describeFailure(r.run, lambda));
      await settle();
      const b = await baseline.run(bareNames());
      if (i <= 0) continue; // warm-up
      phases = phaseTimes(lambda, logFrom);
      for (const a of r.run.attempts.flat()) (steps[a.step] ??= []).push(a.result.durationMs);
      rot.push(r.ms);
      bare.push(b);
    }
    const ratio = median(rot) / median(bare);
    log(`overhead: rotation ${rot.map(fmtMs).join(', ')}; baseline ${bare.map(fmtMs).join(', ')} → ${fmtRatio(ratio)}`);
    result.figures.push({
      label: 'apex + wildcard',
      value: `${fmtMs(median(rot))} vs ${fmtMs(median(bare))}`,
      ratio,
      target: `≤ ${TARGET}`,
      pass: ratio <= TARGET,
    });
    result.details.push(
      '| runs | times |',
      '|---|---|',
      `| rotation (four steps) | ${rot.map(fmtMs).join(', ')} |`,
      `| bare acme-client | ${bare.map(fmtMs).join(', ')} |`,
      '',
      `Rotation steps (median invoke time): ${Object.entries(steps)
        .map(([k, v]) => `${k} ${fmtMs(median(v))}`)
        .join(', ')}.`,
      '',
      `Phases of the last rotation (from the function log): ${formatPhases(phases)}.`,
    );
  } finally {
    await baseline?.stop();
    await stack.stop();
    result.seconds = (performance.now() - started) / 1000;
  }
  return result;
}
