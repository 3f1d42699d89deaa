/**
 * The addresses the model gives out, derived from CIDRs alone, so the
 * planner, the firewall, inspection and probes agree on them:
 * - in a subnet, .1 is its gateway (the router's end of the subnet link)
 *   and .2 its first host (the eth0 of the subnet's namespace);
 * - in a transit or peering /30, .1 is the near end (the root namespace's,
 *   or vpc1's) and .2 the far end (the VPC router's, or vpc2's).
 */
import { formatCidr, hostAddress, ipToString, parseCidr } from './cidr.js';
import { type Cidr6, contains6, hostAddress6, ip6ToString, isV6Text, overlaps6, parseCidr6 } from './cidr6.js';

const nth = (cidr: string, n: number): string => ipToString(hostAddress(parseCidr(cidr), n));
const withPrefix = (cidr: string, n: number): string => `${nth(cidr, n)}/${parseCidr(cidr).prefix}`;

/** The gateway of a subnet: the router's address on the subnet's link. */
export const gatewayIp = (subnetCidr: string): string => nth(subnetCidr, 1);
/** The first host of a subnet (its namespace's eth0). */
export const hostIp = (subnetCidr: string): string => nth(subnetCidr, 2);
/** The first host's address with the subnet's prefix, as configured on its eth0. */
export const hostIfaceCidr = (subnetCidr: string): string => withPrefix(subnetCidr, 2);

export interface LinkEnds {
  /** The near end with the link's prefix (`10.255.0.1/30`): the root namespace's, or vpc1's. */
  near: string;
  /** The far end with the link's prefix: the VPC router's, or vpc2's. */
  far: string;
  nearIp: string;
  farIp: string;
}

/** The two ends of a transit (root <-> router) or peering (vpc1 <-> vpc2) /30. */
export const transitEnds = (cidr: string): LinkEnds =>
  ({ near: withPrefix(cidr, 1), far: withPrefix(cidr, 2), nearIp: nth(cidr, 1), farIp: nth(cidr, 2) });

// IPv6: in a subnet's /64, ::1 is the gateway (the router's end) and ::2 the
// host, as in IPv4. Routers make no link-local address of their own
// (plan/build.ts); each of their links carries a fixed one: fe80::1 on a
// subnet's link and on the first VPC's end of a peering, fe80::2 on the
// second's and on the router's end of its gateway link (whose end on the
// machine keeps the kernel's own). Per link, so never in conflict.
const nth6 = (cidr: string, n: number): string => ip6ToString(hostAddress6(parseCidr6(cidr), n));

export const gatewayIp6 = (subnetCidr6: string): string => nth6(subnetCidr6, 1);
export const hostIp6 = (subnetCidr6: string): string => nth6(subnetCidr6, 2);
export const hostIfaceCidr6 = (subnetCidr6: string): string => `${nth6(subnetCidr6, 2)}/64`;
export const gatewayIfaceCidr6 = (subnetCidr6: string): string => `${nth6(subnetCidr6, 1)}/64`;
/**
 * The block a subnet is known by (a policy's `subnet`, messages): its IPv4
 * CIDR, or its /64 when it is IPv6-only.
 */
export const blockOf = (s: { cidr?: string | undefined; ipv6Cidr?: string | undefined }): string => s.cidr ?? s.ipv6Cidr!;
/** blockOf for a message: an IPv6-only subnet says so. */
export const blockText = (s: { cidr?: string | undefined; ipv6Cidr?: string | undefined }): string =>
  s.cidr ?? `IPv6-only ${s.ipv6Cidr}`;
/** A subnet's first host: its IPv4 address, or for an IPv6-only subnet its IPv6 one (::2). */
export const hostOf = (s: { cidr?: string | undefined; ipv6Cidr?: string | undefined }): string =>
  (s.cidr !== undefined ? hostIp(s.cidr) : hostIp6(s.ipv6Cidr!));
/** A subnet's gateway: IPv4, or for an IPv6-only subnet IPv6 (::1). */
export const gatewayOf = (s: { cidr?: string | undefined; ipv6Cidr?: string | undefined }): string =>
  (s.cidr !== undefined ? gatewayIp(s.cidr) : gatewayIp6(s.ipv6Cidr!));
/** A policy's `subnet` text in the form the state keeps (IPv6 text is canonical already: cidr6.ts refuses any other). */
export const normBlock = (text: string): string => (isV6Text(text) ? text : formatCidr(parseCidr(text)));

export const LINK_ENDS6 = { near: 'fe80::1/64', far: 'fe80::2/64', nearIp: 'fe80::1', farIp: 'fe80::2' } as const;

/**
 * The IPv6 ends of a VPC's internet gateway link, derived from its IPv4
 * transit /30 so they need no allocation of their own: the /126 at the same
 * offset in TRANSIT6_POOL (100.64.0.4/30 -> fd7f:ffff:ffff:ffff::6440:4/126).
 * The router translates its subnets' sources to the far end (as it does to
 * the IPv4 one), and the host masquerades the pool out of the uplink.
 */
export const TRANSIT6_POOL = 'fd7f:ffff:ffff:ffff::/64';
export function transitEnds6(transitCidr: string): LinkEnds {
  const base = parseCidr6(TRANSIT6_POOL).network + BigInt(parseCidr(transitCidr).network);
  const at = (n: number) => ip6ToString(base + BigInt(n));
  return { near: `${at(1)}/126`, far: `${at(2)}/126`, nearIp: at(1), farIp: at(2) };
}

/**
 * IPv6 leaves a VPC one of two ways, chosen by its prefix alone:
 * - a global unicast prefix (2000::/3) is one the host's provider routes to
 *   the host (a delegated prefix): it is routed as it is, no NAT66. The host
 *   gets a route to the whole prefix over the VPC's gateway link (so the
 *   replies to an egress-only subnet come back too), and servers see the
 *   subnet's own address, as in AWS;
 * - any other (unique local fd00::/8, the `--ipv6` default) cannot cross the
 *   internet: the router translates it to its gateway end and the host
 *   masquerades that (NAT66, the fallback).
 * Either way nothing from beyond the host opens a connection into the VPC
 * (firewall/root.ts): routing the prefix makes the VPC reachable for
 * replies, not for new connections.
 */
const GLOBAL_UNICAST6 = { network: 0x2n << 124n, prefix: 3 };
export const isRoutedPrefix6 = (prefix: string): boolean => contains6(GLOBAL_UNICAST6, parseCidr6(prefix));
/** Whether a routed prefix could overlap `c` at all (doctor lists only those constraints). */
export const touchesGlobal6 = (c: Cidr6): boolean => overlaps6(GLOBAL_UNICAST6, c);
/** The VPC's IPv6 prefix if the host routes it (global unicast, with an internet gateway), else null. */
export const routedPrefix6 = (v: { ipv6Cidr?: string | undefined; transit: string | null }): string | null =>
  (v.ipv6Cidr && v.transit && isRoutedPrefix6(v.ipv6Cidr) ? v.ipv6Cidr : null);
