import test from 'ava';
import { PREFIX, decodeIntent, diffEncoded, emptyIntent, encodeIntent, key, vpcsOfKey } from '../../src/cluster/keys.js';

const sample = () => {
  const i = emptyIntent();
  i.vpcs.a = { name: 'a', cidr: '10.0.0.0/16', vni: 7, gen: 3 };
  i.subnets.a = { web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', host: 'h1' } };
  i.policies.a = { web: { subnet: '10.0.1.0/24', ingress: [], egress: [], default: 'deny' } };
  i.apps.a = { web: { '8080': { port: 8080 } } };
  i.peerings['a/b'] = { vpc1: 'a', vpc2: 'b' };
  i.hosts.h1 = { name: 'h1', underlay: '192.0.2.11', joinedAt: 'x' };
  i.vnis['7'] = 'a';
  i.hostIndexes['1'] = 'h1';
  return i;
};

test('one key per object under one prefix', (t) => {
  const keys = [...encodeIntent(sample()).keys()].sort();
  t.deepEqual(keys, [
    `${PREFIX}alloc/host/1`, `${PREFIX}alloc/vni/7`, `${PREFIX}apps/a/web/8080`, `${PREFIX}hosts/h1`, `${PREFIX}peerings/a/b`,
    `${PREFIX}policies/a/web`, `${PREFIX}subnets/a/web`, `${PREFIX}vpcs/a`,
  ]);
  t.is(key.peering('b', 'a'), key.peering('a', 'b'), 'a peering has one key whatever the order of its VPCs');
});

test('decode inverts encode, and ignores status and liveness keys', (t) => {
  const enc = encodeIntent(sample());
  enc.set(key.live('h1'), '{}');
  enc.set(key.agentStatus('h1'), '{}');
  t.deepEqual(decodeIntent(enc), sample());
});

test('diff: changed and new keys are put, vanished keys deleted, equal ones untouched', (t) => {
  const before = encodeIntent(sample());
  const next = sample();
  next.subnets.a!.db = { name: 'db', cidr: '10.0.2.0/24', type: 'private', host: 'h2' };
  delete next.apps.a;
  next.vpcs.a!.gen = 4;
  const d = diffEncoded(before, encodeIntent(next));
  t.deepEqual([...d.puts.keys()].sort(), [key.subnet('a', 'db'), key.vpc('a')]);
  t.deepEqual(d.dels, [key.app('a', 'web', 8080)]);
});

test('a key belongs to its VPC (a peering to both), cluster keys to none', (t) => {
  t.deepEqual(vpcsOfKey(key.subnet('a', 'web')), ['a']);
  t.deepEqual(vpcsOfKey(key.app('a', 'web', 80)), ['a']);
  t.deepEqual(vpcsOfKey(key.peering('b', 'a')), ['a', 'b']);
  t.deepEqual(vpcsOfKey(key.host('h1')), []);
  t.deepEqual(vpcsOfKey(key.vni(3)), []);
});
