/**
 * Finds Pebble (Let's Encrypt's ACME test server) and, where that is safe, installs it.
 *
 * - `findPebble()` looks for the `pebble` binary on PATH (and in /usr/bin) and never installs.
 * - `ensurePebble()` returns the binary's path; when it is missing and we run as root on a
 *   Debian-like system it runs `apt-get install -y pebble` (and `apt-get update` first if that
 *   install fails); otherwise it throws with the command to run.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const PEBBLE_MISSING_MESSAGE =
  "Pebble (Let's Encrypt's ACME test server) is not installed. Install it with: sudo apt-get install -y pebble";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of the `pebble` binary, or undefined when none is installed. */
export function findPebble(binary = 'pebble'): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/bin', '/usr/local/bin']) {
    const candidate = join(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isDebianLike(): boolean {
  return existsSync('/etc/debian_version') && findExecutable('apt-get') !== undefined;
}

function findExecutable(name: string): string | undefined {
  return findPebble(name);
}

function aptGet(args: string[]): void {
  execFileSync('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** Returns the pebble binary's path, installing the Debian package when running as root. */
export function ensurePebble(): string {
  const found = findPebble();
  if (found) return found;

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !isDebianLike()) throw new Error(PEBBLE_MISSING_MESSAGE);

  try {
    aptGet(['install', '-y', 'pebble']);
  } catch {
    // Stale package lists are the usual cause: refresh them and try once more.
    try {
      aptGet(['update']);
      aptGet(['install', '-y', 'pebble']);
    } catch (cause) {
      throw new Error(`${PEBBLE_MISSING_MESSAGE} (automatic apt-get install failed)`, { cause });
    }
  }
  const installed = findPebble();
  if (!installed) throw new Error(`${PEBBLE_MISSING_MESSAGE} (apt-get install did not provide it)`);
  return installed;
}
