/**
 * A veth of vpcctl's missing at both its names may still be there under
 * other names (renamed by someone, its tag kept), holding the addresses and
 * routes its new pair needs: the executor never replaces a route that is on
 * another link (route.rs), so the repair deletes the old pair first, by a
 * linkDel that carries the tag (repair.ts). The ends of a veth live and die
 * together, so one end is looked for: the subnet's for a subnet's veth (its
 * router holds a veth per subnet, and a dump of them costs their square),
 * else the op's first.
 */
import { native } from '../native.js';
import type { OpDrift } from '../plan/repair.js';

export async function withRenamedEnds(drift: OpDrift[]): Promise<OpDrift[]> {
  const gone = new Set(drift.flatMap((d) => (d.op.op === 'netnsAdd' && d.kind === 'missing' ? [d.op.ns] : [])));
  const candidates = drift.filter((d) => d.op.op === 'vethAdd' && d.kind === 'missing' && !gone.has(d.op.ns) && !gone.has(d.op.peerNs));
  if (candidates.length === 0) return drift;
  const n = await native();
  const found = new Map<OpDrift, { ns: string; name: string; alias: string }>();
  for (const d of candidates) {
    const op = d.op as Extract<OpDrift['op'], { op: 'vethAdd' }>;
    const ends = await Promise.all([n.linkGet(op.ns, op.name), n.linkGet(op.peerNs, op.peerName)].map((p) => p.catch(() => null)));
    if (ends.some((l) => l)) continue; // one end in place: the executor makes the pair again from it
    const [ns, name, alias] = op.leaf ? [op.peerNs, op.peerName, op.peerAlias] : [op.ns, op.name, op.alias];
    const now = (await n.linkList(ns).catch(() => [])).find((l) => l.kind === 'veth' && l.alias === alias && l.name !== name);
    if (now) found.set(d, { ns, name: now.name, alias });
  }
  return drift.map((d) => (found.has(d) ? { ...d, renamed: found.get(d)! } : d));
}
