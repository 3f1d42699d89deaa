import { createRequire } from 'node:module';
import type CliTable from 'cli-table3';
import type CliProgress from 'cli-progress';
import type { ChangeResult } from '../api/engine.js';
import { describeOp } from '../plan/ops.js';
import { color, isTerminal, print, writeErr, writeOut } from './stdio.js';

/** How results reach a person (tables, colours on a terminal) or a script (--json). */

// Tables and progress bars load on first use: most commands print one line.
const require = createRequire(import.meta.url);

export function printJson(value: unknown): void {
  writeOut(JSON.stringify(value, null, 2) + '\n');
}

export function table(head: string[], rows: (string | number)[][]): string {
  const Table = require('cli-table3') as typeof CliTable;
  const t = new Table({ head: head.map((h) => color().bold(h)), style: { head: [], border: [] } });
  t.push(...rows.map((r) => r.map(String)));
  return t.toString();
}

export function warn(message: string): void {
  writeErr(`${color().yellow('warning:')} ${message}\n`);
}

/** One line for a change: what was done, or that nothing had to be. */
export function reportChange(result: ChangeResult<unknown>, what: string): void {
  for (const w of result.warnings) warn(w);
  if (result.dryRun) {
    print(`${what}: plan of ${result.plan.ops.length} operations (dry run, nothing changed)`);
    for (const c of result.changes) print(`  ${c}`);
    for (const o of result.plan.ops) print(`    ${describeOp(o)}`);
    return;
  }
  if (!result.changed) {
    print(`${what}: nothing changed`);
    return;
  }
  print(`${what}: done (${result.plan.ops.length} kernel operations, ${result.elapsedMs.toFixed(1)} ms)`);
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
