/**
 * Flow logs in a subnet's policy table (issue 16 §4): the rule that hands a
 * new connection's first packet to NFLOG, and the prefix that names the
 * decision. The prefix carries both the rule id and the action, so a
 * record read later says what decided it even if the policy changed since.
 */
import type { Expr, NftObject } from './nft.js';
import { ctState, rule } from './nft.js';

/**
 * The NFLOG group of every subnet namespace. Groups are per network
 * namespace in the kernel, so one number serves all subnets; a reader binds
 * it inside each subnet it follows (one listener per group and namespace).
 */
export const FLOW_LOG_GROUP = 16;

/**
 * New connections logged per second and rule, with a burst: a flood of
 * refused SYNs cannot turn into a flood of records. Established traffic
 * never reaches the log rule (`ct state new`), so it costs nothing.
 */
export const FLOW_LOG_RATE = 100;
export const FLOW_LOG_BURST = 200;

/** AWS VPC Flow Logs' words for the two verdicts. */
export type FlowAction = 'ACCEPT' | 'REJECT';

export const actionOf = (verdict: 'allow' | 'deny'): FlowAction => (verdict === 'allow' ? 'ACCEPT' : 'REJECT');

/** `ingress[1] REJECT`: what a record's prefix says. */
export const flowLogPrefix = (ruleId: string, verdict: 'allow' | 'deny'): string => `${ruleId} ${actionOf(verdict)}`;

/** The rule id and action in a prefix vpcctl wrote; null for anything else. */
export function parseFlowLogPrefix(prefix: string): { rule: string; action: FlowAction } | null {
  const m = /^((?:ingress|egress)\[\d+\]|default) (ACCEPT|REJECT)$/.exec(prefix);
  return m ? { rule: m[1]!, action: m[2] as FlowAction } : null;
}

/**
 * The log rule placed just before a verdict rule with the same matches (or
 * at the chain's end for the default): no comment, so show-policy's
 * counters stay one per policy rule.
 */
export function flowLogRule(chainName: string, matches: Expr[], ruleId: string, verdict: 'allow' | 'deny'): NftObject {
  return rule(chainName, [
    ctState('new'),
    ...matches,
    { limit: { rate: FLOW_LOG_RATE, per: 'second', burst: FLOW_LOG_BURST } },
    { log: { prefix: flowLogPrefix(ruleId, verdict), group: FLOW_LOG_GROUP } },
  ]);
}
