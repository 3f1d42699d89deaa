import { OVERLAY_LINK, PEER_LINK_PREFIX, ROUTER_GATEWAY_LINK, linksNamed } from '../model/names.js';
import { routedPrefix6, transitEnds, transitEnds6 } from '../model/addresses.js';
import { publishesOf, type Publish } from '../model/publish.js';
import type { VpcState } from '../state/types.js';
import {
  type Expr, type NftObject, accept, chain, counter, ctState, ctStatus, daddr, dnat, drop, iif, ipv4Set, masquerade, neq, oif, prefix, rule, saddr, snat,
} from './nft.js';

/** Every peering link of a router namespace. */
const PEER_LINKS = linksNamed(PEER_LINK_PREFIX);
const IGW = ROUTER_GATEWAY_LINK;
const ipField = (field: 'saddr' | 'daddr') => ({ payload: { protocol: 'ip', field } });

const ip6 = (field: 'saddr' | 'daddr', right: unknown): Expr => ({ match: { op: '==', left: { payload: { protocol: 'ip6', field } }, right } });
const snat6 = (addr: string): Expr => ({ snat: { family: 'ip6', addr } });
const ipv6Set = (name: string, prefixes: string[]): NftObject => ({
  set: {
    family: 'inet', table: 'vpcctl', name, type: 'ipv6_addr', flags: ['interval'],
    ...(prefixes.length ? { elem: prefixes.map((c) => { const [addr, len] = c.split('/'); return { prefix: { addr, len: Number(len) } }; }) } : {}),
  },
});
/** A private dual-stack subnet with a NAT gateway: over IPv6, an egress-only internet gateway. */
const egressOnly = (s: VpcState['subnets'][string]): boolean => s.type === 'private' && s.egress === 'nat' && !!s.ipv6Cidr;

/**
 * A dual-stack VPC's IPv6 rules of the forward chain: private subnets
 * neither reach the gateway nor are reached from it, except that those
 * with a NAT gateway have an egress-only one (out, and replies, which the
 * first rule accepts); nothing from outside opens a connection to them.
 */
function ipv6Gateway(vpc: VpcState, subnets: VpcState['subnets'][string][]): NftObject[] {
  const v6 = (keep: (s: VpcState['subnets'][string]) => boolean) => subnets.filter((s) => s.ipv6Cidr && keep(s)).map((s) => s.ipv6Cidr!);
  const egress = v6(egressOnly);
  return [
    ipv6Set('public6', v6((s) => s.type === 'public')),
    ipv6Set('private6', v6((s) => s.type === 'private')),
    ...(egress.length ? [ipv6Set('egress6', egress), rule('forward', [ip6('saddr', '@egress6'), oif(IGW), accept], 'egress-only gateway: private subnets out (IPv6)')] : []),
    rule('forward', [ip6('saddr', '@private6'), oif(IGW), counter, drop], 'private subnets have no internet (IPv6)'),
    rule('forward', [iif(IGW), ip6('daddr', '@private6'), counter, drop], 'private subnets are not reachable from outside (IPv6)'),
  ];
}

/** `tcp dport 8080` */
const dport = (protocol: string, port: number): Expr => ({ match: { op: '==', left: { payload: { protocol, field: 'dport' } }, right: port } });

/**
 * The router's end of a publish: what the host DNATs to the router's
 * transit address on the host port is DNATed again to the targets' hosts.
 * Several targets share new connections round robin (`numgen inc`); each
 * connection keeps its target for its life, because NAT is decided on its
 * first packet and conntrack remembers it, so a table that drops a target
 * leaves established connections to the others alone.
 */
function publishRule(p: Publish, routerIp: string): NftObject {
  const to = p.targets.length === 1
    ? p.targets[0]!.host
    : { map: { key: { numgen: { mode: 'inc', mod: p.targets.length, offset: 0 } }, data: { set: p.targets.map((t, i) => [i, t.host]) } } };
  return rule('prerouting', [iif(IGW), daddr(routerIp), dport(p.protocol, p.hostPort), counter, dnat(to, p.port)],
    `publish ${p.protocol}/${p.hostPort} to ${p.targets.map((t) => t.subnet).join(',')}`);
}

/**
 * The VPC router's table: what AWS enforces in its route tables and gateways.
 * Subnets sit in interval sets, so per-packet cost does not grow with
 * the number of subnets; re-applying the table replaces it in one transaction.
 *
 * Inbound through the gateway: replies to what the VPC opened, and published
 * ports (DNATed here); new connections from the host reach public subnets
 * only. What the host forwards from beyond it is refused there (root.ts).
 */
export function routerRuleset(vpc: VpcState): NftObject[] {
  const subnets = Object.values(vpc.subnets);
  // IPv6-only subnets (no `cidr`) are in none of the IPv4 sets: nothing of theirs is routed or translated in IPv4.
  const cidrs = (keep: (s: VpcState['subnets'][string]) => boolean) => subnets.flatMap((s) => (s.cidr !== undefined && keep(s) ? [s.cidr] : []));
  const nat = cidrs((s) => s.type === 'private' && s.egress === 'nat');
  const publishes = vpc.transit ? publishesOf(vpc) : [];
  const objects: NftObject[] = [
    ipv4Set('public', cidrs((s) => s.type === 'public')),
    ipv4Set('private', cidrs((s) => s.type === 'private')),
    chain('forward', 'forward', 'filter', 0),
    // IPv6 has no rp_filter: a dual-stack router drops what arrives from a
    // source it would not route back out of that link (a host forging
    // another subnet's or the world's address). First, before replies.
    ...(vpc.ipv6Cidr ? [rule('forward', [
      { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv6' } },
      { match: { op: '==', left: { fib: { result: 'oif', flags: ['saddr', 'iif'] } }, right: false } },
      counter, drop,
    ], 'IPv6 anti-spoofing')] : []),
    // Replies first: a NAT gateway's return traffic and published ports' answers pass whatever follows.
    rule('forward', [ctState('established', 'related'), accept], 'replies'),
    // Peering is not transitive, and a peer never uses this VPC's gateway.
    rule('forward', [iif(PEER_LINKS), oif(PEER_LINKS), counter, drop], 'peering is not transitive'),
    rule('forward', [iif(PEER_LINKS), oif(IGW), counter, drop], 'no edge-to-edge routing'),
    rule('forward', [iif(IGW), oif(PEER_LINKS), counter, drop], 'no edge-to-edge routing'),
    // Across hosts a peering crosses in one VPC's overlay (cluster/routers.ts): between a peer and
    // the VXLAN link only what this VPC's own subnets send or receive.
    ...(vpc.overlay ? [
      rule('forward', [iif(PEER_LINKS), oif(OVERLAY_LINK), neq(ipField('daddr'), prefix(vpc.cidr)), counter, drop], 'peering is not transitive across hosts'),
      rule('forward', [iif(OVERLAY_LINK), oif(PEER_LINKS), neq(ipField('saddr'), prefix(vpc.cidr)), counter, drop], 'peering is not transitive across hosts'),
    ] : []),
    // Only this router DNATs, and only published ports.
    rule('forward', [iif(IGW), ctStatus('dnat'), counter, accept], 'published ports'),
    // Private subnets with a NAT gateway open connections out; nothing from outside opens one to them.
    ...(nat.length ? [ipv4Set('nat', nat), rule('forward', [saddr('@nat'), oif(IGW), accept], 'NAT gateway: private subnets out')] : []),
    // Private subnets without one neither reach the internet gateway nor are reached from it,
    // even when a host adds a default route by hand.
    rule('forward', [saddr('@private'), oif(IGW), counter, drop], 'private subnets have no internet'),
    rule('forward', [iif(IGW), daddr('@private'), counter, drop], 'private subnets are not reachable from outside'),
  ];
  if (vpc.ipv6Cidr) objects.push(...ipv6Gateway(vpc, subnets));
  if (vpc.transit) {
    const routerSide = transitEnds(vpc.transit).farIp;
    objects.push(
      chain('postrouting', 'postrouting', 'nat', 100),
      rule('postrouting', [oif(IGW), saddr('@public'), snat(routerSide)], 'public subnets leave by the gateway'),
    );
    if (nat.length) objects.push(rule('postrouting', [oif(IGW), saddr('@nat'), snat(routerSide)], 'the NAT gateway'));
    if (vpc.ipv6Cidr && !routedPrefix6(vpc)) {
      // A unique-local prefix leaves translated to the router's end of the gateway link, as IPv4 does
      // (addresses.ts, transitEnds6); a global one is routed as it is (routedPrefix6).
      const routerSide6 = transitEnds6(vpc.transit).farIp;
      objects.push(rule('postrouting', [oif(IGW), ip6('saddr', '@public6'), snat6(routerSide6)], 'public subnets leave by the gateway (IPv6)'));
      if (subnets.some(egressOnly)) objects.push(rule('postrouting', [oif(IGW), ip6('saddr', '@egress6'), snat6(routerSide6)], 'the egress-only gateway (IPv6)'));
    }
    if (publishes.length) {
      objects.push(chain('prerouting', 'prerouting', 'nat', -100), ...publishes.map((p) => publishRule(p, routerSide)));
      // A private subnet without NAT has no route back to a client: the router answers for it.
      objects.push(rule('postrouting', [ctStatus('dnat'), daddr('@private'), ...(nat.length ? [neq({ payload: { protocol: 'ip', field: 'daddr' } }, '@nat')] : []), masquerade],
        'published ports of private subnets without NAT'));
    }
  }
  return objects;
}
