/**
 * End-to-end: `acme-rotation-fetch` (the built dist/fetch/index.mjs, run as a host runs it: a
 * child process with the usual AWS environment pointing at the local endpoint) against
 * certificates the rotation issued on the local stack. Before the first certificate: an error and
 * nothing written. First fetch: the files are AWSCURRENT's. Second fetch: nothing written, no
 * reload. After a forced renewal: the new files and one reload. A failing reload: the old files
 * stay and the exit status says so. Then the hardening: a key on disk that is not the
 * certificate's is written again, an operator's owner, group and mode survive a renewal, a
 * symbolic link is refused, and --version names the package version the bundle was built for.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
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
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as {
    version: string;
  }
).version;

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

  it("a key on disk that is not the certificate's is written again, and the service reloaded", async () => {
    const now = current();
    expect((await fetchCommand('--secret-id', secretName, '--dir', dir)).code).toBe(0); // the disk is AWSCURRENT's
    const before = await reloads();
    await writeFile(join(dir, 'privkey.pem'), first.private_key); // an old key beside the current certificate
    const run = await fetchCommand('--secret-id', secretName, '--dir', dir, '--reload', RELOAD());
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `does not belong to the certificate in ${join(dir, 'fullchain.pem')}; wrote serial ${now.serial}`,
    );
    const leaf = new X509Certificate(await readFile(join(dir, 'fullchain.pem')));
    expect(leaf.checkPrivateKey(createPrivateKey(await readFile(join(dir, 'privkey.pem'))))).toBe(true);
    expect(await reloads()).toEqual([...before, `reload ${now.serial}`]);
    expectNoKeyMaterial(run);
  });

  it("an operator's owner, group and mode (root:ssl-cert 0640) survive a renewal", async () => {
    await chown(join(dir, 'privkey.pem'), 0, 8765);
    await chmod(join(dir, 'privkey.pem'), 0o640);
    await chown(join(dir, 'fullchain.pem'), 4321, 8765);
    const renewed = await rotateOk();
    const run = await fetchCommand('--secret-id', secretName, '--dir', dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`wrote serial ${renewed.serial}`);
    const key = await stat(join(dir, 'privkey.pem'));
    const fullchain = await stat(join(dir, 'fullchain.pem'));
    expect(await readFile(join(dir, 'privkey.pem'), 'utf8')).toBe(renewed.private_key);
    expect([key.uid, key.gid, key.mode & 0o7777]).toEqual([0, 8765, 0o640]);
    expect([fullchain.uid, fullchain.gid, fullchain.mode & 0o7777]).toEqual([4321, 8765, 0o644]);
  });

  it('refuses a symbolic link at a path it writes, and writes nothing', async () => {
    const other = join(stack.workDir, 'host-link');
    await mkdir(other);
    const planted = join(stack.workDir, 'planted.pem');
    await writeFile(planted, 'not a key\n');
    await chown(planted, 4321, 4321);
    await symlink(planted, join(other, 'privkey.pem'));
    const run = await fetchCommand('--secret-id', secretName, '--dir', other, '--reload', RELOAD());
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`${join(other, 'privkey.pem')} is a symbolic link (to ${planted})`);
    expect(await readdir(other)).toEqual(['privkey.pem']);
    expect(await readFile(planted, 'utf8')).toBe('not a key\n');
    expect((await stat(planted)).uid).toBe(4321);
  });

  it('--version prints the package version the bundle was built for', async () => {
    expect(await fetchCommand('--version')).toEqual({
      code: 0,
      stdout: `acme-rotation-fetch ${PACKAGE_VERSION}\n`,
      stderr: '',
    });
  });
});
