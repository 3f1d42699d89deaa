import { native, verifyPlan } from '../native.js';
import { NFT_FAMILY, NFT_TABLE, hostNs } from '../model/names.js';
import type { SubnetPolicy } from '../model/schema.js';
import { policyOp } from '../plan/build.js';
import type { State } from '../state/types.js';
import { findSubnet, findVpc } from './lookup.js';
import type { CompilablePolicy } from '../firewall/policy.js';
import { BUILT_IN_RULES, describeRule, parseRuleComment } from '../model/policy-text.js';

/** One rule of a policy and the packets and bytes it matched. */
export interface RuleCounter {
  chain: string;
  /** The rule's origin in the policy (`ingress[0]`), or what a built-in rule is for (`established`). */
  rule: string;
  /** The rule itself, as a person reads it: `allow tcp 80 from any`. */
  text: string;
  packets: number;
  bytes: number;
}

/** A subnet's policy with the kernel's per-rule counters. */
export interface PolicyReport {
  policy: SubnetPolicy | null;
  /** Per-rule counters as the kernel has them now; empty when no policy table exists. */
  rules: RuleCounter[];
  /** What the kernel lost of the policy ("table inet vpcctl in ns-demo-web is missing"); empty when it enforces it as made. */
  drift: string[];
}

/** The text of the rule a comment names, from the policy the table was compiled from. */
function ruleText(policy: CompilablePolicy | null, comment: string): string {
  const at = parseRuleComment(comment);
  if (!at) return BUILT_IN_RULES[comment] ?? comment;
  const rule = policy?.[at[0]][at[1]];
  return rule ? describeRule(at[0], rule) : comment;
}

interface ListedRule { chain: string; comment?: string; expr?: Record<string, unknown>[] }

/** Pull per-rule counters out of libnftables' JSON listing of a table. */
export function ruleCounters(listing: string, policy: CompilablePolicy | null = null): RuleCounter[] {
  const doc = JSON.parse(listing) as { nftables?: Record<string, unknown>[] };
  const out: RuleCounter[] = [];
  for (const item of doc.nftables ?? []) {
    const r = item.rule as ListedRule | undefined;
    if (!r?.comment) continue;
    const counter = r.expr?.find((e) => 'counter' in e)?.counter as { packets?: number; bytes?: number } | undefined;
    out.push({ chain: r.chain, rule: r.comment, text: ruleText(policy, r.comment), packets: counter?.packets ?? 0, bytes: counter?.bytes ?? 0 });
  }
  return out;
}

/**
 * The policy of a subnet with the kernel's per-rule packet counters, and
 * what the kernel lost of it (verify of the policy's op, with the nft marks).
 */
export async function policyReport(state: State, ref: { vpc: string; subnet: string }): Promise<PolicyReport> {
  const subnet = findSubnet(state, ref.vpc, ref.subnet);
  const n = await native();
  const op = policyOp(findVpc(state, ref.vpc), subnet);
  const [json, drift] = await Promise.all([
    n.nftListTable(hostNs(ref.vpc, ref.subnet), NFT_FAMILY, NFT_TABLE),
    op ? verifyPlan([op], { nft: state.nftMarks ?? {} }) : [],
  ]);
  return { policy: subnet.policy ?? null, rules: json ? ruleCounters(json, subnet.policy ?? null) : [], drift: drift.map((d) => d.detail) };
}
