/**
 * A file the user names on the command line (`graph --output-file`),
 * written with root's power held back, since the path is theirs to choose
 * and vpcctl runs as root:
 * - never through a symbolic link (O_NOFOLLOW): a link planted in a shared
 *   directory such as /tmp would aim root's write at any file;
 * - never over a regular file that belongs to someone else than the user
 *   who ran vpcctl (invoking-user.ts): refused before it is truncated;
 * - a new file belongs to that user, as if they had written it.
 * A directory is a one-line error; a device or FIFO (/dev/null, a pipe) is
 * written as asked.
 */
import { closeSync, constants, fchownSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { VpcctlError } from '../errors.js';
import { invokingUser } from './invoking-user.js';

// libuv opens every file close-on-exec.
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

function open(path: string, flags: number): number {
  try {
    return openSync(path, flags | O_WRONLY | O_NOFOLLOW, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new VpcctlError('INVALID_INPUT', `${path} is a symbolic link: vpcctl runs as root and does not write through one; give the file itself`);
    if (code === 'EISDIR') throw new VpcctlError('INVALID_INPUT', `${path} is a directory: give a file to write to`);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new VpcctlError('INVALID_INPUT', `cannot write ${path}: its directory does not exist`);
    throw e;
  }
}

export function writeUserFile(path: string, text: string, env: NodeJS.ProcessEnv = process.env): void {
  const user = invokingUser(env);
  let fd: number;
  try {
    fd = open(path, O_CREAT | O_EXCL);
    if (user.viaSudo) fchownSync(fd, user.uid, user.gid);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    fd = open(path, 0);
    const st = fstatSync(fd);
    if (st.isFile() && st.uid !== user.uid) {
      closeSync(fd);
      throw new VpcctlError('INVALID_INPUT', `${path} belongs to another user (uid ${st.uid}): vpcctl runs as root and does not overwrite it; write elsewhere or remove it first`);
    }
    if (st.isFile()) ftruncateSync(fd, 0);
  }
  try {
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
  } finally {
    closeSync(fd);
  }
}
