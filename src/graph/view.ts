/**
 * What the graph renderers draw: a plain snapshot of the topology, built from
 * either a topology file or the state, so renderers depend on neither.
 */
import type { Topology } from '../model/schema.js';
import type { State } from '../state/types.js';

export interface SubnetView {
  name: string;
  /** Absent for an IPv6-only subnet. */
  cidr?: string;
  /** Dual-stack and IPv6-only subnets: the /64. */
  ipv6Cidr?: string;
  type: 'public' | 'private';
  /** Private subnets with a NAT gateway. */
  nat?: boolean;
  apps: Array<{ port: number }>;
  /** Published ports: host port -> port. */
  published?: Array<{ hostPort: number; port: number; protocol: string }>;
}

export interface VpcView {
  name: string;
  cidr: string;
  /** Dual-stack VPCs: the IPv6 prefix. */
  ipv6Cidr?: string;
  /** Host interface of the internet gateway; null when the VPC has no gateway. */
  uplink: string | null;
  /** Transit block between router and host; null when not allocated (yet). */
  transit: string | null;
  subnets: SubnetView[];
  /** Flow logs on: every subnet's policy decisions are logged. */
  flowLogs?: boolean;
}

export interface TopologyView {
  vpcs: VpcView[];
  peerings: Array<{ vpc1: string; vpc2: string }>;
}

/** Egress and published ports, only when there are some (views of the seed's topologies stay as they were). */
function extras(s: { egress?: string; publish?: Array<{ hostPort: number; port: number; protocol: string }> }): Partial<SubnetView> {
  return {
    ...(s.egress === 'nat' ? { nat: true } : {}),
    ...(s.publish?.length ? { published: s.publish.map((p) => ({ hostPort: p.hostPort, port: p.port, protocol: p.protocol })) } : {}),
  };
}

/** A topology file has no transit allocations yet; an absent uplink means the default route's interface. */
export function viewFromTopology(t: Topology): TopologyView {
  return {
    vpcs: t.vpcs.map((v) => ({
      name: v.name,
      cidr: v.cidr,
      ...(v.ipv6Cidr ? { ipv6Cidr: v.ipv6Cidr } : {}),
      uplink: v.uplink ?? '(default route)',
      transit: null,
      ...(v.flowLogs ? { flowLogs: true } : {}),
      subnets: v.subnets.map((s) => ({
        name: s.name, ...(s.cidr !== undefined ? { cidr: s.cidr } : {}), ...(s.ipv6Cidr ? { ipv6Cidr: s.ipv6Cidr } : {}), type: s.type,
        apps: s.apps.map((a) => ({ port: a.port })), ...extras(s),
      })),
    })),
    peerings: t.peerings.map((p) => ({ vpc1: p.vpc1, vpc2: p.vpc2 })),
  };
}

export function viewFromState(state: State): TopologyView {
  return {
    vpcs: Object.values(state.vpcs).map((v) => ({
      name: v.name,
      cidr: v.cidr,
      ...(v.ipv6Cidr ? { ipv6Cidr: v.ipv6Cidr } : {}),
      uplink: v.uplink,
      transit: v.transit,
      ...(v.flowLogs ? { flowLogs: true } : {}),
      subnets: Object.values(v.subnets).map((s) => ({
        name: s.name,
        ...(s.cidr !== undefined ? { cidr: s.cidr } : {}),
        ...(s.ipv6Cidr ? { ipv6Cidr: s.ipv6Cidr } : {}),
        type: s.type,
        apps: s.apps.map((a) => ({ port: a.port })),
        ...extras(s),
      })),
    })),
    peerings: state.peerings.map((p) => ({ vpc1: p.vpc1, vpc2: p.vpc2 })),
  };
}

/** Apps and published ports as a short label: ":80 :8080", ":80 · host :8080->80". */
export function appsLabel(s: SubnetView): string {
  const apps = s.apps.map((a) => `:${a.port}`).join(' ');
  const pub = (s.published ?? []).map((p) => `host :${p.hostPort}->${p.port}${p.protocol === 'udp' ? '/udp' : ''}`).join(' ');
  return [apps, pub].filter(Boolean).join(' · ');
}

/** The subnet's type with its egress: "public", "private", "private NAT". */
export const typeLabel = (s: SubnetView): string => (s.type === 'private' && s.nat ? 'private NAT' : s.type);

/**
 * A CIDR with the IPv6 prefix of a dual-stack object: "10.0.1.0/24",
 * "10.0.1.0/24 · fd00:10::/64"; an IPv6-only subnet: "fd00:10::/64 · IPv6-only".
 */
export const cidrLabel = (o: { cidr?: string; ipv6Cidr?: string }): string =>
  (o.cidr === undefined ? `${o.ipv6Cidr} · IPv6-only` : o.ipv6Cidr ? `${o.cidr} · ${o.ipv6Cidr}` : o.cidr);

/** The VPC's CIDR(s), with its flow logs when on: "10.0.0.0/16", "10.0.0.0/16 · flow logs". */
export const vpcLabel = (v: VpcView): string => (v.flowLogs ? `${cidrLabel(v)} · flow logs` : cidrLabel(v));
