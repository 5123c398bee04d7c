import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  BUNDLE_DIR_ENV,
  WATCH_BUNDLE_DIR_ENV,
  ensureBundles,
  locateBundles,
  packageRoot,
  rotationBundleState,
  runBuildScript,
  watchBundleState,
} from '../../infra/bundle.js';

const dirs: string[] = [];

/** A fake repository: rotation sources, the build script, the lockfile, and (maybe) the bundles. */
function fakeRepo(opts: { bundle?: boolean; watch?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'acme-infra-'));
  dirs.push(root);
  mkdirSync(join(root, 'rotation', 'function'), { recursive: true });
  mkdirSync(join(root, 'rotation', 'route53'), { recursive: true });
  mkdirSync(join(root, 'scripts'));
  writeFileSync(join(root, 'rotation', 'function', 'index.ts'), '');
  writeFileSync(join(root, 'rotation', 'route53', 'adapter.ts'), '');
  writeFileSync(join(root, 'scripts', 'build.mjs'), '');
  writeFileSync(join(root, 'package-lock.json'), '{}');
  const old = new Date('2026-01-01T00:00:00Z');
  for (const f of [
    'rotation/function/index.ts',
    'rotation/route53/adapter.ts',
    'scripts/build.mjs',
    'package-lock.json',
  ]) {
    utimesSync(join(root, f), old, old);
  }
  if (opts.bundle) writeBundle(root, new Date('2026-02-01T00:00:00Z'));
  if (opts.watch ?? opts.bundle) writeBundle(root, new Date('2026-02-01T00:00:00Z'), 'watch');
  return root;
}

function writeBundle(root: string, at: Date, which: 'rotation' | 'watch' = 'rotation'): void {
  mkdirSync(join(root, 'dist', which), { recursive: true });
  writeFileSync(join(root, 'dist', which, 'index.mjs'), 'export const handler = () => {};');
  utimesSync(join(root, 'dist', which, 'index.mjs'), at, at);
}

/** What scripts/build.mjs does: both bundles. */
function buildBoth(root: string): void {
  writeBundle(root, new Date());
  writeBundle(root, new Date(), 'watch');
}

function touch(root: string, file: string, at = new Date('2026-03-01T00:00:00Z')): void {
  utimesSync(join(root, file), at, at);
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('is the rotation bundle current?', () => {
  it('is stale when dist/rotation/index.mjs is missing', () => {
    expect(rotationBundleState(fakeRepo())).toEqual({ stale: true, reason: 'dist/rotation/index.mjs is missing' });
  });

  it('is current when it is newer than every input', () => {
    expect(rotationBundleState(fakeRepo({ bundle: true }))).toEqual({
      stale: false,
      reason: 'dist/rotation/index.mjs is up to date',
    });
  });

  it.each(['rotation/route53/adapter.ts', 'scripts/build.mjs', 'package-lock.json'])(
    'is stale when %s is newer',
    (file) => {
      const root = fakeRepo({ bundle: true });
      touch(root, file);
      expect(rotationBundleState(root)).toEqual({
        stale: true,
        reason: `${file} is newer than dist/rotation/index.mjs`,
      });
    },
  );
});

describe('is the watch bundle current?', () => {
  it('is stale when dist/watch/index.mjs is missing, or older than the sources it is built from', () => {
    expect(watchBundleState(fakeRepo({ bundle: true, watch: false }))).toEqual({
      stale: true,
      reason: 'dist/watch/index.mjs is missing',
    });
    const root = fakeRepo({ bundle: true });
    expect(watchBundleState(root)).toEqual({ stale: false, reason: 'dist/watch/index.mjs is up to date' });
    // The watch's sources live under rotation/ (rotation/watch).
    mkdirSync(join(root, 'rotation', 'watch'));
    writeFileSync(join(root, 'rotation', 'watch', 'plan.ts'), '');
    touch(root, 'rotation/watch/plan.ts');
    expect(watchBundleState(root)).toEqual({
      stale: true,
      reason: 'rotation/watch/plan.ts is newer than dist/watch/index.mjs',
    });
  });
});

describe('ensuring the bundles', () => {
  it('builds once when stale and returns dist/rotation and dist/watch', () => {
    const root = fakeRepo();
    const build = vi.fn(buildBoth);
    expect(ensureBundles(root, build, {})).toEqual({
      rotation: { dir: join(root, 'dist', 'rotation'), built: true, reason: 'dist/rotation/index.mjs is missing' },
      watch: { dir: join(root, 'dist', 'watch'), built: true, reason: 'dist/watch/index.mjs is missing' },
    });
    expect(build).toHaveBeenCalledTimes(1);
    expect(build).toHaveBeenCalledWith(root);
  });

  it('builds when only the watch bundle is missing (an older checkout built the rotation alone)', () => {
    const root = fakeRepo({ bundle: true, watch: false });
    const build = vi.fn(buildBoth);
    const result = ensureBundles(root, build, {});
    expect(build).toHaveBeenCalledTimes(1);
    expect(result.watch).toEqual({
      dir: join(root, 'dist', 'watch'),
      built: true,
      reason: 'dist/watch/index.mjs is missing',
    });
  });

  it('does not build when both are current', () => {
    const build = vi.fn();
    const result = ensureBundles(fakeRepo({ bundle: true }), build, {});
    expect([result.rotation.built, result.watch.built]).toEqual([false, false]);
    expect(build).not.toHaveBeenCalled();
  });

  it('fails when the build produced nothing', () => {
    expect(() => ensureBundles(fakeRepo(), () => undefined, {})).toThrow(
      'the build did not produce dist/rotation/index.mjs (dist/rotation/index.mjs is missing)',
    );
    const root = fakeRepo();
    expect(() => ensureBundles(root, (r) => writeBundle(r, new Date()), {})).toThrow(
      'the build did not produce dist/watch/index.mjs (dist/watch/index.mjs is missing)',
    );
  });

  it(`deploys prebuilt bundles named by ${BUNDLE_DIR_ENV} and ${WATCH_BUNDLE_DIR_ENV} without building`, () => {
    const root = fakeRepo();
    const build = vi.fn();
    buildBoth(root);
    const env = { [BUNDLE_DIR_ENV]: 'dist/rotation', [WATCH_BUNDLE_DIR_ENV]: join(root, 'dist', 'watch') };
    // The sources are newer than nothing here, but a prebuilt bundle is never checked for staleness.
    touch(root, 'rotation/function/index.ts', new Date('2030-01-01T00:00:00Z'));
    const result = ensureBundles(root, build, env);
    expect(result).toEqual({
      rotation: {
        dir: join(root, 'dist', 'rotation'),
        built: false,
        reason: `deploying the prebuilt rotation bundle in ${join(root, 'dist', 'rotation')} (${BUNDLE_DIR_ENV})`,
      },
      watch: {
        dir: join(root, 'dist', 'watch'),
        built: false,
        reason: `deploying the prebuilt watch bundle in ${join(root, 'dist', 'watch')} (${WATCH_BUNDLE_DIR_ENV})`,
      },
    });
    expect(build).not.toHaveBeenCalled();
    expect(() => ensureBundles(root, build, { ...env, [BUNDLE_DIR_ENV]: '/nowhere' })).toThrow(
      `${BUNDLE_DIR_ENV}=/nowhere: /nowhere/index.mjs does not exist`,
    );
    expect(() => ensureBundles(root, build, { ...env, [WATCH_BUNDLE_DIR_ENV]: '/nowhere' })).toThrow(
      `${WATCH_BUNDLE_DIR_ENV}=/nowhere: /nowhere/index.mjs does not exist`,
    );
    expect(build).not.toHaveBeenCalled();
  });

  it('builds the one that is not prebuilt', () => {
    const root = fakeRepo();
    writeBundle(root, new Date());
    const build = vi.fn(buildBoth);
    const result = ensureBundles(root, build, { [BUNDLE_DIR_ENV]: 'dist/rotation' });
    expect(build).toHaveBeenCalledTimes(1);
    expect(result.rotation.built).toBe(false);
    expect(result.watch).toMatchObject({ dir: join(root, 'dist', 'watch'), built: true });
  });

  it('runs node scripts/build.mjs and reports its output when it fails', () => {
    const root = fakeRepo();
    writeFileSync(
      join(root, 'scripts', 'build.mjs'),
      "console.error('esbuild: syntax error in rotation/x.ts'); process.exit(1);",
    );
    expect(() => runBuildScript(root)).toThrow(
      /building the bundles failed \(node scripts\/build\.mjs\): esbuild: syntax error in rotation\/x\.ts/,
    );
    writeFileSync(
      join(root, 'scripts', 'build.mjs'),
      "import { mkdirSync, writeFileSync } from 'node:fs'; for (const d of ['dist/rotation', 'dist/watch']) { mkdirSync(d, { recursive: true }); writeFileSync(d + '/index.mjs', ''); }",
    );
    runBuildScript(root);
    expect(rotationBundleState(root).stale).toBe(false);
    expect(watchBundleState(root).stale).toBe(false);
  });
});

/** An installed package: package.json and the prebuilt bundles with VERSION files, no sources. */
function installedPackage(opts: { version?: string; bundleVersion?: string; watch?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'acme-pkg-'));
  dirs.push(root);
  const version = opts.version ?? '0.2.0';
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'acme-rotation', version }));
  for (const which of opts.watch === false ? ['rotation'] : ['rotation', 'watch']) {
    mkdirSync(join(root, 'dist', which), { recursive: true });
    writeFileSync(join(root, 'dist', which, 'index.mjs'), 'export const handler = () => {};');
    writeFileSync(join(root, 'dist', which, 'VERSION'), `${opts.bundleVersion ?? version}\n`);
  }
  mkdirSync(join(root, 'dist', 'pulumi'), { recursive: true });
  return root;
}

describe('the bundles of the installed package', () => {
  it('finds its root from the compiled library and deploys the bundles it carries, never building', () => {
    const root = installedPackage();
    expect(packageRoot(join(root, 'dist', 'pulumi'))).toBe(root);
    const build = vi.fn();
    const found = locateBundles(root, build, {});
    expect(build).not.toHaveBeenCalled();
    expect(found.rotation).toEqual({
      dir: join(root, 'dist', 'rotation'),
      built: false,
      reason: `deploying the packaged rotation bundle acme-rotation 0.2.0 (${join(root, 'dist', 'rotation')})`,
    });
    expect(found.watch.dir).toBe(join(root, 'dist', 'watch'));
  });

  it('refuses a bundle of another version', () => {
    const root = installedPackage({ bundleVersion: '0.1.0' });
    expect(() => locateBundles(root, vi.fn(), {})).toThrow(
      `${join(root, 'dist', 'rotation', 'VERSION')} says 0.1.0, but the package is acme-rotation 0.2.0`,
    );
  });

  it('names a missing bundle', () => {
    const root = installedPackage({ watch: false });
    expect(() => locateBundles(root, vi.fn(), {})).toThrow(
      `acme-rotation 0.2.0 is incomplete: ${join(root, 'dist', 'watch', 'index.mjs')} is missing; reinstall it`,
    );
  });

  it('in this repository (sources present) rebuilds bundles of another version', () => {
    const root = fakeRepo({ bundle: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'acme-rotation', version: '0.2.0' }));
    utimesSync(join(root, 'package.json'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    expect(rotationBundleState(root)).toEqual({ stale: true, reason: 'dist/rotation/VERSION is missing' });
    writeFileSync(join(root, 'dist', 'rotation', 'VERSION'), '0.1.0\n');
    expect(rotationBundleState(root)).toEqual({
      stale: true,
      reason: 'dist/rotation/VERSION is 0.1.0, package.json 0.2.0',
    });
    writeFileSync(join(root, 'dist', 'rotation', 'VERSION'), '0.2.0\n');
    expect(rotationBundleState(root).stale).toBe(false);
    const build = vi.fn();
    writeFileSync(join(root, 'dist', 'watch', 'VERSION'), '0.2.0\n');
    expect(locateBundles(root, build, {}).rotation).toMatchObject({
      dir: join(root, 'dist', 'rotation'),
      built: false,
    });
    expect(build).not.toHaveBeenCalled();
  });
});
