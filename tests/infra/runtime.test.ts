/**
 * How `pulumi up` runs the program (Pulumi.yaml), without the Pulumi CLI: the same Node
 * invocation (`node --import tsx`, ES modules) loading infra/index.ts with mocks; and the
 * example stack file passes the program's own validation.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { BUNDLE_DIR_ENV, WATCH_BUNDLE_DIR_ENV } from '../../infra/bundle.js';
import { KNOWN_KEYS, loadSettings } from '../../infra/validate.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(text: string): unknown };
const read = (file: string) => readFileSync(`${root}/${file}`, 'utf8');

/** Runs the program as `pulumi up` would (async: the test process's event loop keeps turning). */
function runProgram(
  config: Record<string, unknown> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'tests/infra/fixtures/run-program.ts'],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          [BUNDLE_DIR_ENV]: 'tests/infra/fixtures/bundle',
          [WATCH_BUNDLE_DIR_ENV]: 'tests/infra/fixtures/watch-bundle',
          RUN_PROGRAM_CONFIG: JSON.stringify(config),
        },
      },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ status: err ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
      },
    );
  });
}

describe('Pulumi.yaml', () => {
  const project = yaml.load(read('Pulumi.yaml')) as Record<string, unknown>;

  it('runs infra/ on Node with tsx (ESM TypeScript), not ts-node', () => {
    expect(project).toMatchObject({
      name: 'acme-rotation',
      main: 'infra/',
      runtime: { name: 'nodejs', options: { typescript: false, nodeargs: '--import tsx', packagemanager: 'npm' } },
    });
  });

  it('has what it needs installed by npm ci, pinned, for Node 20', () => {
    const pkg = JSON.parse(read('package.json')) as Record<string, Record<string, string>>;
    expect(pkg.devDependencies?.tsx).toBeDefined();
    // Pinned for this repository's stack; a consumer's program brings its own (peer dependencies).
    for (const sdk of ['@pulumi/pulumi', '@pulumi/aws', '@pulumi/tls']) {
      expect(pkg.devDependencies?.[sdk], sdk).toMatch(/^\d+\.\d+\.\d+$/);
      expect(pkg.peerDependencies?.[sdk], sdk).toMatch(/^\^\d+\.\d+\.\d+$/);
      expect(pkg.dependencies?.[sdk], sdk).toBeUndefined();
    }
    const sdk = JSON.parse(read('node_modules/@pulumi/pulumi/package.json')) as { engines: { node: string } };
    expect(sdk.engines.node).toBe('>=20');
  });

  it('loads and declares the stack the way `pulumi up` runs it', async () => {
    const run = await runProgram();
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(out).toEqual({
      exports: [
        'accountSecretArn',
        'certificates',
        'dashboardName',
        'dashboardUrl',
        'functionName',
        'route53Roles',
        'topicArn',
        'watchFunctionName',
      ],
      functionName: 'acme-rotation-dev-rotation',
      // The expiry check's 7 resources gave way to the watch's 7 and its dashboard.
      resources: 26, // with the watch's first-certificate waiter and the ACM lag alarm
      // AcmeRotation and its children: Notices, 2 FunctionRoles, AcmeAccount, RotationFunction,
      // one CertificateSecret, RenewalWatch.
      components: 8,
    });
  });

  it('fails the deployment with a message naming the certificate when a name is in no configured zone', async () => {
    const run = await runProgram({ 'acme-rotation:certificates': [{ name: 'net', domains: ['www.example.net'] }] });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      'acme-rotation:certificates[0] (net): www.example.net is in none of the hosted zones (example.com (Z0EXAMPLECOM000000001), example.org (Z0EXAMPLEORG000000003)); add its zone',
    );
  });
  it("fails the deployment naming the certificate when an ACM ARN is not of the stack's account", async () => {
    const other = 'arn:aws:acm:us-east-1:210987654321:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
    const run = await runProgram({
      'acme-rotation:certificates': [{ name: 'web', domains: ['example.com'], acm: { arns: [other] } }],
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      `certificate web: the ACM certificate ${other} is not in this stack's account 123456789012 (aws); ` +
        'the rotation can only re-import into certificates of its own account',
    );
  });
});

describe('Pulumi.dev.yaml, the example stack', () => {
  const text = read('Pulumi.dev.yaml');
  const stack = yaml.load(text) as { config: Record<string, unknown> };

  it('passes the configuration checks', () => {
    const raw = Object.fromEntries(
      Object.entries(stack.config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
    const settings = loadSettings({
      namespace: 'acme-rotation',
      stack: 'dev',
      get: (k) => raw[`acme-rotation:${k}`],
      keys: Object.keys(raw)
        .filter((k) => k.startsWith('acme-rotation:'))
        .map((k) => k.slice('acme-rotation:'.length)),
      awsIgnoreTags: raw['aws:ignoreTags'],
    });
    expect(settings.certificates.map((c) => c.secretName)).toEqual(['certs/web', 'certs/api']);
    expect(settings.directoryUrl).toBe('https://acme-staging-v02.api.letsencrypt.org/directory');
  });

  it('documents every setting (set or commented out)', () => {
    for (const key of KNOWN_KEYS) expect(text, key).toContain(`acme-rotation:${key}`);
  });
});
