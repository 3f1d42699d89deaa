import { createRequire } from 'node:module';
import type CliTable from 'cli-table3';
import type CliProgress from 'cli-progress';
import type { ChangeResult } from '../api/engine.js';
import { describeOp } from '../plan/ops.js';
import { color, isTerminal, print, writeErr, writeOut } from './stdio.js';

/** How results reach a person (tables, colours on a terminal) or a script (--json). */

// Tables and progress bars load on first use: most commands print one line.
const require = createRequire(import.meta.url);

/**
 * Numbers as precise as what they mean: durations in milliseconds to
 * hundredths (`rttMs: 0.14`, not 0.13876500000000002), other fractions to
 * thousandths. Counts, ports and pids are integers and stay as they are.
 */
export function roundForOutput(key: string, value: unknown): unknown {
  if (typeof value !== 'number' || Number.isInteger(value) || !Number.isFinite(value)) return value;
  const places = /Ms$|Seconds$|^ms$/.test(key) ? 2 : 3;
  const f = 10 ** places;
  return Math.round(value * f) / f;
}

/** JSON text of a value, numbers rounded (see roundForOutput). */
export const toJson = (value: unknown): string => JSON.stringify(value, roundForOutput, 2);

export function printJson(value: unknown): void {
  writeOut(toJson(value) + '\n');
}

/**
 * No lines at all, columns three spaces apart, as kubectl and docker print
 * them: a border between every row doubled the height and made `grep`,
 * `awk '{print $1}'` and `cut` work through box-drawing characters.
 * cli-table3 still measures the columns (colour codes and wide characters).
 */
const NO_BORDER = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ',
};

export function table(head: string[], rows: (string | number)[][], opts: { headers?: boolean } = {}): string {
  const Table = require('cli-table3') as typeof CliTable;
  const t = new Table({
    ...(opts.headers === false ? {} : { head: head.map((h) => color().bold(h)) }),
    chars: NO_BORDER,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  t.push(...rows.map((r) => r.map(String)));
  // cli-table3 pads the last column too: no trailing blanks on a line.
  return t.toString().split('\n').map((l) => l.trimEnd()).join('\n');
}

/** `1 change`, `2 changes`, `0 changes`; `plural` when adding an s is not the word. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function warn(message: string): void {
  writeErr(`${color().yellow('warning:')} ${message}\n`);
}

/** One line for a change: what was done, or that nothing had to be. */
export function reportChange(result: ChangeResult<unknown>, what: string): void {
  for (const w of result.warnings) warn(w);
  if (result.dryRun) {
    print(`${what}: plan of ${count(result.plan.ops.length, 'operation')} (dry run, nothing changed)`);
    for (const c of result.changes) print(`  ${c}`);
    for (const o of result.plan.ops) print(`    ${describeOp(o)}`);
    return;
  }
  if (!result.changed) {
    print(`${what}: nothing changed`);
    return;
  }
  print(`${what}: done (${count(result.plan.ops.length, 'kernel operation')}, ${result.elapsedMs.toFixed(1)} ms)`);
  // Drift the command found and repaired on the way: say what it was.
  for (const c of result.changes) if (c.startsWith('repair ')) print(`  ${c}`);
}

/** A progress bar on a terminal for long plans; nothing at all when piped. */
export function progress(): { onProgress?: (done: number, total: number) => void; stop: () => void } {
  if (!isTerminal(2)) return { stop: () => undefined };
  const cliProgress = require('cli-progress') as typeof CliProgress;
  let bar: CliProgress.SingleBar | undefined;
  return {
    onProgress: (done, total) => {
      if (total < 200) return;
      bar ??= new cliProgress.SingleBar({ stream: process.stderr, format: 'kernel ops [{bar}] {value}/{total}', clearOnComplete: true }, cliProgress.Presets.shades_classic);
      if (!bar.isActive) bar.start(total, done); else bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

export const ok = (text: string) => color().green(text);
export const bad = (text: string) => color().red(text);
export const dim = (text: string) => color().dim(text);
