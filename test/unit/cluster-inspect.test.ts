import test from 'ava';
import { clusterVpc, clusterVpcs } from '../../src/cluster/inspect.js';
import { emptyIntent } from '../../src/cluster/keys.js';

const intent = () => {
  const i = emptyIntent();
  i.vpcs.a = { name: 'a', cidr: '10.0.0.0/16', vni: 7, gen: 1, uplink: 'eth0' };
  i.vpcs.b = { name: 'b', cidr: '10.1.0.0/16', vni: 8, gen: 1 };
  i.subnets.a = {
    web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', host: 'h2' },
    db: { name: 'db', cidr: '10.0.2.0/24', type: 'private', host: 'h1', egress: 'nat' },
    app: { name: 'app', cidr: '10.0.3.0/24', type: 'private', host: 'h2' },
  };
  i.policies.a = { web: { ingress: [] } } as never;
  i.apps.a = { web: { '8080': { port: 8080 }, '80': { port: 80 } } };
  i.peerings['a/b'] = { vpc1: 'a', vpc2: 'b' };
  return i;
};

test('a cluster VPC lists its subnets by name with the host each runs on, egress, policy and app ports', (t) => {
  const v = clusterVpc(intent(), 'a');
  t.deepEqual(v.hosts, ['h1', 'h2']);
  t.deepEqual(v.peers, ['b']);
  t.is(v.uplink, 'eth0');
  t.deepEqual(v.subnets.map((s) => [s.name, s.host, s.egress, s.policy, s.apps]), [
    ['app', 'h2', 'none', false, []],
    ['db', 'h1', 'nat', false, []],
    ['web', 'h2', 'internet gateway', true, [80, 8080]],
  ]);
});

test('list rows count public and private subnets; a VPC without subnets is on no host', (t) => {
  t.deepEqual(clusterVpcs(intent()), [
    { name: 'a', cidr: '10.0.0.0/16', subnets: 3, public: 1, private: 2, peers: ['b'], uplink: 'eth0' },
    { name: 'b', cidr: '10.1.0.0/16', subnets: 0, public: 0, private: 0, peers: ['a'], uplink: null },
  ]);
  t.deepEqual(clusterVpc(intent(), 'b').hosts, []);
});

test('an unknown VPC is NOT_FOUND, named', (t) => {
  const e = t.throws(() => clusterVpc(intent(), 'zz'));
  t.is((e as { code?: string }).code, 'NOT_FOUND');
  t.is(e.message, 'vpc "zz" does not exist in the cluster');
});
