import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ETC_FILES, etcFileOwner, linkOwner, linkTarget, withKeepDir, type EtcFile, type EtcFiles } from '../model/dns.js';
import { isVpcctlNsName } from '../model/names.js';
import { replaceFile } from './durable.js';

/**
 * vpcctl's files under /etc/netns/<ns>/ (what `ip netns exec` and vpcctl's
 * own apps and `exec` see as /etc/hosts and /etc/resolv.conf): a VPC's
 * files in its router's directory, and in each subnet's a symlink to them
 * (model/dns.ts). A file is replaced atomically (a temporary file renamed
 * over it: a reader sees the old file or the new one, never half of one),
 * and only when its text changes. Ownership is checked at the moment of
 * acting: a file is rewritten or removed only if its first line carries the
 * tag of the namespace its directory is named for, a symlink only if it
 * points where vpcctl points it (etcFileOwner, linkOwner); anything else
 * there is someone else's and is left alone, with a warning.
 *
 * Not fsynced: these files are derived from the state, which is durable,
 * and any later change of the VPC (or `apply`) rewrites one that a crash
 * left stale; `status` reports it meanwhile. Fsyncing hundreds of them
 * would put a disk flush per subnet on every change.
 */

export const ETC_NETNS = '/etc/netns';

type Found = { kind: 'absent' } | { kind: 'foreign' } | { kind: 'ours'; text: string; keepDir: boolean };

/** A regular file of vpcctl's (the shared files), read; a symlink there is not one. */
function read(path: string, ns: string): Found {
  const link = readLink(path);
  if (link !== null) return link === undefined ? { kind: 'absent' } : { kind: 'foreign' };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    if (code === 'EISDIR' || code === 'ENOTDIR') return { kind: 'foreign' };
    throw e;
  }
  const owner = etcFileOwner(ns, text);
  return owner.ours ? { kind: 'ours', text, keepDir: owner.keepDir } : { kind: 'foreign' };
}

/** True when `path` is a directory itself, not a symlink to one (vpcctl writes nowhere a link leads). */
function realDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether a directory exists at `dir` (made now if not; true if it was there before). */
function ensureDir(dir: string): boolean {
  try {
    mkdirSync(dir, { mode: 0o755 });
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return true;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(join(dir, '..'), { recursive: true, mode: 0o755 }); // /etc/netns itself
  mkdirSync(dir, { mode: 0o755 });
  return false;
}

/**
 * Make the files of namespace `ns` read `files`: write what differs,
 * remove vpcctl's own where `files` has null. Returns what it changed.
 */
export function writeEtcFiles(ns: string, files: EtcFiles, warn: (m: string) => void, root = ETC_NETNS): string[] {
  const dir = join(root, ns);
  const existed = ensureDir(dir);
  if (!realDir(dir)) {
    warn(`${dir} is not a directory of its own (a symlink or a file): left alone, so the names of ${ns} are not in it`);
    return [];
  }
  const found = ETC_FILES.map((f) => read(join(dir, f), ns));
  // A directory vpcctl did not make stays; its files remember that (KEEP_DIR_LINE).
  const ourFile = found.find((f) => f.kind === 'ours');
  const keepDir = existed && (ourFile ? ourFile.keepDir : true);
  const changed: string[] = [];
  ETC_FILES.forEach((name, i) => {
    const path = join(dir, name);
    const have = found[i]!;
    const wanted = files[name] === null ? null : keepDir ? withKeepDir(files[name]) : files[name];
    if (have.kind === 'foreign') {
      if (wanted !== null) warn(`${path} is not vpcctl's: left alone, so the names of ${ns} are not in it`);
      return;
    }
    if (wanted === null) {
      if (have.kind === 'ours') { unlinkSync(path); changed.push(path); }
      return;
    }
    if (have.kind === 'ours' && have.text === wanted) return;
    // Readable by the apps, which run as an unprivileged user.
    replaceFile(path, wanted, { mode: 0o644, sync: false });
    changed.push(path);
  });
  return changed;
}

/** The target of the symlink at `path`; undefined when there is nothing there, null when it is no symlink. */
function readLink(path: string): string | null | undefined {
  try {
    return readlinkSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EINVAL') return null;
    throw e;
  }
}

/**
 * Make subnet namespace `ns` (of `vpc`) link to its VPC's shared files
 * where `links` says so, and remove vpcctl's links where not. Returns what
 * it changed.
 */
export function linkEtcFiles(ns: string, vpc: string, links: Record<EtcFile, boolean>, warn: (m: string) => void, root = ETC_NETNS): string[] {
  const dir = join(root, ns);
  // A new subnet: its directory is made here, so nothing is in it yet and
  // nothing needs reading (an apply of 500 subnets made ~3,000 path lookups
  // on /etc, an overlay in the sandbox, ~100 ms; now ~1,500).
  const wanted = ETC_FILES.filter((f) => links[f]);
  if (wanted.length > 0 && !ensureDir(dir)) {
    for (const f of wanted) symlinkSync(linkTarget(vpc, f, true, root), join(dir, f));
    return wanted.map((f) => join(dir, f));
  }
  const found = ETC_FILES.map((f): Found | { kind: 'link'; keepDir: boolean } => {
    const target = readLink(join(dir, f));
    if (target === undefined) return { kind: 'absent' };
    if (target === null) return { kind: 'foreign' };
    const owner = linkOwner(ns, f, target, root);
    return owner.ours ? { kind: 'link', keepDir: owner.keepDir } : { kind: 'foreign' };
  });
  ETC_FILES.forEach((f, i) => {
    if (links[f] && found[i]!.kind === 'foreign') warn(`${join(dir, f)} is not vpcctl's: left alone, so the names of ${ns} are not in it`);
  });
  const make = ETC_FILES.filter((f, i) => links[f] && found[i]!.kind === 'absent');
  const drop = ETC_FILES.filter((f, i) => !links[f] && found[i]!.kind === 'link');
  if (make.length === 0 && drop.length === 0) return []; // a link's target depends on the names alone: still right
  // The directory's origin: what vpcctl's links there say, else whether it is made now.
  const mine = found.find((f) => f.kind === 'link') as { keepDir: boolean } | undefined;
  const madeDir = mine ? !mine.keepDir : make.length > 0 && !ensureDir(dir);
  if (!realDir(dir)) {
    warn(`${dir} is not a directory of its own (a symlink or a file): left alone, so the names of ${ns} are not in it`);
    return [];
  }
  for (const f of drop) unlinkSync(join(dir, f));
  for (const f of make) symlinkSync(linkTarget(vpc, f, madeDir, root), join(dir, f));
  return [...drop, ...make].map((f) => join(dir, f));
}

/**
 * Remove vpcctl's files (and links) of namespace `ns`, and its directory
 * when vpcctl made it and nothing else is left in it. Returns what it
 * removed.
 */
export function removeEtcFiles(ns: string, root = ETC_NETNS): string[] {
  const dir = join(root, ns);
  const removed: string[] = [];
  if (!realDir(dir)) return removed;
  let keepDir = false;
  for (const name of ETC_FILES) {
    const path = join(dir, name);
    const target = readLink(path);
    const have = target === null ? read(path, ns) : target === undefined ? { kind: 'absent' as const } : linkOwner(ns, name, target, root);
    const ours = 'ours' in have ? have.ours : have.kind === 'ours';
    if (!ours) continue;
    keepDir ||= (have as { keepDir: boolean }).keepDir;
    unlinkSync(path);
    removed.push(path);
  }
  if (removed.length > 0 && !keepDir) {
    try {
      rmdirSync(dir); // only if empty: something else put there stays, with its directory
    } catch { /* not empty, or gone */ }
  }
  return removed;
}

/**
 * Every vpcctl file under /etc/netns, whatever the state says (cleanup-all):
 * in directories named like vpcctl's namespaces, files carrying their
 * namespace's tag and symlinks pointing where vpcctl points them. Returns
 * what it removed.
 */
export function removeAllEtcFiles(root = ETC_NETNS): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  // Sorted: subnets' links (ns-) go before the routers' files they point to (vpcr-).
  return names.filter(isVpcctlNsName).sort().flatMap((ns) => removeEtcFiles(ns, root));
}
