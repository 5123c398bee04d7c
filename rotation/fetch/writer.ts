/**
 * Atomic replacement of a set of files, with a way back. Each file is written to a temporary file
 * in its own directory (so the rename stays on one filesystem and is atomic), created owner-only
 * and given its final mode and owner before any content goes in — so a key is never readable by
 * others, not even for a moment — synced, then renamed over the target, and the directory synced
 * so the rename survives a crash. A reader sees the old file or the new one, never a partial one.
 *
 * A file being replaced keeps the mode, owner and group the operator gave it (root:ssl-cert 0640
 * stays so); a new file gets the mode asked for. The targets are read and judged without following
 * links (targets.ts): a symbolic link, anything but a regular file, or a directory others can
 * write is refused before anything is written.
 *
 * The set as a whole cannot be replaced in one step; the renames follow each other at once, in
 * the order given, and `restore()` puts the previous files back (atomically too) in the reverse
 * order when the caller needs to undo — the fetch command does when the reload fails.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { checkDirectories, readTarget, type ExistingFile } from './targets.js';

export interface FileToWrite {
  path: string;
  content: string;
  /**
   * Permission bits of a file that does not exist yet, set exactly (the umask does not narrow or
   * widen them). A file being replaced keeps its own.
   */
  mode: number;
}

/** Seams for tests: watch a temporary file before its rename, or make a rename fail. */
export interface WriterHooks {
  afterTempWritten?: (tempPath: string, target: string) => Promise<void> | void;
  rename?: (from: string, to: string) => Promise<void>;
}

export interface WrittenFiles {
  /** The targets written, in order. */
  paths: string[];
  /** Puts back each file as it was before (removes those that did not exist). */
  restore(): Promise<void>;
}

type Previous = ExistingFile;

function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Gives a new (still empty) file its mode, then the owner and group of the file it replaces. Only
 * a privileged process may give a file away; one that is not may still give it a group it belongs
 * to. When the group cannot be kept, the group's permission bits are dropped: the readers the
 * operator chose were that group's, never ours.
 */
async function setModeAndOwner(
  handle: FileHandle,
  mode: number,
  owner: { uid: number; gid: number } | undefined,
): Promise<void> {
  // Mode first: once the file is given away, only its new owner (or CAP_FOWNER) could change it.
  await handle.chmod(mode);
  if (owner === undefined) return;
  const notPermitted = (err: NodeJS.ErrnoException): boolean => {
    if (err.code === 'EPERM') return true;
    throw err;
  };
  if (!(await handle.chown(owner.uid, owner.gid).then(() => false, notPermitted))) return;
  if (!(await handle.chown(-1, owner.gid).then(() => false, notPermitted))) return;
  await handle.chmod(mode & ~0o070);
}

/** Writes `content` to a new temporary file beside `target` (mode exact, owner kept when allowed), synced. */
async function writeTemp(
  target: string,
  content: string | Buffer,
  mode: number,
  owner: { uid: number; gid: number } | undefined,
): Promise<string> {
  const temp = tempPathFor(target);
  // O_EXCL: never write through a file (or symlink) someone placed at the temporary name. Created
  // owner-only; the final mode and owner are set while it is still empty.
  const handle = await open(temp, 'wx', 0o600);
  try {
    await setModeAndOwner(handle, mode, owner);
    await handle.writeFile(content);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  return temp;
}

async function syncDirectories(paths: string[]): Promise<void> {
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

async function putBack(path: string, previous: Previous | undefined, doRename: WriterHooks['rename']): Promise<void> {
  if (previous === undefined) {
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    return;
  }
  const temp = await writeTemp(path, previous.content, previous.mode, previous);
  try {
    await (doRename ?? rename)(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/**
 * Puts back `entries` (in the order they were installed) in the REVERSE order, and stops at the
 * first failure. The last file installed is the fullchain, whose serial the next run compares with
 * AWSCURRENT's: installed last, it names the new certificate only once every other file is new;
 * restored first, it names the old one again before any other file changes. A restore that stops
 * part-way therefore leaves new files under the old serial (the next run sees a change and writes
 * the whole set again), never the old key beside the new certificate under the new serial, which
 * the next run would take for "unchanged". Stopping at the first failure keeps that shape (the
 * files installed first are new, the others old), so the fullchain names the new serial only when
 * every file is new: going on past a fullchain that could not be put back would pair it with the
 * old key.
 */
async function restoreAll(
  entries: { path: string; previous: Previous | undefined }[],
  doRename: WriterHooks['rename'],
): Promise<void> {
  const pending = [...entries].reverse();
  let failure: string | undefined;
  for (const [i, { path, previous }] of pending.entries()) {
    try {
      await putBack(path, previous, doRename);
    } catch (err) {
      const left = pending.slice(i + 1).map((e) => e.path);
      failure =
        `could not put back ${path}: ${(err as Error).message}` +
        (left.length > 0 ? `; left ${left.join(', ')} as written too, so no older file sits beside it` : '');
      break;
    }
  }
  await syncDirectories(entries.map((e) => e.path)).catch(() => undefined);
  if (failure !== undefined) throw new Error(failure);
}

/**
 * Replaces every file of `files` (paths must differ; their directories must exist). When any
 * write or rename fails, the files already replaced are put back and the error is thrown.
 */
export async function writeFilesAtomically(files: FileToWrite[], hooks: WriterHooks = {}): Promise<WrittenFiles> {
  const doRename = hooks.rename ?? rename;
  await checkDirectories(files.map((f) => f.path));
  const previous: (Previous | undefined)[] = [];
  for (const f of files) previous.push(await readTarget(f.path));

  const temps: string[] = [];
  try {
    for (const [i, file] of files.entries()) {
      const before = previous[i];
      temps.push(await writeTemp(file.path, file.content, before?.mode ?? file.mode, before));
      await hooks.afterTempWritten?.(temps[i] as string, file.path);
    }
  } catch (err) {
    await Promise.all(temps.map((t) => unlink(t).catch(() => undefined)));
    throw err;
  }

  const replaced: { path: string; previous: Previous | undefined }[] = [];
  try {
    for (const [i, file] of files.entries()) {
      await doRename(temps[i] as string, file.path);
      replaced.push({ path: file.path, previous: previous[i] });
    }
    await syncDirectories(files.map((f) => f.path));
  } catch (err) {
    await Promise.all(temps.slice(replaced.length).map((t) => unlink(t).catch(() => undefined)));
    try {
      await restoreAll(replaced, hooks.rename);
    } catch (restoreErr) {
      throw new Error(`${(err as Error).message}; and then ${(restoreErr as Error).message}`, { cause: err });
    }
    throw err;
  }

  return {
    paths: files.map((f) => f.path),
    restore: () =>
      restoreAll(
        files.map((f, i) => ({ path: f.path, previous: previous[i] })),
        hooks.rename,
      ),
  };
}
