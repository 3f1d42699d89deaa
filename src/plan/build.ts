import type { Op } from './ops.js';
import type { NftObject } from '../firewall/nft.js';
import {
  HOST_LINK, IP_FORWARD, NFT_FAMILY, NFT_TABLE, ROOT_NS, ROUTER_GATEWAY_LINK, gatewayRootLink, hostNs, hostTag, linkTag, peerLink, routerNs, routerTag, subnetLink,
} from '../model/names.js';
import { formatCidr, parseCidr } from '../model/cidr.js';
import { gatewayIp, hostIfaceCidr, hostIp, transitEnds } from '../model/addresses.js';
import { ALLOW_ALL, type CompilablePolicy, compilePolicy } from '../firewall/policy.js';
import { routerRuleset } from '../firewall/router.js';
import type { PeeringState, SubnetState, VpcState } from '../state/types.js';

/**
 * The kernel operations that make (or unmake) one piece of the model, named
 * `<piece>Ops` so they never read as the facade's commands (Vpcctl.createVpc). The
 * planner decides which pieces change; these say what each piece is made of.
 */

/**
 * The one switch for IPv6 on VPC links. vpcctl routes IPv4 only, so it is
 * off: each router namespace gets IPv6 disabled (`all` and `default`) right
 * at its creation, before any of its links exist, so no link made in it
 * later does any IPv6 work. That work is what bent the 5,000-subnet apply:
 * bringing a link up with IPv6 adds its multicast and link-local routes to
 * the router's IPv6 table, next to those of every other link, and that
 * table is walked for each insert (quadratic in subnets). Two /proc writes
 * per VPC, none per subnet. Host namespaces keep IPv6 on their one link (a
 * constant cost each). The IPv6 feature to come turns this on.
 */
export const VPC_IPV6 = false;

const ROUTER_SYSCTLS: [string, string][] = [
  ...(VPC_IPV6 ? [] : [['net/ipv6/conf/all/disable_ipv6', '1'], ['net/ipv6/conf/default/disable_ipv6', '1']] as [string, string][]),
  [IP_FORWARD, '1'],
  // Strict reverse-path filtering on every router link: a host can only send
  // from its own address (anti-spoofing without a rule).
  ['net/ipv4/conf/all/rp_filter', '1'],
  ['net/ipv4/conf/default/rp_filter', '1'],
  // The router answers ARP for its subnets' neighbours: hosts stay on routed /32s.
  ['net/ipv4/conf/all/proxy_arp', '1'],
];

export function routerTableOp(vpc: VpcState): Op {
  return { op: 'nftApply', ns: routerNs(vpc.name), family: NFT_FAMILY, table: NFT_TABLE, ruleset: routerRuleset(vpc) };
}

export function vpcOps(vpc: VpcState): Op[] {
  const ns = routerNs(vpc.name);
  const ops: Op[] = [
    { op: 'netnsAdd', ns, tag: routerTag(vpc.name) },
    ...ROUTER_SYSCTLS.map(([key, value]): Op => ({ op: 'sysctlSet', ns, key, value })),
  ];
  if (vpc.transit) {
    const t = transitEnds(vpc.transit);
    const hostLink = gatewayRootLink(vpc.transit);
    const tag = linkTag({ kind: 'igw', vpc: vpc.name });
    ops.push(
      { op: 'vethAdd', ns: ROOT_NS, name: hostLink, alias: tag, peerNs: ns, peerName: ROUTER_GATEWAY_LINK, peerAlias: tag },
      { op: 'addrAdd', ns: ROOT_NS, dev: hostLink, cidr: t.near },
      { op: 'addrAdd', ns, dev: ROUTER_GATEWAY_LINK, cidr: t.far },
      { op: 'routeAdd', ns, dst: 'default', via: t.nearIp, dev: ROUTER_GATEWAY_LINK },
    );
  }
  return ops;
}

/** Routes a subnet host needs beyond its own subnet: the VPC (or everything, if public) and its peers. */
function hostRoutes(vpc: VpcState, subnet: SubnetState, peerCidrs: string[]): Op[] {
  const ns = hostNs(vpc.name, subnet.name);
  const via = gatewayIp(subnet.cidr);
  const route = (dst: string): Op => ({ op: 'routeAdd', ns, dst, via, dev: HOST_LINK });
  if (subnet.type === 'public') return [route('default')];
  const routes = [route(vpc.cidr), ...peerCidrs.map(route)];
  if (subnet.egress === 'nat') routes.push(egressRouteOp(vpc, subnet, true));
  return routes;
}

/**
 * The default route of a private subnet with a NAT gateway, added or
 * removed on its own (set-egress), so the host namespace and its apps stay.
 * The router's table decides what may leave by it; the route only lets the
 * host try.
 */
export function egressRouteOp(vpc: VpcState, subnet: SubnetState, add: boolean): Op {
  const ns = hostNs(vpc.name, subnet.name);
  return add
    ? { op: 'routeAdd', ns, dst: 'default', via: gatewayIp(subnet.cidr), dev: HOST_LINK }
    : { op: 'routeDel', ns, dst: 'default', dev: HOST_LINK };
}

export function subnetOps(vpc: VpcState, subnet: SubnetState, peerCidrs: string[]): Op[] {
  const rns = routerNs(vpc.name);
  const ns = hostNs(vpc.name, subnet.name);
  const link = subnetLink(subnet.cidr);
  const tag = linkTag({ kind: 'subnet', vpc: vpc.name, subnet: subnet.name });
  const ops: Op[] = [
    { op: 'netnsAdd', ns, tag: hostTag(vpc.name, subnet.name) },
    {
      op: 'vethAdd', ns: rns, name: link, alias: tag, peerNs: ns, peerName: HOST_LINK, peerAlias: tag,
      // Across hosts a packet may leave by the VPC's VXLAN link: the host sends no more than it carries.
      ...(vpc.overlay ? { mtu: vpc.overlay.mtu } : {}),
    },
    { op: 'addrAdd', ns: rns, dev: link, cidr: `${gatewayIp(subnet.cidr)}/32` },
    { op: 'routeAdd', ns: rns, dst: `${hostIp(subnet.cidr)}/32`, dev: link },
    { op: 'addrAdd', ns, dev: HOST_LINK, cidr: hostIfaceCidr(subnet.cidr) },
    // No per-namespace sysctl for apps to serve port 80: they get
    // CAP_NET_BIND_SERVICE as an ambient capability instead (netkit spawn.rs).
    ...hostRoutes(vpc, subnet, peerCidrs),
  ];
  const policy = policyOp(vpc, subnet);
  if (policy) ops.push(policy);
  return ops;
}

/**
 * Topologies give hundreds of subnets the same policy: compile each distinct
 * one once. Rulesets are never mutated after compilation, so sharing is safe;
 * the cache is small and bounded for long-lived library users.
 */
const compiled = new Map<string, NftObject[]>();
function compileOnce(policy: CompilablePolicy & { subnet?: string }, flowLogs: boolean): NftObject[] {
  const { subnet: _ignored, ...rules } = policy; // the compiled rules do not depend on it
  const key = `${flowLogs ? 'log ' : ''}${JSON.stringify(rules)}`;
  let ruleset = compiled.get(key);
  if (!ruleset) {
    if (compiled.size >= 64) compiled.clear();
    ruleset = compilePolicy(policy, { flowLogs });
    compiled.set(key, ruleset);
  }
  return ruleset;
}

/**
 * What a subnet's policy table is made of: its policy, and whether the VPC
 * logs flows. With flow logs on, a subnet without a policy gets a table too
 * (everything allowed, every new connection logged as `default`). Null: no
 * table. The planner compares these to decide whether the table changes.
 */
export function policyTableSpec(vpc: VpcState, subnet: SubnetState): { policy: CompilablePolicy; flowLogs: boolean } | null {
  if (!subnet.policy && !vpc.flowLogs) return null;
  return { policy: subnet.policy ?? ALLOW_ALL, flowLogs: !!vpc.flowLogs };
}

export function policyOp(vpc: VpcState, subnet: SubnetState): Op | null {
  const spec = policyTableSpec(vpc, subnet);
  if (!spec) return null;
  return { op: 'nftApply', ns: hostNs(vpc.name, subnet.name), family: NFT_FAMILY, table: NFT_TABLE, ruleset: compileOnce(spec.policy, spec.flowLogs) };
}

export const policyDelOp = (vpc: string, subnet: string): Op =>
  ({ op: 'nftDelete', ns: hostNs(vpc, subnet), family: NFT_FAMILY, table: NFT_TABLE });

/** A peering: one veth between the two routers, and a route each way. */
export function peeringOps(p: PeeringState, a: VpcState, b: VpcState): Op[] {
  const ends = transitEnds(p.link);
  const tag = linkTag({ kind: 'peer', vpc1: a.name, vpc2: b.name });
  const linkA = peerLink(b.cidr);
  const linkB = peerLink(a.cidr);
  const nsA = routerNs(a.name);
  const nsB = routerNs(b.name);
  return [
    { op: 'vethAdd', ns: nsA, name: linkA, alias: tag, peerNs: nsB, peerName: linkB, peerAlias: tag },
    { op: 'addrAdd', ns: nsA, dev: linkA, cidr: ends.near },
    { op: 'addrAdd', ns: nsB, dev: linkB, cidr: ends.far },
    { op: 'routeAdd', ns: nsA, dst: b.cidr, via: ends.farIp, dev: linkA },
    { op: 'routeAdd', ns: nsB, dst: a.cidr, via: ends.nearIp, dev: linkB },
  ];
}

export const unpeerOps = (_p: PeeringState, a: VpcState, b: VpcState): Op[] =>
  [{ op: 'linkDel', ns: routerNs(a.name), name: peerLink(b.cidr) }];

/** Routes to a peer in the private hosts of a VPC (public hosts reach it by their default route). */
export function peerRouteOps(vpc: VpcState, peerCidr: string, subnets: SubnetState[], add: boolean): Op[] {
  return subnets
    .filter((s) => s.type === 'private')
    .map((s): Op => {
      const ns = hostNs(vpc.name, s.name);
      return add
        ? { op: 'routeAdd', ns, dst: peerCidr, via: gatewayIp(s.cidr), dev: HOST_LINK }
        : { op: 'routeDel', ns, dst: peerCidr, dev: HOST_LINK };
    });
}

/** The machine's (root namespace's) route to a public subnet over the VPC's gateway link. */
export function rootRouteOp(vpc: VpcState, subnetCidr: string): Op {
  const t = transitEnds(vpc.transit!);
  return { op: 'routeAdd', ns: ROOT_NS, dst: formatCidr(parseCidr(subnetCidr)), via: t.farIp, dev: gatewayRootLink(vpc.transit!) };
}
