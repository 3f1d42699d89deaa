import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Vpcctl } from '../api/vpcctl.js';
import { GRAPH_FORMATS, type GraphFormat } from '../graph/formats.js';
import { print, writeOut } from './stdio.js';
import { warn } from './output.js';
import { writeUserFile } from './user-file.js';

/**
 * `vpcctl graph`: `-o` is the format, as for every other command
 * (`-o svg|mermaid|dot|json`), and `--output-file FILE` the file. `-o FILE`
 * meant the file until issue 19: a value that is no format but looks like
 * a path (a `/` or a `.` in it) is still written there, with a deprecation
 * line, so scripts keep working while they move to `--output-file`.
 */

const isFormat = (v: string): v is GraphFormat => (GRAPH_FORMATS as readonly string[]).includes(v);

/** `-o`'s value: a format, or (deprecated) a file; anything else is a usage error. */
function formatOrFile(value: string): { format: GraphFormat } | { file: string } {
  if (isFormat(value)) return { format: value };
  if (/[/.]/.test(value)) return { file: value };
  throw new InvalidArgumentError(`"${value}" is no format (${GRAPH_FORMATS.join(', ')}); to write a file: --output-file ${value}`);
}

export function registerGraph(program: Command, api: (cmd: Command) => Vpcctl): void {
  program.command('graph').description('draw the topology (-o json: the same as data)')
    .addOption(new Option('-o, --output <format>', 'output format (default: svg)').choices(GRAPH_FORMATS).argParser(formatOrFile))
    .addOption(new Option('--format <format>', 'same as -o').choices(GRAPH_FORMATS).hideHelp())
    .option('--output-file <file>', 'write to a file instead of stdout (-o FILE before, deprecated)')
    .action(async (o: { output?: { format: GraphFormat } | { file: string }; format?: GraphFormat; outputFile?: string }, cmd) => {
      let file = o.outputFile;
      if (o.output && 'file' in o.output) {
        warn(`graph -o FILE is deprecated: -o is the format now; use --output-file ${o.output.file}`);
        file ??= o.output.file;
      }
      const format = o.format ?? (o.output && 'format' in o.output ? o.output.format : 'svg');
      const text = await api(cmd).graph({ format });
      if (file) { writeUserFile(file, text); print(`wrote ${file}`); } else writeOut(text);
    });
}
