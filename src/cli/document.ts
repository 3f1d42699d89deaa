import { createRequire } from 'node:module';
import { VpcctlError } from '../errors.js';
import { POLICY_MAX_BYTES, TOPOLOGY_MAX_BYTES, readInputFile } from '../api/files.js';

// yaml loads on first use, by require: the CLI bundle runs from V8's code
// cache, where import() of a package is not available (bin/compile-cache.cjs).
const require = createRequire(import.meta.url);

/**
 * Where JSON.parse gave up, as an offset. V8's messages do not always carry a
 * position, so find the shortest prefix that fails for a reason other than
 * running out of input: its last character is the culprit (a binary search,
 * since every longer prefix fails early too).
 */
export function jsonErrorOffset(text: string): number | null {
  const failsEarly = (n: number) => {
    try {
      JSON.parse(text.slice(0, n));
      return false;
    } catch (e) {
      // A truncated prefix fails at its very end: "Unexpected end", or a position equal to its length.
      const message = (e as Error).message;
      const at = /position (\d+)/.exec(message);
      return !/Unexpected end of JSON input/.test(message) && (!at || Number(at[1]) < n);
    }
  };
  if (!failsEarly(text.length)) return null;
  let lo = 1;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsEarly(mid)) hi = mid; else lo = mid + 1;
  }
  return lo - 1;
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

/**
 * Read a JSON or YAML file (bounded: api/files.ts); errors name the file and,
 * for JSON, the line and column. `-` is standard input, JSON when it starts
 * with `{` or `[`, else YAML.
 */
export async function readDocument(path: string, what: 'topology' | 'policy'): Promise<unknown> {
  const text = readInputFile(path, what, what === 'policy' ? POLICY_MAX_BYTES : TOPOLOGY_MAX_BYTES);
  const yaml = path === '-' ? !/^\s*[[{]/.test(text) : /\.ya?ml$/i.test(path);
  if (yaml) {
    const YAML = require('yaml') as typeof import('yaml');
    try {
      return YAML.parse(text);
    } catch (e) {
      throw new VpcctlError('INVALID_INPUT', `${what} ${path === "-" ? "from standard input" : path}: invalid YAML: ${(e as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
    }
  }
  return parseJsonText(text, `${what} ${path === "-" ? "from standard input" : path}`);
}

/** JSON text parsed, or one line naming `source` and where the text went wrong (line and column). */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const offset = jsonErrorOffset(text);
    const where = offset === null ? '' : ((p) => ` at line ${p.line}, column ${p.column}`)(lineColumn(text, offset));
    const reason = (e as Error).message.replace(/ in JSON at position \d+.*$/, '').replace(/, "[\s\S]*" is not valid JSON$/, '');
    throw new VpcctlError('INVALID_INPUT', `${source}: invalid JSON${where}: ${reason}`);
  }
}
