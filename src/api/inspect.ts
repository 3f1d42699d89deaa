import { native } from '../native.js';
import { gatewayRootLink, hostNs, isVpcctlNsName, parseTag, routerNs, wantedNamespaces } from '../model/names.js';
import { gatewayIp6, gatewayOf, hostIp6, hostOf, routedPrefix6, transitEnds } from '../model/addresses.js';
import { peerOf, peersOf } from '../model/peering.js';
import type { State, SubnetState, SubnetType, VpcState } from '../state/types.js';
import { appStatus, type AppInfo } from './apps.js';
import { type Publish, publishesOf } from '../model/publish.js';
import { findDrift } from './drift.js';
import { foreignHolders, inTheWayOfRepair } from './drift-fixes.js';
import { namesDrift } from './dns.js';
import { dnsName } from '../model/dns.js';

/** A VPC in one line of `list-vpcs`. */
export interface VpcSummary {
  name: string;
  cidr: string;
  /** The IPv6 prefix of a dual-stack VPC (absent: IPv4 only). */
  ipv6Cidr?: string;
  subnets: number;
  public: number;
  private: number;
  peers: string[];
  uplink: string | null;
}

/** A subnet of `show-vpc`: addresses, namespace, policy, apps. */
export interface SubnetDetail {
  name: string;
  /** The IPv4 block; absent for an IPv6-only subnet. */
  cidr?: string;
  /** Dual-stack subnets: the /64, its gateway (::1) and host (::2). */
  ipv6Cidr?: string;
  ipv6Gateway?: string;
  ipv6Host?: string;
  type: SubnetType;
  /** How it reaches the internet: `internet gateway` (public), `nat` or `none` (private). */
  egress: 'internet gateway' | 'nat' | 'none';
  namespace: string;
  /** The gateway and host addresses: IPv4 ones, or for an IPv6-only subnet the IPv6 ones (ipv6Gateway, ipv6Host). */
  gateway: string;
  host: string;
  /** `<subnet>.<vpc>.internal`: what the hosts of this VPC and of its peers resolve to `host`. */
  dnsName: string;
  policy: boolean;
  apps: AppInfo[];
}

/** A VPC in full, as `show-vpc` shows it. */
export interface VpcDetail extends VpcSummary {
  router: string;
  /** Published ports of the VPC, each with its targets. */
  published: Publish[];
  /** Flow logs on (`flow-logs enable`): the subnets' policy tables log new connections. */
  flowLogs: boolean;
  gateway: null | {
    uplink: string | null; transit: string; hostAddress: string; routerAddress: string; hostLink: string;
    /** A dual-stack VPC's way out over IPv6: its global prefix routed by the host, or its unique-local one translated (addresses.ts). */
    ipv6?: 'routed' | 'nat66';
  };
  subnetDetails: SubnetDetail[];
  peerings: { peer: string; peerCidr: string; link: string }[];
}

export function summarize(state: State, v: VpcState): VpcSummary {
  const subnets = Object.values(v.subnets);
  return {
    name: v.name, cidr: v.cidr, ...(v.ipv6Cidr ? { ipv6Cidr: v.ipv6Cidr } : {}), subnets: subnets.length,
    public: subnets.filter((s) => s.type === 'public').length,
    private: subnets.filter((s) => s.type === 'private').length,
    peers: peersOf(state.peerings, v.name), uplink: v.uplink,
  };
}

export const egressOf = (s: Pick<SubnetState, 'type' | 'egress'>): SubnetDetail['egress'] =>
  s.type === 'public' ? 'internet gateway' : s.egress === 'nat' ? 'nat' : 'none';

export function detail(state: State, v: VpcState): VpcDetail {
  const t = v.transit ? transitEnds(v.transit) : null;
  return {
    ...summarize(state, v),
    router: routerNs(v.name),
    published: publishesOf(v),
    flowLogs: !!v.flowLogs,
    gateway: t && v.transit
      ? {
        uplink: v.uplink, transit: v.transit, hostAddress: t.nearIp, routerAddress: t.farIp, hostLink: gatewayRootLink(v.transit),
        ...(v.ipv6Cidr ? { ipv6: routedPrefix6(v) ? 'routed' as const : 'nat66' as const } : {}),
      }
      : null,
    subnetDetails: Object.values(v.subnets).map((s) => ({
      name: s.name, ...(s.cidr !== undefined ? { cidr: s.cidr } : {}), type: s.type, egress: egressOf(s), namespace: hostNs(v.name, s.name),
      gateway: gatewayOf(s), host: hostOf(s), dnsName: dnsName(v.name, s.name), policy: !!s.policy,
      ...(s.ipv6Cidr ? { ipv6Cidr: s.ipv6Cidr, ipv6Gateway: gatewayIp6(s.ipv6Cidr), ipv6Host: hostIp6(s.ipv6Cidr) } : {}),
      apps: s.apps.map((a) => appStatus(v.name, s.name, a)),
    })),
    peerings: state.peerings.flatMap((p) => {
      const peer = peerOf(p, v.name);
      return peer === null ? [] : [{ peer, peerCidr: state.vpcs[peer]?.cidr ?? '?', link: p.link }];
    }),
  };
}

/** Drift between the state and the kernel, object by object. */
export interface StatusReport {
  /** True when the kernel holds exactly what the state describes. */
  ok: boolean;
  /** Namespaces the state wants that the kernel lacks. */
  missing: string[];
  /** Namespaces tagged as vpcctl's that the state does not know. */
  orphaned: string[];
  /** Namespaces a crashed run left mid-change. */
  pending: string[];
  /**
   * Entries of the state's pending list that are no vpcctl namespace name
   * (edited in by hand, or by a hostile user): nothing is ever done to them;
   * the next command drops them from the state.
   */
  ignored: string[];
  /**
   * Everything else vpcctl made that the kernel does not hold as made (links
   * and their state, addresses, routes, sysctls, nftables tables by
   * content), one entry per op of the state's full plan, naming its object.
   */
  drift: DriftEntry[];
  /**
   * Set when another vpcctl held the state's lock as this report was made
   * (only asked when the report is not ok): a change was in progress, and
   * what it was making or deleting shows as missing, orphaned, pending or
   * drift until it ends. `pid` is the holder's, null if unreadable.
   */
  inProgress?: { pid: number | null };
}

/** One object of the state that the kernel does not hold as vpcctl made it (`status`). */
export interface DriftEntry {
  /** `vpc demo`, `subnet demo/web`, `peering a b`, `host`. */
  object: string;
  /** 'missing' or 'differs'. */
  kind: string;
  /** What is wrong, naming the kernel object and namespace. */
  detail: string;
  /** When no command of vpcctl's can repair it, what the machine's owner can do. */
  fix?: string;
}

/**
 * Compare the state with the kernel: namespaces present and tagged as they
 * should be, and every object of the state's full plan as it was made.
 */
export async function status(state: State, stateDir?: string): Promise<StatusReport> {
  const n = await native();
  const wanted = wantedNamespaces(state);
  const present = new Set(await n.netnsList());
  const missing = [...wanted].filter((ns) => !present.has(ns));
  const orphaned: string[] = [];
  // A pending one (a command that stopped half-way) is listed as such below, never as an orphan.
  const pendingNs = new Set(state.pending);
  for (const ns of present) {
    if (wanted.has(ns) || pendingNs.has(ns)) continue;
    const tag = await n.netnsTag(ns);
    if (tag && parseTag(tag)) orphaned.push(ns);
  }
  const pending = state.pending.filter((ns) => isVpcctlNsName(ns));
  const ignored = state.pending.filter((ns) => !isVpcctlNsName(ns));
  const all = await findDrift(state, undefined, stateDir, { early: true });
  // A missing namespace is reported above, once, not again as its netnsAdd.
  const found = all.filter((d) => !(d.op.op === 'netnsAdd' && !present.has(d.op.ns)));
  const fixes = await foreignHolders(found);
  const blockers = await inTheWayOfRepair(state, all);
  for (const b of blockers) {
    if (found.includes(b.blocked)) fixes.set(b.blocked, fixes.has(b.blocked) ? `${fixes.get(b.blocked)!}; and ${b.fix}` : b.fix);
  }
  const drift: DriftEntry[] = found
    .map((d) => ({ object: d.object, kind: d.kind, detail: d.detail, ...(fixes.has(d) ? { fix: fixes.get(d)! } : {}) }))
    // What blocks re-making a missing namespace: the namespace itself is listed above, its link here.
    .concat(blockers.filter((b) => !found.includes(b.blocked)).map((b) => ({ object: b.blocked.object, kind: 'differs', detail: b.detail, fix: b.fix })))
    // The names' files under /etc/netns (api/dns.ts): a subnet whose namespace is missing is reported once, above.
    .concat(namesDrift(state).filter((d) => present.has(d.subnet ? hostNs(d.vpc, d.subnet) : routerNs(d.vpc)))
      .map((d) => ({ object: d.subnet ? `subnet ${d.vpc}/${d.subnet}` : `vpc ${d.vpc}`, kind: d.kind, detail: d.detail })));
  const ok = missing.length === 0 && orphaned.length === 0 && pending.length === 0 && ignored.length === 0 && drift.length === 0;
  return { ok, missing, orphaned, pending, ignored, drift };
}
