import { type Stats, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * What a path that is not a regular file is, for one-line refusals
 * ("policy x is a FIFO"): such a file would block a read (a FIFO) or never
 * end (/dev/zero), so vpcctl names it instead of opening it.
 */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Why readRegular refused a path: it is not a regular file (`kind` says what), or it is larger than the limit. */
export class NotReadable extends Error {
  constructor(readonly reason: 'kind' | 'size', message: string, readonly kind?: string) {
    super(message);
  }
}

/**
 * A regular file's bytes, through one descriptor: opened non-blocking (a
 * FIFO without a writer returns at once; a terminal is not made ours),
 * checked with fstat on that descriptor (nothing can be swapped in between
 * the check and the read), and read to its end. Anything but a regular
 * file is refused before a byte is read (a FIFO would block the read, a
 * device like /dev/zero never end it), and so is a file larger than
 * `limit`, read one byte past it so that one growing meanwhile is caught
 * too. `noFollow`: never through a symbolic link (ELOOP). Errors of the
 * open (ENOENT...) are thrown as they are.
 */
export function readRegular(path: string, opts: { limit?: number; noFollow?: boolean } = {}): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotReadable('kind', `${path} is ${kindOf(st)}, not a regular file`, kindOf(st));
    const limit = opts.limit ?? Infinity;
    const tooBig = () => new NotReadable('size', `${path} is larger than ${limit} bytes`);
    if (st.size > limit) throw tooBig();
    let buf = Buffer.allocUnsafe(Math.min(st.size, limit) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) { // longer than fstat said: grown since, or a file that reports no size
        if (n > limit) throw tooBig();
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, limit + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > limit) throw tooBig();
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
