/**
 * Cross-host data plane of a VPC (issue 15, docs/cluster.md): a VXLAN device
 * in the router namespace, its underlay in the machine's namespace, with a
 * static FDB and neighbour entry per remote router (flannel's vxlan model:
 * no multicast, no learning, no flooding) and a route to each remote subnet
 * via that router's overlay address. Pure: the planner's part only; the
 * planner calls these for VPCs whose state carries an `overlay`.
 */
import { OVERLAY_LINK, routerNs } from '../model/names.js';
import type { OverlayPeer, VpcOverlay } from '../state/types.js';
import type { Op } from './ops.js';

export type { OverlayPeer, VpcOverlay } from '../state/types.js';

export { OVERLAY_LINK } from '../model/names.js';
/** IANA's VXLAN port. */
export const VXLAN_PORT = 4789;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
export const VXLAN_OVERHEAD = 50;

const peerOps = (ns: string, p: OverlayPeer, add: boolean): Op[] => add
  ? [
    { op: 'fdbAdd', ns, dev: OVERLAY_LINK, mac: p.mac, dst: p.underlay },
    { op: 'neighAdd', ns, dev: OVERLAY_LINK, addr: p.address, mac: p.mac },
    ...p.subnets.map((dst): Op => ({ op: 'routeAdd', ns, dst, via: p.address, dev: OVERLAY_LINK, onlink: true })),
  ]
  : [
    ...p.subnets.map((dst): Op => ({ op: 'routeDel', ns, dst, dev: OVERLAY_LINK })),
    { op: 'neighDel', ns, dev: OVERLAY_LINK, addr: p.address },
    { op: 'fdbDel', ns, dev: OVERLAY_LINK, mac: p.mac, dst: p.underlay },
  ];

/** The whole overlay of a (new or rebuilt) router: after vpcOps, before its subnets' routes matter. */
export function overlayOps(vpc: string, o: VpcOverlay): Op[] {
  const ns = routerNs(vpc);
  return [
    {
      op: 'vxlanAdd', ns, name: OVERLAY_LINK, vni: o.vni, local: o.local, dev: o.dev, port: VXLAN_PORT, mtu: o.mtu,
      alias: `vpcctl:overlay:${vpc}`, mac: o.mac,
    },
    { op: 'addrAdd', ns, dev: OVERLAY_LINK, cidr: o.address },
    { op: 'linkUp', ns, name: OVERLAY_LINK },
    ...o.peers.flatMap((p) => peerOps(ns, p, true)),
  ];
}

/** The link itself changes (VNI, underlay, address, MTU): the router is rebuilt, not patched. */
export const overlayBase = (o: VpcOverlay | undefined) => (o ? [o.vni, o.local, o.dev, o.address, o.mac, o.mtu] : null);

/**
 * A router that stays: only its peers change (a host joined, left or went
 * down, a remote subnet came or went). Removals first, per peer whole, so a
 * peer whose host moved is deleted at its old address before being added.
 */
export function overlayDiffOps(vpc: string, cur: VpcOverlay, des: VpcOverlay): Op[] {
  const ns = routerNs(vpc);
  const key = (p: OverlayPeer) => JSON.stringify([p.host, p.underlay, p.address, p.mac]);
  const before = new Map(cur.peers.map((p) => [key(p), p]));
  const after = new Map(des.peers.map((p) => [key(p), p]));
  const dels: Op[] = [];
  const adds: Op[] = [];
  for (const [k, p] of before) {
    const q = after.get(k);
    if (!q) dels.push(...peerOps(ns, p, false));
    else {
      // Same tunnel end: only the routes to its subnets change.
      const was = new Set(p.subnets);
      const will = new Set(q.subnets);
      for (const dst of p.subnets) if (!will.has(dst)) dels.push({ op: 'routeDel', ns, dst, dev: OVERLAY_LINK });
      for (const dst of q.subnets) if (!was.has(dst)) adds.push({ op: 'routeAdd', ns, dst, via: q.address, dev: OVERLAY_LINK, onlink: true });
    }
  }
  for (const [k, p] of after) if (!before.has(k)) adds.push(...peerOps(ns, p, true));
  return [...dels, ...adds];
}
