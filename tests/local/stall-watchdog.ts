/**
 * A watchdog for a test process whose event loop stops turning.
 *
 * vitest's testTimeout and hookTimeout are timers in the test process: when that process's main
 * thread is blocked (a synchronous call that never returns, or promises that keep the microtask
 * queue busy) they never fire, vitest waits for the file forever, and CI only ends at its own
 * time limit with no hint of where it stopped. The watchdog runs on a worker thread, which keeps
 * running while the main thread is stuck. The main thread stamps a heartbeat every second; when the
 * heartbeat is older than `stallMs`, the watchdog writes what it knows to stderr (the test file,
 * the test that was running, the main thread's state, kernel wait channel and system call, and the
 * descendant processes) and kills them and the process; vitest reports the worker's exit as an
 * error and goes on.
 */
import { Worker } from 'node:worker_threads';

export interface StallWatchdog {
  /** Names the test now running (shown in the report). */
  setTest(name: string): void;
  /** Stops the heartbeat and the watchdog thread. */
  stop(): Promise<void>;
}

export interface StallWatchdogOptions {
  /** What the report calls this process (e.g. the test file). */
  label: string;
  /** A heartbeat older than this is a stall. */
  stallMs: number;
  /** Heartbeat and check period (default 1000 ms). */
  periodMs?: number;
}

const NAME_BYTES = 512;

// Taken when this module loads, before any test can install fake timers (vi.useFakeTimers replaces
// the globals, and a faked setInterval or Date would stop or skew the heartbeat).
const realSetInterval = globalThis.setInterval;
const realClearInterval = globalThis.clearInterval;
const realHrtime = process.hrtime.bigint.bind(process.hrtime);

// Runs on the worker thread: plain JavaScript, no imports from the project.
const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { heartbeat, name, label, stallMs, periodMs } = workerData;
const beat = new BigInt64Array(heartbeat);
const nameBytes = new Uint8Array(name);
const read = (p) => { try { return fs.readFileSync(p, 'utf8').trim(); } catch { return '(unreadable)'; } };
// Every descendant of pid (children, their children, ...), as [pid, description].
function descendants(pid) {
  const procs = [];
  let dirs = [];
  try { dirs = fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)); } catch { return []; }
  for (const d of dirs) {
    const m = /^\\d+ \\((.*)\\) (\\S) (\\d+)/s.exec(read('/proc/' + d + '/stat'));
    if (m) procs.push({ pid: Number(d), ppid: Number(m[3]), text: d + ' ' + m[1] + ' [' + m[2] + '] ' + read('/proc/' + d + '/cmdline').split('\\0').join(' ') });
  }
  const out = [];
  const parents = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) { parents.add(p.pid); out.push([p.pid, p.text]); grew = true; }
    }
  }
  return out;
}
// fd 2 may be a non-blocking pipe or socket that nobody drains right now: retry for up to 2 s.
function writeAll(fd, text) {
  let buf = Buffer.from(text);
  const until = Date.now() + 2000;
  while (buf.length > 0 && Date.now() < until) {
    try { buf = buf.subarray(fs.writeSync(fd, buf)); }
    catch (e) { if (e.code !== 'EAGAIN') return; }
  }
}
// process.hrtime is monotonic and the same clock on every thread: no wall-clock jump, and no fake
// Date of a test, can make a turning event loop look stalled.
const nowMs = () => Number(process.hrtime.bigint() / 1000000n);
const timer = setInterval(() => {
  const ageMs = nowMs() - Number(Atomics.load(beat, 0));
  if (ageMs < stallMs) return;
  clearInterval(timer);
  const pid = process.pid;
  const len = nameBytes.indexOf(0);
  const test = Buffer.from(nameBytes.subarray(0, len < 0 ? nameBytes.length : len)).toString('utf8') || '(none yet)';
  const stat = read('/proc/' + pid + '/task/' + pid + '/stat');
  const state = (/\\) (\\S) /.exec(stat) || [])[1] || '?';
  const kids = descendants(pid);
  const lines = [
    '',
    '[stall-watchdog] the event loop of ' + label + ' (pid ' + pid + ') has not turned for ' + Math.round(ageMs / 1000) + ' s; killing it so the run goes on.',
    '[stall-watchdog] test running: ' + test,
    '[stall-watchdog] main thread: state ' + state + ' (R = busy on the CPU, S/D = waiting in the kernel), wchan ' + read('/proc/' + pid + '/task/' + pid + '/wchan') + ', syscall ' + read('/proc/' + pid + '/task/' + pid + '/syscall'),
    ...kids.map(([, c]) => '[stall-watchdog] descendant (killed too): ' + c),
    '',
  ];
  writeAll(2, lines.join('\\n'));
  // Also where CI's stall watch prints from (.ci/run), in case stderr is not read.
  if (process.env.ACME_TEST_PROGRESS) {
    try { fs.appendFileSync(process.env.ACME_TEST_PROGRESS, lines.join('\\n')); } catch {}
  }
  // The descendants (Pebble, function containers) would outlive a SIGKILLed parent: end them first.
  for (const [child] of kids) { try { process.kill(child, 'SIGKILL'); } catch {} }
  process.kill(pid, 'SIGKILL');
}, periodMs);
`;

/** Starts the heartbeat on this thread and the watchdog on a worker thread. */
export function startStallWatchdog(opts: StallWatchdogOptions): StallWatchdog {
  const periodMs = opts.periodMs ?? 1000;
  const heartbeat = new SharedArrayBuffer(8);
  const name = new SharedArrayBuffer(NAME_BYTES);
  const beat = new BigInt64Array(heartbeat);
  const stamp = (): void => {
    Atomics.store(beat, 0, realHrtime() / 1_000_000n);
  };
  stamp();
  const ticker = realSetInterval(stamp, periodMs);
  ticker.unref();
  const worker = new Worker(WATCHDOG_SOURCE, {
    eval: true,
    workerData: { heartbeat, name, label: opts.label, stallMs: opts.stallMs, periodMs },
    // The watchdog must not hold the process open, nor share the test's stdout.
    stdout: true,
    stderr: false,
  });
  worker.unref();
  const names = new Uint8Array(name);
  return {
    setTest(test: string): void {
      const bytes = Buffer.from(test, 'utf8').subarray(0, NAME_BYTES - 1);
      names.fill(0);
      names.set(bytes);
    },
    async stop(): Promise<void> {
      realClearInterval(ticker);
      await worker.terminate();
    },
  };
}
