import { createRequire } from 'node:module';
import { isTerminal, writeErr } from './stdio.js';

// Loaded when a question is asked, not by every command (the CLI is one bundle: a static import loads it always).
const require = createRequire(import.meta.url);

/**
 * Destructive commands (destroy, delete-vpc, apply --prune, cleanup-all) ask
 * before they act when a person is there to answer: standard input and
 * standard error are terminals. Without one (a script, CI, a pipe) they go
 * ahead as they always did, and `--yes` skips the question.
 */
export function canAsk(): boolean {
  // isatty, not process.stdin.isTTY: that builds a stream for standard input on every call.
  return (require('node:tty') as typeof import('node:tty')).isatty(0) && isTerminal(2);
}

/** The user's one-line answer to `question` on the terminal; '' at end of input. */
function ask(question: string): Promise<string> {
  const { createInterface } = require('node:readline') as typeof import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((done) => {
    let answered = false;
    rl.question(question, (answer) => { answered = true; rl.close(); done(answer); });
    rl.on('close', () => { if (!answered) done(''); });
  });
}

/**
 * Shows what will go (`lines`) and asks; true to go ahead. A "no" prints
 * that nothing changed and sets exit code 1, as a refused change is not a
 * success. Asks nothing (true) with `yes`, without a terminal, or when
 * nothing would go.
 */
export async function confirmed(lines: readonly string[], opts: { yes?: boolean; what: string }): Promise<boolean> {
  if (opts.yes || lines.length === 0 || !canAsk()) return true;
  writeErr(`${lines.map((l) => `${l}\n`).join('')}`);
  const answer = (await ask(`${opts.what}? [y/N] `)).trim().toLowerCase();
  if (answer === 'y' || answer === 'yes') return true;
  writeErr('cancelled: nothing was changed\n');
  process.exitCode = 1;
  return false;
}
