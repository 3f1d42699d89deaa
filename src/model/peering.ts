/**
 * A peering joins two VPCs without a direction: `peer a b` and `peer b a`
 * are the same peering. Every comparison, key and "the other end" goes
 * through here, so the two spellings can never be told apart somewhere.
 */
export interface Pair { vpc1: string; vpc2: string }

/** The two names in their canonical order (the smaller first): tags and keys use it. */
export const pairOrder = (a: string, b: string): [string, string] => (a <= b ? [a, b] : [b, a]);

/** One key per unordered pair: `a~b` for both `a b` and `b a` ('~' is in no name). */
export const pairKey = (p: Pair): string => pairOrder(p.vpc1, p.vpc2).join('~');

/** True when `p` joins `a` and `b`, in either order. */
export const samePair = (p: Pair, a: string, b: string): boolean =>
  (p.vpc1 === a && p.vpc2 === b) || (p.vpc1 === b && p.vpc2 === a);

/** True when `vpc` is one end of `p`. */
export const joins = (p: Pair, vpc: string): boolean => p.vpc1 === vpc || p.vpc2 === vpc;

/** The other end of `p` seen from `vpc`; null when `vpc` is not one of its ends. */
export const peerOf = (p: Pair, vpc: string): string | null => (p.vpc1 === vpc ? p.vpc2 : p.vpc2 === vpc ? p.vpc1 : null);

/** The VPCs peered with `vpc`, in the order of `peerings`. */
export const peersOf = (peerings: readonly Pair[], vpc: string): string[] =>
  peerings.flatMap((p) => { const other = peerOf(p, vpc); return other === null ? [] : [other]; });
