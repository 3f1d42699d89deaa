import type { PolicyRule, SubnetPolicy } from './schema.js';

/**
 * What a policy means, without the `subnet` it may carry (which only
 * restates the subnet's CIDR) and without the order of its keys: a policy
 * applied from a file with `subnet` and the same one from a topology
 * without it are one policy, and applying it again is no change.
 */
export function policyMeaning(p: SubnetPolicy | undefined): string {
  if (!p) return '';
  const rule = (r: PolicyRule) => JSON.stringify([r.action, r.protocol, r.port ?? null, r.cidr ?? null]);
  return JSON.stringify([p.ingress.map(rule), p.egress.map(rule), p.default]);
}

/**
 * The policy as the state keeps it: `subnet` set to the subnet's CIDR and
 * the keys in one order; the one already kept when it means the same, so an
 * identical policy leaves the state exactly as it was.
 */
export function storedPolicy(policy: SubnetPolicy, cidr: string, kept: SubnetPolicy | undefined): SubnetPolicy {
  if (kept && policyMeaning(kept) === policyMeaning(policy)) return kept;
  return { subnet: cidr, ingress: policy.ingress, egress: policy.egress, default: policy.default };
}
