/**
 * DNS names inside a VPC, without a daemon: every subnet's host is
 * `<subnet>.<vpc>.internal`, and a host resolves the names of its own VPC
 * and of the VPCs directly peered with it (peering is not transitive, so
 * neither are names). They live in the files `ip netns exec` bind-mounts
 * over /etc for a namespace, `/etc/netns/<ns>/hosts` (and `resolv.conf`
 * for private subnets); vpcctl's apps and `exec` get the same mounts
 * (crates/netkit/src/etcns.rs). This module is the pure part: which names
 * each namespace sees and the exact text of its files.
 */
import { hostIp } from './addresses.js';
import { hostNs, hostTag, tagFitsNs } from './names.js';
import { peersOf, type Pair } from './peering.js';

export const DNS_DOMAIN = 'internal';

/** The name of a subnet's host. */
export const dnsName = (vpc: string, subnet: string): string => `${subnet}.${vpc}.${DNS_DOMAIN}`;

/** What of a state the names depend on: subnets (name, CIDR, type) and peerings. */
export interface DnsLayout {
  vpcs: Record<string, { name: string; subnets: Record<string, { name: string; cidr: string; type: string }> }>;
  peerings: readonly Pair[];
}

export interface DnsRecord { name: string; address: string; vpc: string; subnet: string }

/** The names a host of `vpc` resolves: its VPC's subnets, then each peer's (peers in name order). */
export function visibleRecords(state: DnsLayout, vpc: string): DnsRecord[] {
  const peers = [...new Set(peersOf(state.peerings, vpc))].filter((p) => p !== vpc && state.vpcs[p]).sort();
  return [vpc, ...peers].flatMap((v) => Object.values(state.vpcs[v]?.subnets ?? {})
    .map((s) => ({ name: dnsName(v, s.name), address: hostIp(s.cidr), vpc: v, subnet: s.name })));
}

/** The files vpcctl writes in `/etc/netns/<ns>/`, in the order they are written. */
export const ETC_FILES = ['hosts', 'resolv.conf'] as const;
export type EtcFile = (typeof ETC_FILES)[number];

/**
 * First line of every file vpcctl writes there: the namespace's own tag
 * (the alias its `lo` carries). A file is vpcctl's only if its first line
 * names the tag that fits its directory's name (etcFileOwner): nothing
 * else under /etc/netns is ever rewritten or removed.
 */
const mark = (vpc: string, subnet: string): string =>
  `# ${hostTag(vpc, subnet)} written by vpcctl: rewritten when the VPC or its peerings change, removed with the subnet\n`;

/**
 * Second line of vpcctl's files in a directory it did not make (someone
 * had made /etc/netns/<ns> before): the directory stays when the subnet
 * goes. A directory vpcctl made is removed with its last file.
 */
export const KEEP_DIR_LINE = '# vpcctl found this directory here: it is left in place\n';

/** Not a vpcctl file: foreign, or of another namespace. */
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

/** Everything after the mark: the same for every host of a VPC, so built once per VPC. */
const hostsBody = (records: DnsRecord[]): string =>
  LOCALHOST + records.map((r) => `${r.address}\t${r.name}\n`).join('');

/**
 * A private subnet's resolver leads nowhere out of its VPC: no nameserver
 * line, so the resolver's default (127.0.0.1, inside the namespace, where
 * nothing answers) fails at once. Names come from /etc/hosts alone. Public
 * subnets get no resolv.conf of vpcctl's: they keep the machine's.
 */
const PRIVATE_RESOLV =
  '# a private subnet has no resolver: its names are in /etc/hosts; no query leaves the VPC\noptions timeout:1 attempts:1\n';

/** The files of one namespace: file name -> text, or null where vpcctl has no file (then any of its own goes). */
export type EtcFiles = Record<EtcFile, string | null>;

/**
 * The files of every subnet host of the VPCs in `vpcs` (those absent from
 * `state` have none), by namespace.
 */
export function etcFilesOf(state: DnsLayout, vpcs: Iterable<string>): Map<string, EtcFiles> {
  const out = new Map<string, EtcFiles>();
  for (const name of vpcs) {
    const vpc = state.vpcs[name];
    if (!vpc) continue;
    const body = hostsBody(visibleRecords(state, name));
    for (const s of Object.values(vpc.subnets)) {
      const head = mark(name, s.name);
      out.set(hostNs(name, s.name), {
        hosts: head + body,
        'resolv.conf': s.type === 'private' ? head + PRIVATE_RESOLV : null,
      });
    }
  }
  return out;
}

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

/** True when a VPC's subnets are alike for names and files (names, CIDRs, types). */
function sameNames(a: DnsLayout['vpcs'][string] | undefined, b: DnsLayout['vpcs'][string] | undefined): boolean {
  if (!a || !b) return a === b;
  const flat = (v: NonNullable<typeof a>) => Object.values(v.subnets).map((s) => `${s.name} ${s.cidr} ${s.type}`).sort().join('\n');
  return flat(a) === flat(b);
}
