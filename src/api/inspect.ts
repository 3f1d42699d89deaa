import { native } from '../native.js';
import { ROOT_NS, gatewayRootLink, hostNs, isVpcctlNsName, parseTag, routerNs, wantedNamespaces } from '../model/names.js';
import { isV6Text } from '../model/cidr6.js';
import { RTN_UNICAST, TABLE, routeTypeName } from '../model/root-routes.js';
import type { Op } from '../plan/ops.js';
import type { OpDrift } from '../plan/repair.js';
import { gatewayIp6, gatewayOf, hostIp6, hostOf, routedPrefix6, transitEnds } from '../model/addresses.js';
import { peerOf, peersOf } from '../model/peering.js';
import type { State, SubnetState, SubnetType, VpcState } from '../state/types.js';
import { appStatus, type AppInfo } from './apps.js';
import { type Publish, publishesOf } from '../model/publish.js';
import { findDrift } from './drift.js';
import { readKernelView } from './kernel-view.js';
import { foreignDeletions } from './ownership.js';
import { plan as makePlan } from '../plan/planner.js';
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
 * A host route of vpcctl's whose destination another route holds (on
 * another link, a multipath one, or a blackhole, unreachable, prohibit or
 * throw route): the executor never replaces a route that is not on the
 * link it adds to (route.rs), so no command repairs it; say so, and what
 * would.
 */
async function foreignHolders(drift: OpDrift[]): Promise<Map<OpDrift, string>> {
  const out = new Map<OpDrift, string>();
  const held = drift.filter((d) => d.op.op === 'routeAdd' && d.op.ns === ROOT_NS);
  if (held.length === 0) return out;
  const n = await native();
  const [view, routes6] = await Promise.all([n.netView(ROOT_NS), n.routeListAll6(ROOT_NS).catch(() => [])]);
  for (const d of held) {
    const op = d.op as Extract<Op, { op: 'routeAdd' }>;
    const v6 = isV6Text(op.dst);
    const holder = (v6 ? routes6 : view.routes).find((r) => r.dst === op.dst && r.table === TABLE.MAIN && (r.kind !== RTN_UNICAST || r.dev !== op.dev));
    // On a link of vpcctl's (its gateway veth renamed): the repair makes the pair again and the route goes with the old one.
    const ours = holder?.kind === RTN_UNICAST && !!parseTag(view.links.find((l) => l.name === holder.dev)?.alias ?? '');
    if (!holder || ours) continue;
    const type = holder.kind === RTN_UNICAST ? '' : `${routeTypeName(holder.kind)} `;
    const what = type ? `a ${type}route` : holder.dev ? `a route on ${holder.dev}` : 'a multipath route';
    out.set(d, `${what} holds ${op.dst}, and vpcctl never replaces a route that is not on its own link: remove it if it is not needed ('ip${v6 ? ' -6' : ''} route del ${type}${op.dst}'), then any command on the VPC puts vpcctl's back`);
  }
  return out;
}

/**
 * A veth of vpcctl's missing at both its names, its ends still there under
 * other names (renamed by someone, tag kept): the repair makes a new pair,
 * and the routes still on the renamed one make every apply refuse ("not
 * this one's"). Say where the old ends are and how to put them back. One
 * link read per end at the op's names, and a list of the namespace's links
 * only when both are absent.
 */
async function renamedVeths(drift: OpDrift[]): Promise<Map<OpDrift, string>> {
  const out = new Map<OpDrift, string>();
  const n = await native();
  for (const d of drift) {
    const op = d.op;
    if (op.op !== 'vethAdd' || d.kind !== 'missing') continue;
    const ends = [[op.ns, op.name], [op.peerNs, op.peerName]] as const;
    const present = await Promise.all(ends.map(([ns, name]) => n.linkGet(ns, name).catch(() => null)));
    if (present.some((l) => l)) continue; // one end in place: the executor re-makes the pair from it
    const moved = await Promise.all(ends.map(async ([ns, name]) =>
      ({ ns, name, now: (await n.linkList(ns).catch(() => [])).find((l) => l.kind === 'veth' && l.alias === op.alias && l.name !== name)?.name })));
    const found = moved.filter((m): m is typeof m & { now: string } => !!m.now);
    if (found.length === 0) continue;
    const ip = (ns: string) => `ip${ns === ROOT_NS ? '' : ` -n ${ns}`} link`;
    const where = (ns: string) => (ns === ROOT_NS ? 'in the host namespace' : `in ${ns}`);
    const back = found.map((m) => `'${ip(m.ns)} set ${m.now} name ${m.name}'`).join(' and ');
    out.set(d, `vpcctl's veth for this was renamed (${found.map((m) => `${m.now} ${where(m.ns)}`).join(', ')}), and its routes are still on it, so apply refuses to make it again; give it its names back (${back}), or remove it ('${ip(found[0]!.ns)} del ${found[0]!.now}', which deletes its peer too), then any command on the VPC repairs it`);
  }
  return out;
}

/** A link in the way of the repair, with the drift it blocks. */
interface Blocker {
  blocked: OpDrift;
  /** `link sn-0a000100 in vpcr-demo is a bridge that vpcctl did not make` */
  detail: string;
  fix: string;
}

/**
 * Links vpcctl will not touch at the names of veths the repair would make
 * (a bridge, at a peering's end a veth without the peering's tag): the
 * executor's preflight refuses the plan, so `apply` cannot repair this
 * drift: say so, and what would. The executor's own check is asked of the
 * plan `apply` would run (the planner with this drift), so status and apply
 * cannot disagree. Each link goes with the drift of the veth it blocks, or
 * of that veth's namespace (a missing one is re-made with its veths).
 */
async function inTheWayOfRepair(state: State, drift: OpDrift[]): Promise<Blocker[]> {
  if (drift.length === 0) return [];
  // The plan as the engine makes it for an unchanged state (its pending list cleared).
  const repair = makePlan(state, { ...state, pending: [] }, { ...await readKernelView(), drift });
  const out: Blocker[] = [];
  for (const link of await (await native()).linksInTheWay(repair.ops)) {
    const ends = (op: Op) => op.op === 'vethAdd' && ((op.ns === link.ns && op.name === link.name) || (op.peerNs === link.ns && op.peerName === link.name));
    const veth = repair.ops.find(ends);
    const spaces = veth?.op === 'vethAdd' ? [veth.ns, veth.peerNs] : [link.ns];
    const blocked = drift.find((d) => ends(d.op)) ?? drift.find((d) => spaces.includes(d.op.ns)) ?? drift[0]!;
    const where = link.ns === ROOT_NS ? 'in the host namespace' : `in ${link.ns}`;
    const ip = `ip${link.ns === ROOT_NS ? '' : ` -n ${link.ns}`} link`;
    // Interface names have 15 characters at most.
    const aside = `${link.name.slice(0, 11)}-old`;
    const peer = link.what.startsWith('a veth') ? ', which deletes its peer too' : '';
    // In a namespace the repair deletes and makes again, a renamed link would go with it.
    const rebuilt = repair.ops.some((o) => o.op === 'netnsDel' && o.ns === link.ns);
    const keep = rebuilt
      ? `it would go with ${link.ns}, which the repair makes again: move it out ('${ip} set ${link.name} netns NAMESPACE')`
      : `rename it ('${ip} set ${link.name} name ${aside}')`;
    out.push({
      blocked,
      detail: `link ${link.name} ${where} is ${link.what} that vpcctl did not make`,
      fix: `${link.what} that vpcctl did not make holds the name ${link.name} ${where}, and vpcctl removes only what it made: apply refuses while it is there; ${keep} or remove it ('${ip} del ${link.name}'${peer}), then any command on the VPC repairs it`,
    });
  }
  // A namespace the repair would rebuild whose tag says it is not vpcctl's (engine.ts keepToOwn refuses).
  const recorded = new Set([...state.pending, ...wantedNamespaces(state)]);
  for (const f of (await foreignDeletions(repair.ops, recorded)).filter((x) => x.remade)) {
    const made = repair.ops.find((o) => o.op === 'netnsAdd' && o.ns === f.ns);
    const tag = made?.op === 'netnsAdd' ? made.tag : undefined;
    const blocked = drift.find((d) => d.op.op === 'netnsAdd' && d.op.ns === f.ns) ?? drift.find((d) => d.op.ns === f.ns) ?? drift[0]!;
    const now = f.tag ? `tagged ${JSON.stringify(f.tag)}` : 'untagged';
    out.push({
      blocked,
      detail: `netns ${f.ns} is ${now}, not vpcctl's`,
      fix: `netns ${f.ns} is ${now}, and vpcctl never deletes or rebuilds a namespace that is not its own: apply refuses while it is so; if it is vpcctl's, put its tag back ('ip -n ${f.ns} link set lo alias ${tag ?? '...'}'), then any command on the VPC repairs it; if it is someone else's, it must go first ('ip netns del ${f.ns}')`,
    });
  }
  return out;
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
  const fixes = new Map([...await foreignHolders(found), ...await renamedVeths(found)]);
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
