/**
 * acme-rotation-fetch as a whole, in process: Secrets Manager answered by the local endpoint's
 * model (through the real SDK client), files in a temporary directory, real /bin/sh reloads that
 * append to a log. First write, the serial comparison (no write, no reload when unchanged),
 * rollback when the reload fails or times out (and when the rollback itself is cut short), a key
 * on disk that is not the certificate's, refusals of values that are not certificate bundles, of
 * unsafe targets and of an expired AWSCURRENT over a valid certificate, owner, group and mode kept,
 * --version, and no key material in anything it prints.
 */
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { EXIT_FAILED, EXIT_OK, EXIT_RELOAD_FAILED, EXIT_USAGE, main, type MainIo } from '../../rotation/fetch/main.js';
import { sameSerial, serialOnDisk } from '../../rotation/fetch/serial.js';
import { bundleVersion } from '../../rotation/fetch/version.js';
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

async function fetchWith(io: Partial<MainIo>, ...args: string[]): Promise<Run> {
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
    ...io,
  });
  return { code, out, err };
}

const fetch = (...args: string[]): Promise<Run> => fetchWith({}, ...args);

/** Whether the key file belongs to the fullchain file's first certificate, asked of node:crypto. */
async function keyMatchesFullchain(): Promise<boolean> {
  const leaf = new X509Certificate(await read('fullchain.pem'));
  return leaf.checkPrivateKey(createPrivateKey(await read('privkey.pem')));
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

  it("when the serial is unchanged but the key on disk is not the certificate's, writes the set again and reloads", async () => {
    const pki = renew();
    await fetch('--secret-id', SECRET, '--dir', 'tls');
    const stranger = makeTestPki({ names: NAMES, root });
    await writeFile(join(dir, 'tls', 'privkey.pem'), stranger.bundle.private_key, { mode: 0o600 });
    expect(await keyMatchesFullchain()).toBe(false);

    const run = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
    expect(run.err).toEqual([]);
    expect(run.code).toBe(EXIT_OK);
    expect(run.out).toEqual([
      `${SECRET}: the key in ${join(dir, 'tls', 'privkey.pem')} does not belong to the certificate in ${join(dir, 'tls', 'fullchain.pem')}; wrote serial ${pki.bundle.serial} (expires ${pki.bundle.expiry}) again to ${join(dir, 'tls', 'privkey.pem')}, ${join(dir, 'tls', 'fullchain.pem')}`,
      `${SECRET}: reload succeeded`,
    ]);
    expect(await read('privkey.pem')).toBe(pki.bundle.private_key);
    expect(await keyMatchesFullchain()).toBe(true);
    expect(await reloads()).toEqual([`${pki.bundle.serial} ${pki.bundle.serial}|${NAMES.join(' ')}`]);
    expectNoKeyMaterial(run, pki.bundle.private_key, stranger.bundle.private_key);
  });

  it("a key file that holds no key counts as not the certificate's", async () => {
    const pki = renew();
    await fetch('--secret-id', SECRET, '--dir', 'tls');
    await writeFile(join(dir, 'tls', 'privkey.pem'), 'damaged\n');
    const run = await fetch('--secret-id', SECRET, '--dir', 'tls');
    expect(run.code).toBe(EXIT_OK);
    expect(run.out[0]).toContain('does not belong to the certificate');
    expect(await read('privkey.pem')).toBe(pki.bundle.private_key);
  });

  it('keeps the owner, group and mode an operator gave the files across a renewal (root:ssl-cert 0640)', async () => {
    renew();
    await fetch('--secret-id', SECRET, '--dir', 'tls');
    const key = join(dir, 'tls', 'privkey.pem');
    const fullchain = join(dir, 'tls', 'fullchain.pem');
    await chown(key, 0, 8765); // ssl-cert, say: a group that is not root's
    await chmod(key, 0o640);
    await chown(fullchain, 4321, 8765);
    await chmod(fullchain, 0o444);
    const next = renew();
    const run = await fetch('--secret-id', SECRET, '--dir', 'tls');
    expect(run.code).toBe(EXIT_OK);
    expect(await read('privkey.pem')).toBe(next.bundle.private_key);
    const owners = async (p: string) => {
      const st = await stat(p);
      return [st.uid, st.gid, st.mode & 0o7777];
    };
    expect(await owners(key)).toEqual([0, 8765, 0o640]);
    expect(await owners(fullchain)).toEqual([4321, 8765, 0o444]);
  });

  describe('a rollback cut short', () => {
    it.each(['fullchain.pem', 'privkey.pem'])(
      'when putting back %s fails, the next run still ends with a key that belongs to the certificate',
      async (failing) => {
        const old = renew();
        await fetch('--secret-id', SECRET, '--dir', 'tls');
        const next = renew();
        const oldContent = failing === 'fullchain.pem' ? old.bundle.fullchain : old.bundle.private_key;
        const run = await fetchWith(
          {
            writerHooks: {
              rename: async (from, to) => {
                if (to.endsWith(`/${failing}`) && (await readFile(from, 'utf8')) === oldContent) {
                  throw Object.assign(new Error('EIO: simulated'), { code: 'EIO' });
                }
                await rename(from, to);
              },
            },
          },
          '--secret-id',
          SECRET,
          '--dir',
          'tls',
          '--reload',
          'exit 1',
        );
        expect(run.code).toBe(EXIT_RELOAD_FAILED);
        expect(run.err[0]).toMatch(/reload command exited with status 1; putting the previous files back failed too/);
        expect(await keyMatchesFullchain()).toBe(failing === 'fullchain.pem'); // the new set, or the old serial

        const again = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
        expect(again.code).toBe(EXIT_OK);
        expect(await read('fullchain.pem')).toBe(next.bundle.fullchain);
        expect(await read('privkey.pem')).toBe(next.bundle.private_key);
        expect(await keyMatchesFullchain()).toBe(true);
      },
    );
  });

  describe('an expired AWSCURRENT', () => {
    const DAY = 86_400_000;
    const expired = (): TestPki => {
      const pki = makeTestPki({
        names: NAMES,
        root,
        notBefore: new Date(Date.now() - 40 * DAY),
        notAfter: new Date(Date.now() - DAY),
      });
      sm.putVersion(secretArn, version(), { value: JSON.stringify(pki.bundle), stages: ['AWSCURRENT'] });
      return pki;
    };

    it('never replaces a certificate on disk that is still valid: exit 1, the files and the service untouched', async () => {
      const valid = renew();
      await fetch('--secret-id', SECRET, '--dir', 'tls');
      const stale = expired();
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
      expect(run.code).toBe(EXIT_FAILED);
      expect(run.out).toEqual([]);
      expect(run.err).toHaveLength(1);
      expect(run.err[0]).toBe(
        `acme-rotation-fetch: secret "${SECRET}": AWSCURRENT's certificate (serial ${stale.bundle.serial}) expired at ${stale.bundle.expiry}, and the one in ${join(dir, 'tls', 'fullchain.pem')} (serial ${valid.bundle.serial}) is valid until ${valid.bundle.expiry}: it is kept and nothing was written; renew it (aws secretsmanager rotate-secret --secret-id ${SECRET}) and look at why its rotation fails`,
      );
      expect(await read('fullchain.pem')).toBe(valid.bundle.fullchain);
      expect(await read('privkey.pem')).toBe(valid.bundle.private_key);
      expect(await reloads()).toEqual([]);
    });

    it('decides by the clock: the certificate on disk counts only while it is valid', async () => {
      const first = renew(); // valid for 30 days
      await fetch('--secret-id', SECRET, '--dir', 'tls');
      const second = renew();
      // 31 days on, both have expired: the newer one is no worse, so it is written, with a warning.
      const later = new Date(Date.now() + 31 * DAY);
      const run = await fetchWith({ now: () => later }, '--secret-id', SECRET, '--dir', 'tls');
      expect(run.code).toBe(EXIT_OK);
      expect(run.out[0]).toContain(`wrote serial ${second.bundle.serial}`);
      expect(run.err).toEqual([
        expect.stringMatching(
          new RegExp(
            `^acme-rotation-fetch: warning: secret "${SECRET}": AWSCURRENT's certificate \\(serial ${second.bundle.serial}\\) expired at .*; written because .*fullchain\\.pem holds no valid certificate`,
          ),
        ),
      ]);
      expect(first.bundle.serial).not.toBe(second.bundle.serial);
    });

    it('with nothing on disk it is written, with a warning to renew', async () => {
      const stale = expired();
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls');
      expect(run.code).toBe(EXIT_OK);
      expect(await read('fullchain.pem')).toBe(stale.bundle.fullchain);
      expect(run.err[0]).toMatch(
        /^acme-rotation-fetch: warning: .*expired at .*; written because .* holds no valid certificate; renew it/,
      );
    });
  });

  describe('unsafe targets: nothing is written', () => {
    it('a symbolic link at the key: not followed, its target neither read for its owner nor replaced', async () => {
      renew();
      const planted = join(dir, 'planted');
      await writeFile(planted, 'mine\n', { mode: 0o644 });
      await chown(planted, 4321, 4321);
      await symlink(planted, join(dir, 'tls', 'privkey.pem'));
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls', '--reload', recordingReload());
      expect(run.code).toBe(EXIT_FAILED);
      expect(run.err).toEqual([
        `acme-rotation-fetch: ${SECRET}: ${join(dir, 'tls', 'privkey.pem')} is a symbolic link (to ${planted}): acme-rotation-fetch replaces regular files only and never writes through a link; point the option at the file itself, or remove the link; nothing was written`,
      ]);
      expect(await readFile(planted, 'utf8')).toBe('mine\n');
      expect(await readdir(join(dir, 'tls'))).toEqual(['privkey.pem']);
      expect(await reloads()).toEqual([]);
    });

    it('a symbolic link at the fullchain is refused before its serial is trusted', async () => {
      const pki = renew();
      await writeFile(join(dir, 'elsewhere.pem'), pki.bundle.fullchain); // would read "unchanged"
      await symlink(join(dir, 'elsewhere.pem'), join(dir, 'tls', 'fullchain.pem'));
      const run = await fetch('--secret-id', SECRET, '--dir', 'tls');
      expect(run.code).toBe(EXIT_FAILED);
      expect(run.err[0]).toMatch(/fullchain\.pem is a symbolic link/);
    });

    it('a directory others can write, and one that belongs to another user', async () => {
      renew();
      await chmod(join(dir, 'tls'), 0o1777);
      const shared = await fetch('--secret-id', SECRET, '--dir', 'tls');
      expect(shared.code).toBe(EXIT_FAILED);
      expect(shared.err[0]).toMatch(
        /^acme-rotation-fetch: certs\/web: directory .*\/tls is writable by its group and others \(mode 1777\): .*\(chmod go-w .*\/tls\); nothing was written$/,
      );
      await chmod(join(dir, 'tls'), 0o755);
      await chown(join(dir, 'tls'), 4321, 4321);
      const foreign = await fetch('--secret-id', SECRET, '--dir', 'tls');
      expect(foreign.code).toBe(EXIT_FAILED);
      expect(foreign.err[0]).toMatch(/directory .*\/tls belongs to uid 4321/);
      expect(await readdir(join(dir, 'tls'))).toEqual([]);
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

  it('--version prints the version the build stamped, before asking Secrets Manager', async () => {
    const run = await fetchWith({ version: async () => '9.8.7' }, '--version');
    expect(run).toEqual({ code: EXIT_OK, out: ['acme-rotation-fetch 9.8.7'], err: [] });
    // Run from the sources there is no stamp: said, not guessed.
    const unstamped = await fetch('--version', '--secret-id', SECRET);
    expect(unstamped.code).toBe(EXIT_FAILED);
    expect(unstamped.err[0]).toMatch(
      /^acme-rotation-fetch: no version stamp at .*\/rotation\/fetch\/VERSION \(ENOENT\)/,
    );
    expect(sm.mock.calls()).toHaveLength(0);
  });

  it('the stamp is the VERSION file beside the bundle', async () => {
    await writeFile(join(dir, 'VERSION'), '1.2.3-rc.1\n');
    expect(await bundleVersion(pathToFileURL(join(dir, 'index.mjs')))).toBe('1.2.3-rc.1');
    await writeFile(join(dir, 'VERSION'), 'garbage\n');
    await expect(bundleVersion(pathToFileURL(join(dir, 'index.mjs')))).rejects.toThrow(/holds no version/);
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
    await expect(serialOnDisk(dir)).rejects.toThrow(/is a directory, not a regular file/);
  });

  it('compares serials whatever their spelling, and nothing equals an unknown serial', () => {
    expect(sameSerial('0a:1b:2c', '0A1B2C')).toBe(true);
    expect(sameSerial('00FF', 'ff')).toBe(true);
    expect(sameSerial('0A1B', '0A1C')).toBe(false);
    expect(sameSerial(undefined, '0A1B')).toBe(false);
    expect(sameSerial(undefined, undefined)).toBe(false);
  });
});
