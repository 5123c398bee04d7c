/**
 * End-to-end: `acme-rotation-fetch` (the built dist/fetch/index.mjs, run as a host runs it: a
 * child process with the usual AWS environment pointing at the local endpoint) against
 * certificates the rotation issued on the local stack. Before the first certificate: an error and
 * nothing written. First fetch: the files are AWSCURRENT's. Second fetch: nothing written, no
 * reload. After a forced renewal: the new files and one reload. A failing reload: the old files
 * stay and the exit status says so.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import {
  parseStoredBundle,
  ROUTE53_CHANGE_DELAY_MS,
  uniqueSecretName,
  uniqueZoneName,
  type StoredBundle,
} from './helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const FETCH_BUNDLE = fileURLToPath(new URL('../../dist/fetch/index.mjs', import.meta.url));

interface FetchRun {
  code: number;
  stdout: string;
  stderr: string;
}

let stack: LocalStack;
let lambda: LocalLambda;
let secretName: string;
let dir: string;
let reloadLog: string;

beforeAll(async () => {
  if (!existsSync(FETCH_BUNDLE)) {
    throw new Error(`${FETCH_BUNDLE} is missing: run \`npm run build\` first (npm run test:e2e does).`);
  }
  stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS });
  lambda = stack.newLambda();
  dir = join(stack.workDir, 'host-tls');
  await mkdir(dir);
  reloadLog = join(stack.workDir, 'reloads.log');
});

afterAll(async () => {
  await stack?.stop();
});

/** The command as a host runs it: only the AWS SDK's usual environment, pointing at the local endpoint. */
function fetchCommand(...args: string[]): Promise<FetchRun> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  for (const name of [
    'AWS_ENDPOINT_URL',
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_EC2_METADATA_DISABLED',
  ]) {
    env[name] = stack.lambdaEnv[name];
  }
  return new Promise((resolve) => {
    execFile(process.execPath, [FETCH_BUNDLE, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A reload that records each run with the serial the command hands it. */
const RELOAD = (): string => `echo "reload $ACME_ROTATION_SERIAL" >> '${reloadLog}'`;

async function reloads(): Promise<string[]> {
  const text = await readFile(reloadLog, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '');
}

async function onDisk(): Promise<{ fullchain: string; key: string; keyMode: number; certMode: number }> {
  const [fullchain, key, keyStat, certStat] = await Promise.all([
    readFile(join(dir, 'fullchain.pem'), 'utf8'),
    readFile(join(dir, 'privkey.pem'), 'utf8'),
    stat(join(dir, 'privkey.pem')),
    stat(join(dir, 'fullchain.pem')),
  ]);
  return { fullchain, key, keyMode: keyStat.mode & 0o777, certMode: certStat.mode & 0o777 };
}

function current(): StoredBundle {
  return parseStoredBundle(stack.aws.secrets.valueAt(secretName, 'AWSCURRENT')).bundle;
}

async function rotateOk(): Promise<StoredBundle> {
  const run = await rotate({ client: stack.sm, lambda, secretId: secretName });
  expect(run.lastError).toBeUndefined();
  expect(run.succeeded).toBe(true);
  return current();
}

function expectNoKeyMaterial(run: FetchRun): void {
  expect(run.stdout + run.stderr).not.toMatch(/PRIVATE KEY/);
}

describe('acme-rotation-fetch on a host reading the certificate secret', () => {
  let first: StoredBundle;
  let second: StoredBundle;

  it('refuses the placeholder before the first rotation and writes nothing', async () => {
    const zoneName = uniqueZoneName('fetch');
    stack.aws.route53.createZone(zoneName);
    secretName = uniqueSecretName('fetch');
    await stack.createCertificateSecret(secretName, { domains: [zoneName, `www.${zoneName}`] }, { placeholder: '{}' });

    const run = await fetchCommand('--secret-id', secretName, '--dir', dir, '--reload', RELOAD());
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      `secret "${secretName}": AWSCURRENT is not a certificate bundle: it holds no certificate yet`,
    );
    expect(await readdir(dir)).toEqual([]);
    expect(await reloads()).toEqual([]);
  });

  it('the first fetch writes the files AWSCURRENT holds and runs the reload', async () => {
    first = await rotateOk();
    const run = await fetchCommand('--secret-id', secretName, '--dir', dir, '--reload', RELOAD());
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${secretName}: wrote serial ${first.serial}`);
    expect(await onDisk()).toEqual({
      fullchain: first.fullchain,
      key: first.private_key,
      keyMode: 0o600,
      certMode: 0o644,
    });
    expect(await reloads()).toEqual([`reload ${first.serial}`]);
    expect((await readdir(dir)).sort()).toEqual(['fullchain.pem', 'privkey.pem']);
    expectNoKeyMaterial(run);
  });

  it('a second fetch with the same AWSCURRENT writes nothing and does not reload', async () => {
    const inode = (await stat(join(dir, 'fullchain.pem'))).ino;
    const run = await fetchCommand('--secret-id', secretName, '--dir', dir, '--reload', RELOAD());
    expect(run).toEqual({
      code: 0,
      stdout: `${secretName}: unchanged (serial ${first.serial}, expires ${first.expiry})\n`,
      stderr: '',
    });
    expect((await stat(join(dir, 'fullchain.pem'))).ino).toBe(inode);
    expect(await reloads()).toEqual([`reload ${first.serial}`]);
  });

  it('after a forced renewal the files change and the reload runs once', async () => {
    second = await rotateOk();
    expect(second.serial).not.toBe(first.serial);
    const run = await fetchCommand('--secret-id', secretName, '--dir', dir, '--reload', RELOAD());
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`wrote serial ${second.serial} (expires ${second.expiry}; was ${first.serial})`);
    expect(await onDisk()).toEqual({
      fullchain: second.fullchain,
      key: second.private_key,
      keyMode: 0o600,
      certMode: 0o644,
    });
    expect(await reloads()).toEqual([`reload ${first.serial}`, `reload ${second.serial}`]);

    const again = await fetchCommand('--secret-id', secretName, '--dir', dir, '--reload', RELOAD());
    expect(again.stdout).toContain('unchanged');
    expect(await reloads()).toHaveLength(2);
  });

  it('a failing reload leaves the old files in place and exits non-zero', async () => {
    const third = await rotateOk();
    expect(third.serial).not.toBe(second.serial);
    const run = await fetchCommand('--secret-id', secretName, '--dir', dir, '--reload', `${RELOAD()}; exit 4`);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      `${secretName}: reload command exited with status 4; the previous files (serial ${second.serial}) are back`,
    );
    expect(await reloads()).toEqual([`reload ${first.serial}`, `reload ${second.serial}`, `reload ${third.serial}`]);
    expect(await onDisk()).toEqual({
      fullchain: second.fullchain,
      key: second.private_key,
      keyMode: 0o600,
      certMode: 0o644,
    });
    expect((await readdir(dir)).sort()).toEqual(['fullchain.pem', 'privkey.pem']);
    expectNoKeyMaterial(run);
  });
});
