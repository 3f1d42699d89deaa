import { kernel, native } from '../native.js';
import { fullPlan } from '../plan/full.js';
import { planJson } from '../plan/ops.js';
import type { OpDrift } from '../plan/repair.js';
import { wantedNamespaces } from '../plan/planner.js';
import type { NftMarks, State } from '../state/types.js';

/**
 * Deep drift: the current state's full plan (every kernel object vpcctl made
 * for it) checked against the kernel by the native `verify`, read-only. The
 * nft marks recorded after earlier executes let an untouched ruleset be
 * confirmed by its generation id instead of being listed.
 *
 * `only`: the VPCs to check (with their peerings and the host level); all
 * of them when absent.
 */
export async function findDrift(state: State, only?: ReadonlySet<string>): Promise<OpDrift[]> {
  const full = fullPlan(state, only);
  if (full.ops.length === 0) return [];
  const n = await native();
  const found = await kernel(n.verify(planJson(full.ops), { nft: state.nftMarks ?? {} }));
  return found
    .filter((d) => d.index >= 0 && d.index < full.ops.length)
    .sort((a, b) => a.index - b.index)
    .map((d) => ({ op: full.ops[d.index]!, object: full.owners[d.index]!, kind: d.kind, detail: d.detail }));
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
