/**
 * The commands' changes to the cluster intent, as pure functions of an
 * Intent draft (ClusterStore.transact runs them, retries them on a lost
 * race, and writes the difference). Each ends by checking the whole intent
 * with the topology file's rules (validateTopology), so a cluster accepts
 * exactly what one host would.
 */
import { VpcctlError } from '../errors.js';
import { formatCidr, parseCidr } from '../model/cidr.js';
import { validateName } from '../model/names.js';
import type { SubnetPolicy as SubnetPolicyDoc, Topology, TopologyInput } from '../model/schema.js';
import { checkSubnetCidr, validateTopology } from '../model/validate.js';
import type { SubnetType } from '../state/types.js';
import { peeringId, type Intent } from './keys.js';
import { checkMember, hostLoad, pickHost } from './placement.js';

const norm = (cidr: string, what?: 'vpc' | 'subnet') => formatCidr(parseCidr(cidr, what ? { what } : undefined));

/** The intent as a topology (hosts dropped): what validateTopology checks. */
export function topologyOfIntent(intent: Intent): Topology {
  return {
    vpcs: Object.values(intent.vpcs).map((v) => ({
      name: v.name, cidr: v.cidr, ...(v.uplink ? { uplink: v.uplink } : {}),
      subnets: Object.values(intent.subnets[v.name] ?? {}).map((s) => {
        const policy = intent.policies[v.name]?.[s.name];
        return {
          name: s.name, cidr: s.cidr, type: s.type, ...(s.egress ? { egress: s.egress } : {}), ...(policy ? { policy } : {}),
          apps: Object.values(intent.apps[v.name]?.[s.name] ?? {}).map((a) => ({ port: a.port })),
        };
      }),
    })),
    peerings: Object.values(intent.peerings).map(({ vpc1, vpc2 }) => ({ vpc1, vpc2 })),
  } as Topology;
}

export const checkIntent = (intent: Intent): void => { validateTopology(topologyOfIntent(intent)); };

/** The smallest free VNI (1..16777215), recorded under alloc/vni/<n> (a create-only key: two writers cannot take one). */
export function allocateVni(intent: Intent, vpc: string): number {
  for (let n = 1; n < 2 ** 24; n++) {
    if (intent.vnis[n] === undefined) {
      intent.vnis[n] = vpc;
      return n;
    }
  }
  throw new VpcctlError('IN_USE', 'no VXLAN network identifier left');
}

function freeVni(intent: Intent, vpc: string): void {
  const vni = intent.vpcs[vpc]?.vni;
  if (vni !== undefined && intent.vnis[vni] === vpc) delete intent.vnis[vni];
}

export interface VpcInput { name: string; cidr: string; uplink?: string }

/** create-vpc: the same VPC again is no change; another one of that name is a CONFLICT. */
export function createVpc(intent: Intent, input: VpcInput): boolean {
  validateName('vpc', input.name);
  const cidr = norm(input.cidr, 'vpc');
  const old = intent.vpcs[input.name];
  if (old) {
    if (old.cidr === cidr && (input.uplink === undefined || input.uplink === old.uplink)) return false;
    throw new VpcctlError('CONFLICT', `vpc "${input.name}" already exists with cidr ${old.cidr}`);
  }
  intent.vpcs[input.name] = { name: input.name, cidr, ...(input.uplink ? { uplink: input.uplink } : {}), vni: allocateVni(intent, input.name), gen: 0 };
  checkIntent(intent);
  return true;
}

export function deleteVpc(intent: Intent, name: string): void {
  if (!intent.vpcs[name]) throw new VpcctlError('NOT_FOUND', `vpc "${name}" does not exist`);
  freeVni(intent, name);
  delete intent.vpcs[name];
  delete intent.subnets[name];
  delete intent.policies[name];
  delete intent.apps[name];
  for (const [id, p] of Object.entries(intent.peerings)) if (p.vpc1 === name || p.vpc2 === name) delete intent.peerings[id];
}

export interface SubnetInput { vpc: string; name: string; cidr?: string | undefined; type: SubnetType; host?: string; egress?: 'nat' | 'none' }

/** create-subnet: placed on --host, else spread over the live hosts. Returns the host. */
export function createSubnet(intent: Intent, input: SubnetInput, live: Set<string>): string {
  validateName('subnet', input.name);
  if (input.type !== 'public' && input.type !== 'private') {
    throw new VpcctlError('INVALID_INPUT', `subnet type "${String(input.type)}" is invalid: use public or private`);
  }
  // Cluster VPCs are IPv4-only (dual-stack is refused): so is every subnet.
  if (input.cidr === undefined) throw new VpcctlError('INVALID_INPUT', `subnet "${input.name}" needs a cidr: IPv6-only subnets are not available in cluster mode yet`);
  const cidr = norm(input.cidr, 'subnet');
  if (!intent.vpcs[input.vpc]) throw new VpcctlError('NOT_FOUND', `vpc "${input.vpc}" does not exist`);
  const subs = (intent.subnets[input.vpc] ??= {});
  const old = subs[input.name];
  if (old) {
    if (old.cidr === cidr && old.type === input.type && (old.egress ?? 'none') === (input.egress ?? 'none') && (input.host === undefined || input.host === old.host)) return old.host;
    throw new VpcctlError('CONFLICT', `subnet "${input.name}" already exists in vpc "${input.vpc}" as ${old.cidr} (${old.type}) on host ${old.host}`);
  }
  // The one-host command's check first, for its message; checkIntent below covers the rest.
  checkSubnetCidr(intent.vpcs[input.vpc]!.cidr, cidr, Object.values(subs));
  const host = input.host !== undefined ? checkMember(intent, input.host) : pickHost(hostLoad(intent), live);
  subs[input.name] = { name: input.name, cidr, type: input.type, host, ...(input.egress === 'nat' ? { egress: 'nat' as const } : {}) };
  checkIntent(intent);
  return host;
}

export function deleteSubnet(intent: Intent, vpc: string, subnet: string): void {
  if (!intent.subnets[vpc]?.[subnet]) throw new VpcctlError('NOT_FOUND', `subnet "${subnet}" does not exist in vpc "${vpc}"`);
  delete intent.subnets[vpc]![subnet];
  delete intent.policies[vpc]?.[subnet];
  delete intent.apps[vpc]?.[subnet];
}

/**
 * A topology file merged into the intent, as `apply` does on one host:
 * what it names is made to match, the rest stays unless `prune`. A subnet
 * keeps its host unless the file names another; a new one without `host:`
 * is spread over the live hosts.
 */
export function mergeTopologyIntent(intent: Intent, topo: Topology, opts: { prune?: boolean; live: Set<string> }): void {
  const named = new Set(topo.vpcs.map((v) => v.name));
  if (opts.prune) for (const name of Object.keys(intent.vpcs)) if (!named.has(name)) deleteVpc(intent, name);
  const load = hostLoad(intent);
  topo.vpcs.forEach((spec, i) => {
    // Refused rather than dropped: a host's agent would build the VPC without them.
    if (spec.flowLogs) throw new VpcctlError('INVALID_INPUT', `vpcs[${i}].flowLogs: flow logs are not available in cluster mode yet`);
    if (spec.ipv6Cidr !== undefined || spec.ipv6) {
      throw new VpcctlError('INVALID_INPUT', `vpcs[${i}].${spec.ipv6Cidr !== undefined ? 'ipv6Cidr' : 'ipv6'}: dual-stack VPCs are not available in cluster mode yet`);
    }
    const cidr = norm(spec.cidr);
    const old = intent.vpcs[spec.name];
    intent.vpcs[spec.name] = {
      name: spec.name, cidr, ...(spec.uplink ? { uplink: spec.uplink } : {}),
      vni: old?.vni ?? allocateVni(intent, spec.name), gen: old?.gen ?? 0,
    };
    const subs = (intent.subnets[spec.name] ??= {});
    const policies = (intent.policies[spec.name] ??= {});
    const apps = (intent.apps[spec.name] ??= {});
    if (opts.prune) {
      const inFile = new Set(spec.subnets.map((s) => s.name));
      for (const name of Object.keys(subs)) if (!inFile.has(name)) deleteSubnet(intent, spec.name, name);
    }
    spec.subnets.forEach((s, j) => {
      const asked = (s as { host?: string }).host;
      const prev = subs[s.name];
      let host: string;
      if (asked !== undefined) {
        host = checkMember(intent, asked, `vpcs[${i}].subnets[${j}].host`);
        if (prev?.host !== host) load.set(host, (load.get(host) ?? 0) + 1);
      } else host = prev?.host ?? pickHost(load, opts.live);
      if ((s.publish?.length ?? 0) > 0) throw new VpcctlError('INVALID_INPUT', `vpcs[${i}].subnets[${j}].publish: published ports are not available in cluster mode yet`);
      // Unreachable past the dual-stack refusal above (an IPv6-only subnet needs a dual-stack VPC); said, not assumed.
      if (s.cidr === undefined) throw new VpcctlError('INVALID_INPUT', `vpcs[${i}].subnets[${j}].cidr: IPv6-only subnets are not available in cluster mode yet`);
      subs[s.name] = { name: s.name, cidr: norm(s.cidr), type: s.type, host, ...(s.egress === 'nat' ? { egress: 'nat' as const } : {}) };
      if (s.policy) policies[s.name] = { ...s.policy, subnet: s.policy.subnet ?? norm(s.cidr) };
      else delete policies[s.name];
      apps[s.name] = Object.fromEntries(s.apps.map((a) => [String(a.port), a]));
      if (s.apps.length === 0) delete apps[s.name];
    });
  });
  const wanted = new Set(topo.peerings.map((p) => peeringId(p.vpc1, p.vpc2)));
  for (const [id, p] of Object.entries(intent.peerings)) {
    if (!intent.vpcs[p.vpc1] || !intent.vpcs[p.vpc2] || (opts.prune && !wanted.has(id))) delete intent.peerings[id];
  }
  for (const p of topo.peerings) {
    const [vpc1, vpc2] = [p.vpc1, p.vpc2].sort() as [string, string];
    intent.peerings[peeringId(vpc1, vpc2)] = { vpc1, vpc2 };
  }
  // Empty nests would otherwise be written as nothing and read back as absent: drop them here.
  for (const root of [intent.subnets, intent.policies, intent.apps]) {
    for (const [vpc, m] of Object.entries(root)) if (Object.keys(m).length === 0) delete root[vpc];
  }
  try {
    checkIntent(intent);
  } catch (e) {
    if (e instanceof VpcctlError) throw new VpcctlError(e.code, `with what the cluster already has: ${e.message}`);
    throw e;
  }
}

/**
 * `cluster leave --drain`: every subnet of the host moves to the other
 * live hosts (its policies and apps go with it: they are keyed by subnet).
 * Returns how many moved.
 */
export function drainHost(intent: Intent, host: string, live: Set<string>): number {
  const load = hostLoad(intent);
  load.delete(host);
  let moved = 0;
  for (const subs of Object.values(intent.subnets)) {
    for (const s of Object.values(subs)) {
      if (s.host !== host) continue;
      s.host = pickHost(load, live, host);
      moved++;
    }
  }
  return moved;
}

/** Subnets placed on a host. */
export const subnetsOn = (intent: Intent, host: string): Array<{ vpc: string; subnet: string }> =>
  Object.entries(intent.subnets).flatMap(([vpc, subs]) => Object.values(subs).filter((s) => s.host === host).map((s) => ({ vpc, subnet: s.name })));

export type { TopologyInput };

const subnetOf = (intent: Intent, vpc: string, subnet: string) => {
  if (!intent.vpcs[vpc]) throw new VpcctlError('NOT_FOUND', `vpc "${vpc}" does not exist`);
  const s = intent.subnets[vpc]?.[subnet];
  if (!s) throw new VpcctlError('NOT_FOUND', `subnet "${subnet}" does not exist in vpc "${vpc}"`);
  return s;
};

/** apply-policy: the subnet by name, or by the policy's own "subnet" CIDR (as on one host). Returns the subnet's name. */
export function setPolicy(intent: Intent, vpc: string, subnet: string | undefined, policy: SubnetPolicyDoc): string {
  if (!intent.vpcs[vpc]) throw new VpcctlError('NOT_FOUND', `vpc "${vpc}" does not exist`);
  let name = subnet;
  if (name) {
    const s = subnetOf(intent, vpc, name);
    if (policy.subnet && norm(policy.subnet) !== s.cidr) {
      throw new VpcctlError('INVALID_POLICY', `policy is for subnet ${policy.subnet}, but subnet "${s.name}" is ${s.cidr}`);
    }
  } else {
    if (!policy.subnet) throw new VpcctlError('INVALID_POLICY', 'policy names no subnet: pass --subnet or set "subnet" in the policy');
    const cidr = norm(policy.subnet);
    name = Object.values(intent.subnets[vpc] ?? {}).find((s) => s.cidr === cidr)?.name;
    if (!name) throw new VpcctlError('NOT_FOUND', `vpc "${vpc}" has no subnet ${cidr}`);
  }
  (intent.policies[vpc] ??= {})[name] = { ...policy, subnet: subnetOf(intent, vpc, name).cidr };
  checkIntent(intent);
  return name;
}

export function removePolicy(intent: Intent, vpc: string, subnet: string): void {
  subnetOf(intent, vpc, subnet);
  delete intent.policies[vpc]?.[subnet];
}

export function peer(intent: Intent, vpc1: string, vpc2: string): void {
  for (const v of [vpc1, vpc2]) if (!intent.vpcs[v]) throw new VpcctlError('NOT_FOUND', `vpc "${v}" does not exist`);
  const [a, b] = [vpc1, vpc2].sort() as [string, string];
  intent.peerings[peeringId(a, b)] = { vpc1: a, vpc2: b };
  checkIntent(intent);
}

export function unpeer(intent: Intent, vpc1: string, vpc2: string): void {
  for (const v of [vpc1, vpc2]) if (!intent.vpcs[v]) throw new VpcctlError('NOT_FOUND', `vpc "${v}" does not exist`);
  delete intent.peerings[peeringId(vpc1, vpc2)];
}

/** deploy-app: recorded in the intent; the subnet's host's agent starts it. */
export function deployApp(intent: Intent, input: { vpc: string; subnet: string; port: number; command?: string; user?: string }): string {
  const s = subnetOf(intent, input.vpc, input.subnet);
  const apps = ((intent.apps[input.vpc] ??= {})[input.subnet] ??= {});
  if (apps[input.port]) throw new VpcctlError('IN_USE', `port ${input.port} is already taken by an app in subnet "${input.subnet}"`);
  apps[input.port] = { port: input.port, ...(input.command ? { command: input.command } : {}), ...(input.user ? { user: input.user } : {}) };
  return s.host;
}

/** stop-app: the app (or all of the subnet's) leaves the intent; the agent stops it. Returns the ports. */
export function stopApps(intent: Intent, input: { vpc: string; subnet: string; port?: number }): number[] {
  subnetOf(intent, input.vpc, input.subnet);
  const apps = intent.apps[input.vpc]?.[input.subnet] ?? {};
  const ports = Object.keys(apps).map(Number).filter((p) => input.port === undefined || p === input.port);
  if (input.port !== undefined && ports.length === 0) {
    throw new VpcctlError('NOT_FOUND', `no app on port ${input.port} in subnet "${input.subnet}" of vpc "${input.vpc}"`);
  }
  for (const p of ports) delete apps[p];
  return ports;
}

/** destroy -f: the VPCs the file names go, with everything in them. Returns their names. */
export function destroyTopology(intent: Intent, topo: Topology): string[] {
  const gone = topo.vpcs.map((v) => v.name).filter((n) => intent.vpcs[n]);
  for (const name of gone) deleteVpc(intent, name);
  return gone;
}
