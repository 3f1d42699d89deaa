import test from 'ava';
import { checkPublishes, policyVerdict, policyWarnings, publishesOf } from '../../src/model/publish.js';
import { checkEgress } from '../../src/model/validate.js';
import { routerRuleset } from '../../src/firewall/router.js';
import { rootRuleset } from '../../src/firewall/root.js';
import { plan } from '../../src/plan/planner.js';
import { hostAddress } from '../../src/api/publish.js';
import { emptyState, type PublishState, type State, type VpcState } from '../../src/state/types.js';
import type { RootNet } from '../../src/model/root-routes.js';

const at = (hostPort: number, port = 80, address = '203.0.113.1'): PublishState => ({ port, hostPort, protocol: 'tcp', address });

const vpc = (): VpcState => ({
  name: 'demo', cidr: '10.0.0.0/16', uplink: 'eth0', transit: '100.64.0.0/30',
  subnets: {
    web2: { name: 'web2', cidr: '10.0.2.0/24', type: 'public', apps: [], publish: [at(8080)] },
    web1: { name: 'web1', cidr: '10.0.1.0/24', type: 'public', apps: [], publish: [at(8080)] },
    db: { name: 'db', cidr: '10.0.3.0/24', type: 'private', apps: [], publish: [at(5432, 5432)] },
    app: { name: 'app', cidr: '10.0.4.0/24', type: 'private', egress: 'nat', apps: [] },
  },
});

const stateOf = (...vpcs: VpcState[]): State => {
  const s = emptyState();
  for (const v of vpcs) s.vpcs[v.name] = v;
  return s;
};

test('publishesOf: one publish per host port, targets sorted by subnet (the map order)', (t) => {
  const list = publishesOf(vpc());
  t.deepEqual(list.map((p) => [p.hostPort, p.targets.map((x) => x.subnet)]), [[5432, ['db']], [8080, ['web1', 'web2']]]);
  t.deepEqual(list[1]!.targets.map((x) => x.host), ['10.0.1.2', '10.0.2.2']);
});

test('publishesOf: the same host port to another port is a conflict', (t) => {
  const v = vpc();
  v.subnets.web2!.publish = [at(8080, 81)];
  t.throws(() => publishesOf(v), { message: /publishes tcp host port 8080 twice/ });
});

test('checkPublishes: two VPCs cannot take the same host address and port; another address is fine; no gateway, no publish', (t) => {
  const other: VpcState = { ...vpc(), name: 'other', transit: '100.64.0.4/30', subnets: { w: { name: 'w', cidr: '10.0.1.0/24', type: 'public', apps: [], publish: [at(8080)] } } };
  t.throws(() => checkPublishes(stateOf(vpc(), other)), { message: /published by vpc "demo"/ });
  other.subnets.w!.publish = [at(8080, 80, '192.0.2.7')];
  t.notThrows(() => checkPublishes(stateOf(vpc(), other)));
  t.throws(() => checkPublishes(stateOf({ ...vpc(), uplink: null, transit: null })), { message: /no internet gateway/ });
});

test('policyVerdict: first sure match wins, default otherwise, a source-limited deny is partial', (t) => {
  t.is(policyVerdict(undefined, 'tcp', 80), 'allow');
  t.is(policyVerdict({ default: 'allow', ingress: [{ port: 80, protocol: 'tcp', action: 'deny' }] }, 'tcp', 80), 'deny');
  t.is(policyVerdict({ default: 'allow', ingress: [{ port: 80, protocol: 'tcp', action: 'deny' }] }, 'udp', 80), 'allow');
  t.is(policyVerdict({ default: 'deny', ingress: [{ port: '70-90', protocol: 'tcp', action: 'allow' }] }, 'tcp', 80), 'allow');
  t.is(policyVerdict({ default: 'deny', ingress: [] }, 'tcp', 80), 'deny');
  t.is(policyVerdict({ default: 'allow', ingress: [{ port: 80, protocol: 'tcp', action: 'deny', cidr: '192.0.2.0/24' }] }, 'tcp', 80), 'maybe');
  const v = vpc();
  v.subnets.web1!.policy = { default: 'deny', ingress: [], egress: [] };
  t.deepEqual(policyWarnings(v, publishesOf(v)[1]!).length, 1);
});

test('router: a load balancer is one numgen map; isolated private targets are masqueraded, nat ones keep the client', (t) => {
  const objs = routerRuleset(vpc()) as Array<Record<string, any>>;
  const pre = objs.filter((o) => o.rule?.chain === 'prerouting').map((o) => o.rule);
  t.is(pre.length, 2);
  const lb = pre.find((r) => r.comment.includes('8080')).expr.at(-1).dnat;
  t.deepEqual(lb.addr.map.key, { numgen: { mode: 'inc', mod: 2, offset: 0 } });
  t.deepEqual(lb.addr.map.data.set, [[0, '10.0.1.2'], [1, '10.0.2.2']]);
  t.is(lb.port, 80);
  t.truthy(objs.find((o) => o.set?.name === 'nat'));
  const masq = objs.find((o) => o.rule?.comment === 'published ports of private subnets without NAT');
  t.truthy(masq.rule.expr.find((e: any) => e.match?.op === '!=' && e.match.right === '@nat'));
});

test('host: each publish is DNATed to the router in prerouting (not from VPC links) and output', (t) => {
  const objs = rootRuleset(stateOf(vpc()))! as Array<Record<string, any>>;
  for (const chain of ['prerouting', 'output']) {
    const rules = objs.filter((o) => o.rule?.chain === chain).map((o) => o.rule);
    t.is(rules.length, 2, chain);
    t.deepEqual(rules.map((r) => r.expr.at(-1).dnat), [
      { family: 'ip', addr: '100.64.0.2', port: 5432 },
      { family: 'ip', addr: '100.64.0.2', port: 8080 },
    ]);
  }
  // Into a VPC: replies, then published ports, then nothing (no ct state on the last rule: invalid and untracked too).
  const forward = objs.filter((o) => o.rule?.chain === 'forward').map((o) => o.rule);
  t.deepEqual(forward.slice(1).map((r) => r.comment), ['replies', 'published ports', 'nothing beyond the host opens connections into a VPC']);
  t.deepEqual(forward.at(-1).expr.map((e: any) => Object.keys(e.match ? e.match.left : e)[0]), ['meta', 'counter', 'drop']);
  const plain = rootRuleset(stateOf({ ...vpc(), subnets: {} }))! as Array<Record<string, any>>;
  t.false(plain.some((o) => o.chain?.name === 'prerouting'), 'no nat chains without a publish');
});

test('checkEgress: only private subnets have one', (t) => {
  t.notThrows(() => checkEgress('private', 'nat'));
  t.notThrows(() => checkEgress('public', undefined));
  t.throws(() => checkEgress('public', 'nat'), { message: /private subnets only/ });
  t.throws(() => checkEgress('public', 'none'), { message: /private subnets only/ });
  t.throws(() => checkEgress('private', 'open'), { message: /egress "open" is invalid/ });
});

test('planner: egress and publishes change in place (a route, the router table), never a rebuild', (t) => {
  const current = stateOf(vpc());
  const desired = structuredClone(current);
  desired.vpcs.demo!.subnets.db!.egress = 'nat';
  delete desired.vpcs.demo!.subnets.web2!.publish;
  const kernel = { namespaces: new Set(['vpcr-demo', 'ns-demo-web1', 'ns-demo-web2', 'ns-demo-db', 'ns-demo-app']), hostForward: '1' };
  const p = plan(current, desired, kernel);
  t.false(p.ops.some((o) => o.op === 'netnsAdd' || o.op === 'netnsDel'));
  t.deepEqual(p.ops.filter((o) => o.op === 'routeAdd'), [{ op: 'routeAdd', ns: 'ns-demo-db', dst: 'default', via: '10.0.3.1', dev: 'eth0' }]);
  // web1 still takes host port 8080: the host's table stays, only the router's map shrinks.
  t.deepEqual(p.ops.filter((o) => o.op === 'nftApply').map((o) => o.ns), ['vpcr-demo']);
  t.deepEqual(p.changes.sort(), ['set egress nat on demo/db', 'update published ports of demo/web2']);
  delete desired.vpcs.demo!.subnets.web1!.publish;
  t.deepEqual(plan(current, desired, kernel).ops.filter((o) => o.op === 'nftApply').map((o) => o.ns).sort(), ['', 'vpcr-demo'], 'the last target gone: the host table too');
  const back = plan(desired, current, kernel);
  t.deepEqual(back.ops.filter((o) => o.op === 'routeDel'), [{ op: 'routeDel', ns: 'ns-demo-db', dst: 'default', dev: 'eth0' }]);
});

test('hostAddress: an address of a real link of the host; the uplink\'s by default', (t) => {
  const net: RootNet = {
    links: [
      { name: 'lo', up: true, loopback: true }, { name: 'eth0', up: true, loopback: false },
      { name: 'vg-64400000', alias: 'vpcctl:igw:demo', up: true, loopback: false },
    ],
    addrs: [{ dev: 'lo', cidr: '127.0.0.1/8' }, { dev: 'eth0', cidr: '203.0.113.1/24' }, { dev: 'vg-64400000', cidr: '100.64.0.1/30' }],
    routes: [], ruleTables: [],
  };
  t.is(hostAddress(net, vpc(), undefined), '203.0.113.1');
  t.is(hostAddress(net, vpc(), '203.0.113.1'), '203.0.113.1');
  t.throws(() => hostAddress(net, vpc(), '127.0.0.1'), { message: /not an address of this host/ });
  t.throws(() => hostAddress(net, vpc(), '198.51.100.1'), { message: /not an address of this host/ });
  t.throws(() => hostAddress(net, { ...vpc(), uplink: 'wlan0' }, undefined), { message: /no uplink address/ });
});
