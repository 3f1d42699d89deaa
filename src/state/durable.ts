import {
  closeSync, constants, fstatSync, fsyncSync, linkSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { alive } from '../pids.js';

/**
 * Durable replacement of a small file, with the previous version kept as a
 * backup. write-file-atomic was not enough: it issues one write(2) and does
 * not look at how much of it landed, so on a full disk it renamed a truncated
 * file into place and reported success; and it never fsyncs the directory,
 * so a power cut after the rename could bring the old name back.
 *
 * Here: a temporary file in the same directory (so rename(2) is atomic),
 * written in a loop until every byte is in, fsynced, its size checked
 * against what was meant, then renamed over the target and the directory
 * fsynced. Any failure before the rename leaves the target untouched.
 *
 * The backup is a hard link to the target's current inode: no copy, no extra
 * space (it matters on a full disk), and byte for byte the file that was
 * there, which nothing ever writes again (every write makes a new inode).
 */

export interface FileId { ino: number; dev: number }

/** The identity of the file at `path` (its inode), or null when there is none. */
export function fileId(path: string): FileId | null {
  try {
    const st = statSync(path);
    return { ino: st.ino, dev: st.dev };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export const sameFile = (a: FileId | null, b: FileId | null): boolean =>
  !!a && !!b && a.ino === b.ino && a.dev === b.dev;

const tempName = (path: string) => `${path}.tmp-${process.pid}`;

/**
 * Temporary files of `path` left by runs that died between creating and
 * renaming them (a crash, a kill -9): removed, so that they do not pile up
 * beside the state. A temporary file of a live process is its own.
 */
function removeStaleTemps(path: string): void {
  const prefix = `${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) unlinkQuietly(join(dirname(path), name));
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** fsync a directory, so the names in it (a rename, a link, an unlink) survive a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write all of `data` to a new file at `path` and fsync it (unless `sync` is false); throws on a short or failed write. */
function writeComplete(path: string, data: Buffer, mode: number, sync = true): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    let done = 0;
    // write(2) may take less than asked (a full disk takes what fits, then fails).
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
    if (sync) fsyncSync(fd);
    const size = fstatSync(fd).size;
    if (size !== data.length) {
      throw Object.assign(new Error(`wrote ${size} of ${data.length} bytes`), { code: 'ESHORT' });
    }
  } finally {
    closeSync(fd);
  }
}

/** Point `to` at the inode of `from` atomically (a link under a temporary name, then rename). */
function relink(from: string, to: string): void {
  // Already so (rename(2) of two links to one inode would do nothing and leave the temporary name).
  if (sameFile(fileId(from), fileId(to))) return;
  const tmp = tempName(to);
  unlinkQuietly(tmp);
  linkSync(from, tmp);
  try {
    renameSync(tmp, to);
  } catch (e) {
    unlinkQuietly(tmp);
    throw e;
  }
}

/**
 * Replace `path` with `text` durably. With `backup`, the file being replaced
 * (if any) is kept under that name first. `sync: false` keeps the atomic
 * replacement (complete, size-checked, renamed) but skips both fsyncs, for
 * files derived from a durable source that are rewritten if a crash loses
 * them (the /etc/netns files, state/etc-netns.ts).
 */
export function replaceFile(path: string, text: string, opts: { mode?: number; backup?: string; sync?: boolean } = {}): void {
  const tmp = tempName(path);
  const sync = opts.sync ?? true;
  unlinkQuietly(tmp); // a leftover of a run of the same pid that crashed
  removeStaleTemps(path);
  try {
    writeComplete(tmp, Buffer.from(text), opts.mode ?? 0o600, sync);
    if (opts.backup && fileId(path)) relink(path, opts.backup);
    renameSync(tmp, path);
  } catch (e) {
    unlinkQuietly(tmp);
    throw e;
  }
  if (sync) fsyncDir(dirname(path));
}

/**
 * Put back at `path` the file `original` identified, now held by `backup`:
 * the same inode, so byte for byte what was there. `original` null: there
 * was no file, so remove it. Returns false when that cannot be done (the
 * backup is not that file any more).
 */
export function restoreFile(path: string, backup: string, original: FileId | null): boolean {
  const now = fileId(path);
  if (!original) {
    if (now) unlinkSync(path);
  } else if (!sameFile(now, original)) {
    if (!sameFile(fileId(backup), original)) return false;
    try {
      relink(backup, path);
    } catch {
      // No room even for a name: moving the backup back needs none.
      renameSync(backup, path);
    }
  }
  fsyncDir(dirname(path));
  return true;
}
