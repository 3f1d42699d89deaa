import test from 'ava';
import { emptyIntent, type Intent } from '../../src/cluster/keys.js';
import { overlayAddress, overlayMac, overlaysOf } from '../../src/cluster/overlay.js';
import { carriedPeers, routerHosts } from '../../src/cluster/routers.js';
import { OVERLAY_LINK, overlayBase, overlayDiffOps, overlayOps, type VpcOverlay } from '../../src/plan/overlay.js';

function lab(): Intent {
  const i = emptyIntent();
  ['h1', 'h2', 'h3'].forEach((h, n) => {
    i.hosts[h] = { name: h, underlay: `192.0.2.${11 + n}`, joinedAt: 'x', index: n + 1 };
    i.hostIndexes[n + 1] = h;
  });
  i.vpcs.a = { name: 'a', cidr: '10.0.0.0/16', vni: 7, gen: 1 };
  i.vpcs.b = { name: 'b', cidr: '10.0.0.0/16', vni: 8, gen: 1 };
  i.subnets.a = {
    web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', host: 'h1' },
    api: { name: 'api', cidr: '10.0.2.0/24', type: 'private', host: 'h2' },
    db: { name: 'db', cidr: '10.0.3.0/24', type: 'private', host: 'h3' },
    db2: { name: 'db2', cidr: '10.0.4.0/24', type: 'private', host: 'h3' },
  };
  i.subnets.b = { x: { name: 'x', cidr: '10.0.1.0/24', type: 'private', host: 'h2' } };
  return i;
}
const UNDERLAY = { dev: 'underlay', mtu: 1500 };

test('overlay addresses and MACs follow from the host index and VNI, unique and link-local', (t) => {
  t.is(overlayAddress(1), '169.254.0.1');
  t.is(overlayAddress(254), '169.254.0.254');
  t.is(overlayAddress(255), '169.254.1.1');
  t.is(overlayMac(7, 2), '02:00:00:07:00:02');
  t.is(overlayMac(0xabcdef, 0x1234), '02:ab:cd:ef:12:34');
  const seen = new Set(Array.from({ length: 2000 }, (_, k) => overlayAddress(k + 1)));
  t.is(seen.size, 2000);
});

test("a router's overlay: its VNI, its own address, one peer per other live host of the VPC, MTU lowered by 50", (t) => {
  const o = overlaysOf(lab(), 'h1', new Set(['h1', 'h2', 'h3']), UNDERLAY);
  t.deepEqual(Object.keys(o), ['a'], 'only VPCs with a subnet here');
  const a = o.a!;
  t.is(a.vni, 7);
  t.is(a.local, '192.0.2.11');
  t.is(a.address, '169.254.0.1/16');
  t.is(a.mtu, 1450);
  t.deepEqual(a.peers, [
    { host: 'h2', underlay: '192.0.2.12', address: '169.254.0.2', mac: '02:00:00:07:00:02', subnets: ['10.0.2.0/24'] },
    { host: 'h3', underlay: '192.0.2.13', address: '169.254.0.3', mac: '02:00:00:07:00:03', subnets: ['10.0.3.0/24', '10.0.4.0/24'] },
  ]);
  // Same CIDR in VPC b, another VNI: b's router on h2 has no peer (its only subnet is local).
  const b = overlaysOf(lab(), 'h2', new Set(['h1', 'h2', 'h3']), UNDERLAY).b!;
  t.is(b.vni, 8);
  t.deepEqual(b.peers, []);
});

test('a host that is down drops out of every other router', (t) => {
  const a = overlaysOf(lab(), 'h1', new Set(['h1', 'h2']), UNDERLAY).a!;
  t.deepEqual(a.peers.map((p) => p.host), ['h2']);
});

test('the full overlay: vxlan in the router with its underlay outside, static FDB + neighbour per peer, routes via peers', (t) => {
  const a = overlaysOf(lab(), 'h1', new Set(['h1', 'h2', 'h3']), UNDERLAY).a!;
  const ops = overlayOps('a', a);
  t.deepEqual(ops[0], {
    op: 'vxlanAdd', ns: 'vpcr-a', name: OVERLAY_LINK, vni: 7, local: '192.0.2.11', dev: 'underlay', port: 4789, mtu: 1450,
    alias: 'vpcctl:overlay:a', mac: '02:00:00:07:00:01',
  });
  t.deepEqual(ops.slice(1, 3), [
    { op: 'addrAdd', ns: 'vpcr-a', dev: OVERLAY_LINK, cidr: '169.254.0.1/16' },
    { op: 'linkUp', ns: 'vpcr-a', name: OVERLAY_LINK },
  ]);
  t.deepEqual(ops.filter((o) => o.op === 'fdbAdd').map((o) => (o as { dst: string }).dst), ['192.0.2.12', '192.0.2.13']);
  t.deepEqual(ops.filter((o) => o.op === 'neighAdd').map((o) => (o as { addr: string }).addr), ['169.254.0.2', '169.254.0.3']);
  t.deepEqual(ops.filter((o) => o.op === 'routeAdd'), [
    { op: 'routeAdd', ns: 'vpcr-a', dst: '10.0.2.0/24', via: '169.254.0.2', dev: OVERLAY_LINK, onlink: true },
    { op: 'routeAdd', ns: 'vpcr-a', dst: '10.0.3.0/24', via: '169.254.0.3', dev: OVERLAY_LINK, onlink: true },
    { op: 'routeAdd', ns: 'vpcr-a', dst: '10.0.4.0/24', via: '169.254.0.3', dev: OVERLAY_LINK, onlink: true },
  ]);
  t.false(ops.some((o) => o.op === 'fdbAdd' && (o as { mac: string }).mac === '00:00:00:00:00:00'), 'no all-zero flooding entry');
});

test('a peer going down, a subnet moving: only the difference, removals first', (t) => {
  const all = overlaysOf(lab(), 'h1', new Set(['h1', 'h2', 'h3']), UNDERLAY).a!;
  const noH3 = overlaysOf(lab(), 'h1', new Set(['h1', 'h2']), UNDERLAY).a!;
  t.deepEqual(overlayDiffOps('a', all, noH3), [
    { op: 'routeDel', ns: 'vpcr-a', dst: '10.0.3.0/24', dev: OVERLAY_LINK },
    { op: 'routeDel', ns: 'vpcr-a', dst: '10.0.4.0/24', dev: OVERLAY_LINK },
    { op: 'neighDel', ns: 'vpcr-a', dev: OVERLAY_LINK, addr: '169.254.0.3' },
    { op: 'fdbDel', ns: 'vpcr-a', dev: OVERLAY_LINK, mac: '02:00:00:07:00:03', dst: '192.0.2.13' },
  ]);
  const moved = lab();
  moved.subnets.a!.db2!.host = 'h2';
  const after = overlaysOf(moved, 'h1', new Set(['h1', 'h2', 'h3']), UNDERLAY).a!;
  t.deepEqual(overlayDiffOps('a', all, after), [
    { op: 'routeDel', ns: 'vpcr-a', dst: '10.0.4.0/24', dev: OVERLAY_LINK },
    { op: 'routeAdd', ns: 'vpcr-a', dst: '10.0.4.0/24', via: '169.254.0.2', dev: OVERLAY_LINK, onlink: true },
  ]);
  t.deepEqual(overlayDiffOps('a', all, all), [], 'no change: no ops');
  t.deepEqual(overlayBase(all), overlayBase(after), "peers do not rebuild the router");
  t.notDeepEqual(overlayBase(all), overlayBase({ ...all, vni: 9 } as VpcOverlay), 'a new VNI does');
});

test('peered VPCs across hosts: routers on both sides of every host, the first-named VPC carries the peering over its overlay', (t) => {
  const i = lab();
  // c (10.5/16) on h3 only, peered with a; a's subnets are on h1, h2 and h3.
  i.vpcs.c = { name: 'c', cidr: '10.5.0.0/16', vni: 9, gen: 1 };
  i.subnets.c = { q: { name: 'q', cidr: '10.5.1.0/24', type: 'private', host: 'h3' } };
  i.peerings['a~c'] = { vpc1: 'c', vpc2: 'a' };
  const live = new Set(['h1', 'h2', 'h3']);
  t.deepEqual([...routerHosts(i).get('c')!].sort(), ['h1', 'h2', 'h3'], "c's router wherever a runs");
  t.deepEqual(carriedPeers(i, 'a'), ['c']);
  t.deepEqual(carriedPeers(i, 'c'), []);
  // On h1, a's router routes c's subnet on h3 over a's overlay, beside a's own there.
  const a1 = overlaysOf(i, 'h1', live, UNDERLAY).a!;
  t.deepEqual(a1.peers.map((p) => [p.host, p.subnets]), [['h2', ['10.0.2.0/24']], ['h3', ['10.0.3.0/24', '10.0.4.0/24', '10.5.1.0/24']]]);
  // c's router on h1 has no subnet: a tunnel end of c's overlay, routing nothing of a over it.
  const c1 = overlaysOf(i, 'h1', live, UNDERLAY).c!;
  t.deepEqual(c1.peers.map((p) => [p.host, p.subnets]), [['h2', []], ['h3', ['10.5.1.0/24']]]);
});
