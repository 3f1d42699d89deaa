/**
 * Semantic checks across objects: what the schema cannot see. The small
 * checkers are shared with the single-object CLI commands; `at` is the
 * context prefixed to the message ("vpcs[0].subnets[1]" in a file, nothing or
 * a phrase on the command line), so both read naturally.
 */
import { VpcctlError, issuesError, type ErrorCode } from '../errors.js';
import { type Cidr, checkPrefix, contains, formatCidr, overlaps, parseCidr } from './cidr.js';
import { hostNs } from './names.js';
import { peerOf, samePair } from './peering.js';
import { checkNotSpecial } from './special-ranges.js';
import { checkPublishable } from './publish.js';
import {
  type Cidr6, isV6Text, checkNotSpecial6, checkPrefix6, contains6, ulaFor, countOf6, formatCidr6, nthSubnet6, overlaps6, parseCidr6,
} from './cidr6.js';
import type { Topology } from './schema.js';

export const VPC_PREFIX = { min: 8, max: 28 } as const;
/** A /31 or /32 has no room for the gateway (.1) plus a host (.2). */
export const SUBNET_PREFIX = { min: 8, max: 30 } as const;

/**
 * IPv6: a VPC takes /44 to /60 (AWS's range; a /56 is the usual and what
 * `--ipv6` derives), a subnet exactly a /64, the size every IPv6 link is
 * meant to have (RFC 4291 interface identifiers).
 */
export const VPC6_PREFIX = { min: 44, max: 60 } as const;
export const SUBNET6_PREFIX = 64;

export interface NamedCidr {
  name: string;
  cidr: Cidr | string;
}
export interface PeeringRef {
  vpc1: string;
  vpc2: string;
}

const fail = (code: ErrorCode, at: string | undefined, message: string): never => {
  throw new VpcctlError(code, at ? `${at}: ${message}` : message);
};

/** Run a check from cidr.ts, keeping its code but adding our context. */
const withAt = <T>(at: string | undefined, fn: () => T): T => {
  try {
    return fn();
  } catch (err) {
    if (at && err instanceof VpcctlError) throw new VpcctlError(err.code, `${at}: ${err.message}`, { cause: err });
    throw err;
  }
};

const asCidr = (c: Cidr | string, what: string, at?: string): Cidr =>
  typeof c === 'string' ? withAt(at, () => parseCidr(c, { what })) : c;
const show = (c: Cidr | string): string => (typeof c === 'string' ? c : formatCidr(c));

export function checkVpcCidr(cidr: Cidr | string, at?: string): Cidr {
  const c = asCidr(cidr, 'vpc', at);
  withAt(at, () => checkPrefix(c, VPC_PREFIX.min, VPC_PREFIX.max, 'vpc'));
  withAt(at, () => checkNotSpecial(c, 'vpc'));
  return c;
}

/** A subnet must fit its VPC and not overlap its siblings (the router would have two routes). */
export function checkSubnetCidr(
  vpcCidr: Cidr | string,
  subnetCidr: Cidr | string,
  siblings: readonly NamedCidr[],
  at?: string,
): Cidr {
  const vpc = asCidr(vpcCidr, 'vpc', at);
  const c = asCidr(subnetCidr, 'subnet', at);
  withAt(at, () => checkPrefix(c, SUBNET_PREFIX.min, SUBNET_PREFIX.max, 'subnet'));
  withAt(at, () => checkNotSpecial(c, 'subnet'));
  if (!contains(vpc, c)) fail('INVALID_CIDR', at, `${formatCidr(c)} is not inside the vpc's CIDR ${formatCidr(vpc)}`);
  for (const s of siblings) {
    if (overlaps(c, asCidr(s.cidr, 'subnet'))) {
      fail('OVERLAP', at, `${formatCidr(c)} overlaps subnet "${s.name}" (${show(s.cidr)})`);
    }
  }
  return c;
}

const asCidr6 = (c: Cidr6 | string, what: string, at?: string): Cidr6 =>
  typeof c === 'string' ? withAt(at, () => parseCidr6(c, { what })) : c;

export function checkVpcCidr6(cidr: Cidr6 | string, at?: string): Cidr6 {
  const c = asCidr6(cidr, 'vpc', at);
  withAt(at, () => checkPrefix6(c, VPC6_PREFIX.min, VPC6_PREFIX.max, 'vpc'));
  withAt(at, () => checkNotSpecial6(c, 'vpc'));
  return c;
}

/**
 * A subnet without an IPv4 CIDR is IPv6-only: possible only in a
 * dual-stack VPC (the VPC itself always keeps its IPv4 CIDR, as in AWS).
 */
export function checkIpv6Only(vpc: string, dualStack: boolean, at?: string): void {
  if (!dualStack) {
    fail('INVALID_INPUT', at, `a subnet of vpc "${vpc}" needs an IPv4 cidr: the vpc is IPv4-only (only a dual-stack vpc, made with an IPv6 cidr, has IPv6-only subnets)`);
  }
}

/** The subnets of a VPC that have an IPv4 block (IPv6-only ones have none to overlap). */
export const ipv4Subnets = (subnets: Record<string, { name: string; cidr?: string | undefined }>): NamedCidr[] =>
  Object.values(subnets).flatMap((s) => (s.cidr !== undefined ? [{ name: s.name, cidr: s.cidr }] : []));

/** A VPC's IPv6 prefix as asked: given, derived from its name (`ipv6: true`), or none. */
export const vpcIpv6 = (v: { name: string; ipv6Cidr?: string | undefined; ipv6?: boolean | undefined }): string | undefined =>
  v.ipv6Cidr ?? (v.ipv6 ? ulaFor(v.name) : undefined);

export interface NamedCidr6 { name: string; cidr: Cidr6 | string }

/** An IPv6 subnet: a /64 inside its VPC's prefix, overlapping no sibling's. */
export function checkSubnetCidr6(vpcCidr: Cidr6 | string, subnetCidr: Cidr6 | string, siblings: readonly NamedCidr6[], at?: string): Cidr6 {
  const vpc = asCidr6(vpcCidr, 'vpc', at);
  const c = asCidr6(subnetCidr, 'subnet', at);
  withAt(at, () => checkPrefix6(c, SUBNET6_PREFIX, SUBNET6_PREFIX, 'subnet'));
  withAt(at, () => checkNotSpecial6(c, 'subnet'));
  if (!contains6(vpc, c)) fail('INVALID_CIDR', at, `${formatCidr6(c)} is not inside the vpc's IPv6 CIDR ${formatCidr6(vpc)}`);
  for (const s of siblings) {
    const sc = asCidr6(s.cidr, 'subnet');
    if (overlaps6(c, sc)) fail('OVERLAP', at, `${formatCidr6(c)} overlaps subnet "${s.name}" (${formatCidr6(sc)})`);
  }
  return c;
}

/** The first /64 of `vpcCidr` that none of `taken` overlaps (allocation in order). */
export function nextSubnet6(vpcCidr: string, taken: readonly string[], at?: string): string {
  const vpc = parseCidr6(vpcCidr);
  const used = new Set(taken);
  const count = countOf6(vpc, SUBNET6_PREFIX);
  for (let i = 0; i < count; i++) {
    const text = formatCidr6(nthSubnet6(vpc, SUBNET6_PREFIX, i));
    if (!used.has(text)) return text;
  }
  return fail('CONFLICT', at, `vpc IPv6 CIDR ${vpcCidr} has no free /64 left`);
}

/**
 * Egress is a private subnet's choice (`nat` or `none`): a public subnet
 * always reaches the internet through the internet gateway, so either value
 * there would promise what vpcctl does not do.
 */
export function checkEgress(type: string, egress: string | undefined, at?: string): void {
  if (egress === undefined) return;
  if (egress !== 'nat' && egress !== 'none') fail('INVALID_INPUT', at, `egress "${egress}" is invalid: use nat or none`);
  if (type !== 'private') {
    fail('INVALID_INPUT', at, `egress ${egress} applies to private subnets only: a public subnet reaches the internet through the internet gateway`);
  }
}

/**
 * Host namespace names join vpc and subnet with '-', which names may contain:
 * ("a-b", "c") and ("a", "b-c") would share ns-a-b-c.
 */
export function checkHostNsFree(
  vpc: string,
  subnet: string,
  existing: Iterable<{ vpc: string; subnet: string }>,
  at?: string,
): void {
  const ns = hostNs(vpc, subnet);
  for (const e of existing) {
    if ((e.vpc !== vpc || e.subnet !== subnet) && hostNs(e.vpc, e.subnet) === ns) {
      fail('CONFLICT', at, `subnet "${subnet}" of vpc "${vpc}" would use namespace "${ns}", already used by subnet "${e.subnet}" of vpc "${e.vpc}"`);
    }
  }
}

/** An app port is bound in the subnet's host namespace: one app per port. */
export function checkAppPort(port: number, usedPorts: Iterable<number>, at?: string): void {
  for (const p of usedPorts) if (p === port) fail('IN_USE', at, `port ${port} is already used by another app in this subnet`);
}

/**
 * A peering routes each VPC's CIDR into the other's router, so the CIDRs must
 * be disjoint, and each VPC's peers must be disjoint from each other (else its
 * router would have two routes for one destination).
 */
export function checkPeering(
  vpcs: readonly NamedCidr[],
  peering: PeeringRef,
  existing: readonly PeeringRef[],
  at?: string,
): void {
  const byName = new Map(vpcs.map((v) => [v.name, v]));
  const find = (name: string): NamedCidr => byName.get(name) ?? fail('NOT_FOUND', at, `vpc "${name}" does not exist`);
  const a = find(peering.vpc1);
  const b = find(peering.vpc2);
  if (a.name === b.name) fail('CONFLICT', at, `vpc "${a.name}" cannot peer with itself`);
  if (existing.some((p) => samePair(p, a.name, b.name))) fail('CONFLICT', at, `vpcs "${a.name}" and "${b.name}" are already peered`);
  const ac = asCidr(a.cidr, 'vpc');
  const bc = asCidr(b.cidr, 'vpc');
  if (overlaps(ac, bc)) {
    fail('OVERLAP', at, `vpc "${a.name}" (${formatCidr(ac)}) overlaps vpc "${b.name}" (${formatCidr(bc)}); peered vpcs need disjoint CIDRs`);
  }
  // IPv6 is routed between peers only when both are dual-stack: then the prefixes must be disjoint too.
  const a6 = vpcIpv6(a as NamedCidr & { ipv6Cidr?: string });
  const b6 = vpcIpv6(b as NamedCidr & { ipv6Cidr?: string });
  if (a6 && b6 && overlaps6(parseCidr6(a6), parseCidr6(b6))) {
    fail('OVERLAP', at, `vpc "${a.name}" (${a6}) overlaps vpc "${b.name}" (${b6}); peered vpcs need disjoint IPv6 CIDRs`);
  }
  // The new peer of each side must not overlap that side's existing peers.
  for (const [self, other, otherCidr] of [[a, b, bc], [b, a, ac]] as const) {
    for (const p of existing) {
      const peerName = peerOf(p, self.name);
      const peer = peerName === null ? undefined : byName.get(peerName);
      if (!peer) continue;
      const pc = asCidr(peer.cidr, 'vpc');
      if (overlaps(pc, otherCidr)) {
        fail(
          'OVERLAP',
          at,
          `vpc "${self.name}" is already peered with "${peer.name}" (${formatCidr(pc)}), which overlaps "${other.name}" (${formatCidr(otherCidr)}): routes in "${self.name}" would be ambiguous`,
        );
      }
    }
  }
}

/**
 * Every semantic rule of a topology. Checks go on past a violation, so the
 * error names every problem with its path (one per line), not only the
 * first; a check that needs a value found bad (a subnet inside a VPC whose
 * CIDR is invalid) is skipped rather than reported twice.
 */
export function validateTopology(topology: Topology): Topology {
  const problems: VpcctlError[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof VpcctlError)) throw e;
      problems.push(e);
      return undefined;
    }
  };
  const vpcNames = new Map<string, number>();
  const hosts = new Map<string, { vpc: string; subnet: string }>();
  topology.vpcs.forEach((vpc, i) => {
    const at = `vpcs[${i}]`;
    const dup = vpcNames.get(vpc.name);
    if (dup !== undefined) attempt(() => fail('CONFLICT', `${at}.name`, `vpc "${vpc.name}" is also defined at vpcs[${dup}]`));
    else vpcNames.set(vpc.name, i);
    const vpcCidr = attempt(() => checkVpcCidr(vpc.cidr, `${at}.cidr`));
    const own6 = vpcIpv6(vpc);
    const vpc6 = own6 === undefined ? undefined : attempt(() => checkVpcCidr6(own6, `${at}.ipv6Cidr`));
    const blocks6 = new Map<string, number>();

    // Maps and one sort, not pairwise scans: topologies have hundreds of subnets.
    const names = new Map<string, number>();
    const blocks: Array<{ name: string; cidr: Cidr; index: number }> = [];
    vpc.subnets.forEach((subnet, j) => {
      const sat = `${at}.subnets[${j}]`;
      const twin = names.get(subnet.name);
      if (twin !== undefined) attempt(() => fail('CONFLICT', `${sat}.name`, `subnet "${subnet.name}" is also defined at ${at}.subnets[${twin}]`));
      else names.set(subnet.name, j);
      // No cidr: an IPv6-only subnet, which only a dual-stack VPC has (its /64 is allocated if not given).
      if (subnet.cidr === undefined) attempt(() => checkIpv6Only(vpc.name, own6 !== undefined, `${sat}.cidr`));
      const cidr = vpcCidr && subnet.cidr !== undefined ? attempt(() => checkSubnetCidr(vpcCidr, subnet.cidr!, [], sat)) : undefined;
      const ns = hostNs(vpc.name, subnet.name);
      const other = hosts.get(ns);
      if (other) attempt(() => checkHostNsFree(vpc.name, subnet.name, [other], sat));
      hosts.set(ns, { vpc: vpc.name, subnet: subnet.name });
      if (cidr) blocks.push({ name: subnet.name, cidr, index: j });
      if (subnet.ipv6Cidr !== undefined) {
        if (own6 === undefined) {
          attempt(() => fail('INVALID_INPUT', `${sat}.ipv6Cidr`, `vpc "${vpc.name}" has no IPv6 CIDR: give it ipv6Cidr (or ipv6: true) to have IPv6 subnets`));
        } else {
          // A /64 is equal or disjoint to another: one map finds the twins.
          const c6 = attempt(() => (vpc6 ? checkSubnetCidr6(vpc6, subnet.ipv6Cidr!, [], `${sat}.ipv6Cidr`) : parseCidr6(subnet.ipv6Cidr!)));
          const twin6 = c6 ? blocks6.get(formatCidr6(c6)) : undefined;
          if (c6 && twin6 !== undefined) {
            attempt(() => fail('OVERLAP', `${sat}.ipv6Cidr`, `${formatCidr6(c6)} overlaps subnet "${vpc.subnets[twin6]!.name}" (${formatCidr6(c6)})`));
          } else if (c6) blocks6.set(formatCidr6(c6), j);
        }
      }

      attempt(() => checkEgress(subnet.type, subnet.egress, `${sat}.egress`));
      if (subnet.publish?.length) attempt(() => checkPublishable(subnet, vpc.name, `${sat}.publish`));
      const policySubnet = subnet.policy?.subnet;
      if (cidr && policySubnet !== undefined && policySubnet !== formatCidr(cidr)) {
        attempt(() => fail('INVALID_POLICY', `${sat}.policy.subnet`, `${policySubnet} is not this subnet's CIDR (${formatCidr(cidr)})`));
      }
      // An IPv6-only subnet's policy names its /64 (when the file gives one: an allocated /64 is not known here).
      if (subnet.cidr === undefined && policySubnet !== undefined && (!isV6Text(policySubnet) || (subnet.ipv6Cidr !== undefined && policySubnet !== subnet.ipv6Cidr))) {
        attempt(() => fail('INVALID_POLICY', `${sat}.policy.subnet`, `${policySubnet} is not this IPv6-only subnet's CIDR${subnet.ipv6Cidr ? ` (${subnet.ipv6Cidr})` : ''}`));
      }
      const ports: number[] = [];
      subnet.apps.forEach((app, k) => {
        attempt(() => checkAppPort(app.port, ports, `${sat}.apps[${k}].port`));
        ports.push(app.port);
      });
    });
    // Sorted by network, a block that overlaps any later one overlaps the next one.
    blocks.sort((a, b) => a.cidr.network - b.cidr.network || a.cidr.prefix - b.cidr.prefix);
    for (let k = 1; k < blocks.length; k++) {
      const [a, b] = [blocks[k - 1]!, blocks[k]!];
      if (!overlaps(a.cidr, b.cidr)) continue;
      const [first, later] = a.index < b.index ? [a, b] : [b, a];
      attempt(() => checkSubnetCidr(vpcCidr!, later.cidr, [first], `${at}.subnets[${later.index}]`));
    }
  });

  // A peering of a VPC whose CIDR is bad (reported above) cannot be checked further.
  const badCidr = new Set(topology.vpcs.filter((v) => !validCidr(v.cidr)).map((v) => v.name));
  const done: PeeringRef[] = [];
  topology.peerings.forEach((p, k) => {
    if (badCidr.has(p.vpc1) || badCidr.has(p.vpc2)) return;
    if (attempt(() => { checkPeering(topology.vpcs, p, done, `peerings[${k}]`); return true; })) done.push(p);
  });
  if (problems.length > 0) throw issuesError(problems[0]!.code, problems.map((e) => e.message));
  return topology;
}

function validCidr(text: string): boolean {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}
