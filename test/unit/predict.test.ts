import test from 'ava';
import { predictIcmp } from '../../src/api/predict.js';
import { describeRule } from '../../src/model/policy-text.js';
import { emptyState, type State, type SubnetState } from '../../src/state/types.js';
import type { SubnetPolicy } from '../../src/model/schema.js';

const subnet = (name: string, cidr: string, policy?: SubnetPolicy): SubnetState =>
  ({ name, cidr, type: 'private', apps: [], ...(policy ? { policy } : {}) });

/** a (10.0/16: web, db), b (10.1/16: web), c (10.2/16: web), d overlapping a (10.0/16: web); a-b and b-c peered. */
function world(policies: Record<string, SubnetPolicy> = {}): State {
  const s = emptyState();
  const vpc = (name: string, cidr: string, subnets: SubnetState[]) => {
    s.vpcs[name] = { name, cidr, uplink: null, transit: null, subnets: Object.fromEntries(subnets.map((x) => [x.name, x])) };
  };
  vpc('a', '10.0.0.0/16', [subnet('web', '10.0.1.0/24', policies['a/web']), subnet('db', '10.0.2.0/24', policies['a/db'])]);
  vpc('b', '10.1.0.0/16', [subnet('web', '10.1.1.0/24', policies['b/web'])]);
  vpc('c', '10.2.0.0/16', [subnet('web', '10.2.1.0/24')]);
  vpc('d', '10.0.0.0/16', [subnet('web', '10.0.9.0/24')]);
  s.peerings = [{ vpc1: 'a', vpc2: 'b', link: '100.64.0.0/30' }, { vpc1: 'c', vpc2: 'b', link: '100.64.0.4/30' }];
  return s;
}
const p = (state: State, from: string, to: string) => {
  const [fv, fs] = from.split('/') as [string, string];
  const [tv, ts] = to.split('/') as [string, string];
  return predictIcmp(state, { vpc: fv, subnet: fs }, { vpc: tv, subnet: ts });
};
const policy = (x: Partial<SubnetPolicy>): SubnetPolicy => ({ ingress: [], egress: [], default: 'allow', ...x }) as SubnetPolicy;

test('routes: one VPC and direct peers are reachable; unpeered VPCs and a peer of a peer are not', (t) => {
  const s = world();
  t.true(p(s, 'a/web', 'a/db').reachable);
  t.true(p(s, 'a/web', 'b/web').reachable);
  t.true(p(s, 'b/web', 'a/db').reachable);
  t.deepEqual(p(s, 'a/web', 'c/web'), { reachable: false, reason: 'vpcs a and c are not peered' }, 'peering is not transitive');
  t.false(p(s, 'c/web', 'd/web').reachable);
});

test('overlapping unpeered VPCs: the address is answered by the source VPC\'s own subnet when it holds it', (t) => {
  const s = world();
  s.vpcs.d!.subnets.web!.cidr = '10.0.2.0/24'; // d/web has a/db's address
  t.true(p(s, 'a/web', 'd/web').reachable, 'a/db answers 10.0.2.2');
  s.vpcs.a!.subnets.db!.policy = policy({ default: 'deny' });
  t.false(p(s, 'a/web', 'd/web').reachable, "and a/db's policy is the one that applies");
});

test('ingress policy: first matching rule wins, then the default; port rules never match ICMP', (t) => {
  const denyIcmp = policy({ ingress: [{ protocol: 'icmp', action: 'deny' }] });
  t.deepEqual(p(world({ 'a/db': denyIcmp }), 'a/web', 'a/db'), { reachable: false, reason: 'a/db ingress: deny icmp from any' });
  const defaultDeny = policy({ default: 'deny', ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }] });
  t.deepEqual(p(world({ 'a/db': defaultDeny }), 'a/web', 'a/db'), { reachable: false, reason: 'a/db ingress: default deny' });
  const scoped = policy({ default: 'deny', ingress: [{ protocol: 'icmp', action: 'allow', cidr: '10.0.1.0/24' }] });
  t.true(p(world({ 'a/db': scoped }), 'a/web', 'a/db').reachable, 'allowed from a/web');
  t.false(p(world({ 'a/db': scoped }), 'b/web', 'a/db').reachable, 'not from the peer');
  const order = policy({ ingress: [{ protocol: 'all', action: 'allow', cidr: ['10.1.0.0/16'] }, { protocol: 'icmp', action: 'deny' }] });
  t.true(p(world({ 'a/db': order }), 'b/web', 'a/db').reachable, 'the earlier allow wins');
  t.false(p(world({ 'a/db': order }), 'a/web', 'a/db').reachable);
});

test('egress policy of the source applies to the destination address', (t) => {
  const noPeer = policy({ egress: [{ protocol: 'all', action: 'deny', cidr: '10.1.0.0/16' }] });
  const s = world({ 'a/web': noPeer });
  t.deepEqual(p(s, 'a/web', 'b/web'), { reachable: false, reason: 'a/web egress: deny all to 10.1.0.0/16' });
  t.true(p(s, 'a/web', 'a/db').reachable);
});

test('rules read as people write them', (t) => {
  t.is(describeRule('ingress', { port: 80, protocol: 'tcp', action: 'allow' }), 'allow tcp 80 from any');
  t.is(describeRule('ingress', { port: [80, '8000-8100'], protocol: 'tcp', action: 'deny', cidr: ['10.0.0.0/8', '192.168.0.0/16'] }),
    'deny tcp 80,8000-8100 from 10.0.0.0/8,192.168.0.0/16');
  t.is(describeRule('egress', { port: 53, protocol: 'udp', action: 'deny', cidr: '10.0.0.0/8' }), 'deny udp 53 to 10.0.0.0/8');
  t.is(describeRule('ingress', { protocol: 'icmp', action: 'allow' }), 'allow icmp from any');
});
