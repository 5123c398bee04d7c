/**
 * Atomic replacement of a set of files, with a way back. Each file is written to a temporary file
 * in its own directory (so the rename stays on one filesystem and is atomic), created with its
 * final mode — never wider, so a key is never readable by others, not even for a moment — synced,
 * then renamed over the target, and the directory synced so the rename survives a crash. A reader
 * sees the old file or the new one, never a partial one.
 *
 * The set as a whole cannot be replaced in one step; the renames follow each other at once, and
 * `restore()` puts every previous file back (atomically too) when the caller needs to undo — the
 * fetch command does when the reload fails.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface FileToWrite {
  path: string;
  content: string;
  /** Permission bits, set exactly (the umask does not narrow or widen them). */
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

interface Previous {
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

async function readPrevious(path: string): Promise<Previous | undefined> {
  try {
    const [content, st] = await Promise.all([readFile(path), stat(path)]);
    return { content, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes `content` to a new temporary file beside `target` (mode exact, owner kept when allowed), synced. */
async function writeTemp(
  target: string,
  content: string | Buffer,
  mode: number,
  owner: { uid: number; gid: number } | undefined,
): Promise<string> {
  const temp = tempPathFor(target);
  // O_EXCL: never write through a file (or symlink) someone placed at the temporary name.
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.chmod(mode); // the umask may have narrowed the creation mode
    if (owner) {
      // Keep a replaced file's owner and group (e.g. a key chowned to the service that reads it);
      // only a privileged process may, and an unprivileged one keeps its own.
      await handle.chown(owner.uid, owner.gid).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPERM') throw err;
      });
    }
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

async function restoreAll(
  entries: { path: string; previous: Previous | undefined }[],
  doRename: WriterHooks['rename'],
): Promise<void> {
  const failures: string[] = [];
  for (const { path, previous } of entries) {
    try {
      await putBack(path, previous, doRename);
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  await syncDirectories(entries.map((e) => e.path)).catch(() => undefined);
  if (failures.length > 0) throw new Error(`could not put back ${failures.join('; ')}`);
}

/**
 * Replaces every file of `files` (paths must differ; their directories must exist). When any
 * write or rename fails, the files already replaced are put back and the error is thrown.
 */
export async function writeFilesAtomically(files: FileToWrite[], hooks: WriterHooks = {}): Promise<WrittenFiles> {
  const doRename = hooks.rename ?? rename;
  const previous = await Promise.all(files.map((f) => readPrevious(f.path)));

  const temps: string[] = [];
  try {
    for (const [i, file] of files.entries()) {
      const before = previous[i];
      temps.push(await writeTemp(file.path, file.content, file.mode, before));
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
