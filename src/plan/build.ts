import type { Op } from './ops.js';
import type { NftObject } from '../firewall/nft.js';
import {
  HOST_LINK, IP_FORWARD, NFT_FAMILY, NFT_TABLE, ROOT_NS, ROUTER_GATEWAY_LINK, gatewayRootLink, hostNs, hostTag, linkTag, peerLink, routerNs, routerTag, subnetLinkOf,
} from '../model/names.js';
import { formatCidr, parseCidr } from '../model/cidr.js';
import { gatewayIp, hostIfaceCidr, hostIp, transitEnds, transitEnds6, LINK_ENDS6, gatewayIfaceCidr6, gatewayIp6, hostIfaceCidr6, routedPrefix6 } from '../model/addresses.js';
import { isV6Text } from '../model/cidr6.js';
import { ALLOW_ALL, type CompilablePolicy, compilePolicy } from '../firewall/policy.js';
import { routerRuleset } from '../firewall/router.js';
import type { PeeringState, SubnetState, VpcState } from '../state/types.js';

/**
 * The kernel operations that make (or unmake) one piece of the model, named
 * `<piece>Ops` so they never read as the facade's commands (Vpcctl.createVpc). The
 * planner decides which pieces change; these say what each piece is made of.
 */

/**
 * IPv6 in a router namespace is per VPC. An IPv4-only VPC has it disabled
 * (`all` and `default`) right at the router's creation, before any of its
 * links exist, so no link made in it later does any IPv6 work. That work is
 * what bent the 5,000-subnet apply: bringing a link up with IPv6 adds its
 * multicast and link-local routes to the router's IPv6 table, next to those
 * of every other link, and that table is walked for each insert (quadratic
 * in subnets). Two /proc writes per VPC, none per subnet. Host namespaces
 * keep IPv6 on their one link (a constant cost each).
 *
 * A dual-stack VPC's router forwards IPv6, and its links do no duplicate
 * address detection (`accept_dad` 0 by default). The router needs a
 * link-local address on each link, though the gateway is the subnet's ::1:
 * the kernel sends the neighbour solicitation for a packet it forwards from
 * a link-local source, and sends none if the link has no usable one
 * (measured: with no link-local the router never resolved its hosts). It
 * gets a fixed one (LINK_ENDS6, added without DAD) instead of the kernel's
 * own (`addr_gen_mode` 1, none, for every link made after it): the kernel's
 * is born tentative, and its DAD completing, even at once, bumps the IPv6
 * routing generation, a walk of the router's whole table (~7 routes per
 * subnet) for each link made. The default sysctls come before the links
 * (the executor orders them: exec/graph.rs).
 */
const IPV4_ONLY_SYSCTLS: [string, string][] = [['net/ipv6/conf/all/disable_ipv6', '1'], ['net/ipv6/conf/default/disable_ipv6', '1']];
const DUAL_STACK_SYSCTLS: [string, string][] = [
  ['net/ipv6/conf/default/accept_dad', '0'],
  ['net/ipv6/conf/default/addr_gen_mode', '1'],
  ['net/ipv6/conf/all/forwarding', '1'],
];

const IPV4_SYSCTLS: [string, string][] = [
  [IP_FORWARD, '1'],
  // Strict reverse-path filtering on every router link: a host can only send
  // from its own address (anti-spoofing without a rule). IPv6 has no
  // rp_filter: the router's table checks sources (firewall/router.ts).
  ['net/ipv4/conf/all/rp_filter', '1'],
  ['net/ipv4/conf/default/rp_filter', '1'],
  // The router answers ARP for its subnets' neighbours: hosts stay on routed /32s.
  ['net/ipv4/conf/all/proxy_arp', '1'],
];

const routerSysctls = (vpc: VpcState): [string, string][] =>
  [...(vpc.ipv6Cidr ? DUAL_STACK_SYSCTLS : IPV4_ONLY_SYSCTLS), ...IPV4_SYSCTLS];

export function routerTableOp(vpc: VpcState): Op {
  return { op: 'nftApply', ns: routerNs(vpc.name), family: NFT_FAMILY, table: NFT_TABLE, ruleset: routerRuleset(vpc) };
}

export function vpcOps(vpc: VpcState): Op[] {
  const ns = routerNs(vpc.name);
  const ops: Op[] = [
    { op: 'netnsAdd', ns, tag: routerTag(vpc.name) },
    ...routerSysctls(vpc).map(([key, value]): Op => ({ op: 'sysctlSet', ns, key, value })),
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
    // A dual-stack VPC's IPv6 internet: the same link, its own /126 (addresses.ts).
    if (vpc.ipv6Cidr) {
      const t6 = transitEnds6(vpc.transit);
      ops.push(
        { op: 'addrAdd', ns: ROOT_NS, dev: hostLink, cidr: t6.near },
        { op: 'addrAdd', ns, dev: ROUTER_GATEWAY_LINK, cidr: LINK_ENDS6.far },
        { op: 'addrAdd', ns, dev: ROUTER_GATEWAY_LINK, cidr: t6.far },
        { op: 'routeAdd', ns, dst: '::/0', via: t6.nearIp, dev: ROUTER_GATEWAY_LINK },
      );
      // A routed prefix (addresses.ts): the host sends it to the router, on vpcctl's own link only.
      const routed = routedPrefix6(vpc);
      if (routed) ops.push({ op: 'routeAdd', ns: ROOT_NS, dst: routed, via: t6.farIp, dev: hostLink });
    }
  }
  return ops;
}

/** Routes a subnet host needs beyond its own subnet: the VPC (or everything, if public) and its peers. */
function hostRoutes(vpc: VpcState, subnet: SubnetState & { cidr: string }, peerCidrs: string[]): Op[] {
  const ns = hostNs(vpc.name, subnet.name);
  const via = gatewayIp(subnet.cidr);
  const route = (dst: string): Op => ({ op: 'routeAdd', ns, dst, via, dev: HOST_LINK });
  if (subnet.type === 'public') return [route('default')];
  const routes = [route(vpc.cidr), ...peerCidrs.filter((c) => !isV6Text(c)).map(route)];
  if (subnet.egress === 'nat') routes.push(egressRouteOp(vpc, subnet, true)!);
  return routes;
}

/**
 * The host's side of a dual-stack subnet: its ::2/64 and its routes as in
 * IPv4: `::/0` if public, else the VPC's prefix and its peers'. The
 * router's side is gatewayAddrs6.
 */
function subnet6Ops(vpc: VpcState, subnet: SubnetState, peerCidrs: string[]): Op[] {
  const c6 = subnet.ipv6Cidr!;
  const ns = hostNs(vpc.name, subnet.name);
  const via = gatewayIp6(c6);
  const route = (dst: string): Op => ({ op: 'routeAdd', ns, dst, via, dev: HOST_LINK });
  // A private subnet with a NAT gateway has IPv6's egress-only internet gateway: a default route too.
  const dsts = subnet.type === 'public' ? ['::/0'] : [vpc.ipv6Cidr!, ...peerCidrs.filter(isV6Text), ...(subnet.egress === 'nat' ? ['::/0'] : [])];
  return [{ op: 'addrAdd', ns, dev: HOST_LINK, cidr: hostIfaceCidr6(c6) }, ...dsts.map(route)];
}

/**
 * The router's IPv6 addresses on a dual-stack subnet's link: the link-local
 * fe80::1 and the gateway ::1/64 (its /64 route comes with it). Planners
 * put them after all the subnets' links of that router: each link coming
 * up (carrier on) walks the router's whole IPv6 table (rt6_sync_up), ~3
 * routes per address here, so made last they are walked by none of them. Measured at 500
 * dual-stack subnets: ~100 ms less (dual-stack/IPv4 1.40x -> 1.22x). Nothing
 * needs them earlier: a host reaches ::1 on its own /64.
 */
export function gatewayAddrs6(vpc: VpcState, subnet: SubnetState): Op[] {
  if (!subnet.ipv6Cidr || !vpc.ipv6Cidr) return [];
  const [ns, dev] = [routerNs(vpc.name), subnetLinkOf(subnet)];
  return [
    { op: 'addrAdd', ns, dev, cidr: LINK_ENDS6.near },
    { op: 'addrAdd', ns, dev, cidr: gatewayIfaceCidr6(subnet.ipv6Cidr) },
  ];
}

/**
 * The default route of a private subnet with a NAT gateway, added or
 * removed on its own (set-egress), so the host namespace and its apps stay.
 * The router's table decides what may leave by it; the route only lets the
 * host try. Null for an IPv6-only subnet (no IPv4 route at all).
 */
export function egressRouteOp(vpc: VpcState, subnet: SubnetState, add: boolean): Op | null {
  if (subnet.cidr === undefined) return null;
  const ns = hostNs(vpc.name, subnet.name);
  return add
    ? { op: 'routeAdd', ns, dst: 'default', via: gatewayIp(subnet.cidr), dev: HOST_LINK }
    : { op: 'routeDel', ns, dst: 'default', dev: HOST_LINK };
}

/** set-egress: the IPv4 default route, and in a dual-stack or IPv6-only subnet the IPv6 one of the egress-only gateway. */
export function egressRouteOps(vpc: VpcState, subnet: SubnetState, add: boolean): Op[] {
  const v4 = egressRouteOp(vpc, subnet, add);
  const ops = v4 ? [v4] : [];
  if (vpc.ipv6Cidr && subnet.ipv6Cidr) {
    const ns = hostNs(vpc.name, subnet.name);
    ops.push(add
      ? { op: 'routeAdd', ns, dst: '::/0', via: gatewayIp6(subnet.ipv6Cidr), dev: HOST_LINK }
      : { op: 'routeDel', ns, dst: '::/0', dev: HOST_LINK });
  }
  return ops;
}

/**
 * The IPv4 side of a subnet: the gateway .1/32 on the router's end, a /32
 * route to the host, the host's .2 and its routes.
 */
function subnet4Ops(vpc: VpcState, subnet: SubnetState & { cidr: string }, peerCidrs: string[], rns: string, link: string): Op[] {
  const ns = hostNs(vpc.name, subnet.name);
  return [
    { op: 'addrAdd', ns: rns, dev: link, cidr: `${gatewayIp(subnet.cidr)}/32` },
    { op: 'routeAdd', ns: rns, dst: `${hostIp(subnet.cidr)}/32`, dev: link },
    { op: 'addrAdd', ns, dev: HOST_LINK, cidr: hostIfaceCidr(subnet.cidr) },
    ...hostRoutes(vpc, subnet, peerCidrs),
  ];
}

/**
 * A subnet's ops, but for the router's IPv6 addresses (gatewayAddrs6).
 * `peerCidrs`: the peers' prefixes, both families (an IPv6 one only where
 * both VPCs are dual-stack). An IPv6-only subnet (no `cidr`) has no IPv4
 * address, route or NAT anywhere: its link is named after its /64.
 */
export function subnetOps(vpc: VpcState, subnet: SubnetState, peerCidrs: string[]): Op[] {
  const rns = routerNs(vpc.name);
  const ns = hostNs(vpc.name, subnet.name);
  const link = subnetLinkOf(subnet);
  const tag = linkTag({ kind: 'subnet', vpc: vpc.name, subnet: subnet.name });
  const ops: Op[] = [
    { op: 'netnsAdd', ns, tag: hostTag(vpc.name, subnet.name) },
    {
      op: 'vethAdd', ns: rns, name: link, alias: tag, peerNs: ns, peerName: HOST_LINK, peerAlias: tag,
      // The subnet's namespace has no other way out: verify reads the router's end light (docs/plan-ops.md).
      leaf: true,
      // Across hosts a packet may leave by the VPC's VXLAN link: the host sends no more than it carries.
      ...(vpc.overlay ? { mtu: vpc.overlay.mtu } : {}),
    },
    // No per-namespace sysctl for apps to serve port 80: they get
    // CAP_NET_BIND_SERVICE as an ambient capability instead (netkit spawn.rs).
    ...(subnet.cidr !== undefined ? subnet4Ops(vpc, { ...subnet, cidr: subnet.cidr }, peerCidrs, rns, link) : []),
    ...(subnet.ipv6Cidr && vpc.ipv6Cidr ? subnet6Ops(vpc, subnet, peerCidrs) : []),
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
function compileOnce(policy: CompilablePolicy & { subnet?: string }, flowLogs: boolean, ipv6: boolean): NftObject[] {
  const { subnet: _ignored, ...rules } = policy; // the compiled rules do not depend on it
  const key = `${flowLogs ? 'log ' : ''}${ipv6 ? 'ipv6 ' : ''}${JSON.stringify(rules)}`;
  let ruleset = compiled.get(key);
  if (!ruleset) {
    if (compiled.size >= 64) compiled.clear();
    ruleset = compilePolicy(policy, { flowLogs, ipv6 });
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
  return { op: 'nftApply', ns: hostNs(vpc.name, subnet.name), family: NFT_FAMILY, table: NFT_TABLE, ruleset: compileOnce(spec.policy, spec.flowLogs, !!(vpc.ipv6Cidr && subnet.ipv6Cidr)) };
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
  const ops: Op[] = [
    { op: 'vethAdd', ns: nsA, name: linkA, alias: tag, peerNs: nsB, peerName: linkB, peerAlias: tag },
    { op: 'addrAdd', ns: nsA, dev: linkA, cidr: ends.near },
    { op: 'addrAdd', ns: nsB, dev: linkB, cidr: ends.far },
    { op: 'routeAdd', ns: nsA, dst: b.cidr, via: ends.farIp, dev: linkA },
    { op: 'routeAdd', ns: nsB, dst: a.cidr, via: ends.nearIp, dev: linkB },
  ];
  // IPv6 between two dual-stack VPCs: link-local ends (the link's own), a route each way.
  if (a.ipv6Cidr && b.ipv6Cidr) {
    const e6 = LINK_ENDS6;
    ops.push(
      { op: 'addrAdd', ns: nsA, dev: linkA, cidr: e6.near },
      { op: 'addrAdd', ns: nsB, dev: linkB, cidr: e6.far },
      { op: 'routeAdd', ns: nsA, dst: b.ipv6Cidr, via: e6.farIp, dev: linkA },
      { op: 'routeAdd', ns: nsB, dst: a.ipv6Cidr, via: e6.nearIp, dev: linkB },
    );
  }
  return ops;
}

/** The end of a peering in `a`'s router, and with it the pair: only the link that carries the peering's tag. */
export const unpeerOps = (_p: PeeringState, a: VpcState, b: VpcState): Op[] =>
  [{ op: 'linkDel', ns: routerNs(a.name), name: peerLink(b.cidr), alias: linkTag({ kind: 'peer', vpc1: a.name, vpc2: b.name }) }];

/** Routes to a peer in the private hosts of a VPC (public hosts reach it by their default route). */
export function peerRouteOps(vpc: VpcState, peerCidr: string, subnets: SubnetState[], add: boolean): Op[] {
  const v6 = isV6Text(peerCidr);
  return subnets
    .filter((s) => s.type === 'private' && (v6 ? s.ipv6Cidr : s.cidr))
    .map((s): Op => {
      const ns = hostNs(vpc.name, s.name);
      return add
        ? { op: 'routeAdd', ns, dst: peerCidr, via: v6 ? gatewayIp6(s.ipv6Cidr!) : gatewayIp(s.cidr!), dev: HOST_LINK }
        : { op: 'routeDel', ns, dst: peerCidr, dev: HOST_LINK };
    });
}

/** The prefixes a peering routes from `vpc` to `other`: the IPv4 one, and the IPv6 one when both are dual-stack. */
export const peerPrefixes = (vpc: VpcState, other: VpcState): string[] =>
  vpc.ipv6Cidr && other.ipv6Cidr ? [other.cidr, other.ipv6Cidr] : [other.cidr];

/** The machine's (root namespace's) route to a public subnet over the VPC's gateway link. */
export function rootRouteOp(vpc: VpcState, subnetCidr: string): Op {
  const t = transitEnds(vpc.transit!);
  return { op: 'routeAdd', ns: ROOT_NS, dst: formatCidr(parseCidr(subnetCidr)), via: t.farIp, dev: gatewayRootLink(vpc.transit!) };
}
