/**
 * The fetch command's atomic writer, on a real temporary directory: temporary files beside their
 * targets with the final mode from the start (the key never readable by others, whatever the
 * umask), renames (a reader holding the old file keeps the old content), nothing left behind,
 * failures that put back what was replaced, and restore() in the reverse order, stopping at the
 * first failure. Replaced files keep the mode, owner and group an operator gave them; symbolic
 * links, other kinds of file and directories others can write are refused. The tests run as root
 * here, so ownership is checked with ids that are not root's.
 */
import { execFileSync } from 'node:child_process';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { UnsafeTargetError } from '../../rotation/fetch/targets.js';
import { writeFilesAtomically, type FileToWrite } from '../../rotation/fetch/writer.js';

let dir: string;
let savedUmask: number;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fetch-writer-'));
  savedUmask = process.umask();
});

afterEach(async () => {
  process.umask(savedUmask);
  await rm(dir, { recursive: true, force: true });
});

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

function layout(tag: string): FileToWrite[] {
  return [
    { path: join(dir, 'privkey.pem'), content: `key ${tag}\n`, mode: 0o600 },
    { path: join(dir, 'fullchain.pem'), content: `fullchain ${tag}\n`, mode: 0o644 },
  ];
}

describe('writeFilesAtomically', () => {
  it('writes each file with its exact mode, whatever the umask, and leaves no temporary file', async () => {
    for (const umask of [0o000, 0o077]) {
      process.umask(umask);
      await writeFilesAtomically(layout(`umask ${umask}`));
      expect(await readFile(join(dir, 'privkey.pem'), 'utf8')).toBe(`key umask ${umask}\n`);
      expect(await readFile(join(dir, 'fullchain.pem'), 'utf8')).toBe(`fullchain umask ${umask}\n`);
      expect(await modeOf(join(dir, 'privkey.pem'))).toBe(0o600);
      expect(await modeOf(join(dir, 'fullchain.pem'))).toBe(0o644);
      expect((await readdir(dir)).sort()).toEqual(['fullchain.pem', 'privkey.pem']);
    }
  });

  it('writes a complete temporary file in the target directory, with the final mode from its creation', async () => {
    process.umask(0); // a umask that would let a file created 0644 and narrowed later be world-readable
    await writeFile(join(dir, 'privkey.pem'), 'old key\n', { mode: 0o600 });
    const seen: { temp: string; target: string; mode: number; content: string; targetContent: string }[] = [];
    await writeFilesAtomically(layout('new'), {
      afterTempWritten: async (temp, target) => {
        seen.push({
          temp,
          target,
          mode: await modeOf(temp),
          content: await readFile(temp, 'utf8'),
          targetContent: await readFile(target, 'utf8').catch(() => '(none)'),
        });
      },
    });
    expect(seen).toHaveLength(2);
    const [key, fullchain] = seen;
    expect(dirname(key?.temp ?? '')).toBe(dir);
    expect(key?.temp).toMatch(/\/\.privkey\.pem\.[0-9a-f]{12}\.tmp$/);
    expect(key).toMatchObject({ mode: 0o600, content: 'key new\n', targetContent: 'old key\n' });
    expect(dirname(fullchain?.temp ?? '')).toBe(dir);
    expect(fullchain).toMatchObject({ mode: 0o644, content: 'fullchain new\n', targetContent: '(none)' });
  });

  it('replaces by rename: a reader that opened the old file still reads all of the old content', async () => {
    const fullchain = join(dir, 'fullchain.pem');
    await writeFile(fullchain, 'old fullchain\n');
    const inodeBefore = (await stat(fullchain)).ino;
    const reader = await open(fullchain, 'r');
    try {
      await writeFilesAtomically(layout('new'));
      expect((await reader.readFile()).toString()).toBe('old fullchain\n');
    } finally {
      await reader.close();
    }
    expect(await readFile(fullchain, 'utf8')).toBe('fullchain new\n');
    expect((await stat(fullchain)).ino).not.toBe(inodeBefore);
  });

  it('keeps the owner and group of a file it replaces (when privileged; its own otherwise)', async () => {
    const me = process.getuid?.() ?? 0;
    const key = join(dir, 'privkey.pem');
    await writeFile(key, 'old key\n', { mode: 0o600 });
    // Only a privileged process can give a file away, in the test as in the writer.
    const owner = me === 0 ? { uid: 4321, gid: 8765 } : { uid: me, gid: (await stat(key)).gid };
    await chown(key, owner.uid, owner.gid);
    await writeFilesAtomically(layout('new'));
    const st = await stat(key);
    expect(await readFile(key, 'utf8')).toBe('key new\n');
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([owner.uid, owner.gid, 0o600]);
    expect((await stat(join(dir, 'fullchain.pem'))).uid).toBe(me); // created: the writer's own
  });

  it('a failed rename puts back the files already replaced and removes every temporary file', async () => {
    await writeFile(join(dir, 'privkey.pem'), 'old key\n', { mode: 0o600 });
    await writeFile(join(dir, 'fullchain.pem'), 'old fullchain\n', { mode: 0o644 });
    await expect(
      writeFilesAtomically(layout('new'), {
        rename: async (from, to) => {
          // Only the new fullchain's rename fails; putting back the key goes through here too.
          if (to.endsWith('fullchain.pem') && (await readFile(from, 'utf8')) === 'fullchain new\n') {
            throw Object.assign(new Error('EIO: simulated'), { code: 'EIO' });
          }
          await rename(from, to);
        },
      }),
    ).rejects.toThrow(/EIO: simulated/);
    expect(await readFile(join(dir, 'privkey.pem'), 'utf8')).toBe('old key\n');
    expect(await readFile(join(dir, 'fullchain.pem'), 'utf8')).toBe('old fullchain\n');
    expect((await readdir(dir)).sort()).toEqual(['fullchain.pem', 'privkey.pem']);
  });

  it('a directory that does not exist fails before any file is replaced', async () => {
    await writeFile(join(dir, 'privkey.pem'), 'old key\n');
    const files = [
      { path: join(dir, 'privkey.pem'), content: 'new key\n', mode: 0o600 },
      { path: join(dir, 'missing', 'fullchain.pem'), content: 'new\n', mode: 0o644 },
    ];
    await expect(writeFilesAtomically(files)).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(dir, 'privkey.pem'), 'utf8')).toBe('old key\n');
    expect(await readdir(dir)).toEqual(['privkey.pem']);
  });

  it('restore() puts back the previous content and mode, and removes files that did not exist', async () => {
    await writeFile(join(dir, 'fullchain.pem'), 'old fullchain\n', { mode: 0o640 });
    const written = await writeFilesAtomically(layout('new'));
    expect(written.paths).toEqual([join(dir, 'privkey.pem'), join(dir, 'fullchain.pem')]);
    expect(await readFile(join(dir, 'fullchain.pem'), 'utf8')).toBe('fullchain new\n');
    await written.restore();
    expect(await readdir(dir)).toEqual(['fullchain.pem']);
    expect(await readFile(join(dir, 'fullchain.pem'), 'utf8')).toBe('old fullchain\n');
    expect(await modeOf(join(dir, 'fullchain.pem'))).toBe(0o640);
  });

  it('keeps the mode, owner and group an operator gave a file (root:ssl-cert 0640 stays so); a new key is 0600', async () => {
    const me = process.getuid?.() ?? 0;
    const key = join(dir, 'privkey.pem');
    await writeFile(key, 'old key\n');
    await chmod(key, 0o640);
    // A group of readers (ssl-cert) other than the writer's own; as root also another owner.
    const owner = me === 0 ? { uid: 4321, gid: 8765 } : { uid: me, gid: (await stat(key)).gid };
    await chown(key, owner.uid, owner.gid);
    await writeFilesAtomically(layout('new'));
    const st = await stat(key);
    expect(await readFile(key, 'utf8')).toBe('key new\n');
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ ...owner, mode: 0o640 });
    expect((await stat(join(dir, 'fullchain.pem'))).mode & 0o777).toBe(0o644); // new: the mode asked for

    await rm(key);
    await writeFilesAtomically(layout('newer'));
    expect((await stat(key)).mode & 0o777).toBe(0o600); // a new key: owner-only
  });

  it('a setuid, setgid or sticky bit on a replaced file is not carried over', async () => {
    const cert = join(dir, 'fullchain.pem');
    await writeFile(cert, 'old fullchain\n');
    await chmod(cert, 0o6644);
    await writeFilesAtomically(layout('new'));
    expect((await stat(cert)).mode & 0o7777).toBe(0o644);
  });

  describe('run by a user who may not give files away', () => {
    const REPO = fileURLToPath(new URL('../..', import.meta.url));
    const WRITER = fileURLToPath(new URL('../../rotation/fetch/writer.ts', import.meta.url));

    /** The writer in a child process with `uid`/`gid` (the tests run as root; the command may not). */
    async function writeAs(uid: number, gid: number, files: FileToWrite[]): Promise<void> {
      if ((process.getuid?.() ?? 0) !== 0) throw new Error('these cases start a process as another user: run as root');
      const script = join(dir, 'write.mts');
      await writeFile(
        script,
        `import { writeFilesAtomically } from ${JSON.stringify(WRITER)};\n` +
          `await writeFilesAtomically(${JSON.stringify(files)});\n`,
      );
      await chown(dir, uid, gid);
      execFileSync(process.execPath, ['--import', 'tsx', script], {
        cwd: REPO,
        uid,
        gid,
        env: { PATH: process.env.PATH, HOME: dir },
        stdio: 'pipe',
      });
    }

    it("keeps the group when it is one of the user's", async () => {
      const key = join(dir, 'privkey.pem');
      await writeFile(key, 'old key\n');
      await chown(key, 1111, 8765);
      await chmod(key, 0o640);
      await writeAs(4321, 8765, layout('new').slice(0, 1));
      const st = await stat(key);
      expect(await readFile(key, 'utf8')).toBe('key new\n');
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4321, 8765, 0o640]);
    });

    it('drops the group bits when the group cannot be kept: its readers were never ours', async () => {
      const key = join(dir, 'privkey.pem');
      await writeFile(key, 'old key\n');
      await chown(key, 4321, 8765); // ssl-cert, which uid 4321 is not a member of
      await chmod(key, 0o640);
      await writeAs(4321, 4321, layout('new').slice(0, 1));
      const st = await stat(key);
      expect(await readFile(key, 'utf8')).toBe('key new\n');
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4321, 4321, 0o600]);
    });
  });

  describe('restore()', () => {
    const three = (tag: string): FileToWrite[] => [
      { path: join(dir, 'privkey.pem'), content: `key ${tag}\n`, mode: 0o600 },
      { path: join(dir, 'cert.pem'), content: `cert ${tag}\n`, mode: 0o644 },
      { path: join(dir, 'fullchain.pem'), content: `fullchain ${tag}\n`, mode: 0o644 },
    ];
    const contents = async (): Promise<string[]> =>
      Promise.all(['privkey.pem', 'cert.pem', 'fullchain.pem'].map((n) => readFile(join(dir, n), 'utf8')));

    beforeEach(async () => {
      await writeFilesAtomically(three('old'));
    });

    it('puts the files back in the reverse order of their installation: the fullchain first, the key last', async () => {
      const order: string[] = [];
      const written = await writeFilesAtomically(three('new'), {
        rename: async (from, to) => {
          if ((await readFile(from, 'utf8')).endsWith('old\n')) order.push(to.slice(dir.length + 1));
          await rename(from, to);
        },
      });
      await written.restore();
      expect(order).toEqual(['fullchain.pem', 'cert.pem', 'privkey.pem']);
      expect(await contents()).toEqual(['key old\n', 'cert old\n', 'fullchain old\n']);
    });

    it.each([
      // The fullchain cannot be put back: nothing older goes in beside it, the set stays the new one.
      ['fullchain.pem', ['key new\n', 'cert new\n', 'fullchain new\n']],
      // The key cannot be put back: the fullchain (the serial the next run compares) is the old one.
      ['privkey.pem', ['key new\n', 'cert old\n', 'fullchain old\n']],
    ])(
      'a restore that fails on %s stops there: never the old key beside the new fullchain',
      async (failing, expected) => {
        const written = await writeFilesAtomically(three('new'), {
          rename: async (from, to) => {
            if (to.endsWith(`/${failing}`) && (await readFile(from, 'utf8')).endsWith('old\n')) {
              throw Object.assign(new Error('EIO: simulated'), { code: 'EIO' });
            }
            await rename(from, to);
          },
        });
        expect(await contents()).toEqual(['key new\n', 'cert new\n', 'fullchain new\n']);
        await expect(written.restore()).rejects.toThrow(new RegExp(`could not put back ${join(dir, failing)}: EIO`));
        expect(await contents()).toEqual(expected);
        expect((await readdir(dir)).sort()).toEqual(['cert.pem', 'fullchain.pem', 'privkey.pem']); // no temporary file
      },
    );
  });

  describe('refusals: nothing is written', () => {
    async function expectRefused(files: FileToWrite[], message: RegExp): Promise<void> {
      const before = await snapshot();
      const err = await writeFilesAtomically(files).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UnsafeTargetError);
      expect((err as Error).message).toMatch(message);
      expect(await snapshot()).toEqual(before);
    }
    /** Every entry of the directory with what lstat and readlink say, and the content of regular files. */
    async function snapshot(): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      for (const name of (await readdir(dir)).sort()) {
        const path = join(dir, name);
        const st = await lstat(path);
        out[name] = st.isSymbolicLink()
          ? `link ${await readlink(path)}`
          : st.isFile()
            ? `file ${st.mode & 0o7777} ${st.uid}:${st.gid} ${await readFile(path, 'utf8')}`
            : `other ${st.mode}`;
      }
      return out;
    }

    it('a symbolic link at a target, even to a file of the same directory: neither followed nor replaced', async () => {
      const victim = join(dir, 'victim');
      await writeFile(victim, 'not a key\n', { mode: 0o644 });
      await chown(victim, 4321, 4321); // whoever planted the link would get the key by its owner
      await symlink(victim, join(dir, 'privkey.pem'));
      await expectRefused(
        layout('new'),
        new RegExp(`${join(dir, 'privkey.pem')} is a symbolic link \\(to ${victim}\\)`),
      );
      expect((await stat(victim)).uid).toBe(4321);
    });

    it('a dangling symbolic link at a target', async () => {
      await symlink(join(dir, 'nowhere'), join(dir, 'fullchain.pem'));
      await expectRefused(layout('new'), /fullchain\.pem is a symbolic link/);
    });

    it.each([
      ['a directory', async (p: string) => mkdir(p), /is a directory, not a regular file/],
      ['a named pipe', async (p: string) => execFileSync('mkfifo', [p]), /is a named pipe, not a regular file/],
    ])('%s at a target', async (_what, make, message) => {
      await writeFile(join(dir, 'privkey.pem'), 'old key\n', { mode: 0o600 });
      await make(join(dir, 'fullchain.pem'));
      await expectRefused(layout('new'), message); // the key before it is not replaced either
    });

    it.each([
      ['0775', 0, /writable by its group \(mode 0775\).*chmod go-w/],
      ['0757', 0, /writable by others \(mode 0757\)/],
      // Sticky: others cannot remove our files, but can create the names before the first run.
      ['1777', 0, /writable by its group and others \(mode 1777\)/],
      ['0755', 4321, /belongs to uid 4321, neither root nor this command's user \(uid 0\).*chown root/],
    ])('a directory of mode %s owned by uid %s', async (mode, uid, message) => {
      if ((process.getuid?.() ?? 0) !== 0 && uid !== 0) throw new Error('this case needs root');
      await chown(dir, uid, 0);
      await chmod(dir, parseInt(mode, 8));
      await expectRefused(layout('new'), message);
    });

    it('a directory its owner alone can write is fine, whatever group may read it', async () => {
      await chown(dir, 0, 8765);
      await chmod(dir, 0o2750);
      await writeFilesAtomically(layout('new'));
      expect(await readFile(join(dir, 'privkey.pem'), 'utf8')).toBe('key new\n');
    });
  });
});
