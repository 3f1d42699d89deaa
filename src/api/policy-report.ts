import type { SubnetPolicy } from '../model/schema.js';

export interface RuleCounter {
  chain: string;
  /** The rule's origin in the policy (`ingress[0]`), or what a built-in rule is for. */
  rule: string;
  packets: number;
  bytes: number;
}

export interface PolicyReport {
  policy: SubnetPolicy | null;
  /** Per-rule counters as the kernel has them now; empty when no policy table exists. */
  rules: RuleCounter[];
  /** What the kernel lost of the policy ("table inet vpcctl in ns-demo-web is missing"); empty when it enforces it as made. */
  drift: string[];
}

interface ListedRule { chain: string; comment?: string; expr?: Record<string, unknown>[] }

/** Pull per-rule counters out of libnftables' JSON listing of a table. */
export function ruleCounters(listing: string): RuleCounter[] {
  const doc = JSON.parse(listing) as { nftables?: Record<string, unknown>[] };
  const out: RuleCounter[] = [];
  for (const item of doc.nftables ?? []) {
    const r = item.rule as ListedRule | undefined;
    if (!r?.comment) continue;
    const counter = r.expr?.find((e) => 'counter' in e)?.counter as { packets?: number; bytes?: number } | undefined;
    out.push({ chain: r.chain, rule: r.comment, packets: counter?.packets ?? 0, bytes: counter?.bytes ?? 0 });
  }
  return out;
}
