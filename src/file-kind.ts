import type { Stats } from 'node:fs';

/**
 * What a path that is not a regular file is, for one-line refusals
 * ("policy x is a FIFO"): such a file would block a read (a FIFO) or never
 * end (/dev/zero), so vpcctl names it instead of opening it.
 */
export function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}
