import { createRequire } from 'node:module';
import { fstatSync, writeSync, type Stats } from 'node:fs';
import type { Colors } from 'picocolors/types.js';

/**
 * stdout and stderr for a command that prints a line or two and exits.
 *
 * Touching process.stdout builds a Node stream (a SyncWriteStream for a file,
 * a net.Socket for a pipe, a tty.WriteStream for a terminal) and loads the
 * stream modules behind it: ~6 ms of every call. Unless a descriptor may be
 * a terminal, plain write(2) does the same job (a file, a pipe, a socket,
 * /dev/null). A terminal, or a descriptor that turns out to be non-blocking
 * (EAGAIN), gets the Node stream as usual, and output order is kept: direct
 * writes are complete when they return.
 */

const require = createRequire(import.meta.url);

type Fd = 1 | 2;
const mode = new Map<Fd, 'direct' | 'stream'>();

/** Linux's major number of memory devices: /dev/null, /dev/zero, /dev/full. */
const MEM_MAJOR = 1;

/** Only a character device can be a terminal, and not a memory device. */
const mayBeTerminal = (st: Stats) => st.isCharacterDevice() && ((st.rdev >> 8) & 0xfff) !== MEM_MAJOR;

function stat(fd: Fd): Stats | undefined {
  try {
    return fstatSync(fd);
  } catch {
    return undefined;
  }
}

function kind(fd: Fd): 'direct' | 'stream' {
  let k = mode.get(fd);
  if (k === undefined) {
    const st = stat(fd);
    k = st && !mayBeTerminal(st) ? 'direct' : 'stream';
    mode.set(fd, k);
  }
  return k;
}

/**
 * Descriptors whose reader left (`vpcctl ... | head -1`): the rest of the
 * output is dropped and the command ends as it would have, exit 0 included,
 * like `ls | head`, rather than with an EPIPE stack trace.
 */
const closed = new Set<Fd>();

const listening = new Set<Fd>();

/**
 * The Node stream of a descriptor. A stream reports EPIPE later, as an
 * 'error' event, which would end the process with a stack trace when nobody
 * listens: listen. (A pipe gets here too once it is non-blocking: creating
 * process.stdout, e.g. picocolors reading process.stdout.isTTY, makes it so,
 * and a full pipe then answers write(2) with EAGAIN.)
 */
function stream(fd: Fd): NodeJS.WriteStream {
  const s = fd === 1 ? process.stdout : process.stderr;
  mode.set(fd, 'stream');
  if (!listening.has(fd)) {
    listening.add(fd);
    s.on('error', (e: NodeJS.ErrnoException) => {
      closed.add(fd);
      if (e.code === 'EPIPE') return;
      // Anything else is a real failure, but still one line, not a trace.
      if (fd === 1) write(2, `vpcctl: cannot write output: ${e.message}\n`);
      process.exitCode = 1;
    });
  }
  return s;
}

function write(fd: Fd, text: string): void {
  if (closed.has(fd)) return;
  let rest: string | Buffer = text;
  if (kind(fd) === 'direct') {
    const buf = Buffer.from(text);
    let done = 0;
    try {
      while (done < buf.length) done += writeSync(fd, buf, done);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') {
        closed.add(fd);
        return;
      }
      if (code !== 'EAGAIN') throw e;
      rest = buf.subarray(done); // bytes, not text: `done` may fall inside a character
    }
  }
  stream(fd).write(rest);
}

export const writeOut = (text: string) => write(1, text);
export const writeErr = (text: string) => write(2, text);
/** One line to stdout. */
export const print = (line = '') => write(1, `${line}\n`);

/**
 * Whether stdout (or stderr) is a terminal. node:tty is asked only when the
 * descriptor may be one: loading it (with node:net and streams) costs
 * ~10 ms, a tenth of a quick call.
 */
export function isTerminal(fd: Fd = 1): boolean {
  const st = stat(fd);
  return !!st && mayBeTerminal(st) && (require('node:tty') as typeof import('node:tty')).isatty(fd);
}

const plain: Pick<Colors, 'bold' | 'dim' | 'green' | 'red' | 'yellow'> = {
  bold: String, dim: String, green: String, red: String, yellow: String,
};
let colors: typeof plain | undefined;

/**
 * picocolors when colour may be wanted (a terminal, or FORCE_COLOR), loaded
 * then; it decides from the environment as usual. Plain text otherwise.
 */
export function color(): typeof plain {
  colors ??= process.env.FORCE_COLOR !== undefined || isTerminal(1) || isTerminal(2)
    ? (require('picocolors') as Colors)
    : plain;
  return colors;
}
