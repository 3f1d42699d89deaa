import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Drift } from '../../index.js';
import { fingerprint } from '../fingerprint.js';
import { takeEarlyDrift, verifyPlan } from '../native.js';
import { buildId } from '../paths.js';
import { fullPlan, type FullPlan } from '../plan/full.js';
import { planJson } from '../plan/ops.js';
import type { OpDrift } from '../plan/repair.js';
import { wantedNamespaces } from '../model/names.js';
import type { NftMarks, State } from '../state/types.js';
import { stateFileOf } from '../state/dir.js';
import { CACHE_FILE, cacheDirOf, cacheFileOf } from './plan-cache.js';
import { readRegular } from '../regular-file.js';
import { withRenamedEnds } from './renamed-ends.js';

/**
 * Deep drift: the current state's full plan (every kernel object vpcctl made
 * for it) checked against the kernel by the native `verify`, read-only. The
 * nft marks recorded after earlier executes let an untouched ruleset be
 * confirmed by its generation id instead of being listed.
 *
 * `only`: the VPCs to check (with their peerings and the host level); all
 * of them when absent. `stateDir`: the state's directory, whose cache (see
 * cacheDirOf, planText) may keep the text of the whole state's full plan. No op of the plan reads
 * /proc/sys any more (the router's sysctls come over netlink, hosts have
 * none since apps bind low ports with a capability), so verify has no
 * path lookup per namespace whose cost grows with their number.
 */
export async function findDrift(state: State, only?: ReadonlySet<string>, stateDir?: string, opts: { early?: boolean } = {}): Promise<OpDrift[]> {
  let full = only || !stateDir ? fullPlan(state, only) : null;
  // The state's plan key, made while the early read (if any) still runs: at
  // thousands of subnets it is ~10 ms of hashing that would otherwise follow it.
  const key = full ? '' : planKey(state);
  const found = (!full && opts.early ? await earlyDrift(state, stateDir!, key) : null) ?? await verifyNow(state, full, stateDir, key);
  if (found.length === 0) return [];
  full ??= fullPlan(state); // the same ops in the same order as the cached text
  return withRenamedEnds(found
    .filter((d) => d.index >= 0 && d.index < full.ops.length)
    .sort((a, b) => a.index - b.index)
    .map((d) => ({ op: full.ops[d.index]!, object: full.owners[d.index]!, kind: d.kind, detail: d.detail })));
}

async function verifyNow(state: State, full: FullPlan | null, stateDir: string | undefined, key: string): Promise<Drift[]> {
  const text = full ? planJson(full.ops) : planText(state, cacheDirOf(stateDir!), key);
  if (text.length === 2 && String(text) === '[]') return []; // nothing made: nothing to check
  return verifyPlan(text, { nft: state.nftMarks ?? {} });
}

/**
 * The launcher's early read of this state dir (cli/early.ts), when it read
 * what `state` holds: the cached plan of this state (its key) with this
 * state's nft marks, from the same revision of the file. Null otherwise:
 * then the read is done now.
 */
async function earlyDrift(state: State, stateDir: string, key: string): Promise<Drift[] | null> {
  const early = await takeEarlyDrift(cacheFileOf(stateDir), stateFileOf(stateDir));
  if (!early || early.key !== key || (early.revision ?? undefined) !== state.revision) return null;
  return sameMarks(early.marks, state.nftMarks ?? {}) ? early.drift : null;
}

const sameMarks = (a: Record<string, { gen: number }>, b: NftMarks): boolean => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((ns) => b[ns]?.gen === a[ns]!.gen);
};

/** What the full plan of a state depends on, as a digest: the state's objects and the planner that reads them. */
export const planKey = (state: State, build = buildId()): string =>
  fingerprint(JSON.stringify([build, state.transitPool, state.vpcs, state.peerings]));

/**
 * The JSON text of the whole state's full plan. Building it for hundreds of
 * subnets costs more than verifying it (tens of ms for 500), and a no-op
 * `apply` or `status` has ~50 ms in all: so it is kept in `dir` (see
 * cacheDirOf), first line the digest of what it was made from, and rebuilt
 * when that changed. Only a cache: a file that cannot be read or written
 * costs the rebuild, nothing else.
 */
export function planText(state: State, dir: string, key = planKey(state)): string | Buffer {
  const file = join(dir, CACHE_FILE);
  try {
    // Bytes, never decoded into a JS string: verify takes them as they are
    // (ASCII, below, so UTF-8), a megabyte at 500 subnets.
    const cached = readRegular(file, { noFollow: true });
    const nl = cached.indexOf(10);
    if (nl > 0 && cached.toString('latin1', 0, nl) === key) return cached.subarray(nl + 1);
  } catch { /* absent, unreadable or not a regular file: rebuilt below, and renamed over it */ }
  // Anything beyond ASCII (an uplink's name may have it) only occurs inside JSON strings: escape it.
  const text = planJson(fullPlan(state).ops).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  try {
    const tmp = `${file}.${process.pid}.tmp`; // status writes it too, without the lock
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    rmSync(tmp, { force: true }); // a leftover of a killed run with this pid
    writeFileSync(tmp, `${key}\n${text}`, { mode: 0o600, flag: 'wx' }); // a new file: never through a link
    renameSync(tmp, file); // replaces whatever is there (a FIFO, a link) without opening it
  } catch { /* an unwritable cache dir: no cache */ }
  return text;
}

/**
 * The marks to keep after a plan ran: those of namespaces the plan did not
 * make or delete, updated by what this execute learnt, and only for
 * namespaces the new state still has (the host's while it has a table).
 */
export function nextMarks(before: NftMarks | undefined, learnt: NftMarks | undefined, planNamespaces: readonly string[], desired: State): NftMarks | undefined {
  const marks: NftMarks = { ...before };
  for (const ns of planNamespaces) delete marks[ns];
  Object.assign(marks, learnt);
  const keep = wantedNamespaces(desired);
  if (Object.keys(desired.vpcs).length > 0) keep.add('');
  for (const ns of Object.keys(marks)) if (!keep.has(ns)) delete marks[ns];
  return Object.keys(marks).length > 0 ? marks : undefined;
}
