/**
 * A veth of vpcctl's missing at both its names may still be there under
 * other names (renamed by someone, its tag kept), holding the addresses and
 * routes its new pair needs: the executor never replaces a route that is on
 * another link (route.rs), so the repair deletes the old pair first, by a
 * linkDel that carries the tag (repair.ts). Both ends must be found, each in
 * its own namespace with the pair's tag, naming each other as peer (their
 * indexes: a crafted index can still fool that, but only with vpcctl's tag
 * copied onto both links): deleting one end deletes its peer,
 * wherever that is, and a peer moved elsewhere (the host, someone's
 * namespace) or re-tagged is no longer vpcctl's to take.
 *
 * A veth with one end still at its name is marked `replaced`: the executor
 * deletes that end, and its renamed partner with it, before making the pair.
 * When its partner's name is held by another pair's end (two router ends
 * swapped), the pair is `renamed` by that partner: each pair goes by its own
 * end, and the executor's preflight lets a name held by a link that an
 * earlier tagged linkDel deletes be taken. Before, both subnets' namespaces
 * were rebuilt (their apps stopped), and the apply failed on the route of a
 * veth still on its way out.
 */
import { native } from '../native.js';
import type { OpDrift } from '../plan/repair.js';
import type { LinkInfo } from '../../index.js';

export async function withRenamedEnds(drift: OpDrift[]): Promise<OpDrift[]> {
  const gone = new Set(drift.flatMap((d) => (d.op.op === 'netnsAdd' && d.kind === 'missing' ? [d.op.ns] : [])));
  const candidates = drift.filter((d) => d.op.op === 'vethAdd' && !gone.has(d.op.ns) && !gone.has(d.op.peerNs));
  if (candidates.length === 0) return drift;
  const n = await native();
  // One dump per namespace: a router holds a veth per subnet, and a dump of them costs their square.
  const lists = new Map<string, Promise<LinkInfo[]>>();
  const list = (ns: string) => lists.get(ns) ?? lists.set(ns, n.linkList(ns).catch(() => [])).get(ns)!;
  const moved = async (ns: string, name: string, alias: string) => (await list(ns)).filter((l) => l.kind === 'veth' && l.alias === alias && l.name !== name);
  const found = new Map<OpDrift, Partial<OpDrift>>();
  for (const d of candidates) {
    const op = d.op as Extract<OpDrift['op'], { op: 'vethAdd' }>;
    const ends = await Promise.all([n.linkGet(op.ns, op.name), n.linkGet(op.peerNs, op.peerName)].map((p) => p.catch(() => null)));
    if (d.kind === 'differs') {
      // The subnet's end in place, its partner renamed (onto another pair's name: two router ends swapped).
      const [far, near] = ends;
      if (!near || near.kind !== 'veth' || near.alias !== op.peerAlias || far?.index === near.peer) continue;
      const peer = (await moved(op.ns, op.name, op.alias)).find((b) => b.index === near.peer && b.peer === near.index);
      if (peer) found.set(d, { renamed: { ns: op.ns, name: peer.name, alias: op.alias, peer: { ns: op.peerNs, name: op.peerName } } });
      continue;
    }
    if (d.kind !== 'missing') continue;
    if (ends.some((l) => l)) {
      found.set(d, { replaced: true });
      continue;
    }
    // The subnet's end first: one link to look at, where the router has one per subnet.
    const near = await moved(op.peerNs, op.peerName, op.peerAlias);
    const far = near.length ? await moved(op.ns, op.name, op.alias) : [];
    // Each other's peers (IFLA_LINK both ways), not two tagged links that happen to be there.
    const end = near.find((a) => far.some((b) => a.peer === b.index && b.peer === a.index));
    const peer = far.find((b) => b.index === end?.peer)?.name;
    if (end && peer) found.set(d, { renamed: { ns: op.peerNs, name: end.name, alias: op.peerAlias, peer: { ns: op.ns, name: peer } } });
  }
  return drift.map((d) => (found.has(d) ? { ...d, ...found.get(d)! } : d));
}
