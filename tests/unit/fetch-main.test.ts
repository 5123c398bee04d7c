/**
 * acme-rotation-fetch as a whole, in process: Secrets Manager answered by the local endpoint's
 * model (through the real SDK client), files in a temporary directory, real /bin/sh reloads that
 * append to a log. First write, the serial comparison (no write, no reload when unchanged),
 * rollback when the reload fails or times out, refusals of values that are not certificate
 * bundles, and no key material in anything it prints.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { EXIT_FAILED, EXIT_OK, EXIT_RELOAD_FAILED, EXIT_USAGE, main } from '../../rotation/fetch/main.js';
import { sameSerial, serialOnDisk } from '../../rotation/fetch/serial.js';
import { makeRootCa, makeTestPki, type TestCa, type TestPki } from '../helpers/certs.js';
import { FakeSecretsManager } from './fakes.js';

const SECRET = 'certs/web';
const NAMES = ['web.example.com', 'www.web.example.com'];

let root: TestCa;
let dir: string;
let sm: FakeSecretsManager;
let secretArn: string;

beforeEach(async () => {
  root ??= makeRootCa();
  dir = await mkdtemp(join(tmpdir(), 'fetch-main-'));
  sm = new FakeSecretsManager();
  secretArn = sm.addSecret({ name: SECRET }).arn;
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const version = (): string => randomUUID();

/** A new certificate (new key, new serial) stored as AWSCURRENT, as a rotation's finishSecret leaves it. */
function renew(): TestPki {
  const pki = makeTestPki({ names: NAMES, root });
  sm.putVersion(secretArn, version(), { value: JSON.stringify(pki.bundle), stages: ['AWSCURRENT'] });
  return pki;
}

function storeRaw(value: string): void {
  sm.putVersion(secretArn, version(), { value, stages: ['AWSCURRENT'] });
}

interface Run {
  code: number;
  out: string[];
  err: string[];
}

async function fetch(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main({
    argv: args,
    env: { PATH: process.env.PATH },
    cwd: dir,
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    client: () => sm.client,
    reload: { killGraceMs: 200 },
  });
  return { code, out, err };
}

const RELOAD_LOG = (): string => join(dir, 'reloads.log');
/** A reload command that records each run (with what the command is told) and succeeds. */
const recordingReload = (): string =>
  `echo "$ACME_ROTATION_SERIAL $ACME_ROTATION_PREVIOUS_SERIAL|$ACME_ROTATION_DOMAINS" >> ${RELOAD_LOG()}`;
const reloads = async (): Promise<string[]> =>
  (await readFile(RELOAD_LOG(), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

const read = (name: string): Promise<string> => readFile(join(dir, 'tls', name), 'utf8');
const modeOf = async (name: string): Promise<number> => (await stat(join(dir, 'tls', name))).mode & 0o777;

/** Nothing printed holds a key: no PEM key armour and no line of the key's base64. */
function expectNoKeyMaterial(run: Run, ...keys: string[]): void {
  const printed = [...run.out, ...run.err].join('\n');
  expect(printed).not.toMatch(/PRIVATE KEY/);
  for (const key of keys) {
    for (const line of key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) {
      expect(printed).not.toContain(line);
    }
  }
}

async function makeTls(): Promise<void> {
  await mkdir(join(dir, 'tls'));
}

describe('acme-rotation-fetch', () => {
  beforeEach(makeTls);

  it('writes the layout from AWSCURRENT, reloads once, and then does nothing while the serial is the same', async () => {
    const pki = renew();
    const args = ['--secret-id', SECRET, '--dir', 'tls', '--cert', 'tls/cert.pem', '--chain', 'tls/chain.pem'];
    const first = await fetch(...args, '--reload', recordingReload());
    expect(first.err).toEqual([]);
    expect(first.code).toBe(EXIT_OK);
    expect(await read('fullchain.pem')).toBe(pki.bundle.fullchain);
    expect(await read('privkey.pem')).toBe(pki.bundle.private_key);
    expect(await read('cert.pem')).toBe(pki.bundle.certificate);
    expect(await read('chain.pem')).toBe(pki.bundle.chain);
    expect([await modeOf('privkey.pem'), await modeOf('fullchain.pem'), await modeOf('cert.pem')]).toEqual([
      0o600, 0o644, 0o644,
    ]);
    expect(first.out).toEqual([
      `${SECRET}: wrote serial ${pki.bundle.serial} (expires ${pki.bundle.expiry}; was none) to ${join(dir, 'tls', 'privkey.pem')}, ${join(dir, 'tls', 'cert.pem')}, ${join(dir, 'tls', 'chain.pem')}, ${join(dir, 'tls', 'fullchain.pem')}`,
      `${SECRET}: reload succeeded`,
    ]);
    expect(await reloads()).toEqual([`${pki.bundle.serial} |${NAMES.join(' ')}`]);
    expectNoKeyMaterial(first, pki.bundle.private_key);

    const inode = (await stat(join(dir, 'tls', 'privkey.pem'))).ino;
    const second = await fetch(...args, '--reload', recordingReload());
    expect(second).toEqual({
      code: EXIT_OK,
      out: [`${SECRET}: unchanged (serial ${pki.bundle.serial}, expires ${pki.bundle.expiry})`],
      err: [],
    });
    expect(await reloads()).toHaveLength(1);
    expect((await stat(join(dir, 'tls', 'privkey.pem'))).ino).toBe(inode); // not even rewritten
  });

  it('after a renewal writes the new certificate and reloads with the previous serial named', async () => {
    const old = renew();
    expect((await fetch('--secret-id', SECRET, '--dir', 'tls')).code).toBe(EXIT_OK); // no reload given
    const next = renew();
    const run = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
    expect(run.code).toBe(EXIT_OK);
    expect(run.out[0]).toContain(
      `wrote serial ${next.bundle.serial} (expires ${next.bundle.expiry}; was ${old.bundle.serial})`,
    );
    expect(await read('fullchain.pem')).toBe(next.bundle.fullchain);
    expect(await read('privkey.pem')).toBe(next.bundle.private_key);
    expect(await reloads()).toEqual([`${next.bundle.serial} ${old.bundle.serial}|${NAMES.join(' ')}`]);
  });

  it('puts a missing file of the layout back without a reload when the serial is unchanged', async () => {
    const pki = renew();
    await fetch('--secret-id', SECRET, '--dir', 'tls');
    await unlink(join(dir, 'tls', 'privkey.pem'));
    const run = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
    expect(run.code).toBe(EXIT_OK);
    expect(run.out).toEqual([
      `${SECRET}: unchanged (serial ${pki.bundle.serial}); wrote the missing ${join(dir, 'tls', 'privkey.pem')}`,
    ]);
    expect(await read('privkey.pem')).toBe(pki.bundle.private_key);
    expect(await modeOf('privkey.pem')).toBe(0o600);
    expect(await reloads()).toEqual([]);
  });

  it('treats a fullchain file that holds no certificate as a change', async () => {
    const pki = renew();
    await writeFile(join(dir, 'tls', 'fullchain.pem'), 'not a certificate\n');
    await writeFile(join(dir, 'tls', 'privkey.pem'), 'stale\n');
    const run = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
    expect(run.code).toBe(EXIT_OK);
    expect(run.out[0]).toContain('was none');
    expect(await read('fullchain.pem')).toBe(pki.bundle.fullchain);
    expect(await reloads()).toHaveLength(1);
  });

  describe('a failing reload', () => {
    it('puts the previous files back and exits 3, naming the failure and the serial restored', async () => {
      const old = renew();
      await fetch('--secret-id', SECRET, '--dir', 'tls', '--chain', 'tls/chain.pem');
      const next = renew();
      const run = await fetch(
        '--secret-id',
        SECRET,
        '--dir',
        'tls',
        '--chain',
        'tls/chain.pem',
        '--reload',
        `${recordingReload()}; exit 7`,
      );
      expect(run.code).toBe(EXIT_RELOAD_FAILED);
      expect(run.err).toEqual([
        `acme-rotation-fetch: ${SECRET}: reload command exited with status 7; the previous files (serial ${old.bundle.serial}) are back, and the next run tries again`,
      ]);
      expect(await reloads()).toEqual([`${next.bundle.serial} ${old.bundle.serial}|${NAMES.join(' ')}`]); // it ran
      expect(await read('fullchain.pem')).toBe(old.bundle.fullchain);
      expect(await read('privkey.pem')).toBe(old.bundle.private_key);
      expect(await read('chain.pem')).toBe(old.bundle.chain);
      expect(await modeOf('privkey.pem')).toBe(0o600);
      expect((await readdir(join(dir, 'tls'))).sort()).toEqual(['chain.pem', 'fullchain.pem', 'privkey.pem']);
      expectNoKeyMaterial(run, old.bundle.private_key, next.bundle.private_key);

      // The next run sees the old serial on disk, so it tries again.
      const retry = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
      expect(retry.code).toBe(EXIT_OK);
      expect(await read('fullchain.pem')).toBe(next.bundle.fullchain);
    });

    it('on a first write removes the files it wrote', async () => {
      renew();
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', 'false');
      expect(run.code).toBe(EXIT_RELOAD_FAILED);
      expect(run.err[0]).toMatch(/reload command exited with status 1; the files are as they were before/);
      expect(await readdir(join(dir, 'tls'))).toEqual([]);
    });

    it('counts a reload that outlives --reload-timeout as failed, and kills it', async () => {
      const old = renew();
      await fetch('--secret-id', SECRET, '--dir', 'tls');
      renew();
      const started = Date.now();
      const run = await fetch(
        '--secret-id',
        SECRET,
        '--dir',
        'tls',
        '--reload',
        `echo $$ > ${join(dir, 'pid')}; sleep 30`,
        '--reload-timeout',
        '1',
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(run.code).toBe(EXIT_RELOAD_FAILED);
      expect(run.err[0]).toMatch(/reload command timed out after 1 s and was killed; the previous files/);
      expect(await read('fullchain.pem')).toBe(old.bundle.fullchain);
      const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
      expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
    });
  });

  describe('refusals: nothing is written', () => {
    it.each([
      ['the placeholder {}', '{}', /AWSCURRENT is not a certificate bundle: it holds no certificate yet/],
      [
        "another application's JSON",
        JSON.stringify({ username: 'admin', password: 'hunter2-secret' }),
        /not a certificate bundle: it holds a JSON object with the field\(s\) username, password; nothing was written/,
      ],
      ['text', 'hunter2-secret', /not a certificate bundle: it holds text that is not JSON/],
      [
        'a damaged bundle',
        JSON.stringify({ certificate: 'garbage', private_key: 'hunter2-secret' }),
        /not a certificate bundle: its certificate field holds no PEM certificate/,
      ],
    ])('%s', async (_what, value, message) => {
      storeRaw(value);
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
      expect(run.code).toBe(EXIT_FAILED);
      expect(run.out).toEqual([]);
      expect(run.err).toHaveLength(1);
      expect(run.err[0]).toMatch(new RegExp(`^acme-rotation-fetch: secret "${SECRET}": `));
      expect(run.err[0]).toMatch(message);
      expect(run.err[0]).not.toContain('hunter2');
      expect(await readdir(join(dir, 'tls'))).toEqual([]);
      expect(await reloads()).toEqual([]);
    });

    it('a bundle whose key does not belong to its certificate', async () => {
      const a = makeTestPki({ names: NAMES, root });
      const b = makeTestPki({ names: NAMES, root });
      storeRaw(JSON.stringify({ ...a.bundle, private_key: b.bundle.private_key }));
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls');
      expect(run.code).toBe(EXIT_FAILED);
      expect(run.err).toEqual([
        `acme-rotation-fetch: secret "${SECRET}": AWSCURRENT is not a certificate bundle: its private_key does not belong to its certificate; nothing was written`,
      ]);
      expect(await readdir(join(dir, 'tls'))).toEqual([]);
    });

    it('a bundle whose fullchain does not start with its certificate', async () => {
      const a = makeTestPki({ names: NAMES, root });
      const b = makeTestPki({ names: NAMES, root });
      storeRaw(JSON.stringify({ ...a.bundle, fullchain: b.bundle.fullchain }));
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls');
      expect(run.code).toBe(EXIT_FAILED);
      expect(run.err[0]).toMatch(/its fullchain does not start with its certificate/);
    });

    it('a secret without AWSCURRENT, and a secret that does not exist', async () => {
      const empty = await fetch('--secret-id', SECRET, '--dir', 'tls');
      expect(empty.code).toBe(EXIT_FAILED);
      expect(empty.err[0]).toMatch(
        new RegExp(`^acme-rotation-fetch: secret "${SECRET}": no AWSCURRENT version .*ResourceNotFoundException`),
      );
      const missing = await fetch('--secret-id', 'certs/nope', '--dir', 'tls');
      expect(missing.code).toBe(EXIT_FAILED);
      expect(missing.err[0]).toMatch(/secret "certs\/nope": no AWSCURRENT version \(or no such secret/);
      expect(await readdir(join(dir, 'tls'))).toEqual([]);
    });

    it('a binary value', async () => {
      sm.putVersion(secretArn, version(), { binary: new Uint8Array([1, 2, 3]), stages: ['AWSCURRENT'] });
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls');
      expect(run.code).toBe(EXIT_FAILED);
      expect(run.err[0]).toMatch(/AWSCURRENT is not a certificate bundle: it holds a binary value/);
    });

    it('a directory that does not exist: the previous files are kept', async () => {
      renew();
      const run = await fetch('--secret-id', SECRET, '--dir', 'missing');
      expect(run.code).toBe(EXIT_FAILED);
      expect(run.err[0]).toMatch(
        /^acme-rotation-fetch: certs\/web: writing the files failed, the previous ones are kept: ENOENT/,
      );
    });
  });

  it('a usage error exits 2 before asking Secrets Manager; --help prints the help and exits 0', async () => {
    const run = await fetch('--secret-id', SECRET);
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.err).toEqual([
      'acme-rotation-fetch: where to write: --dir <directory> (fullchain.pem and privkey.pem in it), or both --fullchain and --key',
    ]);
    expect(sm.mock.calls()).toHaveLength(0);
    const help = await fetch('--help');
    expect(help.code).toBe(EXIT_OK);
    expect(help.out[0]).toMatch(/^Usage: acme-rotation-fetch --secret-id/);
  });
});

describe('the serial comparison', () => {
  it('reads the first certificate of the file on disk, and only a certificate counts', async () => {
    const pki = makeTestPki({ names: NAMES, root: (root ??= makeRootCa()) });
    const path = join(dir, 'fullchain.pem');
    expect(await serialOnDisk(path)).toBeUndefined(); // missing
    await writeFile(path, '');
    expect(await serialOnDisk(path)).toBeUndefined();
    await writeFile(path, `some text first\n${pki.bundle.fullchain}`);
    expect(await serialOnDisk(path)).toBe(pki.bundle.serial);
    await writeFile(path, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(await serialOnDisk(path)).toBeUndefined(); // not X.509
    await expect(serialOnDisk(dir)).rejects.toThrow(/EISDIR/);
  });

  it('compares serials whatever their spelling, and nothing equals an unknown serial', () => {
    expect(sameSerial('0a:1b:2c', '0A1B2C')).toBe(true);
    expect(sameSerial('00FF', 'ff')).toBe(true);
    expect(sameSerial('0A1B', '0A1C')).toBe(false);
    expect(sameSerial(undefined, '0A1B')).toBe(false);
    expect(sameSerial(undefined, undefined)).toBe(false);
  });
});
