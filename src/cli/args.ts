import { Argument, Help, InvalidArgumentError, type Command, type OutputConfiguration } from 'commander';
import { writeOut } from './stdio.js';

/** A count given on the command line (`--tail 20`): a whole number, 0 or more. */
export function nonNegativeInt(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`"${text}" is not a whole number`);
  return Number(text);
}

/** An error line starts with `vpcctl: ` once: a message that already names vpcctl is not prefixed again. */
export const prefixed = (message: string): string => (/^vpcctl\b/.test(message) ? message : `vpcctl: ${message}`);

/**
 * `--help` says which options must be given: `(required)` after the
 * description of each mandatory option. Set on the program before its
 * commands are added, so every command inherits it.
 */
export function markRequired(program: Command): void {
  program.configureHelp({
    optionDescription(option) {
      const base = Help.prototype.optionDescription.call(this, option);
      return option.mandatory ? `${base} (required)` : base;
    },
  });
}

/** A command's error output followed by a hint line (commander prints the error, the hint says what to do). */
export function withHint(hint: string): OutputConfiguration {
  return { outputError: (text, write) => write(`${text}vpcctl: ${hint}\n`) };
}

const HELP_FLAGS = new Set(['-h', '--help']);

/**
 * `vpcctl clustr --help` would print the program's help and exit 0 (commander
 * answers --help before it finds that no command is called clustr): a typo
 * then looks like success. When the first word that is no option names no
 * command of its group, the help flags are dropped, so commander reports the
 * unknown command with its suggestion (`Did you mean cluster?`), exit 2.
 */
export function unknownCommandFirst(program: Command, argv: string[]): string[] {
  let group = program;
  for (let i = 2; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return argv;
    if (word.startsWith('-')) {
      // A global option's value (`--state-dir DIR`) is no command name.
      const opt = group.options.find((o) => o.long === word || o.short === word);
      if (opt && (opt.required || opt.optional) && !word.includes('=')) i++;
      continue;
    }
    if (word === 'help') {
      // `vpcctl help clustr` likewise: without `help`, commander names the unknown command.
      const next = argv[i + 1];
      const known = (w: string) => group.commands.some((c) => c.name() === w || c.aliases().includes(w));
      return next !== undefined && !next.startsWith('-') && !known(next) ? argv.filter((_, k) => k !== i) : argv;
    }
    const sub = group.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) return group.commands.length ? argv.filter((a, k) => k < 2 || !HELP_FLAGS.has(a)) : argv;
    if (sub.commands.length === 0) return argv;
    group = sub;
  }
  return argv;
}

/** `vpcctl completion bash|zsh|fish`: the script on stdout (src/cli/completion.ts writes it from the definitions). */
export function registerCompletion(program: Command): void {
  program.command('completion').description('print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const { completionScript } = await import('./completion.js');
      writeOut(completionScript(program, shell));
    });
  // What the scripts run for an option's value: names from the state file (complete-names.ts). Hidden from help.
  program.command('__complete', { hidden: true }).description('names for shell completion')
    .argument('<kind>', 'vpc, subnet or to-subnet').argument('[words...]', 'the words typed so far, after --')
    .action(async (kind: string, words: string[]) => {
      const { NAME_KINDS, completeNames } = await import('./complete-names.js');
      if (!(NAME_KINDS as readonly string[]).includes(kind)) return;
      const names = completeNames(kind as (typeof NAME_KINDS)[number], words);
      if (names.length) writeOut(names.join('\n') + '\n');
    });
}
