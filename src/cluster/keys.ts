/**
 * The cluster's intent in etcd: one key per object under one prefix, values
 * JSON. Pure functions only (no etcd here), so the layout is unit-tested and
 * the same code encodes what a CLI writes and decodes what an agent reads.
 *
 *   /vpcctl/v1/vpcs/<vpc>                  {name,cidr,uplink?,vni,gen}
 *   /vpcctl/v1/subnets/<vpc>/<subnet>      {name,cidr,type,host}
 *   /vpcctl/v1/policies/<vpc>/<subnet>     the subnet's policy document
 *   /vpcctl/v1/apps/<vpc>/<subnet>/<port>  {port,command?,user?}
 *   /vpcctl/v1/peerings/<vpc1>/<vpc2>      {vpc1,vpc2} (names in sorted order)
 *   /vpcctl/v1/hosts/<host>                {name,underlay,joinedAt} (membership: stays while down)
 *   /vpcctl/v1/live/<host>                 {name,since}, attached to the host's lease (liveness)
 *   /vpcctl/v1/alloc/vni/<n>               "<vpc>": the VNI is taken (create-only guard)
 *   /vpcctl/v1/alloc/host/<n>              "<host>": the host index is taken (overlay address and MAC)
 *   /vpcctl/v1/status/<host>/...           what the host's agent applied (written by the agent only)
 *
 * Membership and liveness are two keys because a leased key vanishes with
 * its lease: `cluster status` must still list a host that is down.
 */
import type { SubnetPolicy } from '../model/schema.js';
import type { SubnetType } from '../state/types.js';

export const PREFIX = '/vpcctl/v1/';

export interface VpcIntent {
  name: string;
  cidr: string;
  uplink?: string;
  /** The VXLAN network identifier of the VPC across hosts (unique, allocated in etcd). */
  vni: number;
  /**
   * Bumped by every write that touches the VPC or anything in it. Writers
   * guard on this key's revision, so two writers adding sibling subnets
   * (which must not overlap) serialise instead of both passing the check.
   */
  gen: number;
}
export interface SubnetIntent { name: string; cidr: string; type: SubnetType; host: string; egress?: 'nat' }
export interface AppIntent { port: number; command?: string[] | string; user?: string }
export interface PeeringIntent { vpc1: string; vpc2: string }
export interface HostRecord {
  name: string;
  underlay: string;
  joinedAt: string;
  /** Small unique number given at join: the host's overlay address and MAC follow from it (overlay.ts). */
  index?: number;
}

/** Everything the cluster is asked to run; keyed maps so lookups are O(1). */
export interface Intent {
  vpcs: Record<string, VpcIntent>;
  /** vpc -> subnet -> subnet */
  subnets: Record<string, Record<string, SubnetIntent>>;
  policies: Record<string, Record<string, SubnetPolicy>>;
  /** vpc -> subnet -> port -> app */
  apps: Record<string, Record<string, Record<string, AppIntent>>>;
  /** "<vpc1>/<vpc2>" -> peering */
  peerings: Record<string, PeeringIntent>;
  hosts: Record<string, HostRecord>;
  /** VNI -> vpc */
  vnis: Record<string, string>;
  /** host index -> host (create-only keys: two hosts joining at once cannot take one) */
  hostIndexes: Record<string, string>;
}

export const emptyIntent = (): Intent => ({ vpcs: {}, subnets: {}, policies: {}, apps: {}, peerings: {}, hosts: {}, vnis: {}, hostIndexes: {} });

export const key = {
  vpc: (vpc: string) => `${PREFIX}vpcs/${vpc}`,
  subnet: (vpc: string, subnet: string) => `${PREFIX}subnets/${vpc}/${subnet}`,
  policy: (vpc: string, subnet: string) => `${PREFIX}policies/${vpc}/${subnet}`,
  app: (vpc: string, subnet: string, port: number | string) => `${PREFIX}apps/${vpc}/${subnet}/${port}`,
  peering: (a: string, b: string) => `${PREFIX}peerings/${peeringId(a, b)}`,
  host: (host: string) => `${PREFIX}hosts/${host}`,
  live: (host: string) => `${PREFIX}live/${host}`,
  vni: (n: number | string) => `${PREFIX}alloc/vni/${n}`,
  hostIndex: (n: number | string) => `${PREFIX}alloc/host/${n}`,
  status: (host: string) => `${PREFIX}status/${host}/`,
  agentStatus: (host: string) => `${PREFIX}status/${host}/agent`,
  subnetStatus: (host: string, vpc: string, subnet: string) => `${PREFIX}status/${host}/subnets/${vpc}/${subnet}`,
};

export const peeringId = (a: string, b: string) => (a < b ? `${a}/${b}` : `${b}/${a}`);

/** The keys that carry intent (what `readIntent` loads); status and liveness are read apart. */
export const INTENT_PARTS = ['vpcs/', 'subnets/', 'policies/', 'apps/', 'peerings/', 'hosts/', 'alloc/'] as const;

const nest = <T>(root: Record<string, Record<string, T>>, a: string): Record<string, T> => (root[a] ??= {});

/** Decode the (key, JSON) pairs under PREFIX into an intent; keys of other kinds are ignored. */
export function decodeIntent(entries: Iterable<[string, string]>): Intent {
  const intent = emptyIntent();
  for (const [k, text] of entries) {
    if (!k.startsWith(PREFIX)) continue;
    const parts = k.slice(PREFIX.length).split('/');
    const value = JSON.parse(text);
    switch (parts[0]) {
      case 'vpcs': if (parts.length === 2) intent.vpcs[parts[1]!] = value; break;
      case 'subnets': if (parts.length === 3) nest(intent.subnets, parts[1]!)[parts[2]!] = value; break;
      case 'policies': if (parts.length === 3) nest(intent.policies, parts[1]!)[parts[2]!] = value; break;
      case 'apps': if (parts.length === 4) nest(nest(intent.apps, parts[1]!), parts[2]!)[parts[3]!] = value; break;
      case 'peerings': if (parts.length === 3) intent.peerings[`${parts[1]}/${parts[2]}`] = value; break;
      case 'hosts': if (parts.length === 2) intent.hosts[parts[1]!] = value; break;
      case 'alloc':
        if (parts.length === 3 && parts[1] === 'vni') intent.vnis[parts[2]!] = value;
        if (parts.length === 3 && parts[1] === 'host') intent.hostIndexes[parts[2]!] = value;
        break;
    }
  }
  return intent;
}

/** The intent as (key -> JSON) pairs: the inverse of decodeIntent. */
export function encodeIntent(intent: Intent): Map<string, string> {
  const out = new Map<string, string>();
  const put = (k: string, v: unknown) => out.set(k, JSON.stringify(v));
  for (const v of Object.values(intent.vpcs)) put(key.vpc(v.name), v);
  for (const [vpc, subs] of Object.entries(intent.subnets)) for (const s of Object.values(subs)) put(key.subnet(vpc, s.name), s);
  for (const [vpc, subs] of Object.entries(intent.policies)) for (const [s, p] of Object.entries(subs)) put(key.policy(vpc, s), p);
  for (const [vpc, subs] of Object.entries(intent.apps)) {
    for (const [s, ports] of Object.entries(subs)) for (const [port, a] of Object.entries(ports)) put(key.app(vpc, s, port), a);
  }
  for (const p of Object.values(intent.peerings)) put(key.peering(p.vpc1, p.vpc2), p);
  for (const h of Object.values(intent.hosts)) put(key.host(h.name), h);
  for (const [n, vpc] of Object.entries(intent.vnis)) put(key.vni(n), vpc);
  for (const [n, host] of Object.entries(intent.hostIndexes)) put(key.hostIndex(n), host);
  return out;
}

/** The VPC a key belongs to (its writes bump that VPC's gen), or undefined for cluster-wide keys. */
export function vpcOfKey(k: string): string | undefined {
  const parts = k.slice(PREFIX.length).split('/');
  if (['vpcs', 'subnets', 'policies', 'apps'].includes(parts[0]!)) return parts[1];
  return undefined;
}

/** The VPCs a key touches: a peering touches both its VPCs. */
export function vpcsOfKey(k: string): string[] {
  const parts = k.slice(PREFIX.length).split('/');
  if (parts[0] === 'peerings') return [parts[1]!, parts[2]!];
  const one = vpcOfKey(k);
  return one === undefined ? [] : [one];
}

export interface KeyDiff { puts: Map<string, string>; dels: string[] }

/** What turns `before` into `after`: changed or new keys to put, vanished keys to delete. */
export function diffEncoded(before: Map<string, string>, after: Map<string, string>): KeyDiff {
  const puts = new Map<string, string>();
  for (const [k, v] of after) if (before.get(k) !== v) puts.set(k, v);
  const dels = [...before.keys()].filter((k) => !after.has(k));
  return { puts, dels };
}
