import type { Op } from './ops.js';
import { IP6_FORWARD, IP_FORWARD, NFT_FAMILY, NFT_TABLE, ROOT_NS } from '../model/names.js';
import { overlaps, parseCidr } from '../model/cidr.js';
import { peersOf } from '../model/peering.js';
import { rootRuleset } from '../firewall/root.js';
import type { PeeringState, State, VpcState } from '../state/types.js';
import { gatewayAddrs6, peeringOps, subnetOps, vpcOps, rootRouteOp, routerTableOp } from './build.js';
import { overlayOps } from './overlay.js';

/**
 * The full plan of a state: every op that builds it from nothing, each with
 * the object a person would name ("subnet demo/web"). The planner builds new
 * and rebuilt VPCs from the same pieces (vpcParts, rootParts), so this is
 * what the kernel holds for a state after any plan has run, and what `verify`
 * checks against the kernel.
 */
export interface FullPlan {
  ops: Op[];
  /** `owners[i]` names the object `ops[i]` belongs to: `vpc V`, `subnet V/S`, `peering A B`, `host`. */
  owners: string[];
}

export interface Part { owner: string; ops: Op[] }

export const vpcOwner = (vpc: string) => `vpc ${vpc}`;
export const subnetOwner = (vpc: string, subnet: string) => `subnet ${vpc}/${subnet}`;
export const peeringOwner = (p: Pick<PeeringState, 'vpc1' | 'vpc2'>) => `peering ${p.vpc1} ${p.vpc2}`;
export const ROOT_OWNER = 'host';

/** CIDRs of the VPCs peered with `vpc` (IPv6 ones where both are dual-stack): its private hosts route to them. */
export function peerCidrs(state: State, vpc: string): string[] {
  const self = state.vpcs[vpc];
  const v4 = peersOf(state.peerings, vpc).flatMap((other) => (state.vpcs[other] ? [state.vpcs[other]!.cidr] : []));
  if (!self?.ipv6Cidr) return v4;
  const v6 = peersOf(state.peerings, vpc).flatMap((other) => state.vpcs[other]?.ipv6Cidr ? [state.vpcs[other]!.ipv6Cidr!] : []);
  return [...v4, ...v6];
}

/**
 * A VPC made whole: its router (namespace, sysctls, gateway, and on a
 * cluster host its overlay), every subnet, the router's IPv6 addresses on
 * the subnets' links once they all exist (gatewayAddrs6 says why), then
 * the router's table.
 */
export function vpcParts(state: State, vpc: VpcState): Part[] {
  const ops = [...vpcOps(vpc), ...(vpc.overlay ? overlayOps(vpc.name, vpc.overlay) : [])];
  const peers = peerCidrs(state, vpc.name);
  const subnets = Object.values(vpc.subnets);
  return [
    { owner: vpcOwner(vpc.name), ops },
    ...subnets.map((s) => ({ owner: subnetOwner(vpc.name, s.name), ops: subnetOps(vpc, s, peers) })),
    ...subnets.map((s) => ({ owner: subnetOwner(vpc.name, s.name), ops: gatewayAddrs6(vpc, s) })).filter((p) => p.ops.length > 0),
    { owner: vpcOwner(vpc.name), ops: [routerTableOp(vpc)] },
  ];
}

/**
 * Routes the root namespace keeps to public subnets: only for VPCs whose CIDR overlaps
 * no other VPC's, since the machine has one routing table for all of them.
 */
export function rootRoutes(state: State): Map<string, { vpc: VpcState; cidr: string; subnet: string }> {
  const vpcs = Object.values(state.vpcs);
  const out = new Map<string, { vpc: VpcState; cidr: string; subnet: string }>();
  for (const v of vpcs) {
    if (!v.transit) continue;
    const cidr = parseCidr(v.cidr);
    if (vpcs.some((o) => o !== v && overlaps(cidr, parseCidr(o.cidr)))) continue;
    for (const s of Object.values(v.subnets)) {
      // An IPv6-only subnet has no IPv4 block to route (IPv6 leaves by NAT66: router.ts).
      if (s.type === 'public' && s.cidr !== undefined) out.set(s.cidr, { vpc: v, cidr: s.cidr, subnet: s.name });
    }
  }
  return out;
}

/** The host forwards IPv6 while a dual-stack VPC has an internet gateway. */
export const needsForward6 = (state: State): boolean => Object.values(state.vpcs).some((v) => v.ipv6Cidr && v.transit);

/** The root level of a state made from nothing: routes to public subnets, vpcctl's table, ip_forward. */
function rootParts(state: State, wanted: (vpc: string) => boolean): Part[] {
  const parts: Part[] = [];
  for (const [cidr, r] of rootRoutes(state)) {
    if (wanted(r.vpc.name)) parts.push({ owner: subnetOwner(r.vpc.name, r.subnet), ops: [rootRouteOp(r.vpc, cidr)] });
  }
  const ruleset = rootRuleset(state);
  const ops: Op[] = [];
  if (ruleset) ops.push({ op: 'nftApply', ns: ROOT_NS, family: NFT_FAMILY, table: NFT_TABLE, ruleset });
  if (Object.keys(state.vpcs).length > 0) ops.push({ op: 'sysctlSet', ns: ROOT_NS, key: IP_FORWARD, value: '1' });
  if (needsForward6(state)) ops.push({ op: 'sysctlSet', ns: ROOT_NS, key: IP6_FORWARD, value: '1' });
  if (ops.length) parts.push({ owner: ROOT_OWNER, ops });
  return parts;
}

/**
 * The full plan of `state`, or of the VPCs in `only` (with their peerings
 * and the root level): what a command touching those VPCs verifies.
 */
export function fullPlan(state: State, only?: ReadonlySet<string>): FullPlan {
  const parts: Part[] = [];
  const wanted = (vpc: string) => !only || only.has(vpc);
  for (const v of Object.values(state.vpcs)) if (wanted(v.name)) parts.push(...vpcParts(state, v));
  for (const p of state.peerings) {
    const a = state.vpcs[p.vpc1];
    const b = state.vpcs[p.vpc2];
    if (a && b && (wanted(a.name) || wanted(b.name))) parts.push({ owner: peeringOwner(p), ops: peeringOps(p, a, b) });
  }
  for (const part of rootParts(state, wanted)) parts.push(part);
  const ops: Op[] = [];
  const owners: string[] = [];
  for (const part of parts) {
    for (const o of part.ops) { ops.push(o); owners.push(part.owner); }
  }
  return { ops, owners };
}
