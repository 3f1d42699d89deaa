import type { Op } from './ops.js';
import { IP6_FORWARD, IP_FORWARD, NFT_FAMILY, NFT_TABLE, ROOT_NS, gatewayRootLink, hostNs, isVpcctlNsName, routerNs, wantedNamespaces } from '../model/names.js';
import { rootRuleset } from '../firewall/root.js';
import { pairKey } from '../model/peering.js';
import type { State, SubnetState, VpcState } from '../state/types.js';
import {
  egressRouteOps, gatewayAddrs6, peeringOps, peerPrefixes, subnetOps, rootRouteOp, unpeerOps, peerRouteOps, policyOp, policyDelOp, policyTableSpec, routerTableOp,
} from './build.js';
import { needsForward6, rootRoutes, peerCidrs, vpcParts } from './full.js';
import { brokenByDrift, repairOps, type OpDrift } from './repair.js';
import { OVERLAY_LINK, overlayBase, overlayDiffOps } from './overlay.js';
import { policyMeaning } from '../model/policy-meaning.js';
import { routedPrefix6 } from '../model/addresses.js';

export { rootRoutes } from './full.js';

/**
 * What the planner knows of the kernel: which namespaces exist (one readdir),
 * the host's ip_forward, and what `verify` found drifted in the current
 * state's full plan (absent: not checked).
 */
export interface KernelView {
  namespaces: ReadonlySet<string>;
  hostForward: string;
  /** The host's IPv6 forwarding (absent: not read, or the host has no IPv6). */
  hostForward6?: string;
  drift?: readonly OpDrift[];
}

/** The planner's output: ordered kernel operations, the changes they make, the namespaces they touch. */
export interface Plan {
  ops: Op[];
  /** One line per change a person would name ("create subnet demo/web"). */
  changes: string[];
  /** Namespaces the plan creates or deletes: saved as pending while it runs. */
  namespaces: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
// The overlay's link itself (VNI, underlay, address, MTU) is part of the router; its peers change in place.
const vpcSpec = (v: VpcState) => [v.cidr, v.uplink, v.transit, overlayBase(v.overlay), ...(v.ipv6Cidr ? [v.ipv6Cidr] : [])];
const subnetSpec = (s: SubnetState) => [s.cidr, s.type, ...(s.ipv6Cidr ? [s.ipv6Cidr] : [])];

/**
 * Diff the desired state against the current one and the kernel, and return
 * the smallest ordered list of operations that makes the kernel match the
 * desired state. Pure: no I/O, so every decision here is unit-tested.
 *
 * The unit of rebuild is the namespace: a VPC whose router namespace is
 * missing (or was mid-change when a run crashed) is rebuilt whole, a subnet
 * whose host namespace is missing is rebuilt alone. Deletions come first, so a
 * rebuild's delete precedes its create.
 */
export function plan(current: State, desired: State, kernel: KernelView): Plan {
  const dels: Op[] = [];
  const adds: Op[] = [];
  const changes: string[] = [];
  // A pending name that follows no vpcctl naming rule is never acted on
  // (the engine warns about it; ownership by tag is checked there too).
  const pending = new Set(current.pending.filter(isVpcctlNsName));
  const present = (ns: string) => kernel.namespaces.has(ns);
  const drifted = brokenByDrift(kernel.drift);
  const broken = (ns: string) => !present(ns) || pending.has(ns) || drifted.has(ns);
  const deleted = new Set<string>();
  const delNs = (ns: string, evenIfAbsent = false) => {
    if ((evenIfAbsent || present(ns)) && !deleted.has(ns)) { deleted.add(ns); dels.push({ op: 'netnsDel', ns }); }
  };

  const rebuiltVpcs = new Set<string>();
  const touchedRouters = new Set<string>();

  // VPCs that go, or whose router must be rebuilt.
  let handover: Map<string, Op[]> | undefined;
  for (const cur of Object.values(current.vpcs)) {
    const des = desired.vpcs[cur.name];
    if (des && same(vpcSpec(cur), vpcSpec(des)) && !broken(routerNs(cur.name))) continue;
    dels.push(...((handover ??= handoverOps(current, desired)).get(cur.name) ?? []));
    for (const s of Object.values(cur.subnets)) delNs(hostNs(cur.name, s.name));
    // The VXLAN link first: deleted with its namespace, it would hold the VNI
    // (on the machine's underlay socket) until the kernel's cleanup ran.
    if (cur.overlay && present(routerNs(cur.name))) dels.push({ op: 'linkDel', ns: routerNs(cur.name), name: OVERLAY_LINK });
    delNs(routerNs(cur.name));
    changes.push(des ? `rebuild vpc ${cur.name}` : `delete vpc ${cur.name}`);
  }
  // Leftovers of a crashed run that are no longer wanted, even when only a
  // half-made /run/netns entry is left (netnsDel removes those too).
  const wanted = wantedNamespaces(desired);
  for (const ns of pending) if (!wanted.has(ns)) delNs(ns, true);

  // VPCs that are new or rebuilt: the router, every subnet, every peering.
  for (const des of Object.values(desired.vpcs)) {
    const cur = current.vpcs[des.name];
    if (cur && same(vpcSpec(cur), vpcSpec(des)) && !broken(routerNs(des.name))) continue;
    rebuiltVpcs.add(des.name);
    if (!cur) {
      delNs(routerNs(des.name)); // a leftover of a crash
      changes.push(`create vpc ${des.name}`);
    }
    for (const s of Object.values(des.subnets)) {
      if (!cur) delNs(hostNs(des.name, s.name));
      if (!cur) changes.push(`create subnet ${des.name}/${s.name}`);
    }
    for (const part of vpcParts(desired, des)) adds.push(...part.ops);
  }

  // Subnets of VPCs that stay; the router's IPv6 addresses once all their links exist (gatewayAddrs6).
  const gateways6: Op[] = [];
  for (const des of Object.values(desired.vpcs)) {
    const cur = current.vpcs[des.name];
    if (!cur || rebuiltVpcs.has(des.name)) continue;
    // Flow logs switch in place: each subnet's policy table is replaced below.
    if (!!cur.flowLogs !== !!des.flowLogs) changes.push(`${des.flowLogs ? 'enable' : 'disable'} flow logs of vpc ${des.name}`);
    for (const s of Object.values(cur.subnets)) {
      const d = des.subnets[s.name];
      if (d && same(subnetSpec(s), subnetSpec(d))) continue;
      delNs(hostNs(des.name, s.name));
      touchedRouters.add(des.name);
      changes.push(d ? `replace subnet ${des.name}/${s.name}` : `delete subnet ${des.name}/${s.name}`);
      // On vpcctl's own gateway link only: a foreign route to the same CIDR is never deleted.
      if (s.type === 'public' && cur.transit && s.cidr !== undefined) dels.push({ op: 'routeDel', ns: ROOT_NS, dst: s.cidr, dev: gatewayRootLink(cur.transit) });
    }
    for (const d of Object.values(des.subnets)) {
      const s = cur.subnets[d.name];
      const ns = hostNs(des.name, d.name);
      const fresh = !s || !same(subnetSpec(s), subnetSpec(d));
      if (fresh || broken(ns)) {
        if (!fresh) { delNs(ns); changes.push(`repair subnet ${des.name}/${d.name}`); }
        if (!s) { delNs(ns); changes.push(`create subnet ${des.name}/${d.name}`); }
        adds.push(...subnetOps(des, d, peerCidrs(desired, des.name)));
        gateways6.push(...gatewayAddrs6(des, d));
        touchedRouters.add(des.name);
      } else {
        // The policy table: the policy (by meaning: the same rules with or without a `subnet` key, or keys in
        // another order, are no change) and the VPC's flow-log switch (a subnet without a policy has a table
        // only while it logs).
        const table = policyTableSpec(des, d);
        const meaning = (t: ReturnType<typeof policyTableSpec>) => (t ? [policyMeaning(t.policy), t.flowLogs] : null);
        if (!same(meaning(policyTableSpec(cur, s)), meaning(table))) {
          adds.push(table ? policyOp(des, d)! : policyDelOp(des.name, d.name));
          if (policyMeaning(s.policy) !== policyMeaning(d.policy)) changes.push(`${d.policy ? 'apply' : 'remove'} policy on ${des.name}/${d.name}`);
        }
        // Egress and publishes change in place: a route in the host, the router's table; the host and its apps stay.
        if ((s.egress ?? 'none') !== (d.egress ?? 'none')) {
          adds.push(...egressRouteOps(des, d, d.egress === 'nat'));
          touchedRouters.add(des.name);
          changes.push(`set egress ${d.egress ?? 'none'} on ${des.name}/${d.name}`);
        }
        if (!same(s.publish ?? [], d.publish ?? [])) {
          touchedRouters.add(des.name);
          changes.push(`update published ports of ${des.name}/${d.name}`);
        }
      }
    }
  }
  adds.push(...gateways6);

  // Overlays of routers that stay: only their peers (remote hosts and subnets) change.
  for (const des of Object.values(desired.vpcs)) {
    const cur = current.vpcs[des.name];
    if (!cur?.overlay || !des.overlay || rebuiltVpcs.has(des.name)) continue;
    const ops = overlayDiffOps(des.name, cur.overlay, des.overlay);
    if (ops.length === 0) continue;
    adds.push(...ops);
    changes.push(`update overlay of vpc ${des.name}: ${des.overlay.peers.map((p) => p.host).join(', ') || 'no other host'}`);
  }

  // Peerings between VPCs that both stay (rebuilt VPCs get theirs below).
  const curPeerings = new Map(current.peerings.map((p) => [pairKey(p), p]));
  const desPeerings = new Map(desired.peerings.map((p) => [pairKey(p), p]));
  for (const [key, p] of curPeerings) {
    if (desPeerings.has(key) && same(p, desPeerings.get(key))) continue;
    changes.push(`unpeer ${p.vpc1} ${p.vpc2}`);
    const [a, b] = [desired.vpcs[p.vpc1], desired.vpcs[p.vpc2]];
    const stays = (v: VpcState | undefined) => v && !rebuiltVpcs.has(v.name);
    if (stays(a) && stays(b)) dels.push(...unpeerOps(p, a!, b!));
    // A VPC that goes takes its end of the peering with its router, but only when the kernel has
    // destroyed that namespace, after the command returned: the staying router's end is deleted
    // here, so the peering is gone when the command says so.
    const gone = (name: string) => (desired.vpcs[name] ? undefined : current.vpcs[name]);
    const [goneA, goneB] = [gone(p.vpc1), gone(p.vpc2)];
    if (stays(a) && goneB) dels.push(...unpeerOps(p, a!, goneB));
    if (stays(b) && goneA) dels.push(...unpeerOps(p, b!, goneA));
    for (const [v, other] of [[a, current.vpcs[p.vpc2]], [b, current.vpcs[p.vpc1]]] as const) {
      if (stays(v) && other) {
        for (const c of peerPrefixes(current.vpcs[v!.name] ?? v!, other)) dels.push(...peerRouteOps(v!, c, keptSubnets(current, desired, v!.name), false));
      }
    }
  }
  for (const [key, p] of desPeerings) {
    const a = desired.vpcs[p.vpc1]!;
    const b = desired.vpcs[p.vpc2]!;
    const isNew = !(curPeerings.has(key) && same(curPeerings.get(key), p));
    if (!isNew && !rebuiltVpcs.has(a.name) && !rebuiltVpcs.has(b.name)) continue;
    if (isNew) changes.push(`peer ${p.vpc1} ${p.vpc2}`);
    adds.push(...peeringOps(p, a, b));
    for (const [v, other] of [[a, b], [b, a]] as const) {
      if (!rebuiltVpcs.has(v.name)) {
        for (const c of peerPrefixes(v, other)) adds.push(...peerRouteOps(v, c, keptSubnets(current, desired, v.name), true));
      }
    }
  }

  for (const name of touchedRouters) {
    if (!rebuiltVpcs.has(name)) adds.push(routerTableOp(desired.vpcs[name]!));
  }

  const root = rootLevel(current, desired, kernel, rebuiltVpcs);
  // ip_forward goes back before the namespaces go: writing it takes the rtnl
  // lock (the kernel retries until it gets it), which the kernel's cleanup
  // of thousands of deleted namespaces holds for seconds at a time. After
  // them, it timed out in 2 of 3 teardowns of 5,000 subnets.
  const first = root.filter((o) => o.op === 'sysctlSet' && (Object.keys(desired.vpcs).length === 0 || (o.key === IP6_FORWARD && o.value !== '1')));
  adds.push(...root.filter((o) => !first.includes(o)));

  // Drift in objects this plan leaves standing is repaired in place, after
  // the deletions (nothing is repaired that then goes) and before the
  // additions (which may rely on it: a route via a repaired address).
  const remade = new Set(deleted);
  for (const o of adds) if (o.op === 'netnsAdd') remade.add(o.ns);
  const repairs = repairOps(kernel.drift ?? [], desired, remade, adds);
  changes.push(...repairs.changes);

  const ops = [...first, ...dels, ...repairs.ops, ...adds, ...repairs.last];
  const namespaces = [...new Set(ops.flatMap((o) => (o.op === 'netnsAdd' || o.op === 'netnsDel' ? [o.ns] : [])))];
  return { ops, changes, namespaces };
}

/**
 * The host routes of VPCs that go or are rebuilt which this plan makes
 * again (another VPC takes the public subnet's CIDR or the routed prefix,
 * or the VPC itself comes back): deleted first, on the old gateway link
 * only. That link, and its routes with it, would otherwise go only when the
 * kernel's cleanup of the old router ran, and the new route would find the
 * old one in its place (a route on another link: refused).
 */
function handoverOps(current: State, desired: State): Map<string, Op[]> {
  const wanted = new Set([...rootRoutes(desired).keys(), ...Object.values(desired.vpcs).flatMap((v) => routedPrefix6(v) ?? [])]);
  const out = new Map<string, Op[]>();
  const del = (v: VpcState, dst: string) => {
    if (!wanted.has(dst) || !v.transit) return;
    if (!out.has(v.name)) out.set(v.name, []);
    out.get(v.name)!.push({ op: 'routeDel', ns: ROOT_NS, dst, dev: gatewayRootLink(v.transit) });
  };
  for (const [cidr, r] of rootRoutes(current)) del(r.vpc, cidr);
  for (const v of Object.values(current.vpcs)) {
    const routed = routedPrefix6(v);
    if (routed) del(v, routed);
  }
  return out;
}

/** Subnets that exist before and after this plan without being rebuilt. */
function keptSubnets(current: State, desired: State, vpc: string): SubnetState[] {
  const cur = current.vpcs[vpc];
  const des = desired.vpcs[vpc];
  if (!cur || !des) return [];
  return Object.values(des.subnets).filter((d) => {
    const s = cur.subnets[d.name];
    return s && same(subnetSpec(s), subnetSpec(d));
  });
}

/** The root namespace's table, its routes to public subnets, and ip_forward. */
function rootLevel(current: State, desired: State, kernel: KernelView, rebuilt: Set<string>): Op[] {
  const ops: Op[] = [];
  const before = rootRoutes(current);
  const after = rootRoutes(desired);
  for (const [cidr, r] of before) {
    const next = after.get(cidr);
    if (!next && desired.vpcs[r.vpc.name]) ops.push({ op: 'routeDel', ns: ROOT_NS, dst: cidr, dev: gatewayRootLink(r.vpc.transit!) });
  }
  for (const [cidr, r] of after) {
    const prev = before.get(cidr);
    if (!prev || rebuilt.has(r.vpc.name) || prev.vpc.transit !== r.vpc.transit) ops.push(rootRouteOp(r.vpc, cidr));
  }

  const was = rootRuleset(current);
  const will = rootRuleset(desired);
  const dirty = current.pending.length > 0 || rebuilt.size > 0;
  if (will && (dirty || !same(was, will))) ops.push({ op: 'nftApply', ns: ROOT_NS, family: NFT_FAMILY, table: NFT_TABLE, ruleset: will });
  // Also after a run that stopped mid-change (pending) with no VPC left: a
  // teardown that failed after its last router went may have left the table
  // (nftDelete of an absent table does nothing).
  if (!will && (was || dirty)) ops.push({ op: 'nftDelete', ns: ROOT_NS, family: NFT_FAMILY, table: NFT_TABLE });

  const needsForward = Object.keys(desired.vpcs).length > 0;
  if (needsForward && kernel.hostForward !== '1') {
    ops.push({ op: 'sysctlSet', ns: ROOT_NS, key: IP_FORWARD, value: '1' });
  }
  if (!needsForward && desired.hostForwardBefore !== undefined && kernel.hostForward !== desired.hostForwardBefore) {
    ops.push({ op: 'sysctlSet', ns: ROOT_NS, key: IP_FORWARD, value: desired.hostForwardBefore });
  }
  // IPv6 likewise, only while a dual-stack VPC has an internet gateway.
  const f6 = kernel.hostForward6;
  if (f6 !== undefined && needsForward6(desired) && f6 !== '1') ops.push({ op: 'sysctlSet', ns: ROOT_NS, key: IP6_FORWARD, value: '1' });
  const before6 = desired.hostForward6Before;
  if (f6 !== undefined && !needsForward6(desired) && before6 !== undefined && f6 !== before6) {
    ops.push({ op: 'sysctlSet', ns: ROOT_NS, key: IP6_FORWARD, value: before6 });
  }
  return ops;
}

