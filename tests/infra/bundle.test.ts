import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  BUNDLE_DIR_ENV,
  buildExpiryCheckCode,
  ensureRotationBundle,
  rotationBundleState,
  runBuildScript,
} from '../../infra/bundle.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];

/** A fake repository: rotation sources, the build script, the lockfile, and (maybe) a bundle. */
function fakeRepo(opts: { bundle?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'acme-infra-'));
  dirs.push(root);
  mkdirSync(join(root, 'rotation', 'dns'), { recursive: true });
  mkdirSync(join(root, 'scripts'));
  writeFileSync(join(root, 'rotation', 'index.ts'), '');
  writeFileSync(join(root, 'rotation', 'dns', 'route53.ts'), '');
  writeFileSync(join(root, 'scripts', 'build.mjs'), '');
  writeFileSync(join(root, 'package-lock.json'), '{}');
  const old = new Date('2026-01-01T00:00:00Z');
  for (const f of ['rotation/index.ts', 'rotation/dns/route53.ts', 'scripts/build.mjs', 'package-lock.json']) {
    utimesSync(join(root, f), old, old);
  }
  if (opts.bundle) writeBundle(root, new Date('2026-02-01T00:00:00Z'));
  return root;
}

function writeBundle(root: string, at: Date): void {
  mkdirSync(join(root, 'dist', 'rotation'), { recursive: true });
  writeFileSync(join(root, 'dist', 'rotation', 'index.mjs'), 'export const handler = () => {};');
  utimesSync(join(root, 'dist', 'rotation', 'index.mjs'), at, at);
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

  it.each(['rotation/dns/route53.ts', 'scripts/build.mjs', 'package-lock.json'])(
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

describe('ensuring the bundle', () => {
  it('builds when stale and returns dist/rotation', () => {
    const root = fakeRepo();
    const build = vi.fn((r: string) => writeBundle(r, new Date()));
    expect(ensureRotationBundle(root, build, {})).toEqual({
      dir: join(root, 'dist', 'rotation'),
      built: true,
      reason: 'dist/rotation/index.mjs is missing',
    });
    expect(build).toHaveBeenCalledWith(root);
  });

  it('does not build when current', () => {
    const build = vi.fn();
    const root = fakeRepo({ bundle: true });
    expect(ensureRotationBundle(root, build, {}).built).toBe(false);
    expect(build).not.toHaveBeenCalled();
  });

  it('fails when the build produced nothing', () => {
    expect(() => ensureRotationBundle(fakeRepo(), () => undefined, {})).toThrow(
      'the build did not produce dist/rotation/index.mjs (dist/rotation/index.mjs is missing)',
    );
  });

  it(`deploys a prebuilt bundle named by ${BUNDLE_DIR_ENV} without building`, () => {
    const root = fakeRepo();
    const build = vi.fn();
    writeBundle(root, new Date());
    const result = ensureRotationBundle(root, build, { [BUNDLE_DIR_ENV]: 'dist/rotation' });
    expect(result).toMatchObject({ dir: join(root, 'dist', 'rotation'), built: false });
    expect(build).not.toHaveBeenCalled();
    expect(() => ensureRotationBundle(root, build, { [BUNDLE_DIR_ENV]: '/nowhere' })).toThrow(
      `${BUNDLE_DIR_ENV}=/nowhere: /nowhere/index.mjs does not exist`,
    );
  });

  it('runs node scripts/build.mjs and reports its output when it fails', () => {
    const root = fakeRepo();
    writeFileSync(
      join(root, 'scripts', 'build.mjs'),
      "console.error('esbuild: syntax error in rotation/x.ts'); process.exit(1);",
    );
    expect(() => runBuildScript(root)).toThrow(
      /building the rotation bundle failed \(node scripts\/build\.mjs\): esbuild: syntax error in rotation\/x\.ts/,
    );
    writeFileSync(
      join(root, 'scripts', 'build.mjs'),
      "import { mkdirSync, writeFileSync } from 'node:fs'; mkdirSync('dist/rotation', { recursive: true }); writeFileSync('dist/rotation/index.mjs', '');",
    );
    runBuildScript(root);
    expect(rotationBundleState(root).stale).toBe(false);
  });
});

describe('the expiry check code', () => {
  it('is one deterministic ESM file exporting handler, leaving the AWS SDK to the runtime', () => {
    const code = buildExpiryCheckCode(repo);
    expect(code).toMatch(/export \{\s*handler\s*\}/);
    expect(code).toContain('from "@aws-sdk/client-secrets-manager"');
    expect(code).toContain('certificates.json');
    expect(code).not.toContain(repo);
    expect(code.length).toBeLessThan(20_000);
    expect(buildExpiryCheckCode(repo)).toBe(code);
  });
});
