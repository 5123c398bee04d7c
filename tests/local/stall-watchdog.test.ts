/**
 * The stall watchdog (tests/local/stall-watchdog.ts) that every test process runs: a blocked
 * event loop ends in a report and a killed process (children included), not a silent hang; a
 * turning one is left alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Running (a zombie waiting for init to reap it is not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function runFixture(mode: string, env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'tests/local/fixtures/stall.ts', mode], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const started = Date.now();
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const guard = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.once('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal });
    });
  });
  const child = Number(/^child (\d+)/m.exec(stdout)?.[1]);
  const grandchild = Number(/^grandchild (\d+)/m.exec(stdout)?.[1]);
  return { ...exit, stdout, stderr, child, grandchild, ms: Date.now() - started };
}

describe('stall watchdog', () => {
  it.each(['sync', 'microtasks'])(
    'kills a process whose event loop is blocked (%s), and its descendants, with a report naming the test',
    async (mode) => {
      const dir = mkdtempSync(join(tmpdir(), 'stall-'));
      const progress = join(dir, 'progress');
      const run = await runFixture(mode, { ACME_TEST_PROGRESS: progress });
      expect(run.signal).toBe('SIGKILL');
      expect(run.stderr).toContain('[stall-watchdog] the event loop of the stall fixture');
      expect(run.stderr).toContain('[stall-watchdog] test running: stall fixture > blocks');
      // Spinning on the CPU, not waiting in the kernel.
      expect(run.stderr).toMatch(/main thread: state R /);
      expect(run.stderr).toMatch(/descendant \(killed too\): \d+ sh /);
      expect(run.stderr).toMatch(/descendant \(killed too\): \d+ sleep /);
      expect(run.child).toBeGreaterThan(0);
      expect(run.grandchild).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 100));
      expect(alive(run.child)).toBe(false);
      expect(alive(run.grandchild)).toBe(false);
      // The same report lands in CI's progress file (.ci/run prints it after a stall).
      expect(readFileSync(progress, 'utf8')).toContain('[stall-watchdog] test running: stall fixture > blocks');
      rmSync(dir, { recursive: true, force: true });
    },
  );

  it.each(['ok', 'fakeclock'])('leaves a process whose event loop turns alone (%s)', async (mode) => {
    const run = await runFixture(mode);
    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('done');
    expect(run.stderr).not.toContain('stall-watchdog');
  });
});
