/**
 * The reload command, run through /bin/sh -c as a deploy hook is: its output goes to ours, its
 * exit status decides whether the new files stay. It runs in a process group of its own so a
 * timeout ends the command and everything it started.
 */
import { spawn } from 'node:child_process';

export interface ReloadOutcome {
  ok: boolean;
  /** "exited with status 1", "killed by signal SIGKILL", "timed out after 5 s", … */
  detail: string;
}

export interface ReloadOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** After the timeout's SIGTERM, how long before SIGKILL. */
  killGraceMs?: number;
  shell?: string;
}

export function runReload(command: string, opts: ReloadOptions): Promise<ReloadOutcome> {
  const shell = opts.shell ?? '/bin/sh';
  return new Promise((resolvePromise) => {
    let timedOut = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (outcome: ReloadOutcome): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      resolvePromise(outcome);
    };

    const child = spawn(shell, ['-c', command], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: opts.env,
      detached: true,
    });
    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    child.on('error', (err) => finish({ ok: false, detail: `could not be started (${shell}: ${err.message})` }));
    child.on('exit', (code, signal) => {
      if (timedOut) {
        killGroup('SIGKILL'); // whatever the shell started and left behind
        finish({ ok: false, detail: `timed out after ${Math.round(opts.timeoutMs / 1000)} s and was killed` });
      } else if (code === 0) {
        finish({ ok: true, detail: 'exited with status 0' });
      } else if (code !== null) {
        finish({ ok: false, detail: `exited with status ${code}` });
      } else {
        finish({ ok: false, detail: `killed by signal ${signal ?? 'unknown'}` });
      }
    });
    timers.push(
      setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        timers.push(setTimeout(() => killGroup('SIGKILL'), opts.killGraceMs ?? 5_000));
      }, opts.timeoutMs),
    );
  });
}
