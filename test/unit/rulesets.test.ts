import test from 'ava';
import { routerRuleset } from '../../src/firewall/router.js';
import { rootRuleset } from '../../src/firewall/root.js';
import { emptyState, type VpcState } from '../../src/state/types.js';

const vpc: VpcState = {
  name: 'demo', cidr: '10.0.0.0/16', uplink: 'eth0', transit: '100.64.0.4/30',
  subnets: {
    web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', apps: [] },
    db: { name: 'db', cidr: '10.0.2.0/24', type: 'private', apps: [] },
  },
};

const setElems = (objs: Record<string, any>[], name: string) => objs.find((o) => o.set?.name === name)?.set.elem;
const rulesOf = (objs: Record<string, any>[], chain: string) => objs.filter((o) => o.rule?.chain === chain).map((o) => o.rule);

test('router: subnets sit in interval sets, private ones never cross the gateway, public ones are SNATed', (t) => {
  const objs = routerRuleset(vpc);
  t.deepEqual(setElems(objs, 'public'), [{ prefix: { addr: '10.0.1.0', len: 24 } }]);
  t.deepEqual(setElems(objs, 'private'), [{ prefix: { addr: '10.0.2.0', len: 24 } }]);
  const forward = rulesOf(objs, 'forward');
  t.is(forward.length, 7, 'a constant number of rules, whatever the number of subnets');
  t.truthy(forward.find((r) => r.comment === 'peering is not transitive'));
  const nat = rulesOf(objs, 'postrouting');
  t.deepEqual(nat[0].expr.at(-1), { snat: { family: 'ip', addr: '100.64.0.6' } });
});

test('router without a gateway has no NAT chain', (t) => {
  const objs = routerRuleset({ ...vpc, uplink: null, transit: null });
  t.false(objs.some((o) => o.chain?.name === 'postrouting'));
});

test('router rule count does not grow with subnets', (t) => {
  const many: VpcState = { ...vpc, subnets: {} };
  for (let i = 0; i < 300; i++) many.subnets[`s${i}`] = { name: `s${i}`, cidr: `10.0.${i % 256}.0/24`, type: i % 2 ? 'public' : 'private', apps: [] };
  t.is(routerRuleset(many).filter((o) => o.rule).length, routerRuleset(vpc).filter((o) => o.rule).length);
});

test('host: masquerade per distinct uplink, VPC-to-VPC drop, no new connections to the host; nothing without VPCs', (t) => {
  t.is(rootRuleset(emptyState()), null);
  const state = emptyState();
  state.vpcs.a = vpc;
  state.vpcs.b = { ...vpc, name: 'b', transit: '100.64.0.8/30' };
  state.vpcs.c = { ...vpc, name: 'c', uplink: 'wlan0', transit: '100.64.0.12/30' };
  const objs = rootRuleset(state)!;
  const masq = rulesOf(objs, 'postrouting');
  t.deepEqual(masq.map((r) => r.comment), ['VPC internet via eth0', 'VPC internet via wlan0']);
  t.truthy(rulesOf(objs, 'forward').find((r) => r.comment === 'VPCs are isolated from each other'));
  const input = rulesOf(objs, 'input');
  t.deepEqual(input.at(-1).expr.at(-1), { drop: null });
});
