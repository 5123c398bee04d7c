/**
 * Lambda code for `pulumi up`: the rotation bundle (built by `npm run build` into dist/rotation,
 * rebuilt here when missing or stale, so a fresh clone deploys after `npm ci`) and the expiry
 * check (one small ESM file bundled in memory with esbuild).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';

import { buildSync } from 'esbuild';

export const ROTATION_BUNDLE_DIR = join('dist', 'rotation');
export const ROTATION_ENTRY = join(ROTATION_BUNDLE_DIR, 'index.mjs');
/** What the bundle is built from: a change to any of these makes it stale. */
export const ROTATION_INPUTS = ['rotation', join('scripts', 'build.mjs'), 'package-lock.json'];

export interface BundleState {
  stale: boolean;
  reason: string;
}

function newestFile(path: string): { path: string; mtimeMs: number } | undefined {
  if (!existsSync(path)) return undefined;
  const st = statSync(path);
  if (!st.isDirectory()) return { path, mtimeMs: st.mtimeMs };
  let newest: { path: string; mtimeMs: number } | undefined;
  for (const entry of readdirSync(path)) {
    const found = newestFile(join(path, entry));
    if (found && (!newest || found.mtimeMs > newest.mtimeMs)) newest = found;
  }
  return newest;
}

/** Is dist/rotation/index.mjs missing, or older than any of its inputs? */
export function rotationBundleState(root: string): BundleState {
  const entry = join(root, ROTATION_ENTRY);
  if (!existsSync(entry)) return { stale: true, reason: `${ROTATION_ENTRY} is missing` };
  const built = statSync(entry).mtimeMs;
  for (const input of ROTATION_INPUTS) {
    const newest = newestFile(join(root, input));
    if (newest && newest.mtimeMs > built) {
      return { stale: true, reason: `${relative(root, newest.path)} is newer than ${ROTATION_ENTRY}` };
    }
  }
  return { stale: false, reason: `${ROTATION_ENTRY} is up to date` };
}

export type BuildRunner = (root: string) => void;

/** `node scripts/build.mjs`, synchronously, in the repository root. */
export const runBuildScript: BuildRunner = (root) => {
  try {
    execFileSync(process.execPath, [join('scripts', 'build.mjs')], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `building the rotation bundle failed (node scripts/build.mjs): ${e.stderr || e.stdout || e.message}`,
      {
        cause: err,
      },
    );
  }
};

/** Environment variable naming a prebuilt bundle directory to deploy instead (CI artifacts). */
export const BUNDLE_DIR_ENV = 'ACME_ROTATION_BUNDLE_DIR';

/**
 * The directory to archive for the rotation function, built first when needed. Returns the
 * absolute path of dist/rotation and what was done (for the deployment log). With
 * ACME_ROTATION_BUNDLE_DIR set, that directory is deployed as it is (it must hold index.mjs).
 */
export function ensureRotationBundle(
  root: string,
  build: BuildRunner = runBuildScript,
  env: Record<string, string | undefined> = process.env,
): { dir: string; built: boolean; reason: string } {
  const prebuilt = env[BUNDLE_DIR_ENV]?.trim();
  if (prebuilt) {
    const dir = isAbsolute(prebuilt) ? prebuilt : join(root, prebuilt);
    if (!existsSync(join(dir, 'index.mjs'))) {
      throw new Error(`${BUNDLE_DIR_ENV}=${prebuilt}: ${join(dir, 'index.mjs')} does not exist`);
    }
    return { dir, built: false, reason: `deploying the prebuilt bundle in ${dir} (${BUNDLE_DIR_ENV})` };
  }
  const state = rotationBundleState(root);
  if (state.stale) {
    build(root);
    if (!existsSync(join(root, ROTATION_ENTRY))) {
      throw new Error(`the build did not produce ${ROTATION_ENTRY} (${state.reason})`);
    }
  }
  return { dir: join(root, ROTATION_BUNDLE_DIR), built: state.stale, reason: state.reason };
}

export const EXPIRY_CHECK_ENTRY = join('infra', 'expiry-check', 'handler.ts');

/**
 * The expiry check as one ESM file exporting `handler`. The AWS SDK is left to the nodejs22.x
 * runtime (it ships SDK v3), which keeps the code a few kilobytes. Deterministic output: the
 * same source gives the same code hash, so `pulumi up` only updates the function when it changed.
 */
export function buildExpiryCheckCode(root: string): string {
  const result = buildSync({
    absWorkingDir: root,
    entryPoints: [EXPIRY_CHECK_ENTRY],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    external: ['@aws-sdk/*'],
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${EXPIRY_CHECK_ENTRY}`);
  return file.text;
}
