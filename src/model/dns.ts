/**
 * DNS names inside a VPC, without a daemon: every subnet's host is
 * `<subnet>.<vpc>.internal`, and a host resolves the names of its own VPC
 * and of the VPCs directly peered with it (peering is not transitive, so
 * neither are names). They live in the files `ip netns exec` bind-mounts
 * over /etc for a namespace, `/etc/netns/<ns>/hosts` (and `resolv.conf`
 * for private subnets); vpcctl's apps and `exec` get the same mounts
 * (crates/netkit/src/etcns.rs). This module is the pure part: which names
 * each namespace sees, the exact text of the files and where they are.
 */
import { hostIp, hostIp6 } from './addresses.js';
import { nsOwners, routerNs, routerTag, tagFitsNs } from './names.js';
import { peersOf, type Pair } from './peering.js';

export const DNS_DOMAIN = 'internal';

/** The name of a subnet's host. */
export const dnsName = (vpc: string, subnet: string): string => `${subnet}.${vpc}.${DNS_DOMAIN}`;

/** What of a state the names depend on: subnets (name, CIDRs, type) and peerings. */
export interface DnsLayout {
  vpcs: Record<string, {
    name: string;
    /** Dual-stack: its subnets' IPv6 hosts are named too, for hosts of dual-stack VPCs. */
    ipv6Cidr?: string;
    subnets: Record<string, { name: string; cidr?: string; ipv6Cidr?: string; type: string; egress?: string }>;
    /** On a cluster host: the VPC's subnets on other hosts (name -> CIDR), named too. */
    overlay?: { names?: Record<string, string> };
  }>;
  peerings: readonly Pair[];
}

export interface DnsRecord { name: string; address: string; vpc: string; subnet: string }

/**
 * A VPC's subnets with their hosts' addresses: those here, then (on a
 * cluster host) those on other hosts. A subnet is named by its IPv4 host
 * and, when `v6` (the host that reads the file is in a dual-stack VPC:
 * IPv6 between VPCs is routed only where both are), by its IPv6 host (::2)
 * as well, listed after: glibc prefers IPv4 to a unique-local IPv6 address
 * (RFC 6724), so a name still connects over IPv4 where it did. An
 * IPv6-only subnet is named by its IPv6 host alone.
 */
const subnetsOf = (vpc: DnsLayout['vpcs'][string] | undefined, v6: boolean): Array<[string, string]> => [
  ...Object.values(vpc?.subnets ?? {}).flatMap((s): Array<[string, string]> => [
    ...(s.cidr !== undefined ? [[s.name, hostIp(s.cidr)] as [string, string]] : []),
    ...(s.ipv6Cidr !== undefined && (v6 || s.cidr === undefined) ? [[s.name, hostIp6(s.ipv6Cidr)] as [string, string]] : []),
  ]),
  ...Object.entries(vpc?.overlay?.names ?? {}).map(([name, cidr]): [string, string] => [name, hostIp(cidr)]),
];

/** The names a host of `vpc` resolves: its VPC's subnets, then each peer's (peers in name order). */
export function visibleRecords(state: DnsLayout, vpc: string): DnsRecord[] {
  const peers = [...new Set(peersOf(state.peerings, vpc))].filter((p) => p !== vpc && state.vpcs[p]).sort();
  const v6 = !!state.vpcs[vpc]?.ipv6Cidr;
  return [vpc, ...peers].flatMap((v) => subnetsOf(state.vpcs[v], v6 && !!state.vpcs[v]?.ipv6Cidr)
    .map(([subnet, address]) => ({ name: dnsName(v, subnet), address, vpc: v, subnet })));
}

/** The files vpcctl writes in `/etc/netns/<ns>/`, in the order they are written. */
export const ETC_FILES = ['hosts', 'resolv.conf'] as const;
export type EtcFile = (typeof ETC_FILES)[number];

/**
 * Every host of a VPC sees the same names, so they are written once per
 * VPC, in the directory of its router namespace (`/etc/netns/vpcr-<vpc>/`,
 * which `ip netns exec vpcr-<vpc>` uses too), and each subnet's entry is a
 * symlink to it (`/etc/netns/ns-<vpc>-<subnet>/hosts -> ../vpcr-<vpc>/hosts`;
 * bind mounts follow it). A change of names rewrites one file per VPC,
 * not one per subnet, each as long as the VPC: O(subnets), not O(subnets²).
 */
export const sharedDir = (vpc: string): string => routerNs(vpc);

/**
 * What a subnet's symlink says: relative when vpcctl made the subnet's
 * directory (removed with its last file), absolute (under `root`) when the
 * directory was there before (left in place). The link itself remembers.
 */
export const linkTarget = (vpc: string, file: EtcFile, madeDir: boolean, root: string): string =>
  madeDir ? `../${sharedDir(vpc)}/${file}` : `${root}/${sharedDir(vpc)}/${file}`;

/** Whether `target`, a symlink found at `<root>/<ns>/<file>`, is one of vpcctl's (and in which form). */
export function linkOwner(ns: string, file: EtcFile, target: string, root: string): EtcFileOwner {
  for (const o of nsOwners(ns)) {
    if (o.kind !== 'host') continue;
    if (target === linkTarget(o.vpc, file, true, root)) return { ours: true, keepDir: false };
    if (target === linkTarget(o.vpc, file, false, root)) return { ours: true, keepDir: true };
  }
  return { ours: false, keepDir: false };
}

/**
 * First line of every file vpcctl writes there: the router namespace's tag
 * (the alias its `lo` carries). A file is vpcctl's only if its first line
 * names the tag that fits its directory's name (etcFileOwner): nothing
 * else under /etc/netns is ever rewritten or removed.
 */
const mark = (vpc: string): string =>
  `# ${routerTag(vpc)} written by vpcctl: the names of vpc ${vpc}, rewritten when the VPC or its peerings change\n`;

/**
 * Second line of vpcctl's files in a directory it did not make (someone
 * had made /etc/netns/<ns> before): the directory stays when the VPC goes.
 * A directory vpcctl made is removed with its last file.
 */
export const KEEP_DIR_LINE = '# vpcctl found this directory here: it is left in place\n';

/** Whether a file (or link) under /etc/netns is vpcctl's, and whether its directory was there before vpcctl. */
export interface EtcFileOwner { ours: boolean; keepDir: boolean }

/** Whether `text`, found at /etc/netns/<ns>/<file>, is a file vpcctl wrote there. */
export function etcFileOwner(ns: string, text: string): EtcFileOwner {
  const first = /^# (\S+) written by vpcctl:/.exec(text);
  const ours = !!first && tagFitsNs(first[1]!, ns);
  return { ours, keepDir: ours && text.slice(text.indexOf('\n') + 1).startsWith(KEEP_DIR_LINE) };
}

/** The file's text as written into a directory vpcctl did not make. */
export const withKeepDir = (text: string): string => {
  const cut = text.indexOf('\n') + 1;
  return text.slice(0, cut) + KEEP_DIR_LINE + text.slice(cut);
};

const LOCALHOST = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

/**
 * A private subnet's resolver leads nowhere out of its VPC: no nameserver
 * line, so the resolver's default (127.0.0.1, inside the namespace, where
 * nothing answers) fails at once. Names come from /etc/hosts alone. Public
 * subnets get no resolv.conf of vpcctl's: they keep the machine's.
 */
const PRIVATE_RESOLV =
  '# for private subnets: no resolver; their names are in /etc/hosts, and no query leaves the VPC\noptions timeout:1 attempts:1\n';

/** The files of one namespace: file name -> text, or null where vpcctl has no file (then any of its own goes). */
export type EtcFiles = Record<EtcFile, string | null>;

/** The shared files of a VPC (in its router's directory): its names, and the private subnets' resolver. */
export function vpcEtcFiles(state: DnsLayout, vpc: string): EtcFiles {
  const records = visibleRecords(state, vpc);
  const hasPrivate = Object.values(state.vpcs[vpc]?.subnets ?? {}).some((s) => s.type === 'private');
  return {
    hosts: mark(vpc) + LOCALHOST + records.map((r) => `${r.address}\t${r.name}\n`).join(''),
    'resolv.conf': hasPrivate ? mark(vpc) + PRIVATE_RESOLV : null,
  };
}

/**
 * Which shared files a subnet's directory links to: hosts always;
 * resolv.conf (no nameserver) for a private subnet with no way out. A
 * private subnet behind the NAT gateway reaches the internet, so it keeps
 * the machine's resolver, as a public one does.
 */
export const subnetLinks = (s: { type: string; egress?: string }): Record<EtcFile, boolean> =>
  ({ hosts: true, 'resolv.conf': s.type === 'private' && s.egress !== 'nat' });

/**
 * The VPCs whose hosts' files a change from `before` to `after` may alter:
 * those added, removed or changed, both ends of a peering made or removed,
 * any in `also` (the VPCs a command names), every VPC with `all`; then the
 * peers of each of those (on either side of the change), whose files list
 * their subnets.
 */
export function namesScope(before: DnsLayout, after: DnsLayout, also: Iterable<string> = [], all = false): Set<string> {
  const direct = new Set<string>(also);
  const names = new Set([...Object.keys(before.vpcs), ...Object.keys(after.vpcs)]);
  for (const v of names) {
    if (all || !sameNames(before.vpcs[v], after.vpcs[v])) direct.add(v);
  }
  const key = (p: Pair) => [p.vpc1, p.vpc2].sort().join('~');
  const had = new Set(before.peerings.map(key));
  const has = new Set(after.peerings.map(key));
  for (const p of [...before.peerings, ...after.peerings]) {
    if (had.has(key(p)) !== has.has(key(p))) { direct.add(p.vpc1); direct.add(p.vpc2); }
  }
  const out = new Set(direct);
  for (const v of direct) for (const p of [...peersOf(before.peerings, v), ...peersOf(after.peerings, v)]) out.add(p);
  return out;
}

/** True when a VPC's subnets are alike for names and files (names, CIDRs, types, egress). */
function sameNames(a: DnsLayout['vpcs'][string] | undefined, b: DnsLayout['vpcs'][string] | undefined): boolean {
  if (!a || !b) return a === b;
  const flat = (v: NonNullable<typeof a>) => [
    `ipv6 ${v.ipv6Cidr ?? 'none'}`,
    ...Object.values(v.subnets).map((s) => `${s.name} ${s.cidr ?? 'none'} ${s.ipv6Cidr ?? 'none'} ${s.type} ${s.egress ?? 'none'}`),
    ...Object.entries(v.overlay?.names ?? {}).map(([name, cidr]) => `${name} ${cidr} remote`),
  ].sort().join('\n');
  return flat(a) === flat(b);
}
