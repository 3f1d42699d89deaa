import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ETC_FILES, etcFileOwner, etcFilesOf, namesScope, withKeepDir, type DnsLayout } from '../model/dns.js';
import { hostNs } from '../model/names.js';
import { ETC_NETNS, removeEtcFiles, writeEtcFiles } from '../state/etc-netns.js';

/**
 * Keeping /etc/netns/<ns>/{hosts,resolv.conf} in step with the state
 * (model/dns.ts says what they hold). The engine calls `syncNames` after a
 * change is saved, never before: a plan that fails (and is rolled back) or
 * a state that cannot be saved leaves the files as they were, and files
 * always describe a saved state. If writing them fails, the command still
 * stands (its kernel changes and state are saved) and says so in a
 * warning; the next change of that VPC, or `apply`, writes them again, and
 * `status` shows the difference meanwhile.
 */

export interface SyncScope {
  /** VPCs the command names (their files are checked and repaired even if their names did not change). */
  also?: Iterable<string>;
  /** Every VPC (what `apply` checks). */
  all?: boolean;
}

/** Bring the files of the VPCs a change from `before` to `after` affects in line with `after`; returns the paths changed. */
export function syncNames(before: DnsLayout, after: DnsLayout, scope: SyncScope, warn: (m: string) => void): string[] {
  const vpcs = namesScope(before, after, scope.also, scope.all);
  if (vpcs.size === 0) return [];
  const want = etcFilesOf(after, vpcs);
  const changed: string[] = [];
  const failed = (ns: string, e: unknown) =>
    warn(`names of ${ns} not updated in ${join(ETC_NETNS, ns)}: ${(e as Error).message}; the next change of its VPC retries`);
  for (const [ns, files] of want) {
    try {
      changed.push(...writeEtcFiles(ns, files, warn));
    } catch (e) {
      failed(ns, e);
    }
  }
  // Subnets (or whole VPCs) the change removed.
  for (const v of vpcs) {
    for (const s of Object.values(before.vpcs[v]?.subnets ?? {})) {
      const ns = hostNs(v, s.name);
      if (want.has(ns)) continue;
      try {
        changed.push(...removeEtcFiles(ns));
      } catch (e) {
        failed(ns, e);
      }
    }
  }
  return changed;
}

export interface NamesDrift { vpc: string; subnet: string; kind: 'missing' | 'differs'; detail: string }

/**
 * Where the files differ from what the state says (read only, for
 * `status`): each file missing, changed or not vpcctl's.
 */
export function namesDrift(state: DnsLayout): NamesDrift[] {
  const out: NamesDrift[] = [];
  for (const vpc of Object.keys(state.vpcs)) {
    const all = etcFilesOf(state, [vpc]);
    for (const subnet of Object.keys(state.vpcs[vpc]!.subnets)) {
      const ns = hostNs(vpc, subnet);
      const files = all.get(ns)!;
      for (const name of ETC_FILES) {
        const detail = fileDrift(ns, name, files[name]);
        if (detail) out.push({ vpc, subnet, ...detail });
      }
    }
  }
  return out;
}

function fileDrift(ns: string, name: string, wanted: string | null): Omit<NamesDrift, 'vpc' | 'subnet'> | null {
  const path = join(ETC_NETNS, ns, name);
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch { /* absent (or unreadable: then it cannot serve as the namespace's file either) */ }
  const owner = text === null ? null : etcFileOwner(ns, text);
  if (wanted === null) return owner?.ours ? { kind: 'differs', detail: `${path} should not exist (a public subnet keeps the machine's)` } : null;
  if (text === null) return { kind: 'missing', detail: `${path} is missing` };
  if (!owner!.ours) return { kind: 'differs', detail: `${path} is not vpcctl's (left alone)` };
  if (text !== wanted && text !== withKeepDir(wanted)) return { kind: 'differs', detail: `${path} differs from the names of the state` };
  return null;
}

/**
 * The cheap check of `apply`'s no-op answer: every file a subnet should
 * have exists (one stat each), and no private subnet's resolv.conf is
 * missing. Content is compared by `status` and repaired by any change of
 * the VPC; this only keeps a re-apply from answering "0 changes" while
 * names are missing (after an upgrade, or a file removed by hand).
 */
export function namesPresent(state: DnsLayout): boolean {
  for (const v of Object.values(state.vpcs)) {
    for (const s of Object.values(v.subnets)) {
      const dir = join(ETC_NETNS, hostNs(v.name, s.name));
      if (!existsSync(join(dir, 'hosts'))) return false;
      if (s.type === 'private' && !existsSync(join(dir, 'resolv.conf'))) return false;
    }
  }
  return true;
}
