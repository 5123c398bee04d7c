/**
 * The files the fetch command replaces, looked at without trusting what sits at their names. The
 * command usually runs as root and copies a replaced file's owner and group to the new one, so
 * whoever controls a target's name would control who may read the next private key:
 *
 * - a target must be a regular file or absent; a symbolic link is refused, never followed (lstat,
 *   then open with O_NOFOLLOW and fstat, so a link swapped in between is refused too);
 * - its directory must be writable by its owner alone, and that owner must be root or the user
 *   running the command: anyone else who can write there can plant the names first.
 *
 * Messages name the path and say what to fix; they never hold file contents.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A target that is not safe to read or replace. */
export class UnsafeTargetError extends Error {
  override name = 'UnsafeTargetError';
}

/** A regular file found at a target, read through a descriptor that did not follow a link. */
export interface ExistingFile {
  content: Buffer;
  /** Permission bits (0o777). */
  mode: number;
  uid: number;
  gid: number;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

async function symlinkRefusal(path: string): Promise<UnsafeTargetError> {
  const to = await readlink(path).catch(() => undefined);
  return new UnsafeTargetError(
    `${path} is a symbolic link${to === undefined ? '' : ` (to ${to})`}: acme-rotation-fetch replaces regular files ` +
      'only and never writes through a link; point the option at the file itself, or remove the link',
  );
}

function notRegularRefusal(path: string, kind: string): UnsafeTargetError {
  return new UnsafeTargetError(
    `${path} is ${kind}, not a regular file: acme-rotation-fetch replaces regular files only; ` +
      'move it away or point the option at another path',
  );
}

/**
 * The file at `path`: undefined when nothing is there, its content, mode and owner when it is a
 * regular file; UnsafeTargetError for a symbolic link or anything else. Other errors (EACCES, …)
 * are thrown as they are.
 */
export async function readTarget(path: string): Promise<ExistingFile | undefined> {
  let linkStat;
  try {
    linkStat = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (linkStat.isSymbolicLink()) throw await symlinkRefusal(path);
  if (!linkStat.isFile()) throw notRegularRefusal(path, kindOf(linkStat));
  // O_NONBLOCK: a FIFO swapped in after the lstat must not hang the open; fstat refuses it below.
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw await symlinkRefusal(path);
    if (code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw notRegularRefusal(path, kindOf(st));
    const content = await handle.readFile();
    return { content, mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
  } finally {
    await handle.close();
  }
}

/** Whether something (of any kind, a dangling link included) is at `path`. */
export async function present(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

/**
 * Refuses a directory of `paths` that someone other than its owner can write, or whose owner is
 * neither root nor `uid`. A sticky bit does not make a shared directory safe: it only stops others
 * from removing or renaming files they do not own, not from creating a target's name before the
 * first run (a file of theirs whose owner would be copied to the key, or a link). A missing
 * directory is left to the writer, which reports it.
 */
export async function checkDirectories(
  paths: readonly string[],
  uid: number | undefined = process.geteuid?.(),
): Promise<void> {
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    let st;
    try {
      st = await stat(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (!st.isDirectory()) continue; // the writer's ENOTDIR says it
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    if ((st.mode & 0o022) !== 0) {
      const writers = [(st.mode & 0o020) !== 0 ? 'its group' : '', (st.mode & 0o002) !== 0 ? 'others' : ''];
      const who = writers.filter((w) => w !== '').join(' and ');
      throw new UnsafeTargetError(
        `directory ${dir} is writable by ${who} (mode ${mode}): whoever can write there can plant the files ` +
          `this command replaces and have the next key given to them; make it writable by its owner only ` +
          `(chmod go-w ${dir})`,
      );
    }
    if (uid !== undefined && st.uid !== 0 && st.uid !== uid) {
      throw new UnsafeTargetError(
        `directory ${dir} belongs to uid ${st.uid}, neither root nor this command's user (uid ${uid}): that user ` +
          `can plant the files this command replaces and have the next key given to them; give the directory to ` +
          `root (chown root ${dir}) or run the command as uid ${st.uid}`,
      );
    }
  }
}
