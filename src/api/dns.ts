import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  ETC_FILES, etcFileOwner, linkOwner, namesScope, sharedDir, subnetLinks, vpcEtcFiles, withKeepDir, type DnsLayout,
} from '../model/dns.js';
import { hostNs } from '../model/names.js';
import { ETC_NETNS, linkEtcFiles, removeEtcFiles, writeEtcFiles } from '../state/etc-netns.js';

/**
 * Keeping the names' files under /etc/netns in step with the state
 * (model/dns.ts says what they hold and where). The engine calls
 * `syncNames` after a change is saved, never before: a plan that fails
 * (and is rolled back) or a state that cannot be saved leaves the files as
 * they were, and files always describe a saved state. If writing them
 * fails, the command still stands (its kernel changes and state are saved)
 * and says so in a warning; the next change of that VPC, or `apply`,
 * writes them again, and `status` shows the difference meanwhile.
 */

export interface SyncScope {
  /** VPCs the command names (their files are checked and repaired even if their names did not change). */
  also?: Iterable<string>;
  /** Every VPC (what `apply` checks). */
  all?: boolean;
}

/**
 * Bring the files of the VPCs a change from `before` to `after` affects in
 * line with `after`: each VPC's shared files first (so a new link never
 * points at nothing), then its subnets' links; links of removed subnets
 * before the files of a removed VPC. Returns the paths changed.
 */
export function syncNames(before: DnsLayout, after: DnsLayout, scope: SyncScope, warn: (m: string) => void, root = ETC_NETNS): string[] {
  const vpcs = namesScope(before, after, scope.also, scope.all);
  const changed: string[] = [];
  const attempt = (ns: string, f: () => string[]) => {
    try {
      changed.push(...f());
    } catch (e) {
      warn(`names of ${ns} not updated in ${join(root, ns)}: ${(e as Error).message}; the next change of its VPC retries`);
    }
  };
  for (const v of vpcs) {
    const now = after.vpcs[v];
    for (const s of Object.values(before.vpcs[v]?.subnets ?? {})) {
      if (!now?.subnets[s.name]) attempt(hostNs(v, s.name), () => removeEtcFiles(hostNs(v, s.name), root));
    }
    if (!now) {
      attempt(sharedDir(v), () => removeEtcFiles(sharedDir(v), root));
      continue;
    }
    attempt(sharedDir(v), () => writeEtcFiles(sharedDir(v), vpcEtcFiles(after, v), warn, root));
    for (const s of Object.values(now.subnets)) {
      attempt(hostNs(v, s.name), () => linkEtcFiles(hostNs(v, s.name), v, subnetLinks(s), warn, root));
    }
  }
  return changed;
}

export interface NamesDrift { vpc: string; subnet?: string; kind: 'missing' | 'differs'; detail: string }

/**
 * Where the files differ from what the state says (read only, for
 * `status`): a VPC's shared file missing, changed or not vpcctl's; a
 * subnet's link missing, pointing elsewhere, or there when it should not.
 */
export function namesDrift(state: DnsLayout, root = ETC_NETNS): NamesDrift[] {
  const out: NamesDrift[] = [];
  for (const [vpc, v] of Object.entries(state.vpcs)) {
    const files = vpcEtcFiles(state, vpc);
    for (const name of ETC_FILES) {
      const d = fileDrift(join(root, sharedDir(vpc), name), sharedDir(vpc), files[name]);
      if (d) out.push({ vpc, ...d });
    }
    for (const s of Object.values(v.subnets)) {
      const ns = hostNs(vpc, s.name);
      const links = subnetLinks(s);
      for (const name of ETC_FILES) {
        const path = join(root, ns, name);
        let target: string | null = null;
        try {
          target = readlinkSync(path);
        } catch { /* absent, or not a link */ }
        const ours = target !== null && linkOwner(ns, name, target, root).ours;
        if (!links[name]) {
          if (ours) out.push({ vpc, subnet: s.name, kind: 'differs', detail: `${path} should not exist (a public subnet keeps the machine's)` });
        } else if (!ours) {
          out.push(existsSync(path)
            ? { vpc, subnet: s.name, kind: 'differs', detail: `${path} is not vpcctl's (left alone)` }
            : { vpc, subnet: s.name, kind: 'missing', detail: `${path} is missing` });
        }
      }
    }
  }
  return out;
}

function fileDrift(path: string, ns: string, wanted: string | null): Omit<NamesDrift, 'vpc' | 'subnet'> | null {
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch { /* absent (or unreadable: then it cannot serve as the namespace's file either) */ }
  const owner = text === null ? null : etcFileOwner(ns, text);
  if (wanted === null) return owner?.ours ? { kind: 'differs', detail: `${path} should not exist` } : null;
  if (text === null) return { kind: 'missing', detail: `${path} is missing` };
  if (!owner!.ours) return { kind: 'differs', detail: `${path} is not vpcctl's (left alone)` };
  if (text !== wanted && text !== withKeepDir(wanted)) return { kind: 'differs', detail: `${path} differs from the names of the state` };
  return null;
}

/**
 * The cheap check of `apply`'s no-op answer (which must stay fast at 500
 * subnets): one listing of /etc/netns has every subnet's and router's
 * directory, and each VPC's shared hosts file exists. A link removed inside
 * a subnet's directory, or a file edited, is not seen here: `status`
 * compares everything, and any change of the VPC repairs it. This keeps a
 * re-apply from answering "0 changes" when names are missing altogether
 * (a state made before vpcctl wrote names, or /etc/netns cleared).
 */
export function namesPresent(state: DnsLayout, root = ETC_NETNS): boolean {
  let listed: Set<string>;
  try {
    listed = new Set(readdirSync(root));
  } catch {
    return Object.keys(state.vpcs).length === 0;
  }
  for (const v of Object.values(state.vpcs)) {
    if (!listed.has(sharedDir(v.name)) || !existsSync(join(root, sharedDir(v.name), 'hosts'))) return false;
    for (const s of Object.values(v.subnets)) if (!listed.has(hostNs(v.name, s.name))) return false;
  }
  return true;
}
