import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native.js';
import { IP6_FORWARD, IP_FORWARD, NFT_FAMILY, NFT_TABLE, ROOT_NS, isVpcctlNsName, ownsNs, parseTag } from '../model/names.js';
import type { Op } from '../plan/ops.js';
import type { StateStore } from '../state/store.js';
import { ringDir } from './flow-logs.js';
import type { State } from '../state/types.js';
import type { Engine } from './engine.js';
import { cacheFileOf } from './plan-cache.js';
import { removeAllEtcFiles } from '../state/etc-netns.js';

/** What `cleanupAll` removed (or, as a dry run, would remove). */
export interface CleanupReport {
  namespaces: string[];
  links: string[];
  /** vpcctl's files under /etc/netns (the subnets' names), removed. */
  files: string[];
  /** Pending names of the state that are not vpcctl's, left alone. */
  warnings: string[];
  /** ip_forward's value restored on the host, when vpcctl had changed it. */
  ipForwardRestored?: string;
  /** ip_forward's value left as found: something else changed it after vpcctl set it to 1. */
  ipForwardLeft?: string;
}

/**
 * Remove every kernel object tagged as vpcctl's, whatever the state file
 * says (it may be lost or corrupt): namespaces whose `lo` carries a vpcctl
 * tag (their apps die with them), host links with a vpcctl alias, vpcctl's
 * host table; vpcctl's files under /etc/netns (found by the tag in their
 * first line). Then the state. Nothing untagged is touched; running it
 * twice is harmless.
 */
export async function cleanupAll(store: StateStore, engine: Engine, opts: { dryRun?: boolean } = {}): Promise<CleanupReport> {
  const n = await native();
  const state: State | null = await store.read().catch(() => null);
  const all = await n.netnsList();
  const pendingNames = (state?.pending ?? []).filter((ns) => typeof ns === 'string' && isVpcctlNsName(ns));
  const names = [...new Set([...all, ...pendingNames])];
  // One native call; if some tag cannot be read, each on its own, and an
  // unreadable one counts as untagged (then only a recorded name is ours).
  const read = await n.netnsTags(names)
    .catch(() => Promise.all(names.map((ns) => n.netnsTag(ns).catch(() => null))));
  const tags = new Map(read.map((tag, i) => [names[i]!, tag]));
  // Tagged as ours (the tag vpcctl gives that very name), or recorded as
  // pending before a crash could tag it (or even mount it: netnsDel also
  // removes a half-made /run/netns entry) and named by vpcctl's rule, and
  // not tagged by someone else (names.ts ownsNs). Anything else in the
  // pending list is reported, never deleted.
  const warnings: string[] = [];
  const pending = (state?.pending ?? []).filter((ns) => {
    const ours = typeof ns === 'string' && ownsNs(ns, tags.get(ns), true);
    if (!ours) warnings.push(`pending entry ${JSON.stringify(ns)} in the state is not a vpcctl namespace: left alone`);
    return ours;
  });
  const namespaces = [...new Set([...all.filter((ns) => ownsNs(ns, tags.get(ns), false)), ...pending])];
  const links = (await n.linkList(ROOT_NS)).filter((l) => l.alias && parseTag(l.alias));

  const ops: Op[] = [
    ...namespaces.map((ns): Op => ({ op: 'netnsDel', ns })),
    // With the alias read: a link renamed in its place since this read is not deleted by name.
    ...links.map((l): Op => ({ op: 'linkDel', ns: ROOT_NS, name: l.name, alias: l.alias })),
    { op: 'nftDelete', ns: ROOT_NS, family: NFT_FAMILY, table: NFT_TABLE },
  ];
  // ip_forward goes back only if it still holds the 1 vpcctl set: a 0 now
  // means something else changed it since, and that choice is left alone.
  const before = state?.hostForwardBefore;
  const now = before === undefined ? undefined : (await n.sysctlGet(ROOT_NS, IP_FORWARD)).trim();
  const restore = before !== undefined && now === '1';
  if (restore) ops.push({ op: 'sysctlSet', ns: ROOT_NS, key: IP_FORWARD, value: before });
  // IPv6 forwarding likewise (on while a dual-stack VPC had a gateway).
  const before6 = state?.hostForward6Before;
  if (before6 !== undefined && (await n.sysctlGet(ROOT_NS, IP6_FORWARD).catch(() => '')).trim() === '1' && before6 !== '1') {
    ops.push({ op: 'sysctlSet', ns: ROOT_NS, key: IP6_FORWARD, value: before6 });
  }
  // What would go, for a confirmation: nothing is touched.
  if (opts.dryRun) return { namespaces, links: links.map((l) => l.name), files: [], warnings };
  await engine.run({ ops, changes: [], namespaces });
  const files = removeAllEtcFiles();
  rmSync(store.file, { force: true });
  rmSync(join(store.dir, 'logs'), { recursive: true, force: true });
  rmSync(ringDir(store.dir), { recursive: true, force: true }); // flow-log rings
  rmSync(cacheFileOf(store.dir), { force: true });
  return {
    namespaces, links: links.map((l) => l.name), files, warnings,
    ...(restore ? { ipForwardRestored: before } : {}),
    ...(before !== undefined && !restore ? { ipForwardLeft: now } : {}),
  };
}
