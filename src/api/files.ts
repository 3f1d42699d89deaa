import { readFileSync, readSync } from 'node:fs';
import { VpcctlError } from '../errors.js';
import { NotReadable, readRegular } from '../regular-file.js';

/** A small file's text, or '' when it cannot be read (an app's log that is not there yet). */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The largest topology file vpcctl reads: 500 subnets with policies take well under 1 MiB. */
export const TOPOLOGY_MAX_BYTES = 16 * 1024 * 1024;
/** The largest policy file vpcctl reads (port and address lists go into sets: a big one is ~100 KiB). */
export const POLICY_MAX_BYTES = 1024 * 1024;

const sizeText = (n: number) =>
  n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : n % 2 ** 10 === 0 ? `${n / 2 ** 10} KiB` : `${n} bytes`;

/**
 * The text of an input file (`what`: "topology", "policy"), refused with
 * INVALID_INPUT (exit 2) when it is not a regular file or is larger than
 * `limit`, without reading it: `/dev/zero` would otherwise be read until
 * memory runs out, and a FIFO would block. Opened non-blocking, so opening
 * a FIFO with no writer returns at once; fstat then says what it is.
 */
export function readInputFile(path: string, what: string, limit: number): string {
  if (path === '-') return readStdin(what, limit);
  try {
    return readRegular(path, { limit }).toString('utf8');
  } catch (e) {
    if (e instanceof NotReadable) {
      throw new VpcctlError('INVALID_INPUT', e.reason === 'kind'
        ? `${what} ${path} is ${e.kind}: give a regular file`
        : `${what} ${path} is larger than ${sizeText(limit)}, the most vpcctl reads for a ${what}`);
    }
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new VpcctlError('INVALID_INPUT', `${what} ${path}: ${reason}`);
  }
}

/** Waits `ms` without a busy loop (a non-blocking standard input that has nothing yet). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Standard input (`-f -`) read to its end, with the same limit as a file:
 * `yes | vpcctl apply -f -` is refused once past it instead of filling memory.
 */
function readStdin(what: string, limit: number): string {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let got: number;
    try {
      got = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') { pause(5); continue; }
      if (code === 'EOF') break;
      throw new VpcctlError('INVALID_INPUT', `${what} from standard input: ${(e as Error).message}`);
    }
    if (got === 0) break;
    total += got;
    if (total > limit) throw new VpcctlError('INVALID_INPUT', `${what} from standard input is larger than ${sizeText(limit)}, the most vpcctl reads for a ${what}`);
    chunks.push(Buffer.from(buf.subarray(0, got)));
  }
  return Buffer.concat(chunks).toString('utf8');
}
