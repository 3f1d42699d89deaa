import test from 'ava';
import { parseTopology } from '../../src/model/schema.js';
import { validateTopology } from '../../src/model/validate.js';
import { subnetLink, subnetLink6, subnetLinkOf } from '../../src/model/names.js';
import { visibleRecords, vpcEtcFiles } from '../../src/model/dns.js';
import { blockOf, gatewayOf, hostOf } from '../../src/model/addresses.js';
import { routerRuleset } from '../../src/firewall/router.js';
import { plan, type KernelView } from '../../src/plan/planner.js';
import { fullPlan, rootRoutes } from '../../src/plan/full.js';
import { egressRouteOps } from '../../src/plan/build.js';
import { pairFamily, predictor } from '../../src/api/predict.js';
import { checkState } from '../../src/state/schema.js';
import type { Op } from '../../src/plan/ops.js';
import { emptyState, type State, type VpcState } from '../../src/state/types.js';
import { errorOf } from '../helpers/error-of.js';

// IPv6-only subnets (issue 17): a subnet of a dual-stack VPC without an IPv4 block.

const vpc = (): VpcState => ({
  name: 'demo', cidr: '10.0.0.0/16', ipv6Cidr: 'fd00:10::/56', uplink: 'eth0', transit: '100.64.0.0/30',
  subnets: {
    web: { name: 'web', ipv6Cidr: 'fd00:10::/64', type: 'public', apps: [] },
    db: { name: 'db', ipv6Cidr: 'fd00:10:0:2::/64', type: 'private', apps: [] },
    worker: { name: 'worker', ipv6Cidr: 'fd00:10:0:3::/64', type: 'private', egress: 'nat', apps: [] },
    dual: { name: 'dual', cidr: '10.0.1.0/24', ipv6Cidr: 'fd00:10:0:1::/64', type: 'private', apps: [] },
  },
});

function stateWith(...vpcs: VpcState[]): State {
  const s = emptyState();
  for (const v of vpcs) s.vpcs[v.name] = v;
  return s;
}
const kernelWith = (state: State): KernelView => ({
  namespaces: new Set(Object.values(state.vpcs).flatMap((v) => [`vpcr-${v.name}`, ...Object.keys(v.subnets).map((s) => `ns-${v.name}-${s}`)])),
  hostForward: '1',
});
const find = <K extends Op['op']>(ops: Op[], op: K) => ops.filter((o): o is Extract<Op, { op: K }> => o.op === op);
const inNs = (ops: Op[], ns: string) => ops.filter((o) => 'ns' in o && o.ns === ns);

// --- Validation -----------------------------------------------------------------

const topo = (v: Record<string, unknown>, subnets: Record<string, unknown>[]) =>
  parseTopology({ vpcs: [{ name: 'demo', cidr: '10.0.0.0/16', ...v, subnets }] });

test('topology: a subnet without cidr is IPv6-only in a dual-stack VPC, refused in an IPv4-only one (with its path)', (t) => {
  t.notThrows(() => validateTopology(topo({ ipv6Cidr: 'fd00:10::/56' }, [{ name: 'web', type: 'public' }])));
  t.notThrows(() => validateTopology(topo({ ipv6: true }, [{ name: 'web', type: 'public', ipv6Cidr: undefined }])));
  const e = errorOf(() => validateTopology(topo({}, [{ name: 'web', type: 'public' }, { name: 'db', cidr: '10.0.2.0/24', type: 'private' }])));
  t.is(e.code, 'INVALID_INPUT');
  t.regex(e.message, /^vpcs\[0\]\.subnets\[0\]\.cidr: a subnet of vpc "demo" needs an IPv4 cidr: the vpc is IPv4-only/);
  t.is(e.message.split('\n').length, 1, 'the IPv4 subnet beside it is fine');
});

test('topology: an IPv6-only subnet cannot publish, and its policy names its /64', (t) => {
  const pub = errorOf(() => validateTopology(topo({ ipv6Cidr: 'fd00:10::/56' }, [
    { name: 'web', type: 'public', publish: [{ port: 80, hostPort: 8080 }] },
  ])));
  t.regex(pub.message, /^vpcs\[0\]\.subnets\[0\]\.publish: subnet "web" of vpc "demo" is IPv6-only: publish forwards an IPv4 host port/);
  const policy = (subnet: string) => ({ subnet, ingress: [], egress: [], default: 'allow' });
  t.notThrows(() => validateTopology(topo({ ipv6Cidr: 'fd00:10::/56' }, [{ name: 'db', type: 'private', ipv6Cidr: 'fd00:10:0:2::/64', policy: policy('fd00:10:0:2::/64') }])));
  const wrong = errorOf(() => validateTopology(topo({ ipv6Cidr: 'fd00:10::/56' }, [{ name: 'db', type: 'private', ipv6Cidr: 'fd00:10:0:2::/64', policy: policy('10.0.2.0/24') }])));
  t.regex(wrong.message, /^vpcs\[0\]\.subnets\[0\]\.policy\.subnet: 10\.0\.2\.0\/24 is not this IPv6-only subnet's CIDR \(fd00:10:0:2::\/64\)/);
  // A dual-stack subnet is still named by its IPv4 block.
  const dual = errorOf(() => validateTopology(topo({ ipv6Cidr: 'fd00:10::/56' }, [{ name: 'db', cidr: '10.0.2.0/24', type: 'private', ipv6Cidr: 'fd00:10:0:2::/64', policy: policy('fd00:10:0:2::/64') }])));
  t.regex(dual.message, /is not this subnet's CIDR \(10\.0\.2\.0\/24\)/);
});

test('state file: a subnet may have ipv6Cidr without cidr, not neither', (t) => {
  const s = stateWith(vpc());
  t.true('state' in checkState(JSON.parse(JSON.stringify(s))));
  const bad = JSON.parse(JSON.stringify(s));
  delete bad.vpcs.demo.subnets.web.ipv6Cidr;
  t.like(checkState(bad), { problem: 'vpcs.demo.subnets.web.cidr: is required (or ipv6Cidr, for an IPv6-only subnet)' });
});

// --- Names and addresses ----------------------------------------------------------

test('an IPv6-only subnet\'s router link is s6-<bits 32..63 of its /64>: unique in the router, never an sn- name', (t) => {
  t.is(subnetLink6('fd00:10::/64'), 's6-00000000');
  t.is(subnetLink6('fd00:10:0:2::/64'), 's6-00000002');
  t.is(subnetLink6('fd00:10:abcd:ef01::/64'), 's6-abcdef01');
  t.is(subnetLink6('fd00:1:2:3::/64').length <= 15, true, 'IFNAMSIZ');
  t.is(subnetLinkOf({ cidr: '10.0.1.0/24', ipv6Cidr: 'fd00:10:0:1::/64' }), subnetLink('10.0.1.0/24'), 'dual-stack keeps its IPv4 name');
  t.is(subnetLinkOf({ ipv6Cidr: 'fd00:10:0:1::/64' }), 's6-00000001');
});

test('block, host and gateway of a subnet: IPv4 when it has a block, else IPv6', (t) => {
  const v = vpc();
  t.is(blockOf(v.subnets.db!), 'fd00:10:0:2::/64');
  t.is(hostOf(v.subnets.db!), 'fd00:10:0:2::2');
  t.is(gatewayOf(v.subnets.db!), 'fd00:10:0:2::1');
  t.is(blockOf(v.subnets.dual!), '10.0.1.0/24');
  t.is(hostOf(v.subnets.dual!), '10.0.1.2');
});

test('DNS: an IPv6-only subnet is named by its IPv6 host in the hosts file; a dual-stack one by its IPv4 host, then its IPv6 one', (t) => {
  const s = stateWith(vpc());
  const records = visibleRecords(s, 'demo').map((r) => `${r.name}=${r.address}`).sort();
  t.deepEqual(records, [
    'db.demo.internal=fd00:10:0:2::2', 'dual.demo.internal=10.0.1.2', 'dual.demo.internal=fd00:10:0:1::2',
    'web.demo.internal=fd00:10::2', 'worker.demo.internal=fd00:10:0:3::2',
  ]);
  t.regex(vpcEtcFiles(s, 'demo').hosts!, /\nfd00:10:0:2::2\tdb\.demo\.internal\n/);
});

// --- Planner ------------------------------------------------------------------------

test('planner: an IPv6-only subnet gets no IPv4 address, route or NAT anywhere; its IPv6 side is the dual-stack one', (t) => {
  const des = stateWith(vpc());
  const p = plan(emptyState(), des, { namespaces: new Set(), hostForward: '1', hostForward6: '1' });
  for (const name of ['web', 'db', 'worker']) {
    const mine = inNs(p.ops, `ns-demo-${name}`);
    t.false(mine.some((o) => (o.op === 'addrAdd' && !o.cidr.includes(':')) || (o.op === 'routeAdd' && !o.dst.includes(':'))), `${name}: IPv4 in the host`);
  }
  const routerAddrs = find(p.ops, 'addrAdd').filter((o) => o.ns === 'vpcr-demo').map((o) => `${o.dev} ${o.cidr}`);
  t.true(routerAddrs.includes('s6-00000002 fd00:10:0:2::1/64'));
  t.false(routerAddrs.some((a) => /^s6-\S+ \d+\./.test(a)), 'no IPv4 on an s6- link');
  t.deepEqual(find(p.ops, 'vethAdd').filter((o) => o.ns === 'vpcr-demo').map((o) => o.name).sort(), ['s6-00000000', 's6-00000002', 's6-00000003', 'sn-0a000100']);
  const routes = find(p.ops, 'routeAdd').map((o) => `${o.ns} ${o.dst} ${o.via ?? ''}`);
  t.true(routes.includes('ns-demo-web ::/0 fd00:10::1'), 'public: IPv6 default route only');
  t.false(routes.includes('ns-demo-web default fd00:10::1'));
  t.true(routes.includes('ns-demo-worker ::/0 fd00:10:0:3::1'), 'egress nat: the egress-only gateway');
  t.true(routes.includes('ns-demo-db fd00:10::/56 fd00:10:0:2::1'));
  t.false(routes.some((r) => r.startsWith('ns-demo-db ::/0')), 'private: no way out');
  t.deepEqual([...rootRoutes(des).keys()], [], 'no root route: public IPv6-only subnets leave by NAT66');
  t.deepEqual(plan(des, des, { ...kernelWith(des), hostForward6: '1' }).ops, [], 'in the kernel: nothing to do');
});

test('router table: IPv6-only subnets are in the IPv6 sets only', (t) => {
  const text = JSON.stringify(routerRuleset(vpc()));
  const set = (name: string) => JSON.stringify(routerRuleset(vpc()).find((o) => 'set' in o && (o as { set: { name: string } }).set.name === name));
  t.notRegex(set('public'), /elem/, 'the IPv4 public set is empty');
  t.regex(set('private'), /10\.0\.1\.0/);
  t.notRegex(set('private'), /fd00/);
  t.regex(set('public6'), /"addr":"fd00:10::","len":64/);
  t.regex(set('egress6'), /fd00:10:0:3::/);
  t.notRegex(text, /"name":"nat"/, 'no NAT44 set: the one private subnet with a NAT gateway is IPv6-only');
});

test('set-egress on an IPv6-only subnet changes only its IPv6 default route', (t) => {
  const v = vpc();
  t.deepEqual(egressRouteOps(v, v.subnets.db!, true), [{ op: 'routeAdd', ns: 'ns-demo-db', dst: '::/0', via: 'fd00:10:0:2::1', dev: 'eth0' }]);
  t.deepEqual(egressRouteOps(v, v.subnets.db!, false), [{ op: 'routeDel', ns: 'ns-demo-db', dst: '::/0', dev: 'eth0' }]);
});

test('planner: IPv6-only <-> dual-stack on re-apply replaces the subnet, as a CIDR change does', (t) => {
  const cur = stateWith(vpc());
  const des = structuredClone(cur);
  des.vpcs.demo!.subnets.db!.cidr = '10.0.2.0/24';
  const p = plan(cur, des, kernelWith(cur));
  t.deepEqual(p.changes, ['replace subnet demo/db']);
  t.true(find(p.ops, 'addrAdd').some((o) => o.ns === 'ns-demo-db' && o.cidr === '10.0.2.2/24'));
  t.deepEqual(plan(des, cur, kernelWith(des)).changes, ['replace subnet demo/db'], 'and back');
  // A public one going dual-stack gets its root route; going back loses it.
  const pub = structuredClone(cur);
  pub.vpcs.demo!.subnets.web!.cidr = '10.0.5.0/24';
  t.true(find(plan(cur, pub, kernelWith(cur)).ops, 'routeAdd').some((o) => o.ns === '' && o.dst === '10.0.5.0/24'));
  t.true(find(plan(pub, cur, kernelWith(pub)).ops, 'routeDel').some((o) => o.ns === '' && o.dst === '10.0.5.0/24'));
});

test('peering: an IPv6-only private subnet routes to an IPv6 peer only; with an IPv4-only peer it has nothing to route', (t) => {
  const s = stateWith(vpc(), {
    name: 'b', cidr: '10.1.0.0/16', ipv6Cidr: 'fd00:20::/56', uplink: null, transit: null,
    subnets: { x: { name: 'x', ipv6Cidr: 'fd00:20::/64', type: 'private', apps: [] } },
  }, {
    name: 'c', cidr: '10.2.0.0/16', uplink: null, transit: null,
    subnets: { y: { name: 'y', cidr: '10.2.1.0/24', type: 'private', apps: [] } },
  });
  s.peerings = [{ vpc1: 'demo', vpc2: 'b', link: '100.64.0.4/30' }, { vpc1: 'demo', vpc2: 'c', link: '100.64.0.8/30' }];
  const routes = find(fullPlan(s).ops, 'routeAdd').filter((o) => o.ns === 'ns-demo-db').map((o) => o.dst);
  t.deepEqual(routes.sort(), ['fd00:10::/56', 'fd00:20::/56']);
});

// --- test-connectivity --all ------------------------------------------------------------

test('--all: a pair where a side is IPv6-only is predicted over IPv6; with no family in common, unreachable with the reason', (t) => {
  const s = stateWith(vpc(), {
    name: 'c', cidr: '10.2.0.0/16', uplink: null, transit: null,
    subnets: { y: { name: 'y', cidr: '10.2.1.0/24', type: 'private', apps: [] } },
  });
  s.peerings = [{ vpc1: 'demo', vpc2: 'c', link: '100.64.0.8/30' }];
  s.vpcs.demo!.subnets.db!.policy = {
    ingress: [{ protocol: 'icmp', action: 'allow', cidr: 'fd00:10::/64' }, { protocol: 'icmp', action: 'deny', cidr: '0.0.0.0/0' }],
    egress: [], default: 'deny',
  };
  t.is(pairFamily(s.vpcs.demo!.subnets.web!, s.vpcs.demo!.subnets.dual!), 6);
  t.is(pairFamily(s.vpcs.demo!.subnets.dual!, s.vpcs.c!.subnets.y!), 4);
  t.is(pairFamily(s.vpcs.demo!.subnets.web!, s.vpcs.c!.subnets.y!), null);
  const p = predictor(s);
  t.deepEqual(p({ vpc: 'demo', subnet: 'web' }, { vpc: 'demo', subnet: 'db' }), { reachable: true }, 'the IPv6 range allows web; the IPv4 deny never matches it');
  t.like(p({ vpc: 'demo', subnet: 'dual' }, { vpc: 'demo', subnet: 'db' }), { reachable: false, reason: 'demo/db ingress: default deny' });
  t.deepEqual(p({ vpc: 'demo', subnet: 'web' }, { vpc: 'c', subnet: 'y' }), { reachable: false, reason: 'demo/web is IPv6-only and c/y has no IPv6' });
  t.deepEqual(p({ vpc: 'c', subnet: 'y' }, { vpc: 'demo', subnet: 'dual' }), { reachable: true });
  // A dual-stack subnet's IPv6 range never matches an IPv4 peer (the predictor parsed it as IPv4 and threw before).
  s.vpcs.demo!.subnets.dual!.policy = { ingress: [{ protocol: 'icmp', action: 'deny', cidr: ['fd00:10::/56', '10.9.0.0/16'] }], egress: [], default: 'allow' };
  t.deepEqual(predictor(s)({ vpc: 'c', subnet: 'y' }, { vpc: 'demo', subnet: 'dual' }), { reachable: true });
  t.like(predictor(s)({ vpc: 'demo', subnet: 'web' }, { vpc: 'demo', subnet: 'dual' }), { reachable: false, reason: 'demo/dual ingress: deny icmp from fd00:10::/56,10.9.0.0/16' });
});
