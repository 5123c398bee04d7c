/**
 * The fetch command's atomic writer, on a real temporary directory: temporary files beside their
 * targets with the final mode from the start (the key never readable by others, whatever the
 * umask), renames (a reader holding the old file keeps the old content), nothing left behind,
 * failures that put back what was replaced, and restore().
 */
import { chown, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

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
});
