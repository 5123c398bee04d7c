/**
 * The npm package as a consumer gets it, made the way `npm publish` makes it: a clean clone of
 * this repository's HEAD (no dist/, nothing built), `npm pack` there — its `prepack` script must
 * build — unpacked into a scratch project as node_modules/acme-rotation next to the SDKs (linked
 * from this repository's node_modules: nothing is downloaded), and the example program
 * (docs/examples/pulumi-program, from the clone) run from there under Pulumi mocks. A file the
 * package misses — the library, a bundle, its VERSION — fails here.
 *
 * The clone reuses this checkout's node_modules through a symlink instead of `npm ci` (minutes,
 * and the registry): sound only when they hold what the clone's lockfile pins, which is checked
 * first. The pack (two esbuild bundles and the declarations) takes about 15 s of CPU.
 */
import { execFile as execFileCb } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ACCOUNT, acmArnOf } from './mocks.js';

const execFileRaw = promisify(execFileCb);

/**
 * execFile, failing with the child's output without its stack frames: they name files of the
 * unpacked package, which vitest would try (and fail) to source-map instead of reporting.
 */
async function execFile(
  file: string,
  args: string[],
  opts: { cwd: string; env?: Record<string, string | undefined>; timeout?: number },
): Promise<{ stdout: string }> {
  try {
    return await execFileRaw(file, args, { ...opts, encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    const output = `${e.stderr ?? ''}\n${e.stdout ?? ''}`.replace(/^\s+at .*$/gm, '').replace(/\n{2,}/g, '\n');
    const failure = new Error(`${file} ${args.join(' ')} failed:\n${output}`);
    failure.stack = failure.message;
    throw failure;
  }
}
const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

let scratch: string;
let clone: string;
let consumer: string;
let installed: string;
let packed: string[];
let packMs: number;

interface LockPackages {
  packages: Record<string, { version?: string; optional?: boolean }>;
}

/** Lockfile entries of `clone` that this checkout's node_modules does not hold at the pinned version. */
function lockMismatches(cloneDir: string): string[] {
  const wanted = (JSON.parse(readFileSync(join(cloneDir, 'package-lock.json'), 'utf8')) as LockPackages).packages;
  const have = (JSON.parse(readFileSync(join(root, 'node_modules', '.package-lock.json'), 'utf8')) as LockPackages)
    .packages;
  return Object.entries(wanted)
    .filter(([path]) => path.startsWith('node_modules/'))
    .filter(([path, entry]) => (have[path] ? have[path].version !== entry.version : !entry.optional))
    .map(([path, entry]) => `${path}@${entry.version ?? '?'}`);
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'acme-package-'));
  clone = join(scratch, 'clone');
  await execFile('git', ['clone', '--quiet', root, clone], { cwd: scratch });
  // What a publisher starts from: nothing built.
  expect(existsSync(join(clone, 'dist'))).toBe(false);
  expect(lockMismatches(clone)).toEqual([]);
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'));

  consumer = join(scratch, 'consumer');
  mkdirSync(consumer);
  const started = Date.now();
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.ACME_ROTATION_BUNDLE_DIR;
  delete env.ACME_ROTATION_WATCH_BUNDLE_DIR;
  const { stdout } = await execFile('npm', ['pack', '--json', '--pack-destination', consumer], {
    cwd: clone,
    env,
    timeout: 240_000,
  });
  packMs = Date.now() - started;
  // The prepack script's own output comes first on stdout; npm's JSON report is the rest.
  const report = stdout.slice(stdout.search(/^\[/m));
  const [info] = JSON.parse(report) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!info) throw new Error(`npm pack printed no tarball: ${stdout}`);
  packed = info.files.map((f) => f.path).sort();

  // The consumer's project: its program, and node_modules as npm would leave it.
  cpSync(join(clone, 'docs', 'examples', 'pulumi-program'), consumer, { recursive: true });
  installed = join(consumer, 'node_modules', 'acme-rotation');
  mkdirSync(installed, { recursive: true });
  await execFile('tar', ['-xzf', join(consumer, info.filename), '-C', installed, '--strip-components=1'], {
    cwd: consumer,
  });
  for (const dep of readdirSync(join(root, 'node_modules'))) {
    if (dep === 'acme-rotation' || dep.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', dep), join(consumer, 'node_modules', dep));
  }
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('builds before packing, from a clone without dist/', () => {
    expect(existsSync(join(clone, 'dist', 'pulumi', 'index.js'))).toBe(true);
    // Reported, not asserted: the time CI spends here (two bundles and the declarations).
    console.info(`npm pack of a clean clone, build included: ${(packMs / 1000).toFixed(1)} s`);
  });

  it('ships the library, the bundles with their maps, the docs — and no sources, tests or fixtures', () => {
    for (const file of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'dist/pulumi/index.js',
      'dist/pulumi/index.cjs',
      'dist/pulumi/index.d.ts',
      'dist/pulumi/types/infra/lib.d.ts',
      'dist/rotation/index.mjs',
      'dist/rotation/index.mjs.map',
      'dist/rotation/VERSION',
      'dist/watch/index.mjs',
      'dist/watch/index.mjs.map',
      'dist/watch/VERSION',
      'dist/fetch/index.mjs',
      'docs/DEPLOY.md',
    ]) {
      expect(packed, file).toContain(file);
    }
    const unwanted = packed.filter(
      (f) =>
        /^(infra|rotation|tests|scripts|\.ci)\//.test(f) ||
        f.startsWith('docs/examples/') ||
        /\.ts$/.test(f.replace(/\.d\.c?ts$/, '')) ||
        (f.endsWith('.map') && !/^dist\/(rotation|watch)\//.test(f)) ||
        /^(Pulumi\.|tsconfig|vitest|eslint)/.test(f),
    );
    expect(unwanted).toEqual([]);
  });

  it("stamps each Lambda bundle with the package's version", () => {
    for (const bundle of ['rotation', 'watch', 'fetch']) {
      expect(readFileSync(join(installed, 'dist', bundle, 'VERSION'), 'utf8').trim(), bundle).toBe(pkg.version);
    }
  });
});

describe('the example program, from the packed package', () => {
  it('wires the listener and the distribution to the ACM certificate once a real one is behind it, deploying the bundles the package carries', async () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      EXAMPLE_PROGRAM: join(consumer, 'index.ts'),
      EXAMPLE_PROJECT: 'web-platform',
      EXAMPLE_CONFIG: JSON.stringify({
        'aws:region': 'us-east-1',
        'aws:ignoreTags': JSON.stringify({
          keys: ['ExpirationDate', 'IssuedAt', 'Domains'],
          keyPrefixes: ['acme-rotation:'],
        }),
        'web-platform:subnetIds': JSON.stringify(['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210']),
      }),
    };
    // The package's own bundles, not a prebuilt directory from the environment.
    delete env.ACME_ROTATION_BUNDLE_DIR;
    delete env.ACME_ROTATION_WATCH_BUNDLE_DIR;
    const { stdout } = await execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'tests', 'infra', 'fixtures', 'run-example.ts')],
      { cwd: consumer, env, timeout: 60_000 },
    );
    const run = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
      exports: Record<string, unknown>;
      listener: Record<string, unknown>;
      distribution: { viewerCertificate?: Record<string, unknown> };
      acmCertificates: Array<{ name: string; region: string }>;
      functions: Record<string, string>;
      dependsOn: { listener: string[]; distribution: string[] };
      waits: Array<{ name: string; urn: string }>;
    };

    expect(run.acmCertificates).toEqual([{ name: 'certs-cert-web-acm-us-east-1', region: 'us-east-1' }]);
    const arn = acmArnOf('certs-cert-web-acm-us-east-1', 'us-east-1');
    expect(arn).toMatch(new RegExp(`^arn:aws:acm:us-east-1:${ACCOUNT}:certificate/`));
    expect(run.listener).toMatchObject({ certificateArn: arn, protocol: 'HTTPS', port: 443 });
    expect(run.distribution.viewerCertificate).toMatchObject({ acmCertificateArn: arn, sslSupportMethod: 'sni-only' });
    // Neither is declared before the first certificate is behind the ARN: both wait for the waiter.
    expect(run.waits.map((w) => w.name)).toEqual(['certs-cert-web-first-certificate']);
    const waiter = run.waits[0]?.urn;
    expect(run.dependsOn.listener).toContain(waiter);
    expect(run.dependsOn.distribution).toContain(waiter);

    expect(run.functions).toEqual({
      'certs-rotation': join(installed, 'dist', 'rotation'),
      'certs-watch': join(installed, 'dist', 'watch'),
      'certs-watch-await': join(installed, 'dist', 'watch'),
    });
    for (const dir of Object.values(run.functions)) expect(existsSync(join(dir, 'index.mjs')), dir).toBe(true);
    // Nothing was built at deploy time: the package has no sources to build from.
    expect(existsSync(join(installed, 'rotation'))).toBe(false);

    expect(run.exports).toMatchObject({
      webSecretArn: expect.stringMatching(/:secret:certs\/web-/),
      webSchedule: expect.stringMatching(/^every /),
      rotationFunction: 'acme-rotation-dev-rotation',
      dashboard: 'acme-rotation-dev-certificates',
    });
  });

  it('loads as an ES module too, with the same exports', async () => {
    const { stdout } = await execFile(
      process.execPath,
      ['--input-type=module', '-e', "const m = await import('acme-rotation'); console.log(typeof m.AcmeRotation)"],
      { cwd: consumer },
    );
    expect(stdout.trim()).toBe('function');
  });
});
