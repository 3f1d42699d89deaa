import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppInfo } from '../api/apps.js';
import { alive } from '../pids.js';
import { writeOut } from './stdio.js';

/**
 * `vpcctl logs`: an app's log like `kubectl logs` / `tail`: all of it, the
 * last N lines (`--tail N`), and with `--follow` what the app writes next,
 * until the app exits (or Ctrl-C).
 */

/** The last `n` lines of `text` (a final newline ends a line, it does not start one). */
export function lastLines(text: string, n: number): string {
  if (n <= 0) return '';
  const lines = text.split('\n');
  const trailing = lines.at(-1) === '' ? lines.pop() !== undefined : false;
  return lines.slice(-n).join('\n') + (trailing ? '\n' : '');
}

/** How much of a big log `--tail` reads from its end: enough for any sane N of lines. */
const TAIL_WINDOW = 4 * 1024 * 1024;

function readFrom(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, offset + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

const POLL_MS = 200;

export async function printLog(app: AppInfo, opts: { tail?: number; follow?: boolean }): Promise<void> {
  let fd: number;
  try {
    fd = openSync(app.logFile, 'r');
  } catch {
    // No log yet (an app that never wrote): nothing to show, or wait for it.
    if (!opts.follow) return;
    while (!exists(app.logFile)) {
      if (!alive(app.pid)) return;
      await sleep(POLL_MS);
    }
    fd = openSync(app.logFile, 'r');
  }
  try {
    let offset = fstatSync(fd).size;
    const start = opts.tail === undefined ? 0 : Math.max(0, offset - TAIL_WINDOW);
    const text = readFrom(fd, start, offset - start).toString('utf8');
    writeOut(opts.tail === undefined ? text : lastLines(text, opts.tail));
    if (!opts.follow) return;
    for (let running = alive(app.pid); ; running = alive(app.pid)) {
      const size = fstatSync(fd).size;
      if (size < offset) offset = 0; // truncated: read it again from the start
      if (size > offset) {
        writeOut(readFrom(fd, offset, size - offset).toString('utf8'));
        offset = size;
      } else if (!running) return; // exited, and all it wrote is out
      await sleep(POLL_MS);
    }
  } finally {
    closeSync(fd);
  }
}

function exists(path: string): boolean {
  try {
    closeSync(openSync(path, 'r'));
    return true;
  } catch {
    return false;
  }
}
