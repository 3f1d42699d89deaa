/**
 * What the machine's owner can do about drift that no command of vpcctl's
 * repairs by itself (status's `fix` lines): a route of someone's holding a
 * destination, and what stands in the way of the repair `apply` would run,
 * asked of the executor's own preflight and of the engine's ownership
 * check, so status and apply agree.
 */
import { native } from '../native.js';
import { ROOT_NS, wantedNamespaces } from '../model/names.js';
import { isV6Text } from '../model/cidr6.js';
import { RTN_UNICAST, TABLE, routeTypeName } from '../model/root-routes.js';
import type { Op } from '../plan/ops.js';
import type { OpDrift } from '../plan/repair.js';
import { plan as makePlan } from '../plan/planner.js';
import type { State } from '../state/types.js';
import { readKernelView } from './kernel-view.js';
import { foreignDeletions } from './ownership.js';

/** `in vpcr-demo`, or `in the host namespace`. */
export const where = (ns: string) => (ns === ROOT_NS ? 'in the host namespace' : `in ${ns}`);
/** `ip link` for `ns`, as the owner types it. */
const ipLink = (ns: string) => `ip${ns === ROOT_NS ? '' : ` -n ${ns}`} link`;

/**
 * A route of vpcctl's (in the host, a router or a subnet's namespace) whose
 * destination another route holds (on another link, a multipath one, or a
 * blackhole, unreachable, prohibit or throw route): the executor never
 * replaces a route that is not on the link it adds to (route.rs), so no
 * command repairs it; say so, and what would. One read of each namespace
 * such a route is missing in.
 */
export async function foreignHolders(drift: OpDrift[]): Promise<Map<OpDrift, string>> {
  const out = new Map<OpDrift, string>();
  const held = drift.filter((d) => d.op.op === 'routeAdd');
  if (held.length === 0) return out;
  // Links the repair deletes, routes on them with them: the two ends of a renamed pair found, and,
  // by tag, the partner of a veth end still in place (the executor makes the pair again from it).
  const renamedEnds = new Set(drift.flatMap((d) => (d.renamed ? [`${d.renamed.ns}/${d.renamed.name}`, `${d.renamed.peer.ns}/${d.renamed.peer.name}`] : [])));
  const replacedTags = new Set(drift.flatMap((d) => (d.op.op === 'vethAdd' && d.replaced ? [d.op.alias, d.op.peerAlias] : [])));
  const n = await native();
  const views = new Map(await Promise.all([...new Set(held.map((d) => d.op.ns))].map(async (ns) =>
    [ns, await Promise.all([n.netView(ns), n.routeListAll6(ns).catch(() => [])]).catch(() => null)] as const)));
  for (const d of held) {
    const op = d.op as Extract<Op, { op: 'routeAdd' }>;
    const seen = views.get(op.ns);
    if (!seen) continue; // the namespace is gone: rebuilt with its routes
    const [view, routes6] = seen;
    const v6 = isV6Text(op.dst);
    const goes = (r: { kind: number; dev?: string }) => r.kind === RTN_UNICAST &&
      (renamedEnds.has(`${op.ns}/${r.dev}`) || replacedTags.has(view.links.find((l) => l.name === r.dev)?.alias ?? ''));
    const holder = (v6 ? routes6 : view.routes).find((r) => r.dst === op.dst && r.table === TABLE.MAIN && (r.kind !== RTN_UNICAST || r.dev !== op.dev) && !goes(r));
    if (!holder) continue;
    const type = holder.kind === RTN_UNICAST ? '' : `${routeTypeName(holder.kind)} `;
    const what = type ? `a ${type}route` : holder.dev ? `a route on ${holder.dev}` : 'a multipath route';
    const ip = `ip${op.ns === ROOT_NS ? '' : ` -n ${op.ns}`}${v6 ? ' -6' : ''}`;
    out.set(d, `${what} holds ${op.dst} ${where(op.ns)}, and vpcctl never replaces a route that is not on its own link: remove it if it is not needed ('${ip} route del ${type}${op.dst}'), then any command on the VPC puts vpcctl's back`);
  }
  return out;
}

/** A link in the way of the repair, with the drift it blocks. */
export interface Blocker {
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
export async function inTheWayOfRepair(state: State, drift: OpDrift[]): Promise<Blocker[]> {
  if (drift.length === 0) return [];
  // The plan as the engine makes it for an unchanged state (its pending list cleared).
  const repair = makePlan(state, { ...state, pending: [] }, { ...await readKernelView(), drift });
  const out: Blocker[] = [];
  for (const link of await (await native()).linksInTheWay(repair.ops)) {
    const ends = (op: Op) => op.op === 'vethAdd' && ((op.ns === link.ns && op.name === link.name) || (op.peerNs === link.ns && op.peerName === link.name));
    const veth = repair.ops.find(ends);
    const spaces = veth?.op === 'vethAdd' ? [veth.ns, veth.peerNs] : [link.ns];
    const blocked = drift.find((d) => ends(d.op)) ?? drift.find((d) => spaces.includes(d.op.ns)) ?? drift[0]!;
    const at = where(link.ns);
    const ip = ipLink(link.ns);
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
      detail: `link ${link.name} ${at} is ${link.what} that vpcctl did not make`,
      fix: `${link.what} that vpcctl did not make holds the name ${link.name} ${at}, and vpcctl removes only what it made: apply refuses while it is there; ${keep} or remove it ('${ip} del ${link.name}'${peer}), then any command on the VPC repairs it`,
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
