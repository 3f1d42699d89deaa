/**
 * Published ports as the model sees them: entries on subnets grouped into
 * publishes (one per VPC, protocol and host port; several subnets make a
 * load balancer), the rules that keep them unambiguous, and whether a
 * subnet's policy lets the port in. Pure: the firewall compilers, the API
 * and the validation of a topology all read publishes through here.
 */
import { VpcctlError } from '../errors.js';
import { hostIp } from './addresses.js';
import { portRangesOf } from './ports.js';
import type { SubnetPolicy } from './schema.js';
import type { PublishProtocol, State, SubnetState, VpcState } from '../state/types.js';

export interface PublishTarget { subnet: string; host: string }

/** One publish: `address:hostPort/protocol` on the host to `port` on each target. */
export interface Publish {
  vpc: string;
  protocol: PublishProtocol;
  hostPort: number;
  port: number;
  address: string;
  /** Sorted by subnet name: the order of the load balancer's map. */
  targets: PublishTarget[];
}

/**
 * Publishing is IPv4 DNAT at the host (an address of the host to the
 * subnet's IPv4 host): an IPv6-only subnet has no IPv4 host to take it.
 */
export function checkPublishable(s: Pick<SubnetState, 'name' | 'cidr'>, vpc: string, at?: string): void {
  if (s.cidr !== undefined) return;
  const message = `subnet "${s.name}" of vpc "${vpc}" is IPv6-only: publish forwards an IPv4 host port to the subnet's IPv4 host (DNAT), and it has none`;
  throw new VpcctlError('INVALID_INPUT', at ? `${at}: ${message}` : message);
}

export const publishKey = (p: { protocol: string; hostPort: number }): string => `${p.protocol}/${p.hostPort}`;
export const describePublish = (p: Pick<Publish, 'address' | 'hostPort' | 'protocol'>): string =>
  `${p.address}:${p.hostPort}/${p.protocol}`;

/**
 * The publishes of a VPC, sorted by protocol and host port. Entries that
 * disagree (another port or address for the same host port) are a CONFLICT:
 * the state never holds them (checkPublishes), a hand-edited one is refused.
 */
export function publishesOf(vpc: VpcState): Publish[] {
  const groups = new Map<string, Publish>();
  // Most subnets publish nothing: sort only those that do (this runs for every router table and plan).
  const subnets = Object.values(vpc.subnets).filter((s) => s.publish?.length)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const s of subnets) {
    checkPublishable(s, vpc.name);
    const host = hostIp(s.cidr!);
    for (const e of s.publish ?? []) {
      const key = publishKey(e);
      const g = groups.get(key);
      if (!g) {
        groups.set(key, { vpc: vpc.name, protocol: e.protocol, hostPort: e.hostPort, port: e.port, address: e.address, targets: [{ subnet: s.name, host }] });
        continue;
      }
      if (g.port !== e.port || g.address !== e.address) {
        throw new VpcctlError('CONFLICT', `vpc "${vpc.name}" publishes ${e.protocol} host port ${e.hostPort} twice, to port ${g.port} at ${g.address} (subnet "${g.targets[0]!.subnet}") and to port ${e.port} at ${e.address} (subnet "${s.name}"): one host port is one publish; list its subnets as targets`);
      }
      if (!g.targets.some((t) => t.subnet === s.name)) g.targets.push({ subnet: s.name, host });
    }
  }
  return [...groups.values()].sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : a.hostPort - b.hostPort));
}

/** Every publish of the state, VPC by VPC. */
export const allPublishes = (state: State): Publish[] => Object.values(state.vpcs).flatMap(publishesOf);

/**
 * The rules across VPCs: a host address, protocol and port is one publish
 * (two VPCs cannot both take 203.0.113.1:8080/tcp), and a VPC has no
 * publish without an internet gateway (its router has no transit address to
 * take it in). Throws CONFLICT (exit 2) naming both sides.
 */
export function checkPublishes(state: State): void {
  const seen = new Map<string, Publish>();
  for (const v of Object.values(state.vpcs)) {
    const mine = publishesOf(v);
    if (mine.length > 0 && !v.transit) {
      throw new VpcctlError('CONFLICT', `vpc "${v.name}" has no internet gateway (no uplink): it cannot publish ${describePublish(mine[0]!)}`);
    }
    for (const p of mine) {
      const key = `${p.address} ${publishKey(p)}`;
      const other = seen.get(key);
      if (other) {
        throw new VpcctlError('CONFLICT', `host port ${describePublish(p)} is published by vpc "${other.vpc}" (to ${other.targets.map((t) => t.subnet).join(', ')}): vpc "${p.vpc}" cannot publish it too`);
      }
      seen.set(key, p);
    }
  }
}

/**
 * What a subnet's policy does to a new connection to `port` from anywhere:
 * the first rule that surely matches it (protocol and port, no source
 * range) decides, else `default`. A rule with a source range that would
 * deny it makes the answer `maybe`: some clients are refused.
 */
export function policyVerdict(policy: Pick<SubnetPolicy, 'ingress' | 'default'> | undefined, protocol: PublishProtocol, port: number): 'allow' | 'deny' | 'maybe' {
  if (!policy) return 'allow';
  let partial = false;
  for (const r of policy.ingress) {
    const proto = r.protocol === 'all' || r.protocol === protocol;
    const ports = r.port === undefined || portRangesOf(r.port).some(([lo, hi]) => lo <= port && port <= hi);
    if (!proto || !ports) continue;
    if (r.cidr !== undefined) {
      if (r.action === 'deny') partial = true;
      continue;
    }
    return r.action === 'deny' ? 'deny' : partial ? 'maybe' : 'allow';
  }
  if (policy.default === 'deny') return 'deny';
  return partial ? 'maybe' : 'allow';
}

/** Warnings for targets whose policy keeps the published port closed (the publish is made anyway). */
export function policyWarnings(vpc: VpcState, p: Publish): string[] {
  const out: string[] = [];
  for (const t of p.targets) {
    const s: SubnetState | undefined = vpc.subnets[t.subnet];
    const verdict = policyVerdict(s?.policy, p.protocol, p.port);
    if (verdict === 'allow') continue;
    out.push(`the policy of subnet "${t.subnet}" ${verdict === 'deny' ? 'denies' : 'denies some sources of'} ${p.protocol} port ${p.port}: ${describePublish(p)} stays closed${verdict === 'maybe' ? ' to them' : ''} until the policy allows it`);
  }
  return out;
}
