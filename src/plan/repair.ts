import type { Op } from './ops.js';
import type { State } from '../state/types.js';
import { fullPlan } from './full.js';
import { parseTag } from '../model/names.js';

/**
 * Drift: an op of the current state's full plan (full.ts) that the kernel
 * does not hold as the op would make it, as `verify` reports it, with the
 * object it belongs to. Pure data: the planner turns it into repairs.
 */
export interface OpDrift {
  op: Op;
  /** The object a person would name: `subnet demo/web`, `vpc demo`, `peering a b`, `host`. */
  object: string;
  /** 'missing' (absent) or 'differs' (present, not as made). */
  kind: string;
  /** One line from verify: what is wrong, naming the kernel object and namespace. */
  detail: string;
  /**
   * A veth's end found under another name with its tag (renamed by someone;
   * its partner renamed too, or in place while that end's name holds
   * another pair's renamed end): its pair still holds the routes the new
   * one needs, and is deleted first, by the end named here.
   */
  renamed?: { ns: string; name: string; alias: string; peer: { ns: string; name: string } };
  /**
   * A missing veth with one end still at its name: the executor deletes
   * that end (its renamed partner, and the routes there, with it) and makes
   * the pair again.
   */
  replaced?: boolean;
}

/**
 * What an op makes, as one key: two ops with the same key make the same
 * object (the later one wins), so a repair the plan already makes is not
 * made twice.
 */
export function opKey(o: Op): string {
  switch (o.op) {
    case 'netnsAdd': case 'netnsDel': return `ns:${o.ns}`;
    case 'vethAdd': case 'vxlanAdd': return `link:${o.ns}/${o.name}`;
    // Not the link's key: a repair may delete one pair's end at a name another pair is made at (a swap).
    case 'linkDel': return `unlink:${o.ns}/${o.name}`;
    case 'linkUp': return `up:${o.ns}/${o.name}`;
    case 'addrAdd': case 'addrDel': return `addr:${o.ns}/${o.dev}/${o.cidr}`;
    case 'routeAdd': case 'routeDel': return `route:${o.ns}/${o.dst}`;
    case 'sysctlSet': return `sysctl:${o.ns}/${o.key}`;
    case 'nftApply': case 'nftDelete': return `nft:${o.ns}/${o.family}/${o.table}`;
    case 'fdbAdd': case 'fdbDel': return `fdb:${o.ns}/${o.dev}/${o.mac}`;
    case 'neighAdd': case 'neighDel': return `neigh:${o.ns}/${o.dev}/${o.addr}`;
  }
}

/**
 * A link that exists but is down (a veth end, or a namespace's `lo`) is set
 * up again; anything else wrong with a veth re-makes it, with a namespace
 * rebuilds it.
 */
/**
 * A peering's veth runs between two routers, a gateway's between the host
 * and a router: rebuilding the namespace at its far end for it (as a
 * subnet's namespace is for its veth) would rebuild a whole VPC, its
 * subnets and apps, for one link. The pair is made again instead; a foreign
 * link at its name then stops the plan in the executor's preflight.
 */
const isPeering = (o: Op) => o.op === 'vethAdd' && ['peer', 'igw'].includes(parseTag(o.alias)?.kind ?? '');

const isDown = (d: OpDrift) => (d.op.op === 'vethAdd' || d.op.op === 'vxlanAdd' || d.op.op === 'netnsAdd') && d.kind === 'differs' && /\bis down\b/.test(d.detail);

/**
 * Namespaces drift shows to be broken beyond repair in place, to be rebuilt
 * as a missing one is: one that lost its ownership tag (or is not a
 * namespace vpcctl made), and the host end of a veth that is present but
 * not as made (its alias: vpcctl no longer recognises it as its own), but
 * not for a peering's or a gateway's veth (isPeering).
 */
export function brokenByDrift(drift: readonly OpDrift[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const d of drift ?? []) {
    if (d.op.op === 'netnsAdd' && !isDown(d)) out.add(d.op.ns);
    else if (d.op.op === 'vethAdd' && d.kind === 'differs' && !isDown(d) && !isPeering(d.op) && !d.renamed) out.add(d.op.peerNs);
    // A VXLAN link not as made (another VNI, underlay or owner) is remade with its router.
    else if (d.op.op === 'vxlanAdd' && d.kind === 'differs' && !isDown(d)) out.add(d.op.ns);
  }
  return out;
}

/** The link an op's object lives on: it goes when the link goes. */
const linkOf = (o: Op): string | null => {
  if (o.op === 'addrAdd' || o.op === 'fdbAdd' || o.op === 'neighAdd') return `${o.ns}/${o.dev}`;
  if (o.op === 'routeAdd' && o.dev) return `${o.ns}/${o.dev}`;
  if (o.op === 'linkUp') return `${o.ns}/${o.name}`;
  return null;
};

const namespacesOf = (o: Op): string[] => (o.op === 'vethAdd' ? [o.ns, o.peerNs] : [o.ns]);

/**
 * The ops that repair `drift` in place: every drifted op (idempotent: the
 * executor re-adds an address or route, rewrites a sysctl, replaces a table
 * whole), `linkUp` for both ends of a veth that is down, and for a veth that
 * is gone the veth again with every address and route on its two ends (they
 * went with it), and likewise a VXLAN link with its address, entries and routes. Only what the desired state still wants exactly as the
 * drifted op made it (a policy being changed by this plan is not restored
 * first), outside namespaces this plan makes or deletes anyway, and not
 * already made by `planned`.
 */
export function repairOps(drift: readonly OpDrift[], desired: State, remade: ReadonlySet<string>, planned: readonly Op[]): { ops: Op[]; last: Op[]; changes: string[] } {
  if (drift.length === 0) return { ops: [], last: [], changes: [] };
  const full = fullPlan(desired);
  const wanted = new Map<string, { op: Op; text: string }>();
  const onLink = new Map<string, Op[]>();
  for (const o of full.ops) {
    wanted.set(opKey(o), { op: o, text: '' });
    const link = linkOf(o);
    if (link) onLink.set(link, [...(onLink.get(link) ?? []), o]);
  }
  const stillWanted = (o: Op) => {
    const w = wanted.get(opKey(o));
    if (!w) return false;
    w.text ||= JSON.stringify(w.op);
    return w.text === JSON.stringify(o);
  };
  const done = new Set(planned.map(opKey));
  const ops: Op[] = [];
  // A renamed pair's repair: deleting it cannot be undone, so it runs after
  // everything else has succeeded (the executor's graph has a tagged linkDel
  // wait for every op before it).
  const last: Op[] = [];
  const changes: string[] = [];
  const emit = (o: Op, to = ops) => {
    const key = opKey(o);
    if (done.has(key)) return;
    done.add(key);
    to.push(o);
  };
  for (const d of drift) {
    const o = d.op;
    if (namespacesOf(o).some((ns) => remade.has(ns))) continue;
    if (!stillWanted(o)) {
      // Renamed, then no longer wanted (an unpeer): the plan deletes it by its names, so by its new ones too.
      if (d.renamed) {
        emit({ op: 'linkDel', ns: d.renamed.ns, name: d.renamed.name, alias: d.renamed.alias }, last);
        changes.push(`${d.object}: its veth, renamed ${d.renamed.name} in ${d.renamed.ns || 'the host namespace'}, is deleted too`);
      }
      continue;
    }
    const down = isDown(d);
    if (o.op === 'netnsAdd') {
      if (!down) continue; // untagged: rebuilt with its namespace (brokenByDrift)
      emit({ op: 'linkUp', ns: o.ns, name: 'lo' });
    } else if (o.op === 'vethAdd') {
      if (down) {
        emit({ op: 'linkUp', ns: o.ns, name: o.name });
        emit({ op: 'linkUp', ns: o.peerNs, name: o.peerName });
      } else if (d.kind === 'differs' && !isPeering(o) && !d.renamed) {
        continue; // not vpcctl's as made: rebuilt with its host namespace (brokenByDrift)
      } else {
        // A tagged delete is a barrier in its namespace (the executor's graph): the new pair comes after it.
        const to = d.renamed ? last : ops;
        if (d.renamed) emit({ op: 'linkDel', ns: d.renamed.ns, name: d.renamed.name, alias: d.renamed.alias }, to);
        emit(o, to);
        for (const dep of [...(onLink.get(`${o.ns}/${o.name}`) ?? []), ...(onLink.get(`${o.peerNs}/${o.peerName}`) ?? [])]) emit(dep, to);
      }
    } else if (o.op === 'vxlanAdd') {
      if (down) emit({ op: 'linkUp', ns: o.ns, name: o.name });
      else if (d.kind === 'differs') continue; // rebuilt with its router (brokenByDrift)
      else {
        // Its address, entries and routes went with it.
        emit(o);
        for (const dep of onLink.get(`${o.ns}/${o.name}`) ?? []) emit(dep);
      }
    } else {
      emit(o);
    }
    changes.push(`repair ${d.object}: ${d.detail}${d.renamed ? ` (its old pair, renamed ${d.renamed.name} in ${d.renamed.ns || 'the host namespace'}, is deleted first)` : ''}`);
  }
  // A re-made veth comes before the addresses and routes on it, whatever order the drift came in.
  ops.sort((a, b) => rank(a) - rank(b));
  last.sort((a, b) => rank(a) - rank(b));
  return { ops, last, changes: [...new Set(changes)] };
}

const rank = (o: Op) => (o.op === 'linkDel' ? -1 : o.op === 'vethAdd' || o.op === 'vxlanAdd' ? 0 : o.op === 'linkUp' ? 1 : o.op === 'addrAdd' ? 2 : o.op === 'routeAdd' ? 3 : 4);
