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
 */
import { native } from '../native.js';
import type { OpDrift } from '../plan/repair.js';

export async function withRenamedEnds(drift: OpDrift[]): Promise<OpDrift[]> {
  const gone = new Set(drift.flatMap((d) => (d.op.op === 'netnsAdd' && d.kind === 'missing' ? [d.op.ns] : [])));
  const candidates = drift.filter((d) => d.op.op === 'vethAdd' && d.kind === 'missing' && !gone.has(d.op.ns) && !gone.has(d.op.peerNs));
  if (candidates.length === 0) return drift;
  const n = await native();
  const found = new Map<OpDrift, Partial<OpDrift>>();
  for (const d of candidates) {
    const op = d.op as Extract<OpDrift['op'], { op: 'vethAdd' }>;
    const ends = await Promise.all([n.linkGet(op.ns, op.name), n.linkGet(op.peerNs, op.peerName)].map((p) => p.catch(() => null)));
    if (ends.some((l) => l)) {
      found.set(d, { replaced: true });
      continue;
    }
    const moved = async (ns: string, name: string, alias: string) =>
      (await n.linkList(ns).catch(() => [])).filter((l) => l.kind === 'veth' && l.alias === alias && l.name !== name);
    // The subnet's end first: a router holds a veth per subnet, and a dump of them costs their square.
    const near = await moved(op.peerNs, op.peerName, op.peerAlias);
    const far = near.length ? await moved(op.ns, op.name, op.alias) : [];
    // Each other's peers (IFLA_LINK both ways), not two tagged links that happen to be there.
    const end = near.find((a) => far.some((b) => a.peer === b.index && b.peer === a.index));
    const peer = far.find((b) => b.index === end?.peer)?.name;
    if (end && peer) found.set(d, { renamed: { ns: op.peerNs, name: end.name, alias: op.peerAlias, peer: { ns: op.ns, name: peer } } });
  }
  return drift.map((d) => (found.has(d) ? { ...d, ...found.get(d)! } : d));
}
