import { createRequire } from 'node:module';
import pc from 'picocolors';
import type CliTable from 'cli-table3';
import type CliProgress from 'cli-progress';
import type { ChangeResult } from '../api/engine.js';
import { describeOp } from '../plan/ops.js';

/** How results reach a person (tables, colours on a terminal) or a script (--json). */

// Tables and progress bars load on first use: most commands print one line.
const require = createRequire(import.meta.url);

export const isTty = () => process.stdout.isTTY === true;

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function table(head: string[], rows: (string | number)[][]): string {
  const Table = require('cli-table3') as typeof CliTable;
  const t = new Table({ head: head.map((h) => pc.bold(h)), style: { head: [], border: [] } });
  t.push(...rows.map((r) => r.map(String)));
  return t.toString();
}

export function warn(message: string): void {
  process.stderr.write(`${pc.yellow('warning:')} ${message}\n`);
}

/** One line for a change: what was done, or that nothing had to be. */
export function reportChange(result: ChangeResult<unknown>, what: string): void {
  for (const w of result.warnings) warn(w);
  if (result.dryRun) {
    console.log(`${what}: plan of ${result.plan.ops.length} operations (dry run, nothing changed)`);
    for (const c of result.changes) console.log(`  ${c}`);
    for (const o of result.plan.ops) console.log(`    ${describeOp(o)}`);
    return;
  }
  if (!result.changed) {
    console.log(`${what}: nothing changed`);
    return;
  }
  console.log(`${what}: done (${result.plan.ops.length} kernel operations, ${result.elapsedMs.toFixed(1)} ms)`);
}

/** A progress bar on a terminal for long plans; nothing at all when piped. */
export function progress(): { onProgress?: (done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { stop: () => undefined };
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

export const ok = (text: string) => pc.green(text);
export const bad = (text: string) => pc.red(text);
export const dim = (text: string) => pc.dim(text);
