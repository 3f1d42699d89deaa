import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { kernel, native } from '../native.js';
import { NFT_FAMILY, NFT_TABLE, parseTag } from '../model/names.js';
import { HOST_NS, type Op } from '../plan/ops.js';
import type { StateStore } from '../state/store.js';
import type { State } from '../state/types.js';
import type { Engine } from './engine.js';
import { CACHE_FILE as FULL_PLAN_CACHE } from './drift.js';

export interface CleanupReport {
  namespaces: string[];
  links: string[];
  /** ip_forward's value restored on the host, when vpcctl had changed it. */
  ipForwardRestored?: string;
}

/**
 * Remove every kernel object tagged as vpcctl's, whatever the state file
 * says (it may be lost or corrupt): namespaces whose `lo` carries a vpcctl
 * tag (their apps die with them), host links with a vpcctl alias, vpcctl's
 * host table. Then the state. Nothing untagged is touched; running it twice
 * is harmless.
 */
export async function cleanupAll(store: StateStore, engine: Engine): Promise<CleanupReport> {
  const n = await native();
  const state: State | null = await store.read().catch(() => null);
  const all = await kernel(n.netnsList());
  const tags = await Promise.all(all.map((ns) => kernel(n.netnsTag(ns)).catch(() => null)));
  // Tagged as ours, or recorded as pending before a crash could tag it (or
  // even mount it: netnsDel also removes a half-made /run/netns entry).
  const pending = state?.pending ?? [];
  const namespaces = [...new Set([...all.filter((_, i) => tags[i] && parseTag(tags[i]!)), ...pending])];
  const links = (await kernel(n.linkList(HOST_NS))).filter((l) => l.alias && parseTag(l.alias)).map((l) => l.name);

  const ops: Op[] = [
    ...namespaces.map((ns): Op => ({ op: 'netnsDel', ns })),
    ...links.map((name): Op => ({ op: 'linkDel', ns: HOST_NS, name })),
    { op: 'nftDelete', ns: HOST_NS, family: NFT_FAMILY, table: NFT_TABLE },
  ];
  const before = state?.hostForwardBefore;
  if (before !== undefined) ops.push({ op: 'sysctlSet', ns: HOST_NS, key: 'net/ipv4/ip_forward', value: before });
  await engine.run({ ops, changes: [], namespaces });
  rmSync(store.file, { force: true });
  rmSync(join(store.dir, 'logs'), { recursive: true, force: true });
  rmSync(join(store.dir, FULL_PLAN_CACHE), { force: true });
  return { namespaces, links, ...(before !== undefined ? { ipForwardRestored: before } : {}) };
}
