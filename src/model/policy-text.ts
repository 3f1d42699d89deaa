import type { PolicyRule, PortSpec } from './schema.js';

/**
 * A policy rule as a person reads it (`allow tcp 80 from any`, `deny udp
 * 53 to 10.0.0.0/8`): what show-policy prints, and what the connectivity
 * prediction names when it says why a pair is blocked.
 */

export type RuleDirection = 'ingress' | 'egress';

function ports(spec: PortSpec): string {
  return (Array.isArray(spec) ? spec : [spec]).map(String).join(',');
}

export function describeRule(direction: RuleDirection, rule: PolicyRule): string {
  const parts: string[] = [rule.action, rule.protocol];
  if (rule.port !== undefined) parts.push(ports(rule.port));
  const peers = rule.cidr === undefined ? 'any' : (Array.isArray(rule.cidr) ? rule.cidr : [rule.cidr]).join(',');
  parts.push(direction === 'ingress' ? 'from' : 'to', peers);
  return parts.join(' ');
}

/** The rules every policy table carries before the user's (src/firewall/policy.ts): what they are for. */
export const BUILT_IN_RULES: Record<string, string> = {
  established: 'allow replies (established, related)',
  invalid: 'drop invalid packets',
  loopback: 'allow loopback',
  'neighbour discovery': 'allow IPv6 neighbour discovery (ICMPv6 133-137)',
};

/** `ingress[2]` -> ['ingress', 2]; null for a built-in rule's comment. */
export function parseRuleComment(comment: string): [RuleDirection, number] | null {
  const m = /^(ingress|egress)\[(\d+)\]$/.exec(comment);
  return m ? [m[1] as RuleDirection, Number(m[2])] : null;
}
