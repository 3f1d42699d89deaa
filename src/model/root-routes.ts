/**
 * What the machine's own network (its root namespace) forbids a VPC to use,
 * as pure logic over a snapshot of it (links, addresses, routes of every table, the
 * tables its rules look up): a VPC or public subnet must not overlap a
 * route vpcctl does not own (the LAN, a VPN, another tool's network), the
 * networks of its uplink, or vpcctl's transit pool. Taking such a route
 * would cut the host off (an SSH session over the LAN dies, and stays dead).
 */
import { VpcctlError } from '../errors.js';
import { type Cidr, formatCidr, overlaps, parseCidr } from './cidr.js';
import { type Cidr6, overlaps6, parseCidr6 } from './cidr6.js';
import { isGatewayLinkName, parseTag } from './names.js';
import { routedPrefix6 } from './addresses.js';

// Structural twins of the native NetView (index.d.ts), so this stays pure.
export interface RootLink { name: string; alias?: string | null; up: boolean; loopback: boolean }
export interface RootAddr { dev: string; cidr: string }
export interface RootRoute {
  dst: string; dev?: string | null; via?: string | null;
  table: number; protocol: number; scope: number; kind: number; metric: number;
}
export interface RootNet { links: RootLink[]; addrs: RootAddr[]; routes: RootRoute[]; ruleTables: number[] }

export const TABLE = { DEFAULT: 253, MAIN: 254, LOCAL: 255 } as const;
export const RTN_UNICAST = 1;
/** rtm_type values of routes that steer traffic: unicast, blackhole, unreachable, prohibit, throw. */
const STEERING = new Set([RTN_UNICAST, 6, 7, 8, 9]);
/** rtm_type of a route to the host's own addresses (in the `local` table, or an AnyIP range anywhere). */
const RTN_LOCAL = 2;
/** rtm_type of a route to one of the host's IPv6 anycast addresses. */
const RTN_ANYCAST = 4;
const TYPE_NAMES: Record<number, string> = { 2: 'local', 4: 'anycast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit', 9: 'throw' };
/** A route type as `ip route` spells it (`blackhole`), or its number. */
export const routeTypeName = (kind: number): string => TYPE_NAMES[kind] ?? (kind === RTN_UNICAST ? 'unicast' : String(kind));
/** rtm_protocol names as iproute2 spells them (/etc/iproute2/rt_protos). */
const PROTOCOLS: Record<number, string> = {
  0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra',
  12: 'bird', 13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 17: 'mrouted', 18: 'keepalived', 42: 'babel',
  99: 'openr', 186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip', 192: 'eigrp',
};
const TABLE_NAMES: Record<number, string> = { [TABLE.DEFAULT]: 'default', [TABLE.MAIN]: 'main', [TABLE.LOCAL]: 'local' };

/** vpcctl's own links in the root namespace: its gateway veths, named vg-<hex> and tagged (a name alone could be anyone's). */
export const isOwnLink = (l: RootLink): boolean => isGatewayLinkName(l.name) && !!l.alias && parseTag(l.alias) !== null;

/**
 * The routes that constrain address choice: in the tables the main lookup
 * uses (local, main, default, and any table a rule looks up), steering
 * traffic (so not the host's own addresses and broadcasts that `local`
 * holds, but a blackhole put there, which the lookup reads first), not the
 * default route, and not on one of vpcctl's links.
 */
export function constrainingRoutes(net: RootNet): RootRoute[] {
  const tables = new Set<number>([TABLE.LOCAL, TABLE.MAIN, TABLE.DEFAULT, ...net.ruleTables]);
  const own = new Set(net.links.filter(isOwnLink).map((l) => l.name));
  return net.routes.filter((r) =>
    tables.has(r.table) && STEERING.has(r.kind) && r.dst !== 'default' && !(r.dev && own.has(r.dev)));
}

/** `10.99.0.0/16 via 203.0.113.254 dev uplink0 (proto static)`, as `ip route` would show it. */
export function describeRoute(r: RootRoute): string {
  const parts = [TYPE_NAMES[r.kind], r.dst, r.via ? `via ${r.via}` : '', r.dev ? `dev ${r.dev}` : ''].filter(Boolean);
  const notes = [
    r.table !== TABLE.MAIN ? `table ${TABLE_NAMES[r.table] ?? r.table}` : '',
    `proto ${PROTOCOLS[r.protocol] ?? r.protocol}`,
  ].filter(Boolean);
  return `${parts.join(' ')} (${notes.join(', ')})`;
}

/** Something a new VPC or public subnet must not overlap, and how to name it. */
export interface Constraint { cidr: Cidr; text: string }

/** The network of an address as configured (`203.0.113.1/24` -> 203.0.113.0/24). */
export function networkOf(address: string): Cidr {
  const [ip, len] = address.split('/');
  const prefix = Number(len);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const host = parseCidr(`${ip}/32`).network;
  return { network: (host & mask) >>> 0, prefix };
}

/** Every constraint the machine puts on CIDRs: foreign routes, the uplinks' networks, the transit pool. */
export function rootConstraints(net: RootNet, opts: { transitPool: string; uplinks: Iterable<string> }): Constraint[] {
  // Routes first: they name the device and the protocol (the uplink's own network is a `proto kernel` route).
  const out: Constraint[] = constrainingRoutes(net).map((r) => ({ cidr: parseCidr(r.dst), text: `the host route ${describeRoute(r)}` }));
  for (const uplink of new Set(opts.uplinks)) {
    for (const a of net.addrs) {
      if (a.dev !== uplink) continue;
      const c = networkOf(a.cidr);
      out.push({ cidr: c, text: `the network ${formatCidr(c)} of the uplink ${uplink} (address ${a.cidr})` });
    }
  }
  out.push({ cidr: parseCidr(opts.transitPool), text: `vpcctl's transit pool ${opts.transitPool} (set VPCCTL_TRANSIT_POOL for another)` });
  return out;
}

/** The interface of the machine's default route in the main table (lowest metric first), or null. */
export function defaultRouteDev(net: RootNet): string | null {
  const defaults = net.routes
    .filter((r) => r.dst === 'default' && r.table === TABLE.MAIN && r.kind === 1 && r.dev)
    .sort((a, b) => a.metric - b.metric);
  return defaults[0]?.dev ?? null;
}

/** `--uplink` must be a real, up, non-loopback link with an IPv4 address, and not one of vpcctl's own. */
export function checkUplinkLink(net: RootNet, name: string): void {
  const bad = (why: string): never => { throw new VpcctlError('INVALID_INPUT', `uplink "${name}" ${why}: pass the interface that reaches the internet`); };
  const link = net.links.find((l) => l.name === name);
  if (!link) bad('does not exist on this host');
  if (link!.loopback) bad('is the loopback interface');
  if (isOwnLink(link!)) bad("is one of vpcctl's own gateway links");
  if (!link!.up) bad('is down');
  if (!net.addrs.some((a) => a.dev === name)) bad('has no IPv4 address');
}

// --- Claims: what a change would newly put on the machine's routing table --------

/** A VPC's CIDR and uplink, its public subnets and its routed IPv6 prefix, as they were before a change. */
export type Footprint = Map<string, { cidr: string; uplink: string | null; publics: Set<string>; routed6: string | null }>;

interface VpcLike {
  name: string; cidr: string; uplink: string | null;
  /** A global IPv6 prefix with a gateway is routed by the host (addresses.ts, routedPrefix6): a claim too. */
  ipv6Cidr?: string | undefined; transit?: string | null;
  /** An IPv6-only subnet (no `cidr`) claims nothing here: the host gets no route to it. */
  subnets: Record<string, { name: string; cidr?: string; type: string }>;
}

const routed6Of = (v: VpcLike): string | null => routedPrefix6({ ipv6Cidr: v.ipv6Cidr, transit: v.transit ?? null });

export function footprint(vpcs: Record<string, VpcLike>): Footprint {
  const out: Footprint = new Map();
  for (const v of Object.values(vpcs)) {
    const publics = new Set<string>();
    for (const s of Object.values(v.subnets)) if (s.type === 'public' && s.cidr !== undefined) publics.add(`${s.name} ${s.cidr}`);
    out.set(v.name, { cidr: v.cidr, uplink: v.uplink, publics, routed6: routed6Of(v) });
  }
  return out;
}

/** A new VPC (or one whose CIDR or uplink changes), a new public subnet, or a newly routed IPv6 prefix (`ipv6`). */
export interface Claim { vpc: string; subnet?: string; cidr: string; uplink: string | null; ipv6?: true }

/**
 * What a change claims that was not there before. Only these are checked:
 * a route that appeared after a VPC was made must not block every later
 * command on it (nor its repair).
 */
export function newClaims(before: Footprint, after: Record<string, VpcLike>): Claim[] {
  const out: Claim[] = [];
  for (const v of Object.values(after)) {
    const was = before.get(v.name);
    const fresh = !was || was.cidr !== v.cidr || was.uplink !== v.uplink;
    if (fresh) out.push({ vpc: v.name, cidr: v.cidr, uplink: v.uplink });
    for (const s of Object.values(v.subnets)) {
      if (s.type === 'public' && s.cidr !== undefined && (fresh || !was!.publics.has(`${s.name} ${s.cidr}`))) {
        out.push({ vpc: v.name, subnet: s.name, cidr: s.cidr, uplink: v.uplink });
      }
    }
    const routed = routed6Of(v);
    if (routed && (fresh || was!.routed6 !== routed)) out.push({ vpc: v.name, cidr: routed, uplink: v.uplink, ipv6: true });
  }
  return out;
}

export const claimName = (c: Claim): string =>
  c.subnet === undefined ? `vpc "${c.vpc}"` : `subnet "${c.subnet}" of vpc "${c.vpc}"`;

/**
 * Throws OVERLAP (exit 2) for the first claim that overlaps a constraint,
 * naming both; `at` prefixes a topology path when the claim came from a file.
 */
export function checkClaims(claims: Claim[], constraints: Constraint[], at?: (c: Claim) => string | undefined): void {
  for (const claim of claims) {
    if (claim.ipv6) continue; // checkClaims6
    const cidr = parseCidr(claim.cidr);
    const hit = constraints.find((k) => overlaps(k.cidr, cidr));
    if (!hit) continue;
    const where = at?.(claim);
    const message = `${claimName(claim)} ${claim.cidr} overlaps ${hit.text}: choose another CIDR`;
    throw new VpcctlError('OVERLAP', where ? `${where}: ${message}` : message);
  }
}

/** rtm_protocol of a route the kernel learnt from a router advertisement. */
export const RTPROT_RA = 9;

/**
 * Host IPv6 forwarding and router advertisements: with
 * `net.ipv6.conf.all.forwarding=1`, Linux ignores advertisements on every
 * interface whose `accept_ra` is 1 (2 keeps taking them), so a default
 * route learnt from them is not renewed and lapses: the host loses IPv6.
 * Returns the devices whose IPv6 default route came from an advertisement
 * and would stop being renewed (`acceptRa`: each device's accept_ra).
 */
export function raDefaultsAtRisk(routes6: RootRoute[], acceptRa: (dev: string) => string | undefined): string[] {
  const devs = routes6
    .filter((r) => (r.dst === '::/0' || r.dst === 'default') && r.protocol === RTPROT_RA && r.dev)
    .map((r) => r.dev!)
    .filter((dev) => acceptRa(dev)?.trim() === '1');
  return [...new Set(devs)].sort();
}

/**
 * Host IPv6 routes (not vpcctl's: not on one of its gateway links, not the
 * default) that overlap `pool`, the range vpcctl's IPv6 gateway links take
 * their /126s from: their connected routes would shadow part of such a
 * route, so none may exist.
 */
export function routes6InPool(routes6: RootRoute[], pool: string): RootRoute[] {
  const p = parseCidr6(pool);
  return routes6.filter((r) => {
    if (r.dst === '::/0' || r.dst === 'default' || (r.dev && isGatewayLinkName(r.dev))) return false;
    try {
      return overlaps6(parseCidr6(r.dst), p);
    } catch {
      return false; // an address route (no prefix) or a form not ours to judge
    }
  });
}

/** Something a routed IPv6 prefix must not overlap: a host route, or another VPC's routed prefix (`vpc`). */
export interface Constraint6 { cidr: Cidr6; text: string; vpc?: string }

/**
 * What the host's IPv6 table and the other routed VPCs forbid a routed
 * prefix: routes of every table (IPv6 rules are not read; `local` comes
 * first in the lookup, so a route there shadows one in main) that steer
 * traffic or hold the host's own addresses (AnyIP `local` routes too),
 * not the default, not on vpcctl's own links; the host's global addresses
 * (`addrs6`: also those still tentative or on a down link, which have no
 * route yet); and every VPC's routed prefix, since the host has one route
 * per prefix and a global prefix belongs to one network.
 */
export function rootConstraints6(net: RootNet, routes6: RootRoute[], addrs6: RootAddr[], vpcs: Record<string, VpcLike>): Constraint6[] {
  const own = new Set(net.links.filter(isOwnLink).map((l) => l.name));
  const ours = (dev?: string | null) => !!dev && own.has(dev);
  const out: Constraint6[] = [];
  const add = (cidr: string, text: string) => {
    try { out.push({ cidr: parseCidr6(cidr), text }); } catch { /* not a prefix we judge */ }
  };
  // Routes first: they name the network (the uplink's own is a `proto kernel` route).
  for (const r of routes6) {
    if (!(STEERING.has(r.kind) || r.kind === RTN_LOCAL || r.kind === RTN_ANYCAST) || r.dst === 'default' || r.dst === '::/0' || ours(r.dev)) continue;
    const address = (r.kind === RTN_LOCAL || r.kind === RTN_ANYCAST) && r.dst.endsWith('/128') ? r.dst.slice(0, -4) : null;
    add(r.dst, address ? `the host's own address ${address}${r.dev ? ` on ${r.dev}` : ''}` : `the host route ${describeRoute(r)}`);
  }
  for (const a of addrs6) {
    if (ours(a.dev)) continue;
    const ip = a.cidr.split('/')[0]!;
    add(`${ip}/128`, `the host's own address ${ip} on ${a.dev}`);
  }
  for (const v of Object.values(vpcs)) {
    const routed = routed6Of(v);
    if (routed) out.push({ cidr: parseCidr6(routed), text: `vpc "${v.name}" (${routed}), which the host routes already`, vpc: v.name });
  }
  return out;
}

/** checkClaims for routed IPv6 prefixes: OVERLAP (exit 2) naming what is in the way. */
export function checkClaims6(claims: Claim[], constraints: Constraint6[], at?: (c: Claim) => string | undefined): void {
  for (const claim of claims) {
    if (!claim.ipv6) continue;
    const cidr = parseCidr6(claim.cidr);
    const hit = constraints.find((k) => k.vpc !== claim.vpc && overlaps6(k.cidr, cidr));
    if (!hit) continue;
    const where = at?.(claim);
    const message = `${claimName(claim)} IPv6 ${claim.cidr} (a global prefix, routed by the host) overlaps ${hit.text}: choose another prefix`;
    throw new VpcctlError('OVERLAP', where ? `${where}: ${message}` : message);
  }
}
