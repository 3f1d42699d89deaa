import { createRequire } from 'node:module';
import { Option, type Command } from 'commander';
import { print, writeOut } from './stdio.js';
import { roundForOutput, table, toJson } from './output.js';

/**
 * `-o table|wide|json|yaml` for every read command, as kubectl has it:
 * `table` for people, `wide` with the columns that do not fit a terminal,
 * `json`/`yaml` for scripts (`--json` stays a synonym). Lists also take
 * `--no-headers` and `-q` (names only, one a line, for `xargs`).
 */

// yaml loads on first use, by require (see document.ts: no import() of a package from the code cache).
const require = createRequire(import.meta.url);

export const FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

export interface OutputOptions {
  output?: Format;
  json?: boolean;
  /** commander's `--no-headers`: false when given. */
  headers?: boolean;
  quiet?: boolean;
}

/** Adds the output options to a command; `list` adds --no-headers and -q. Reusable by any command (plan, ...). */
export function withOutput(cmd: Command, opts: { list?: boolean } = {}): Command {
  cmd.addOption(new Option('-o, --output <format>', 'output format').choices(FORMATS).default('table'))
    .option('--json', 'same as -o json');
  if (opts.list) cmd.option('--no-headers', 'no header line in tables').option('-q, --quiet', 'only the names, one a line');
  return cmd;
}

export const formatOf = (o: OutputOptions): Format => (o.json ? 'json' : o.output ?? 'table');

/** YAML text of the same data as JSON (a round trip drops undefined and rounds numbers alike). */
export function toYaml(value: unknown): string {
  const YAML = require('yaml') as typeof import('yaml');
  return YAML.stringify(JSON.parse(JSON.stringify(value, roundForOutput)) ?? null);
}

/** Prints `value` as data when json/yaml was asked for; false when the caller prints its human view. */
export function printData(o: OutputOptions, value: unknown): boolean {
  const f = formatOf(o);
  if (f === 'json') writeOut(toJson(value) + '\n');
  else if (f === 'yaml') writeOut(toYaml(value));
  else return false;
  return true;
}

export interface Column<T> {
  head: string;
  get: (item: T) => string | number;
  /** Shown with `-o wide` only. */
  wide?: boolean;
}

export interface ListSpec<T> {
  columns: Column<T>[];
  /** What `-q` prints for an item. */
  name: (item: T) => string;
  /** The line for no items in a table (scripts get `[]` or nothing). */
  empty: string;
}

/** The text of a list as a table (without printing): columns by format, headers unless --no-headers. */
export function listTable<T>(o: OutputOptions, items: T[], spec: ListSpec<T>): string {
  const cols = spec.columns.filter((c) => !c.wide || formatOf(o) === 'wide');
  return table(cols.map((c) => c.head), items.map((it) => cols.map((c) => c.get(it))), { headers: o.headers !== false });
}

/** A list in the format asked for. */
export function printList<T>(o: OutputOptions, items: T[], spec: ListSpec<T>, data: unknown = items): void {
  if (printData(o, data)) return;
  if (o.quiet) {
    for (const it of items) print(spec.name(it));
    return;
  }
  if (items.length === 0) {
    if (o.headers !== false) print(spec.empty);
    return;
  }
  print(listTable(o, items, spec));
}
