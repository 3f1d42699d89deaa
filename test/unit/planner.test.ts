import test from 'ava';
import { plan, type KernelView } from '../../src/plan/planner.js';
import { planJson, type Op } from '../../src/plan/ops.js';
import { emptyState, type State } from '../../src/state/types.js';

const kernelWith = (state: State, forward = '1'): KernelView => {
  const ns = new Set<string>();
  for (const v of Object.values(state.vpcs)) {
    ns.add(`vpcr-${v.name}`);
    for (const s of Object.values(v.subnets)) ns.add(`ns-${v.name}-${s.name}`);
  }
  return { namespaces: ns, hostForward: forward };
};

function withVpc(state: State, name = 'demo', cidr = '10.0.0.0/16', transit: string | null = '100.64.0.0/30'): State {
  const s = structuredClone(state);
  s.vpcs[name] = { name, cidr, uplink: transit ? 'eth0' : null, transit, subnets: {} };
  return s;
}

function withSubnet(state: State, vpc: string, name: string, cidr: string, type: 'public' | 'private'): State {
  const s = structuredClone(state);
  s.vpcs[vpc]!.subnets[name] = { name, cidr, type, apps: [] };
  return s;
}

const kinds = (ops: Op[]) => ops.map((o) => o.op);
const find = <K extends Op['op']>(ops: Op[], op: K, pred: (o: Extract<Op, { op: K }>) => boolean = () => true) =>
  ops.filter((o): o is Extract<Op, { op: K }> => o.op === op && pred(o as Extract<Op, { op: K }>));

test('a new VPC: router namespace, sysctls, gateway veth, its table, the host table and ip_forward', (t) => {
  const desired = withVpc(emptyState());
  const p = plan(emptyState(), desired, { namespaces: new Set(), hostForward: '0' });
  t.deepEqual(p.changes, ['create vpc demo']);
  t.is(p.ops[0]!.op, 'netnsAdd');
  t.deepEqual(find(p.ops, 'netnsAdd').map((o) => [o.ns, o.tag]), [['vpcr-demo', 'vpcctl:router:demo']]);
  const veth = find(p.ops, 'vethAdd')[0]!;
  t.like(veth, { ns: '', name: 'vg-64400000', peerNs: 'vpcr-demo', peerName: 'igw0' });
  t.deepEqual(find(p.ops, 'addrAdd').map((o) => [o.ns, o.dev, o.cidr]), [['', 'vg-64400000', '100.64.0.1/30'], ['vpcr-demo', 'igw0', '100.64.0.2/30']]);
  t.like(find(p.ops, 'routeAdd')[0], { ns: 'vpcr-demo', dst: 'default', via: '100.64.0.1', dev: 'igw0' });
  t.deepEqual(find(p.ops, 'nftApply').map((o) => o.ns), ['vpcr-demo', '']);
  t.like(find(p.ops, 'sysctlSet', (o) => o.ns === '')[0], { key: 'net/ipv4/ip_forward', value: '1' });
  t.deepEqual(p.namespaces, ['vpcr-demo']);
});

test('nothing to do when state and kernel agree', (t) => {
  const s = withSubnet(withVpc(emptyState()), 'demo', 'web', '10.0.1.0/24', 'public');
  t.deepEqual(plan(s, s, kernelWith(s)).ops, []);
});

test('a private subnet: host namespace, veth with peer in place, addresses and routes, router table only', (t) => {
  const cur = withVpc(emptyState());
  const des = withSubnet(cur, 'demo', 'db', '10.0.2.0/24', 'private');
  const p = plan(cur, des, kernelWith(cur));
  t.deepEqual(p.changes, ['create subnet demo/db']);
  t.like(find(p.ops, 'vethAdd')[0], { ns: 'vpcr-demo', name: 'sn-0a000200', peerNs: 'ns-demo-db', peerName: 'eth0' });
  t.deepEqual(find(p.ops, 'addrAdd').map((o) => o.cidr), ['10.0.2.1/32', '10.0.2.2/24']);
  t.deepEqual(find(p.ops, 'routeAdd').map((o) => [o.ns, o.dst, o.via ?? o.dev]),
    [['vpcr-demo', '10.0.2.2/32', 'sn-0a000200'], ['ns-demo-db', '10.0.0.0/16', '10.0.2.1']]);
  t.deepEqual(find(p.ops, 'nftApply').map((o) => o.ns), ['vpcr-demo'], 'the host table does not change');
});

test('a public subnet gets a default route and a host route over the gateway', (t) => {
  const cur = withVpc(emptyState());
  const des = withSubnet(cur, 'demo', 'web', '10.0.1.0/24', 'public');
  const p = plan(cur, des, kernelWith(cur));
  t.like(find(p.ops, 'routeAdd', (o) => o.ns === 'ns-demo-web')[0], { dst: 'default', via: '10.0.1.1' });
  t.like(find(p.ops, 'routeAdd', (o) => o.ns === '')[0], { dst: '10.0.1.0/24', via: '100.64.0.2', dev: 'vg-64400000' });
});

test('no host route to public subnets of VPCs with overlapping CIDRs', (t) => {
  const cur = withVpc(withVpc(emptyState()), 'twin', '10.0.0.0/16', '100.64.0.4/30');
  const des = withSubnet(cur, 'demo', 'web', '10.0.1.0/24', 'public');
  t.deepEqual(find(plan(cur, des, kernelWith(cur)).ops, 'routeAdd', (o) => o.ns === ''), []);
});

test('a namespace deleted behind our back is rebuilt; a pending one is deleted first', (t) => {
  const s = withSubnet(withSubnet(withVpc(emptyState()), 'demo', 'web', '10.0.1.0/24', 'public'), 'demo', 'db', '10.0.2.0/24', 'private');
  const k = kernelWith(s);
  const missing = { ...k, namespaces: new Set([...k.namespaces].filter((n) => n !== 'ns-demo-db')) };
  const p = plan(s, s, missing);
  t.deepEqual(p.changes, ['repair subnet demo/db']);
  t.deepEqual(find(p.ops, 'netnsDel'), []);
  t.deepEqual(find(p.ops, 'netnsAdd').map((o) => o.ns), ['ns-demo-db']);

  const crashed = { ...s, pending: ['ns-demo-web'] };
  const q = plan(crashed, s, k);
  t.deepEqual(find(q.ops, 'netnsDel').map((o) => o.ns), ['ns-demo-web']);
  t.deepEqual(find(q.ops, 'netnsAdd').map((o) => o.ns), ['ns-demo-web']);
  t.true(q.ops.indexOf(find(q.ops, 'netnsDel')[0]!) < q.ops.indexOf(find(q.ops, 'netnsAdd')[0]!));
});

test('a missing router rebuilds the whole VPC', (t) => {
  const s = withSubnet(withVpc(emptyState()), 'demo', 'web', '10.0.1.0/24', 'public');
  const k = kernelWith(s);
  const p = plan(s, s, { ...k, namespaces: new Set(['ns-demo-web']) });
  t.deepEqual(find(p.ops, 'netnsDel').map((o) => o.ns), ['ns-demo-web']);
  t.deepEqual(find(p.ops, 'netnsAdd').map((o) => o.ns), ['vpcr-demo', 'ns-demo-web']);
});

test('deleting the last VPC restores ip_forward first (before the kernel\'s namespace cleanup holds rtnl), deletes namespaces and the host table', (t) => {
  const cur = { ...withSubnet(withVpc(emptyState()), 'demo', 'web', '10.0.1.0/24', 'public'), hostForwardBefore: '0' };
  const des = { ...emptyState(), hostForwardBefore: '0' };
  const p = plan(cur, des, kernelWith(cur));
  t.deepEqual(kinds(p.ops), ['sysctlSet', 'netnsDel', 'netnsDel', 'nftDelete']);
  t.like(p.ops[0], { ns: '', key: 'net/ipv4/ip_forward', value: '0' });
});

test('peering: one veth between routers, routes both ways, routes in private hosts only', (t) => {
  let cur = withSubnet(withVpc(emptyState()), 'demo', 'db', '10.0.2.0/24', 'private');
  cur = withSubnet(withVpc(cur, 'dev', '10.1.0.0/16', '100.64.0.4/30'), 'dev', 'web', '10.1.1.0/24', 'public');
  const des = { ...structuredClone(cur), peerings: [{ vpc1: 'demo', vpc2: 'dev', link: '100.64.0.8/30' }] };
  const p = plan(cur, des, kernelWith(cur));
  t.deepEqual(p.changes, ['peer demo dev']);
  t.like(find(p.ops, 'vethAdd')[0], { ns: 'vpcr-demo', name: 'px-0a010000', peerNs: 'vpcr-dev', peerName: 'px-0a000000' });
  t.deepEqual(find(p.ops, 'routeAdd').map((o) => [o.ns, o.dst]),
    [['vpcr-demo', '10.1.0.0/16'], ['vpcr-dev', '10.0.0.0/16'], ['ns-demo-db', '10.1.0.0/16']]);
  const back = plan(des, cur, kernelWith(cur));
  t.deepEqual(kinds(back.ops), ['linkDel', 'routeDel']);
});

test("deleting a peered VPC deletes the staying router's end of the peering, not waiting for the kernel's namespace cleanup", (t) => {
  let cur = withSubnet(withVpc(emptyState()), 'demo', 'db', '10.0.2.0/24', 'private');
  cur = withSubnet(withVpc(cur, 'dev', '10.1.0.0/16', '100.64.0.4/30'), 'dev', 'web', '10.1.1.0/24', 'public');
  cur.peerings = [{ vpc1: 'demo', vpc2: 'dev', link: '100.64.0.8/30' }];
  for (const [gone, stays, end] of [['dev', 'demo', 'px-0a010000'], ['demo', 'dev', 'px-0a000000']] as const) {
    const des = structuredClone(cur);
    delete des.vpcs[gone];
    des.peerings = [];
    const p = plan(cur, des, kernelWith(cur));
    t.deepEqual(find(p.ops, 'linkDel').map((o) => [o.ns, o.name]), [[`vpcr-${stays}`, end]]);
    t.true(find(p.ops, 'netnsDel').some((o) => o.ns === `vpcr-${gone}`));
  }
});

test('a policy change is one nftables transaction in the host namespace', (t) => {
  const cur = withSubnet(withVpc(emptyState()), 'demo', 'web', '10.0.1.0/24', 'public');
  const des = structuredClone(cur);
  des.vpcs.demo!.subnets.web!.policy = { subnet: '10.0.1.0/24', ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }], egress: [], default: 'allow' };
  const p = plan(cur, des, kernelWith(cur));
  t.deepEqual(kinds(p.ops), ['nftApply']);
  t.like(p.ops[0], { ns: 'ns-demo-web', table: 'vpcctl' });
  t.deepEqual(kinds(plan(des, cur, kernelWith(cur)).ops), ['nftDelete']);
});

test('planJson writes a shared compiled ruleset once and refers to it by op index after', (t) => {
  let state = withVpc(emptyState());
  const policy = { ingress: [{ port: 80, protocol: 'tcp' as const, action: 'allow' as const }], egress: [], default: 'deny' as const };
  for (let i = 0; i < 3; i++) {
    state = withSubnet(state, 'demo', `s${i}`, `10.0.${i}.0/24`, i === 0 ? 'public' : 'private');
    state.vpcs.demo!.subnets[`s${i}`]!.policy = policy;
  }
  const { ops } = plan(emptyState(), state, { namespaces: new Set(), hostForward: '0' });
  const applies = find(ops, 'nftApply');
  const hosts = applies.filter((o) => o.ns.startsWith('ns-'));
  t.is(hosts.length, 3, 'three hosts with one policy');
  t.is(hosts[0]!.ruleset, hosts[2]!.ruleset, 'compiled once, shared');
  const written = JSON.parse(planJson(ops)) as Record<string, unknown>[];
  const at = ops.indexOf(hosts[0]!);
  t.deepEqual(written[at]!.ruleset, hosts[0]!.ruleset, 'the first host: the ruleset itself');
  t.is(written[ops.indexOf(hosts[1]!)]!.ruleset, at, 'the others: the index of that op');
  t.is(written[ops.indexOf(hosts[2]!)]!.ruleset, at);
  // Resolving the indexes gives exactly what JSON.stringify writes.
  const resolved = written.map((o) => (typeof o.ruleset === 'number' ? { ...o, ruleset: written[o.ruleset]!.ruleset } : o));
  t.deepEqual(resolved, JSON.parse(JSON.stringify(ops)));
  t.is(planJson([]), '[]');
});

test('the host route of a deleted public subnet is deleted on its own gateway link only, never by destination alone', (t) => {
  const cur = withSubnet(withVpc(emptyState()), 'demo', 'web', '10.0.1.0/24', 'public');
  const des = structuredClone(cur);
  delete des.vpcs.demo!.subnets.web;
  const dels = find(plan(cur, des, kernelWith(cur)).ops, 'routeDel').filter((o) => o.ns === '');
  t.true(dels.length > 0);
  for (const o of dels) t.like(o, { dst: '10.0.1.0/24', dev: 'vg-64400000' });
});
