import test from 'ava';
import { emptyIntent, type Intent } from '../../src/cluster/keys.js';
import { createSubnet, createVpc, deleteVpc, destroyTopology, drainHost, mergeTopologyIntent } from '../../src/cluster/mutations.js';
import { checkMember, hostLoad, pickHost } from '../../src/cluster/placement.js';
import { hostShare, shareDigest } from '../../src/cluster/share.js';
import { parseTopology } from '../../src/model/schema.js';
import { errorOf } from '../helpers/error-of.js';

const withHosts = (...names: string[]): Intent => {
  const i = emptyIntent();
  for (const n of names) i.hosts[n] = { name: n, underlay: '192.0.2.1', joinedAt: 'x' };
  return i;
};

test('spread: the live host with the fewest subnets, ties by name; down hosts are skipped', (t) => {
  const load = new Map([['h1', 2], ['h2', 0], ['h3', 0]]);
  const live = new Set(['h1', 'h3']);
  t.is(pickHost(load, live), 'h3');
  t.is(pickHost(load, live), 'h3');
  t.is(pickHost(load, live), 'h1', 'h1 and h3 tie at 2: by name');
  t.is(errorOf(() => pickHost(load, new Set())).code, 'INVALID_INPUT');
});

test('create-subnet without --host spreads round-robin over live hosts; --host must have joined', (t) => {
  const i = withHosts('h1', 'h2', 'h3');
  createVpc(i, { name: 'a', cidr: '10.0.0.0/16' });
  const live = new Set(['h1', 'h2', 'h3']);
  const hosts = [0, 1, 2, 3, 4, 5].map((n) => createSubnet(i, { vpc: 'a', name: `s${n}`, cidr: `10.0.${n}.0/24`, type: 'private' }, live));
  t.deepEqual(hosts, ['h1', 'h2', 'h3', 'h1', 'h2', 'h3']);
  t.is(createSubnet(i, { vpc: 'a', name: 'x', cidr: '10.0.9.0/24', type: 'private', host: 'h2' }, live), 'h2');
  t.is(errorOf(() => createSubnet(i, { vpc: 'a', name: 'y', cidr: '10.0.10.0/24', type: 'private', host: 'h9' }, live)).code, 'NOT_FOUND');
  t.is(errorOf(() => checkMember(i, 'zz')).code, 'NOT_FOUND');
  t.deepEqual(Object.fromEntries(hostLoad(i)), { h1: 2, h2: 3, h3: 2 });
});

test('the intent obeys the topology rules: overlapping sibling subnets are refused', (t) => {
  const i = withHosts('h1');
  createVpc(i, { name: 'a', cidr: '10.0.0.0/16' });
  createSubnet(i, { vpc: 'a', name: 'web', cidr: '10.0.1.0/24', type: 'public' }, new Set(['h1']));
  t.is(errorOf(() => createSubnet(i, { vpc: 'a', name: 'w2', cidr: '10.0.1.0/25', type: 'public' }, new Set(['h1']))).code, 'OVERLAP');
  t.is(errorOf(() => createVpc(i, { name: 'a', cidr: '10.1.0.0/16' })).code, 'CONFLICT');
  t.false(createVpc(i, { name: 'a', cidr: '10.0.0.0/16' }), 'the same VPC again is no change');
});

test('VNIs: one per VPC, unique, freed with the VPC and reused', (t) => {
  const i = withHosts('h1');
  createVpc(i, { name: 'a', cidr: '10.0.0.0/16' });
  createVpc(i, { name: 'b', cidr: '10.0.0.0/16' });
  t.is(i.vpcs.a!.vni, 1);
  t.is(i.vpcs.b!.vni, 2);
  deleteVpc(i, 'a');
  t.deepEqual(i.vnis, { 2: 'b' });
  createVpc(i, { name: 'c', cidr: '10.2.0.0/16' });
  t.is(i.vpcs.c!.vni, 1);
});

test('a topology: host: places a subnet, the others spread; a kept subnet keeps its host', (t) => {
  const i = withHosts('h1', 'h2');
  const live = new Set(['h1', 'h2']);
  const topo = parseTopology({
    vpcs: [{ name: 'a', cidr: '10.0.0.0/16', subnets: [
      { name: 'web', cidr: '10.0.1.0/24', type: 'public', host: 'h2', apps: [{ port: 8080 }], policy: { ingress: [{ port: 80, action: 'allow' }], default: 'deny' } },
      { name: 'db', cidr: '10.0.2.0/24', type: 'private' },
      { name: 'cache', cidr: '10.0.3.0/24', type: 'private' },
    ] }],
  });
  mergeTopologyIntent(i, topo, { live });
  t.is(i.subnets.a!.web!.host, 'h2');
  t.deepEqual([i.subnets.a!.db!.host, i.subnets.a!.cache!.host], ['h1', 'h1'], 'web counts on h2: the others balance on h1');
  const before = structuredClone(i.subnets);
  mergeTopologyIntent(i, topo, { live: new Set(['h1']) });
  t.deepEqual(i.subnets, before, 'applying the same file again moves nothing');
  t.is(i.policies.a!.web!.subnet, '10.0.1.0/24');
  t.deepEqual(Object.keys(i.apps.a!.web!), ['8080']);
  t.is(errorOf(() => mergeTopologyIntent(i, parseTopology({ vpcs: [{ name: 'b', cidr: '10.9.0.0/16', subnets: [{ name: 'x', cidr: '10.9.1.0/24', type: 'private', host: 'h7' }] }] }), { live })).code, 'NOT_FOUND');
});

test("a host's share: the VPCs with a router there (own or a peer's subnet), only their subnets there, peerings of two present VPCs", (t) => {
  const i = withHosts('h1', 'h2');
  const topo = parseTopology({
    vpcs: [
      { name: 'a', cidr: '10.0.0.0/16', subnets: [{ name: 'x', cidr: '10.0.1.0/24', type: 'public', host: 'h1' }, { name: 'y', cidr: '10.0.2.0/24', type: 'private', host: 'h2' }] },
      { name: 'b', cidr: '10.1.0.0/16', subnets: [{ name: 'z', cidr: '10.1.1.0/24', type: 'private', host: 'h1' }] },
      { name: 'c', cidr: '10.2.0.0/16', subnets: [{ name: 'w', cidr: '10.2.1.0/24', type: 'private', host: 'h2' }] },
    ],
    peerings: [{ vpc1: 'a', vpc2: 'b' }, { vpc1: 'a', vpc2: 'c' }],
  });
  mergeTopologyIntent(i, topo, { live: new Set() });
  const s1 = hostShare(i, 'h1');
  // c has no subnet on h1, but its peer a does: c's router is here too, with the peering link.
  t.deepEqual(s1.vpcs.map((v) => [v.name, v.subnets!.map((s) => s.name)]), [['a', ['x']], ['b', ['z']], ['c', []]]);
  t.deepEqual(s1.peerings, [{ vpc1: 'a', vpc2: 'b' }, { vpc1: 'a', vpc2: 'c' }]);
  t.deepEqual(hostShare(i, 'h2').vpcs.map((v) => [v.name, v.subnets!.map((s) => s.name)]), [['a', ['y']], ['b', []], ['c', ['w']]]);
  t.deepEqual(hostShare(i, 'h3'), { vpcs: [], peerings: [] });
  t.is(shareDigest(s1), shareDigest(hostShare(structuredClone(i), 'h1')), 'the digest is a function of the share');
  t.not(shareDigest(s1), shareDigest(hostShare(i, 'h2')));
});

test('drain moves every subnet of the host to the other live hosts', (t) => {
  const i = withHosts('h1', 'h2', 'h3');
  createVpc(i, { name: 'a', cidr: '10.0.0.0/16' });
  for (let n = 0; n < 4; n++) createSubnet(i, { vpc: 'a', name: `s${n}`, cidr: `10.0.${n}.0/24`, type: 'private', host: 'h1' }, new Set());
  t.is(drainHost(i, 'h1', new Set(['h1', 'h2', 'h3'])), 4);
  t.deepEqual(Object.values(i.subnets.a!).map((s) => s.host).sort(), ['h2', 'h2', 'h3', 'h3']);
  t.is(errorOf(() => drainHost(withHostsAnd(), 'h1', new Set(['h1']))).code, 'INVALID_INPUT', 'nowhere to go: refused');
});

function withHostsAnd(): Intent {
  const i = withHosts('h1');
  createVpc(i, { name: 'a', cidr: '10.0.0.0/16' });
  createSubnet(i, { vpc: 'a', name: 's', cidr: '10.0.0.0/24', type: 'private', host: 'h1' }, new Set());
  return i;
}

test('destroy: the VPCs a file names go with their subnets, policies, apps, peerings and VNIs', (t) => {
  const i = withHosts('h1');
  mergeTopologyIntent(i, parseTopology({
    vpcs: [
      { name: 'a', cidr: '10.0.0.0/16', subnets: [{ name: 'x', cidr: '10.0.1.0/24', type: 'private', host: 'h1', apps: [{ port: 80 }] }] },
      { name: 'b', cidr: '10.1.0.0/16', subnets: [] },
    ],
    peerings: [{ vpc1: 'a', vpc2: 'b' }],
  }), { live: new Set() });
  t.deepEqual(destroyTopology(i, parseTopology({ vpcs: [{ name: 'a', cidr: '10.0.0.0/16' }, { name: 'zz', cidr: '10.9.0.0/16' }] })), ['a']);
  t.deepEqual(Object.keys(i.vpcs), ['b']);
  t.falsy(i.subnets.a);
  t.falsy(i.apps.a);
  t.deepEqual(i.peerings, {});
  t.deepEqual(Object.values(i.vnis), ['b']);
});

test('single-host features a topology asks for are refused in cluster mode, with their path', (t) => {
  // (The mutation runs on a draft: store.transact writes nothing when it throws.)
  const i = withHosts('h1');
  const flow = errorOf(() => mergeTopologyIntent(i, parseTopology({ vpcs: [{ name: 'a', cidr: '10.0.0.0/16', flowLogs: true, subnets: [] }] }), { live: new Set(['h1']) }));
  t.is(flow.code, 'INVALID_INPUT');
  t.regex(flow.message, /^vpcs\[0\]\.flowLogs: flow logs are not available in cluster mode/);
  const pub = errorOf(() => mergeTopologyIntent(i, parseTopology({ vpcs: [{ name: 'a', cidr: '10.0.0.0/16', subnets: [
    { name: 'web', cidr: '10.0.1.0/24', type: 'public', publish: [{ port: 80, hostPort: 8080 }] }] }] }), { live: new Set(['h1']) }));
  t.regex(pub.message, /^vpcs\[0\]\.subnets\[0\]\.publish: published ports are not available in cluster mode/);
});

test('IPv6-only subnets are refused in cluster mode: create-subnet without a cidr, and a topology subnet without one', (t) => {
  const i = withHosts('h1');
  createVpc(i, { name: 'a', cidr: '10.0.0.0/16' });
  const cli = errorOf(() => createSubnet(i, { vpc: 'a', name: 'web', type: 'public' }, new Set(['h1'])));
  t.is(cli.code, 'INVALID_INPUT');
  t.regex(cli.message, /^subnet "web" needs a cidr: IPv6-only subnets are not available in cluster mode yet$/);
  t.deepEqual(i.subnets.a ?? {}, {}, 'nothing recorded');
  // A topology's IPv6-only subnet needs a dual-stack VPC, which cluster mode refuses first.
  const topo = errorOf(() => mergeTopologyIntent(i, parseTopology({ vpcs: [{ name: 'b', cidr: '10.1.0.0/16', ipv6Cidr: 'fd00:1::/56', subnets: [
    { name: 'web', type: 'public' }] }] }), { live: new Set(['h1']) }));
  t.regex(topo.message, /^vpcs\[0\]\.ipv6Cidr: dual-stack VPCs are not available in cluster mode/);
});
