/**
 * What `list-vpcs` and `show-vpc` show on a cluster host: the cluster's
 * intent (every VPC, every subnet with the host it runs on), not the local
 * state, which holds only this host's share of it. Pure: from an Intent.
 */
import { VpcctlError } from '../errors.js';
import type { VpcSummary } from '../api/inspect.js';
import type { Intent } from './keys.js';

/** A subnet as the cluster places it. */
export interface ClusterSubnet {
  name: string;
  cidr: string;
  type: 'public' | 'private';
  egress: 'internet gateway' | 'nat' | 'none';
  /** The cluster host that runs it. */
  host: string;
  policy: boolean;
  /** Ports of the apps the intent asks for (whether they run: `cluster status`). */
  apps: number[];
}

/** One VPC of the cluster: its subnets across hosts and its peers. */
export interface ClusterVpc {
  name: string;
  cidr: string;
  uplink: string | null;
  vni: number;
  peers: string[];
  /** The hosts that hold a subnet of the VPC, sorted. */
  hosts: string[];
  subnets: ClusterSubnet[];
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function peersOf(intent: Intent, vpc: string): string[] {
  return Object.values(intent.peerings)
    .flatMap((p) => (p.vpc1 === vpc ? [p.vpc2] : p.vpc2 === vpc ? [p.vpc1] : []))
    .sort();
}

export function clusterVpc(intent: Intent, name: string): ClusterVpc {
  const v = intent.vpcs[name];
  if (!v) throw new VpcctlError('NOT_FOUND', `vpc "${name}" does not exist in the cluster`);
  const subnets = Object.values(intent.subnets[name] ?? {}).map((s): ClusterSubnet => ({
    name: s.name, cidr: s.cidr, type: s.type, host: s.host,
    egress: s.type === 'public' ? 'internet gateway' : s.egress === 'nat' ? 'nat' : 'none',
    policy: intent.policies[name]?.[s.name] !== undefined,
    apps: Object.keys(intent.apps[name]?.[s.name] ?? {}).map(Number).sort((a, b) => a - b),
  })).sort(byName);
  return {
    name, cidr: v.cidr, uplink: v.uplink ?? null, vni: v.vni, peers: peersOf(intent, name),
    hosts: [...new Set(subnets.map((s) => s.host))].sort(), subnets,
  };
}

/** Every VPC of the cluster, as `list-vpcs` rows (the same shape as on one host). */
export function clusterVpcs(intent: Intent): VpcSummary[] {
  return Object.keys(intent.vpcs).sort().map((name) => {
    const v = clusterVpc(intent, name);
    const pub = v.subnets.filter((s) => s.type === 'public').length;
    return { name, cidr: v.cidr, subnets: v.subnets.length, public: pub, private: v.subnets.length - pub, peers: v.peers, uplink: v.uplink };
  });
}
