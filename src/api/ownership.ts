import { native } from '../native.js';
import { ownsNs } from '../model/names.js';
import type { Op } from '../plan/ops.js';

/** A namespace a plan would delete that is not vpcctl's (names.ts `ownsNs`). */
export interface ForeignNs {
  ns: string;
  /** Its tag (null: untagged). */
  tag: string | null;
  /** Whether the plan makes it again: then the plan cannot run without it. */
  remade: boolean;
}

/**
 * The namespaces `ops` would delete that are not vpcctl's by their tag
 * (`recorded`: the names the state holds, which may be untagged). The
 * engine keeps a plan off them; status tells the owner what to do.
 */
export async function foreignDeletions(ops: readonly Op[], recorded: ReadonlySet<string>): Promise<ForeignNs[]> {
  const dels = ops.flatMap((o) => (o.op === 'netnsDel' ? [o.ns] : []));
  if (dels.length === 0) return [];
  // One native call reads every tag (null for an absent name: a half-made
  // /run/netns entry, removed only if the rule names it ours).
  const tags = await (await native()).netnsTags(dels);
  const creates = new Set(ops.flatMap((o) => (o.op === 'netnsAdd' ? [o.ns] : [])));
  return dels.flatMap((ns, i) => (ownsNs(ns, tags[i], recorded.has(ns)) ? [] : [{ ns, tag: tags[i] ?? null, remade: creates.has(ns) }]));
}
