import { hostNs, routerNs, wantedNamespaces } from '../model/names.js';
import type { State } from '../state/types.js';

/**
 * The state to save after a plan failed half-way without being rolled back
 * (the executor never rolls back once it has deleted a namespace: a deletion
 * cannot be undone). Pure: `present` is the kernel's namespace list read
 * after the failure.
 *
 * What the command deleted and the kernel no longer has is recorded as
 * deleted: a VPC the command removes whose router namespace is gone goes
 * from the state with all its subnets and peerings (host namespaces of it
 * that still exist stay pending, so the next command deletes them); a subnet
 * the command removes whose namespace is gone goes alone. Everything else
 * stays as it was recorded: the command's intent for it was not carried
 * out, and the plan's namespaces that still exist, or that the state still
 * wants, are kept pending so `status` says a run stopped mid-change and the
 * next command finishes (or repairs) them.
 */
export function afterPartialPlan(current: State, desired: State, planNamespaces: readonly string[], present: ReadonlySet<string>): State {
  const out = structuredClone(current);
  for (const v of Object.values(current.vpcs)) {
    const keeps = desired.vpcs[v.name];
    if (!keeps && !present.has(routerNs(v.name))) {
      delete out.vpcs[v.name];
      continue;
    }
    for (const s of Object.values(v.subnets)) {
      if (!keeps?.subnets[s.name] && !present.has(hostNs(v.name, s.name))) delete out.vpcs[v.name]!.subnets[s.name];
    }
  }
  out.peerings = current.peerings.filter((p) => out.vpcs[p.vpc1] && out.vpcs[p.vpc2]);
  const wanted = wantedNamespaces(out);
  out.pending = [...new Set([...current.pending, ...planNamespaces])].filter((ns) => present.has(ns) || wanted.has(ns));
  // Kept even with no VPC left: the next command puts ip_forward back if the failed plan did not.
  const before = current.hostForwardBefore ?? desired.hostForwardBefore;
  if (before !== undefined) out.hostForwardBefore = before;
  const before6 = current.hostForward6Before ?? desired.hostForward6Before;
  if (before6 !== undefined) out.hostForward6Before = before6;
  // nft generations of namespaces the plan worked in may have moved: without a mark, verify compares by content.
  if (out.nftMarks) {
    for (const ns of planNamespaces) delete out.nftMarks[ns];
    delete out.nftMarks[''];
    if (Object.keys(out.nftMarks).length === 0) delete out.nftMarks;
  }
  delete out.lastApply;
  return out;
}
