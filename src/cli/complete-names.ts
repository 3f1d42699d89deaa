import { join } from 'node:path';
import { readRegular } from '../regular-file.js';

/**
 * The names shell completion offers for an option's value (`--vpc <TAB>`,
 * `--subnet <TAB>`), read from the state file while the user types: the
 * hidden `vpcctl __complete KIND -- WORDS...` that the scripts of
 * completion.ts run. It reads the file and nothing else: no lock (a command
 * holding it must not stall a TAB), no write, no native module, no schema.
 * Whatever goes wrong (no state, unreadable, corrupt, a FIFO or a directory
 * in its place) gives no names rather than an error: a shell prints what
 * the function writes.
 */

/** What a value completes to: VPC names, or subnet names of the VPC the command line names. */
export const NAME_KINDS = ['vpc', 'subnet', 'to-subnet'] as const;
export type NameKind = (typeof NAME_KINDS)[number];

/** A state file larger than this is not one vpcctl wrote for a person at a shell (10,000 subnets is ~5 MB). */
const MAX_BYTES = 64 << 20;

/** The value of option `flag` in the words typed so far (`--vpc a` or `--vpc=a`), the last one given. */
export function optionValue(words: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') break;
    if (w === flag && i + 1 < words.length) value = words[++i];
    else if (w.startsWith(`${flag}=`)) value = w.slice(flag.length + 1);
  }
  return value;
}

/** The state file's text, or undefined: regular files only (a FIFO there must not hang the shell), of a sane size. */
function readState(file: string): string | undefined {
  try {
    return readRegular(file, { limit: MAX_BYTES }).toString('utf8');
  } catch {
    return undefined;
  }
}

type Named = Record<string, { subnets?: Record<string, unknown> } | null>;

/** The VPCs of a parsed state, or undefined when it does not have the shape. */
function vpcsOf(text: string): Named | undefined {
  try {
    const vpcs = (JSON.parse(text) as { vpcs?: unknown } | null)?.vpcs;
    return vpcs && typeof vpcs === 'object' && !Array.isArray(vpcs) ? vpcs as Named : undefined;
  } catch {
    return undefined;
  }
}

const sorted = (names: Iterable<string>) => [...new Set(names)].filter((n) => n && !/\s/.test(n)).sort();

/**
 * The names for `kind`, given the words typed so far (after the program's
 * name): `--state-dir` among them or `$VPCCTL_STATE_DIR` picks the state;
 * `--vpc` (for `--to-subnet`, `--to-vpc` first) narrows subnets to one VPC,
 * and without it every VPC's subnets are offered.
 */
export function completeNames(kind: NameKind, words: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const dir = optionValue(words, '--state-dir') ?? env.VPCCTL_STATE_DIR ?? '/var/lib/vpcctl';
  const text = readState(join(dir, 'state.json'));
  const vpcs = text === undefined ? undefined : vpcsOf(text);
  if (!vpcs) return [];
  if (kind === 'vpc') return sorted(Object.keys(vpcs));
  const vpc = (kind === 'to-subnet' ? optionValue(words, '--to-vpc') : undefined) ?? optionValue(words, '--vpc');
  const from = vpc !== undefined ? [vpcs[vpc]] : Object.values(vpcs);
  return sorted(from.flatMap((v) => (v && typeof v.subnets === 'object' && v.subnets ? Object.keys(v.subnets) : [])));
}
