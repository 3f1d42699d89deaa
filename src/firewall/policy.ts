/**
 * Compiles a validated security policy into the nftables objects of table
 * `inet vpcctl` in a subnet's host namespace. Stateful like a cloud security
 * group: replies pass, then the user's rules in order (first match wins), then
 * the chain policy from `default`. Ports and CIDRs become anonymous sets so a
 * rule with many ports is still one lookup per packet.
 */
import { type Cidr, contains, formatCidr, parseCidr } from '../model/cidr.js';
import { type Cidr6, contains6, formatCidr6, isV6Text, parseCidr6 } from '../model/cidr6.js';
import type { PolicyRule, SubnetPolicy } from '../model/schema.js';
import { portRangesOf } from '../model/ports.js';
import { type Expr, type NftObject, accept, chain, counter, ctState, daddr, drop, iif, oif, prefix, rule, saddr } from './nft.js';
import { flowLogRule } from './flow-log.js';

export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

const HOOK: Record<Direction, string> = { ingress: 'input', egress: 'output' };

/** What the compiler needs; a topology subnet's policy (subnet omitted) qualifies. */
export type CompilablePolicy = Pick<SubnetPolicy, 'ingress' | 'egress' | 'default'>;

/** The rule comment, `ingress[1]`: how show-policy joins counters back to the policy. */
export const ruleComment = (direction: Direction, index: number): string => `${direction}[${index}]`;

/** Sorted, merged port ranges: interval sets refuse overlapping elements. */
function mergedPorts(rule: PolicyRule): Array<[number, number]> {
  const ranges = portRangesOf(rule.port!).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of ranges) {
    const last = out.at(-1);
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

const cidrTexts = (rule: PolicyRule): string[] => (Array.isArray(rule.cidr) ? rule.cidr : [rule.cidr!]);

/** CIDRs with any block inside another dropped (same reason as ports). */
function mergedCidrs(texts: string[]): Cidr[] {
  const list = texts.map((c) => parseCidr(c));
  list.sort((a, b) => a.prefix - b.prefix || a.network - b.network);
  const out: Cidr[] = [];
  for (const c of list) if (!out.some((o) => contains(o, c))) out.push(c);
  return out.sort((a, b) => a.network - b.network);
}

/** The IPv6 twin of mergedCidrs. */
function mergedCidrs6(texts: string[]): Cidr6[] {
  const list = texts.map((c) => parseCidr6(c));
  list.sort((a, b) => a.prefix - b.prefix || (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
  const out: Cidr6[] = [];
  for (const c of list) if (!out.some((o) => contains6(o, c))) out.push(c);
  return out.sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
}

const nfproto = (family: 'ipv4' | 'ipv6'): Expr => ({ match: { op: '==', left: { meta: { key: 'nfproto' } }, right: family } });
const addrMatch = (proto: 'ip' | 'ip6', direction: Direction, right: unknown): Expr =>
  ({ match: { op: '==', left: { payload: { protocol: proto, field: direction === 'ingress' ? 'saddr' : 'daddr' } }, right } });

/**
 * The peer-address match of a rule, per family present: a rule naming
 * IPv4 and IPv6 ranges becomes two nftables rules (one rule cannot match
 * `ip saddr` or `ip6 saddr`). [] when the rule names no range.
 */
function peerMatches(direction: Direction, r: PolicyRule): Expr[][] {
  if (r.cidr === undefined) return [[]];
  const texts = cidrTexts(r);
  const out: Expr[][] = [];
  const v4 = texts.filter((t) => !isV6Text(t));
  const v6 = texts.filter(isV6Text);
  if (v4.length) {
    const cidrs = mergedCidrs(v4);
    // 0.0.0.0/0 is "any IPv4": say so instead of a zero-length prefix.
    if (cidrs.some((c) => c.prefix === 0)) out.push([nfproto('ipv4')]);
    else {
      const peer = oneOrSet(cidrs.map((c) => prefix(formatCidr(c))));
      out.push([direction === 'ingress' ? saddr(peer) : daddr(peer)]);
    }
  }
  if (v6.length) {
    const cidrs = mergedCidrs6(v6);
    if (cidrs.some((c) => c.prefix === 0)) out.push([nfproto('ipv6')]);
    else out.push([addrMatch('ip6', direction, oneOrSet(cidrs.map((c) => prefix6(formatCidr6(c)))))]);
  }
  return out;
}

/** `fd00::/64` -> `{ prefix: { addr, len } }`; a /128 stays a bare address. */
const prefix6 = (cidr: string): Expr | string => {
  const [addr, len] = cidr.split('/');
  return len === '128' ? addr! : { prefix: { addr, len: Number(len) } };
};

/** One element stays a plain value (`tcp dport 80`); more become `{ set: [...] }`. */
const oneOrSet = (items: unknown[]): unknown => (items.length === 1 ? items[0] : { set: items });

/** The matches of a rule: one list per nftables rule it becomes (two when it names ranges of both families). */
function matchesOf(direction: Direction, r: PolicyRule, ipv6: boolean): Expr[][] {
  return peerMatches(direction, r).map((peer) => [...peer, ...protoMatches(r, ipv6)]);
}

/**
 * Protocols as numbers, never names: libnftables turns a name into its
 * number with getprotobyname(3), whose one result is shared by every thread
 * of a process, and the executor applies tables from several threads.
 */
const PROTO = { tcp: 6, udp: 17, icmp: 1, 'ipv6-icmp': 58 } as const;

function protoMatches(r: PolicyRule, ipv6: boolean): Expr[] {
  const exprs: Expr[] = [];
  if (r.port !== undefined) {
    const ports = mergedPorts(r).map(([lo, hi]) => (lo === hi ? lo : { range: [lo, hi] }));
    // `tcp dport` carries its own `meta l4proto tcp` dependency.
    exprs.push({ match: { op: '==', left: { payload: { protocol: r.protocol, field: 'dport' } }, right: oneOrSet(ports) } });
  } else if (r.protocol === 'icmp' && ipv6) {
    // In a dual-stack subnet `icmp` is ICMP and ICMPv6.
    exprs.push({ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: { set: [PROTO.icmp, PROTO['ipv6-icmp']] } } });
  } else if (r.protocol !== 'all') {
    exprs.push({ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: PROTO[r.protocol] } });
  }
  return exprs;
}

/**
 * Neighbour discovery (ICMPv6 133-137: router and neighbour solicitation
 * and advertisement, redirect) passes whatever the policy says: without it
 * a `default: deny` cuts IPv6 off entirely, even what the rules allow.
 */
const ND_TYPES = ['nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit', 'nd-neighbor-advert', 'nd-redirect'];
const ndRule = (direction: Direction): NftObject =>
  rule(direction, [{ match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'type' } }, right: { set: ND_TYPES } } }, accept], 'neighbour discovery');

/** What a subnet's table holds when flow logs are on and it has no policy: everything allowed, every new connection logged as `default`. */
export const ALLOW_ALL: CompilablePolicy = { ingress: [], egress: [], default: 'allow' };

export interface CompileOptions {
  /**
   * Flow logs (the VPC's switch): before each rule's verdict, and at the end
   * for the default, a rule that hands the first packet of a new connection
   * to NFLOG, rate-limited (src/firewall/flow-log.ts). Off, the table is
   * exactly the one without them, so the cost is nil.
   */
  flowLogs?: boolean;
  /**
   * The subnet is dual-stack: neighbour discovery always passes, and
   * `icmp` also means ICMPv6. Off, the table is exactly the IPv4-only one.
   */
  ipv6?: boolean;
}

/** The objects inside table `inet vpcctl`; the caller adds the table itself. */
export function compilePolicy(policy: CompilablePolicy, opts: CompileOptions = {}): NftObject[] {
  const out: NftObject[] = [];
  for (const direction of DIRECTIONS) {
    out.push(chain(direction, HOOK[direction], 'filter', 0, policy.default === 'deny' ? 'drop' : 'accept'));
    // Replies to allowed traffic must pass whatever the rules say, or every deny breaks the other direction.
    out.push(rule(direction, [ctState('established', 'related'), accept], 'established'));
    // Before `invalid`: conntrack does not track neighbour discovery.
    if (opts.ipv6) out.push(ndRule(direction));
    out.push(rule(direction, [ctState('invalid'), drop], 'invalid'));
    out.push(rule(direction, [direction === 'ingress' ? iif('lo') : oif('lo'), accept], 'loopback'));
    policy[direction].forEach((r, i) => {
      for (const matches of matchesOf(direction, r, !!opts.ipv6)) {
        if (opts.flowLogs) out.push(flowLogRule(direction, matches, ruleComment(direction, i), r.action));
        out.push(rule(direction, [...matches, counter, r.action === 'allow' ? accept : drop], ruleComment(direction, i)));
      }
    });
    // The chain's policy is the default's verdict: its log rule comes last.
    if (opts.flowLogs) out.push(flowLogRule(direction, [], 'default', policy.default === 'deny' ? 'deny' : 'allow'));
  }
  return out;
}
