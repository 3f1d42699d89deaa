import test from 'ava';
import { plan, type KernelView } from '../../src/plan/planner.js';
import { fullPlan } from '../../src/plan/full.js';
import { repairOps, brokenByDrift, type OpDrift } from '../../src/plan/repair.js';
import type { Op } from '../../src/plan/ops.js';
import { OVERLAY_LINK } from '../../src/plan/overlay.js';
import { emptyState, type OverlayPeer, type State, type VpcOverlay } from '../../src/state/types.js';

/** The planner's side of the cross-host data plane: what a cluster host's router state turns into. */

const peer = (host: string, n: number, subnets: string[]): OverlayPeer =>
  ({ host, underlay: `192.0.2.${10 + n}`, address: `169.254.0.${n}`, mac: `02:00:00:07:00:0${n}`, subnets });

const overlay = (peers: OverlayPeer[], extra: Partial<VpcOverlay> = {}): VpcOverlay => ({
  vni: 7, local: '192.0.2.11', dev: 'underlay', address: '169.254.0.1/16', mac: '02:00:00:07:00:01', mtu: 1450, peers, ...extra,
});

function hostState(o: VpcOverlay | undefined): State {
  const s = emptyState();
  s.hostForwardBefore = '0';
  s.vpcs.a = {
    name: 'a', cidr: '10.0.0.0/16', uplink: null, transit: null,
    subnets: { web: { name: 'web', cidr: '10.0.1.0/24', type: 'private', apps: [] } },
    ...(o ? { overlay: o } : {}),
  };
  return s;
}

const kernelOf = (state: State, drift?: OpDrift[]): KernelView => ({
  namespaces: new Set(Object.values(state.vpcs).flatMap((v) => [`vpcr-${v.name}`, ...Object.keys(v.subnets).map((s) => `ns-${v.name}-${s}`)])),
  hostForward: '1',
  ...(drift ? { drift } : {}),
});
const kinds = (ops: Op[]) => ops.map((o) => o.op);
const nsOps = (ops: Op[]) => ops.filter((o) => o.op === 'netnsAdd' || o.op === 'netnsDel');

test('a new router on a cluster host gets its VXLAN link, one FDB and neighbour entry per peer and routes to remote subnets', (t) => {
  const des = hostState(overlay([peer('h2', 2, ['10.0.2.0/24', '10.0.3.0/24'])]));
  const { ops } = plan(emptyState(), des, { namespaces: new Set(), hostForward: '0' });
  const vx = ops.findIndex((o) => o.op === 'vxlanAdd');
  t.true(vx > ops.findIndex((o) => o.op === 'netnsAdd' && o.ns === 'vpcr-a'), 'after its router');
  t.like(ops[vx], { ns: 'vpcr-a', name: OVERLAY_LINK, vni: 7, local: '192.0.2.11', dev: 'underlay', mtu: 1450, mac: '02:00:00:07:00:01' });
  t.truthy(ops.find((o) => o.op === 'addrAdd' && o.dev === OVERLAY_LINK && o.cidr === '169.254.0.1/16'));
  t.truthy(ops.find((o) => o.op === 'fdbAdd' && o.mac === '02:00:00:07:00:02' && o.dst === '192.0.2.12'));
  t.truthy(ops.find((o) => o.op === 'neighAdd' && o.addr === '169.254.0.2' && o.mac === '02:00:00:07:00:02'));
  const remote = ops.filter((o) => o.op === 'routeAdd' && o.dev === OVERLAY_LINK);
  t.deepEqual(remote.map((o) => (o.op === 'routeAdd' ? [o.dst, o.via, o.onlink] : [])), [['10.0.2.0/24', '169.254.0.2', true], ['10.0.3.0/24', '169.254.0.2', true]]);
  const veth = ops.find((o) => o.op === 'vethAdd');
  t.is(veth?.op === 'vethAdd' ? veth.mtu : undefined, 1450, 'the subnet link carries no more than the tunnel');
});

test('on one host (no overlay) nothing of it is planned and subnet links keep the default MTU', (t) => {
  const { ops } = plan(emptyState(), hostState(undefined), { namespaces: new Set(), hostForward: '0' });
  t.false(kinds(ops).some((k) => k === 'vxlanAdd' || k === 'fdbAdd' || k === 'neighAdd'));
  const veth = ops.find((o) => o.op === 'vethAdd');
  t.false(veth?.op === 'vethAdd' && 'mtu' in veth);
});

test('peers that come and go change only entries and routes: the router, its subnets and their apps stay', (t) => {
  const cur = hostState(overlay([peer('h2', 2, ['10.0.2.0/24']), peer('h3', 3, ['10.0.3.0/24'])]));
  const des = hostState(overlay([peer('h2', 2, ['10.0.2.0/24', '10.0.4.0/24'])]));
  const p = plan(cur, des, kernelOf(cur));
  t.deepEqual(nsOps(p.ops), []);
  t.deepEqual(p.ops, [
    { op: 'routeDel', ns: 'vpcr-a', dst: '10.0.3.0/24', dev: OVERLAY_LINK },
    { op: 'neighDel', ns: 'vpcr-a', dev: OVERLAY_LINK, addr: '169.254.0.3' },
    { op: 'fdbDel', ns: 'vpcr-a', dev: OVERLAY_LINK, mac: '02:00:00:07:00:03', dst: '192.0.2.13' },
    { op: 'routeAdd', ns: 'vpcr-a', dst: '10.0.4.0/24', via: '169.254.0.2', dev: OVERLAY_LINK, onlink: true },
  ]);
  t.deepEqual(p.changes, ['update overlay of vpc a: h2']);
  t.deepEqual(plan(des, des, kernelOf(des)).ops, [], 'the same overlay again: nothing');
});

test('a router whose tunnel changes (VNI, underlay, MTU) is rebuilt, and its VXLAN link is deleted before its namespace', (t) => {
  const cur = hostState(overlay([]));
  for (const change of [{ vni: 8 }, { local: '192.0.2.99' }, { mtu: 1400 }]) {
    const p = plan(cur, hostState(overlay([], change)), kernelOf(cur));
    const del = p.ops.findIndex((o) => o.op === 'linkDel' && o.name === OVERLAY_LINK);
    const nsDel = p.ops.findIndex((o) => o.op === 'netnsDel' && o.ns === 'vpcr-a');
    t.true(del >= 0 && del < nsDel, JSON.stringify(change));
    t.truthy(p.ops.find((o) => o.op === 'vxlanAdd'));
    t.deepEqual(p.changes, ['rebuild vpc a']);
  }
  const gone = plan(cur, emptyState(), kernelOf(cur));
  t.true(gone.ops.findIndex((o) => o.op === 'linkDel') < gone.ops.findIndex((o) => o.op === 'netnsDel' && o.ns === 'vpcr-a'));
});

test('the full plan holds the overlay, so verify sees it drift; a lost VXLAN link is remade with what lived on it', (t) => {
  const s = hostState(overlay([peer('h2', 2, ['10.0.2.0/24'])]));
  const full = fullPlan(s);
  const vx = full.ops.find((o) => o.op === 'vxlanAdd')!;
  t.is(full.owners[full.ops.indexOf(vx)], 'vpc a');
  const missing: OpDrift = { op: vx, object: 'vpc a', kind: 'missing', detail: 'link vx0 in vpcr-a is missing' };
  const r = repairOps([missing], s, new Set(), []);
  t.deepEqual(kinds(r.ops), ['vxlanAdd', 'linkUp', 'addrAdd', 'routeAdd', 'fdbAdd', 'neighAdd']);
  const p = plan(s, s, kernelOf(s, [missing]));
  t.deepEqual(nsOps(p.ops), [], 'repaired in place');
  const down: OpDrift = { ...missing, kind: 'differs', detail: 'link vx0 in vpcr-a is down' };
  t.deepEqual(repairOps([down], s, new Set(), []).ops, [{ op: 'linkUp', ns: 'vpcr-a', name: OVERLAY_LINK }]);
  const foreign: OpDrift = { ...missing, kind: 'differs', detail: 'link vx0 in vpcr-a has vni 9, want 7' };
  t.deepEqual([...brokenByDrift([foreign])], ['vpcr-a'], 'not as made: the router is rebuilt');
  t.deepEqual(repairOps([foreign], s, new Set(), []).ops, []);
});
