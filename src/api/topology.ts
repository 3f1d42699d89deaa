import { VpcctlError } from '../errors.js';
import { formatCidr, parseCidr } from '../model/cidr.js';
import { parseTopology, type PublishSpec, type Topology } from '../model/schema.js';
import { allPublishes, checkPublishes } from '../model/publish.js';
import { pairKey } from '../model/peering.js';
import { SUBNET6_PREFIX, nextSubnet6, validateTopology, vpcIpv6 } from '../model/validate.js';
import { contains6, countOf6, formatCidr6, nthSubnet6, parseCidr6 } from '../model/cidr6.js';
import type { PublishState, State, SubnetState, VpcOverlay, VpcState } from '../state/types.js';
import type { Claim } from '../model/root-routes.js';
import { allocateLink, type RootView } from './network.js';
import { upsertVpc } from './vpc-upsert.js';
import { hostAddress, refuseHostPort } from './publish.js';
import { blockOf } from '../model/addresses.js';
import { storedPolicy } from '../model/policy-meaning.js';
import type { KeptItem } from '../plan/diff.js';

const norm = (cidr: string) => formatCidr(parseCidr(cidr));

/** Parse and check a topology document (from YAML or JSON): shape, then semantics. */
export function readTopology(value: unknown): Topology {
  return validateTopology(parseTopology(value));
}

/** The topology a state describes: lets the whole desired state be checked by the file's rules. */
export function topologyOf(state: State): Topology {
  return {
    vpcs: Object.values(state.vpcs).map((v) => ({
      name: v.name, cidr: v.cidr, ...(v.ipv6Cidr ? { ipv6Cidr: v.ipv6Cidr } : {}), ...(v.uplink ? { uplink: v.uplink } : {}), ...(v.flowLogs ? { flowLogs: true } : {}),
      subnets: Object.values(v.subnets).map((s) => ({
        name: s.name, ...(s.cidr !== undefined ? { cidr: s.cidr } : {}), ...(s.ipv6Cidr ? { ipv6Cidr: s.ipv6Cidr } : {}), type: s.type, ...(s.egress ? { egress: s.egress } : {}), ...(s.policy ? { policy: s.policy } : {}),
        ...(s.publish?.length ? { publish: s.publish.map((p) => ({ ...p })) } : {}),
        apps: s.apps.map((a) => ({ port: a.port })),
      })),
    })),
    peerings: state.peerings.map(({ vpc1, vpc2 }) => ({ vpc1, vpc2 })),
  };
}

/** Why a prune left an object alone: who made it, as the state records. */
export const keptReason = (owner: string | undefined): string =>
  owner === undefined ? 'not made by an apply of this topology (made by a command, or before vpcctl recorded owners)' : `made by ${owner}`;

/**
 * Merge a topology into a draft state: what the file names is made to match
 * it; what the state has beyond the file stays unless `prune`, and even then
 * only what `owner` (this topology) made goes: what a command or another
 * topology made is kept, and returned with the reason. New objects are
 * recorded as `owner`'s; existing ones keep the owner they have.
 * Allocations (transit links) and running apps of kept objects are kept.
 */
export async function mergeTopology(
  state: State, topo: Topology,
  opts: { prune?: boolean; uplink?: string; root: RootView; owner: string; overlays?: Record<string, VpcOverlay>; pruneAll?: boolean },
): Promise<KeptItem[]> {
  const keptItems: KeptItem[] = [];
  const ownerOf = (owner: string | undefined) => (owner === undefined ? {} : { owner });
  const mine = (o: { owner?: string }) => !!opts.pruneAll || o.owner === opts.owner;
  const named = new Set(topo.vpcs.map((v) => v.name));
  const publishedBefore = new Set(allPublishes(state).map(hostKey));
  let kept = false; // does the result hold anything the file does not name?
  if (opts.prune) {
    for (const vpc of Object.values(state.vpcs)) {
      if (named.has(vpc.name)) continue;
      if (!mine(vpc)) { keptItems.push({ kind: 'vpc', name: vpc.name, reason: keptReason(vpc.owner) }); continue; }
      // A VPC this topology made, holding subnets it did not: those stay, and so does the VPC.
      const others = Object.values(vpc.subnets).filter((s) => !mine(s));
      if (others.length === 0) { delete state.vpcs[vpc.name]; continue; }
      for (const s of Object.values(vpc.subnets)) if (mine(s)) delete vpc.subnets[s.name];
      keptItems.push({ kind: 'vpc', name: vpc.name, reason: `holds subnets this topology did not make (${others.map((s) => s.name).join(', ')})` });
      for (const s of others) keptItems.push({ kind: 'subnet', name: `${vpc.name}/${s.name}`, reason: keptReason(s.owner) });
    }
  }

  for (const spec of topo.vpcs) {
    const before = state.vpcs[spec.name];
    const ask = { name: spec.name, cidr: norm(spec.cidr), ipv6Cidr: vpcIpv6(spec), uplink: spec.uplink ?? opts.uplink };
    const { vpc } = await upsertVpc(state, ask, opts.root, { replace: true, uplinkAt: uplinkPath(topo, spec.name) });
    // Remade for a new CIDR or uplink, it is still the object it was: its owner stays.
    const owner = before ? before.owner : opts.owner;
    if (owner === undefined) delete vpc.owner; else vpc.owner = owner;

    const inFile = new Set(spec.subnets.map((s) => s.name));
    const subnets: Record<string, SubnetState> = {};
    for (const s of Object.values(vpc.subnets)) {
      // Its place is kept (key order is part of the state's identity: a re-apply must compare equal).
      if (inFile.has(s.name)) { subnets[s.name] = s; continue; }
      if (opts.prune && mine(s)) continue;
      if (opts.prune) keptItems.push({ kind: 'subnet', name: `${spec.name}/${s.name}`, reason: keptReason(s.owner) });
      subnets[s.name] = s;
      kept = true;
    }
    spec.subnets.forEach((s, j) => {
      if (s.egress === 'nat' && !vpc.transit) {
        throw new VpcctlError('CONFLICT', `vpcs[${topo.vpcs.indexOf(spec)}].subnets[${j}].egress: vpc "${spec.name}" has no internet gateway (no uplink): a NAT gateway needs one`);
      }
    });
    const ipv6Of = ipv6Allocator(vpc, spec.subnets, subnets);
    for (const s of spec.subnets) {
      const prev = vpc.subnets[s.name];
      const cidr = s.cidr === undefined ? undefined : norm(s.cidr);
      const ipv6Cidr = ipv6Of(s);
      const policy = s.policy ? storedPolicy(s.policy, blockOf({ cidr, ipv6Cidr }), prev?.policy) : undefined;
      subnets[s.name] = {
        name: s.name, ...(cidr !== undefined ? { cidr } : {}), ...(ipv6Cidr ? { ipv6Cidr } : {}), type: s.type, apps: prev?.apps ?? [],
        ...(s.egress === 'nat' ? { egress: 'nat' as const } : {}), ...(policy ? { policy } : {}),
        ...(s.publish?.length ? { publish: await publishEntries(s.publish, vpc, opts.root, `vpcs[${topo.vpcs.indexOf(spec)}].subnets[${spec.subnets.indexOf(s)}].publish`) } : {}),
        ...ownerOf(prev ? prev.owner : opts.owner),
      };
    }
    vpc.subnets = subnets;
    // The file says whether the VPC logs flows, as it says everything else about it (absent: off).
    if (spec.flowLogs) vpc.flowLogs = true;
    else delete vpc.flowLogs;
  }
  if (opts.overlays) {
    for (const vpc of Object.values(state.vpcs)) {
      const o = opts.overlays[vpc.name];
      if (o) vpc.overlay = structuredClone(o);
      else delete vpc.overlay;
    }
  }

  const wanted = new Map(topo.peerings.map((p) => [pairKey(p), p]));
  state.peerings = state.peerings.filter((p) => {
    if (!state.vpcs[p.vpc1] || !state.vpcs[p.vpc2]) return false;
    if (!opts.prune || wanted.has(pairKey(p))) return true;
    if (mine(p)) return false;
    keptItems.push({ kind: 'peering', name: `${p.vpc1} <-> ${p.vpc2}`, reason: keptReason(p.owner) });
    return true;
  });
  for (const p of wanted.values()) {
    if (state.peerings.some((q) => pairKey(q) === pairKey(p))) continue;
    state.peerings.push({ vpc1: p.vpc1, vpc2: p.vpc2, link: await allocateLink(state, opts.root), owner: opts.owner });
  }

  // One publish per host address and port, across the file and what vpcctl has; a new one must be free on the host.
  try {
    checkPublishes(state);
  } catch (e) {
    if (e instanceof VpcctlError) throw new VpcctlError(e.code, `publish: ${e.message}`);
    throw e;
  }
  for (const p of allPublishes(state)) if (!publishedBefore.has(hostKey(p))) await refuseHostPort(p);

  kept ||= Object.keys(state.vpcs).some((name) => !named.has(name)) || state.peerings.length > topo.peerings.length;
  // What the file names was checked with it; what the state kept beside it must fit too
  // (a kept subnet may overlap a new one).
  if (!kept) return keptItems;
  try {
    validateTopology(topologyOf(state));
  } catch (e) {
    if (e instanceof VpcctlError) throw new VpcctlError(e.code, `with what vpcctl already has: ${e.message}`);
    throw e;
  }
  return keptItems;
}

/**
 * The /64 of each subnet of a dual-stack VPC: the one the file gives, else
 * the one the subnet had (a re-apply changes nothing), else the next free
 * one in the order of the file. None in an IPv4-only VPC.
 */
function ipv6Allocator(vpc: VpcState, specs: readonly { name: string; ipv6Cidr?: string | undefined }[], kept: Record<string, SubnetState>) {
  const vpc6 = vpc.ipv6Cidr;
  if (!vpc6) return (_s: { name: string }) => undefined;
  const inFile = new Set(specs.map((s) => s.name));
  const explicit = new Set(specs.flatMap((s) => (s.ipv6Cidr ? [s.ipv6Cidr] : [])));
  const taken = new Set<string>([
    ...explicit,
    ...Object.values(kept).filter((s) => !inFile.has(s.name)).flatMap((s) => (s.ipv6Cidr ? [s.ipv6Cidr] : [])),
  ]);
  const pool = parseCidr6(vpc6);
  const inside = (c: string) => contains6(pool, parseCidr6(c));
  // Previous allocations are kept first, then the rest fill the free /64s in order (one pass: hundreds of subnets).
  for (const s of specs) {
    const prev = vpc.subnets[s.name]?.ipv6Cidr;
    if (!s.ipv6Cidr && prev && inside(prev) && !explicit.has(prev)) taken.add(prev);
  }
  let cursor = 0;
  const count = countOf6(pool, SUBNET6_PREFIX);
  return (s: { name: string; ipv6Cidr?: string | undefined }): string => {
    if (s.ipv6Cidr) return s.ipv6Cidr;
    const prev = vpc.subnets[s.name]?.ipv6Cidr;
    if (prev && inside(prev) && !explicit.has(prev)) return prev;
    for (; cursor < count; cursor++) {
      const c = formatCidr6(nthSubnet6(pool, SUBNET6_PREFIX, cursor));
      if (!taken.has(c)) { taken.add(c); return c; }
    }
    return nextSubnet6(vpc6, [...taken]); // throws: no /64 left
  };
}

const hostKey = (p: { address: string; protocol: string; hostPort: number }) => `${p.address} ${p.protocol}/${p.hostPort}`;

/** A subnet's publishes as the state keeps them: the address resolved (default: the uplink's). */
async function publishEntries(list: PublishSpec[], vpc: VpcState, root: RootView, at: string): Promise<PublishState[]> {
  const net = await root();
  return list.map((p, k) => {
    try {
      return { port: p.port, hostPort: p.hostPort, protocol: p.protocol, address: hostAddress(net, vpc, p.address) };
    } catch (e) {
      if (e instanceof VpcctlError) throw new VpcctlError(e.code, `${at}[${k}]: ${e.message}`);
      throw e;
    }
  });
}

/** Where the uplink of a VPC of the file is given (its own, or the command line's). */
function uplinkPath(topo: Topology, vpc: string): string {
  const i = topo.vpcs.findIndex((v) => v.name === vpc);
  return topo.vpcs[i]?.uplink !== undefined ? `vpcs[${i}].uplink` : '--uplink';
}

/** The path in the file of what a claim of the host-route guard names (undefined: kept from the state). */
export function claimPath(topo: Topology, claim: Claim): string | undefined {
  const i = topo.vpcs.findIndex((v) => v.name === claim.vpc);
  if (i < 0) return undefined;
  if (claim.ipv6) return `vpcs[${i}].ipv6Cidr`;
  if (claim.subnet === undefined) return `vpcs[${i}].cidr`;
  const j = topo.vpcs[i]!.subnets.findIndex((s) => s.name === claim.subnet);
  return j < 0 ? undefined : `vpcs[${i}].subnets[${j}].cidr`;
}

/** Remove what a topology names: its VPCs (with their subnets and peerings). */
export function removeTopology(state: State, topo: Topology): string[] {
  const gone = topo.vpcs.map((v) => v.name).filter((name) => state.vpcs[name]);
  for (const name of gone) delete state.vpcs[name];
  state.peerings = state.peerings.filter((p) => state.vpcs[p.vpc1] && state.vpcs[p.vpc2]);
  return gone;
}
