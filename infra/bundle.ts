/**
 * Lambda code for `pulumi up`: the rotation bundle (dist/rotation) and the renewal watch's
 * (dist/watch), both built by `node scripts/build.mjs` (`npm run build`).
 *
 * Two places they come from:
 * - the installed npm package: prebuilt, shipped in it, and of its own version (each bundle's
 *   VERSION file matches package.json) — nothing is built at deploy time;
 * - this repository (its sources are present): rebuilt here when missing or stale, so a fresh
 *   clone deploys after `npm ci`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROTATION_BUNDLE_DIR = join('dist', 'rotation');
export const ROTATION_ENTRY = join(ROTATION_BUNDLE_DIR, 'index.mjs');
export const WATCH_BUNDLE_DIR = join('dist', 'watch');
export const WATCH_ENTRY = join(WATCH_BUNDLE_DIR, 'index.mjs');
/** What both bundles are built from (the watch lives in rotation/watch): a change to any makes them stale. */
export const BUNDLE_INPUTS = ['rotation', join('scripts', 'build.mjs'), 'package-lock.json'];
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

/** The package's name: how its own package.json is recognised. */
export const PACKAGE_NAME = 'acme-rotation';
/** Written by the build next to each bundle's index.mjs: the package version it was built for. */
export const VERSION_FILE = 'VERSION';

function readVersion(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** package.json's version at `root`; undefined without one (or of another package). */
export function packageVersion(root: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    return pkg.name === PACKAGE_NAME && typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The package's root: the nearest directory at or above `from` holding acme-rotation's
 * package.json (infra/ in this repository, dist/pulumi/ in the installed package).
 */
export function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (packageVersion(dir) !== undefined) return dir;
    if (dirname(dir) === dir) throw new Error(`no ${PACKAGE_NAME} package.json at or above ${from}`);
  }
}

/** This module's directory (the compiled library's, once packaged). */
export const MODULE_DIR = dirname(fileURLToPath(import.meta.url));

/** Whether `root` holds the sources the bundles are built from (this repository, not the package). */
export function hasSources(root: string): boolean {
  return existsSync(join(root, 'rotation', 'function', 'index.ts')) && existsSync(join(root, 'scripts', 'build.mjs'));
}

/** Is `entry` (a bundle's index.mjs, relative to root) missing, or older than any input? */
export function bundleState(root: string, entryPath: string): BundleState {
  const entry = join(root, entryPath);
  if (!existsSync(entry)) return { stale: true, reason: `${entryPath} is missing` };
  // A bundle is of its package's version: bumping the version rebuilds it.
  const version = packageVersion(root);
  if (version !== undefined) {
    const versionPath = join(dirname(entryPath), VERSION_FILE);
    const built = readVersion(join(root, versionPath));
    if (built !== version) {
      return {
        stale: true,
        reason:
          built === undefined ? `${versionPath} is missing` : `${versionPath} is ${built}, package.json ${version}`,
      };
    }
  }
  const built = statSync(entry).mtimeMs;
  for (const input of BUNDLE_INPUTS) {
    const newest = newestFile(join(root, input));
    if (newest && newest.mtimeMs > built) {
      return { stale: true, reason: `${relative(root, newest.path)} is newer than ${entryPath}` };
    }
  }
  return { stale: false, reason: `${entryPath} is up to date` };
}

/** Is dist/rotation/index.mjs missing, or older than any of its inputs? */
export function rotationBundleState(root: string): BundleState {
  return bundleState(root, ROTATION_ENTRY);
}

/** Is dist/watch/index.mjs missing, or older than any of its inputs? */
export function watchBundleState(root: string): BundleState {
  return bundleState(root, WATCH_ENTRY);
}

export type BuildRunner = (root: string) => void;

/** `node scripts/build.mjs` (it builds both bundles), synchronously, in the repository root. */
export const runBuildScript: BuildRunner = (root) => {
  try {
    execFileSync(process.execPath, [join('scripts', 'build.mjs')], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`building the bundles failed (node scripts/build.mjs): ${e.stderr || e.stdout || e.message}`, {
      cause: err,
    });
  }
};

/** Environment variables naming prebuilt bundle directories to deploy instead (CI artifacts). */
export const BUNDLE_DIR_ENV = 'ACME_ROTATION_BUNDLE_DIR';
export const WATCH_BUNDLE_DIR_ENV = 'ACME_ROTATION_WATCH_BUNDLE_DIR';

interface BundleSpec {
  what: string;
  dir: string;
  entry: string;
  env: string;
}

const ROTATION: BundleSpec = {
  what: 'rotation',
  dir: ROTATION_BUNDLE_DIR,
  entry: ROTATION_ENTRY,
  env: BUNDLE_DIR_ENV,
};
const WATCH: BundleSpec = { what: 'watch', dir: WATCH_BUNDLE_DIR, entry: WATCH_ENTRY, env: WATCH_BUNDLE_DIR_ENV };

export interface EnsuredBundle {
  /** Absolute path of the directory to archive. */
  dir: string;
  built: boolean;
  reason: string;
}

/** The prebuilt directory named by the bundle's environment variable, checked; undefined when unset. */
function prebuiltBundle(
  root: string,
  spec: BundleSpec,
  env: Record<string, string | undefined>,
): EnsuredBundle | undefined {
  const prebuilt = env[spec.env]?.trim();
  if (!prebuilt) return undefined;
  const dir = isAbsolute(prebuilt) ? prebuilt : join(root, prebuilt);
  if (!existsSync(join(dir, 'index.mjs'))) {
    throw new Error(`${spec.env}=${prebuilt}: ${join(dir, 'index.mjs')} does not exist`);
  }
  return { dir, built: false, reason: `deploying the prebuilt ${spec.what} bundle in ${dir} (${spec.env})` };
}

/**
 * The directories to archive for the rotation function and the watch, built first when either
 * is missing or stale (one build makes both). A bundle whose environment variable
 * (ACME_ROTATION_BUNDLE_DIR, ACME_ROTATION_WATCH_BUNDLE_DIR) names a directory is deployed from
 * there as it is (it must hold index.mjs), and never causes a build.
 */
export function ensureBundles(
  root: string,
  build: BuildRunner = runBuildScript,
  env: Record<string, string | undefined> = process.env,
): { rotation: EnsuredBundle; watch: EnsuredBundle } {
  const specs = [ROTATION, WATCH];
  const prebuilt = specs.map((spec) => prebuiltBundle(root, spec, env));
  const states = specs.map((spec, i) => (prebuilt[i] ? undefined : bundleState(root, spec.entry)));
  const needsBuild = states.some((st) => st?.stale);
  if (needsBuild) build(root);
  const [rotation, watch] = specs.map((spec, i): EnsuredBundle => {
    const ready = prebuilt[i];
    if (ready) return ready;
    const state = states[i] as BundleState;
    if (needsBuild && !existsSync(join(root, spec.entry))) {
      throw new Error(`the build did not produce ${spec.entry} (${state.reason})`);
    }
    return { dir: join(root, spec.dir), built: needsBuild, reason: state.reason };
  });
  return { rotation: rotation as EnsuredBundle, watch: watch as EnsuredBundle };
}

/**
 * The installed package's prebuilt bundles, checked: each directory holds index.mjs and a
 * VERSION equal to the package's (a bundle of another release is never deployed under this
 * one's name). An environment variable naming a prebuilt directory still wins.
 */
export function packagedBundles(
  root: string,
  env: Record<string, string | undefined> = process.env,
): { rotation: EnsuredBundle; watch: EnsuredBundle } {
  const version = packageVersion(root);
  const [rotation, watch] = [ROTATION, WATCH].map((spec): EnsuredBundle => {
    const prebuilt = prebuiltBundle(root, spec, env);
    if (prebuilt) return prebuilt;
    const dir = join(root, spec.dir);
    if (!existsSync(join(root, spec.entry))) {
      throw new Error(
        `${PACKAGE_NAME} ${version ?? ''} is incomplete: ${join(dir, 'index.mjs')} is missing; reinstall it`,
      );
    }
    const built = readVersion(join(dir, VERSION_FILE));
    if (built !== version) {
      throw new Error(
        `${join(dir, VERSION_FILE)} says ${built ?? 'nothing'}, but the package is ${PACKAGE_NAME} ${version}: ` +
          'the bundle is not of this release; reinstall the package',
      );
    }
    return {
      dir,
      built: false,
      reason: `deploying the packaged ${spec.what} bundle ${PACKAGE_NAME} ${version} (${dir})`,
    };
  });
  return { rotation: rotation as EnsuredBundle, watch: watch as EnsuredBundle };
}

/**
 * The bundles to deploy, wherever this code runs from: built from the sources when present
 * (this repository), else the ones the installed package carries.
 */
export function locateBundles(
  root: string = packageRoot(MODULE_DIR),
  build: BuildRunner = runBuildScript,
  env: Record<string, string | undefined> = process.env,
): { rotation: EnsuredBundle; watch: EnsuredBundle } {
  return hasSources(root) ? ensureBundles(root, build, env) : packagedBundles(root, env);
}

/**
 * The bundle directories a component deploys: the ones given, else the located ones (each
 * located bundle reported, whether built now or found ready).
 */
export function bundleDirs(
  given: { rotationBundleDir?: string | undefined; watchBundleDir?: string | undefined },
  report: (message: string) => void,
): { rotation: string; watch: string } {
  const bundles =
    given.rotationBundleDir !== undefined && given.watchBundleDir !== undefined ? undefined : locateBundles();
  for (const [what, bundle] of Object.entries(bundles ?? {})) {
    report(bundle.built ? `built the ${what} bundle: ${bundle.reason}` : bundle.reason);
  }
  return {
    rotation: given.rotationBundleDir ?? (bundles?.rotation.dir as string),
    watch: given.watchBundleDir ?? (bundles?.watch.dir as string),
  };
}
