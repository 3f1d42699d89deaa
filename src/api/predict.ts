import { containsIp, parseCidr } from '../model/cidr.js';
import { containsIp6, isV6Text, parseCidr6 } from '../model/cidr6.js';
import { describeRule, type RuleDirection } from '../model/policy-text.js';
import type { PolicyRule, SubnetPolicy } from '../model/schema.js';
import type { State, SubnetState } from '../state/types.js';

/**
 * What `test-connectivity --all` should find, from the state alone: an
 * ICMP echo from one subnet's host to another's passes when the two are
 * routed to each other (the same VPC, or VPCs peered directly: peering is
 * not transitive) and neither the source's egress policy nor the target's
 * ingress policy stops it (first matching rule wins, else the default).
 * The probes' findings are compared with this, so the output names only
 * the pairs that surprise.
 */

export interface Prediction {
  reachable: boolean;
  /** Why not, when not: `vpcs a and b are not peered`, `b/db ingress: deny icmp from any`. */
  reason?: string;
}

export interface SubnetRef { vpc: string; subnet: string }

/**
 * The family a pair of subnets is probed in: IPv4 when both have an IPv4
 * block, else IPv6 when both have a /64 (a side is IPv6-only), else none
 * (an IPv6-only subnet and one of an IPv4-only VPC share no family).
 */
export const pairFamily = (a: Pick<SubnetState, 'cidr' | 'ipv6Cidr'>, b: Pick<SubnetState, 'cidr' | 'ipv6Cidr'>): 4 | 6 | null =>
  a.cidr !== undefined && b.cidr !== undefined ? 4 : a.ipv6Cidr && b.ipv6Cidr ? 6 : null;

/**
 * The predictor for one state: CIDRs parsed once and each VPC's reachable
 * subnets listed once, so the 22,350 pairs of 150 subnets cost no more
 * than a few lookups each.
 */
export function predictor(state: State): (from: SubnetRef, to: SubnetRef) => Prediction {
  const parsed = new Map<string, ReturnType<typeof parseCidr>>();
  const cidr = (text: string) => {
    let c = parsed.get(text);
    if (!c) parsed.set(text, (c = parseCidr(text)));
    return c;
  };
  const peersOf = new Map<string, Set<string>>();
  for (const p of state.peerings) {
    for (const [a, b] of [[p.vpc1, p.vpc2], [p.vpc2, p.vpc1]] as const) {
      if (!peersOf.has(a)) peersOf.set(a, new Set());
      peersOf.get(a)!.add(b);
    }
  }
  // Per source VPC: the subnets its hosts have routes to, own VPC first (unpeered VPCs may overlap).
  const routed = new Map<string, { vpc: string; subnet: SubnetState }[]>();
  const routedFrom = (vpc: string) => {
    let list = routed.get(vpc);
    if (!list) {
      const vpcs = [vpc, ...Object.keys(state.vpcs).filter((v) => v !== vpc && peersOf.get(vpc)?.has(v))];
      list = vpcs.flatMap((v) => Object.values(state.vpcs[v]?.subnets ?? {}).map((subnet) => ({ vpc: v, subnet })));
      routed.set(vpc, list);
    }
    return list;
  };
  // A rule's IPv4 ranges match IPv4 peers only, its IPv6 ranges IPv6 peers (as the compiled table does).
  const inRange = (c: string, peer: number | bigint): boolean => (typeof peer === 'bigint'
    ? isV6Text(c) && containsIp6(parseCidr6(c), peer)
    : !isV6Text(c) && containsIp(cidr(c), peer));
  const matches = (rule: PolicyRule, peer: number | bigint): boolean =>
    // Rules with a port are tcp/udp only: they never match an echo request.
    (rule.protocol === 'icmp' || rule.protocol === 'all') && rule.port === undefined &&
    (rule.cidr === undefined || (Array.isArray(rule.cidr) ? rule.cidr : [rule.cidr]).some((c) => inRange(c, peer)));
  const verdict = (policy: SubnetPolicy | undefined, direction: RuleDirection, peer: number | bigint): { allow: boolean; rule?: string } => {
    if (!policy) return { allow: true };
    const rule = policy[direction].find((r) => matches(r, peer));
    if (rule) return { allow: rule.action === 'allow', rule: describeRule(direction, rule) };
    return { allow: policy.default !== 'deny', rule: `default ${policy.default}` };
  };
  const hostOf = (c: string) => cidr(c).network + 2;
  const hostOf6 = (c: string) => parseCidr6(c).network + 2n;

  return (from, to) => {
    const src = state.vpcs[from.vpc]?.subnets[from.subnet];
    const dst = state.vpcs[to.vpc]?.subnets[to.subnet];
    if (!src || !dst) return { reachable: false, reason: 'no such subnet' };
    const family = pairFamily(src, dst);
    if (family === null) {
      const [only6, other] = src.cidr === undefined ? [from, to] : [to, from];
      return { reachable: false, reason: `${only6.vpc}/${only6.subnet} is IPv6-only and ${other.vpc}/${other.subnet} has no IPv6` };
    }
    // IPv6 where a side is IPv6-only: the /64s' hosts, routed where both VPCs are dual-stack (any subnet with a /64 is).
    const dstIp = family === 4 ? hostOf(dst.cidr!) : hostOf6(dst.ipv6Cidr!);
    const srcIp = family === 4 ? hostOf(src.cidr!) : hostOf6(src.ipv6Cidr!);
    // The subnet that answers the target's address for this source.
    const target = routedFrom(from.vpc).find((t) => (typeof dstIp === 'bigint'
      ? t.subnet.ipv6Cidr !== undefined && containsIp6(parseCidr6(t.subnet.ipv6Cidr), dstIp)
      : t.subnet.cidr !== undefined && containsIp(cidr(t.subnet.cidr), dstIp)));
    if (!target) return { reachable: false, reason: `vpcs ${from.vpc} and ${to.vpc} are not peered` };
    const out = verdict(src.policy, 'egress', dstIp);
    if (!out.allow) return { reachable: false, reason: `${from.vpc}/${from.subnet} egress: ${out.rule}` };
    const into = verdict(target.subnet.policy, 'ingress', srcIp);
    if (!into.allow) return { reachable: false, reason: `${target.vpc}/${target.subnet.name} ingress: ${into.rule}` };
    return { reachable: true };
  };
}

/** Whether an ICMP echo from `from`'s host to `to`'s host should be answered (one pair; see predictor for many). */
export function predictIcmp(state: State, from: SubnetRef, to: SubnetRef): Prediction {
  return predictor(state)(from, to);
}
