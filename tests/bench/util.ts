/**
 * Shared helpers for the benchmarks (tests/bench/run.ts): statistics, unique names, a certificate
 * secret + rotation in one call, and call counting on the local stack.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { rotate, type RotationRun } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import type { LocalStack } from '../local/stack.js';

// Local Node is 20; the function deploys on nodejs22.x. The SDK's notice about that is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** One run's unique label, so names never collide across runs (Pebble and zones are fresh anyway). */
export const RUN_ID = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

let counter = 0;
/** A unique DNS label. */
export function uniqueLabel(prefix: string): string {
  return `${prefix}${++counter}-${RUN_ID}`;
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

export interface TimedRotation {
  run: RotationRun;
  ms: number;
}

/** RotateSecret + the four steps, timed from RotateSecret to the end of finishSecret. */
export async function timedRotation(stack: LocalStack, lambda: LocalLambda, secretId: string): Promise<TimedRotation> {
  const started = performance.now();
  const run = await rotate({ client: stack.sm, lambda, secretId });
  return { run, ms: performance.now() - started };
}

export function describeFailure(run: RotationRun, lambda?: LocalLambda): string {
  const e = run.lastError;
  const tail = lambda ? `\n${lambda.logs.slice(-8).join('\n')}` : '';
  return `rotation failed at ${e?.step ?? '?'}: ${e?.name ?? 'Error'}: ${e?.message ?? 'unknown'}${tail}`;
}

/** Counts of recorded calls by operation for one service, from index `from` of the call log. */
export function callsByOperation(stack: LocalStack, service: string, from = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of stack.aws.calls.slice(from)) {
    if (c.service !== service) continue;
    const key = c.error ? `${c.operation} (${c.error})` : c.operation;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Pebble's request lines ("GET /dir -> calling handler()") from index `from` of its log. */
export function caRequests(stack: LocalStack, from = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stack.pebble.logs.slice(from)) {
    const m = /\b(GET|HEAD|POST) (\/[^/\s]*\/?)\S* -> calling handler/.exec(line);
    if (!m) continue;
    const key = `${m[1]} ${m[2]}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

export const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

export const formatCounts = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** Peak resident set (VmHWM, KiB) of a Linux process, or undefined once it is gone. */
export async function vmHwmKiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Pebble writes its log through a pipe read line by line: give the last lines a moment to arrive. */
export const settleLogs = () => sleep(150);

/** The function's own phase timings ("<phase> done" log lines with durationMs) from index `from` of its log. */
export function phaseTimes(lambda: LocalLambda, from = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lambda.logs.slice(from)) {
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as { phase?: unknown; durationMs?: unknown };
      if (typeof rec.phase === 'string' && typeof rec.durationMs === 'number') {
        out[rec.phase] = (out[rec.phase] ?? 0) + rec.durationMs;
      }
    } catch {
      // not a JSON log line
    }
  }
  return out;
}

export const formatPhases = (phases: Record<string, number>) =>
  Object.entries(phases)
    .map(([k, v]) => `${k} ${v} ms`)
    .join(', ');
