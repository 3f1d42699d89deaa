import test from 'ava';
import { plan, type KernelView } from '../../src/plan/planner.js';
import { fullPlan } from '../../src/plan/full.js';
import type { OpDrift } from '../../src/plan/repair.js';
import type { Op } from '../../src/plan/ops.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextMarks, planKey, planText } from '../../src/api/drift.js';
import { CACHE_FILE } from '../../src/api/plan-cache.js';
import { buildId } from '../../src/paths.js';
import { planJson } from '../../src/plan/ops.js';
import { emptyState, type State } from '../../src/state/types.js';

// demo 10.0/16: web public (with a default-deny policy), db private; dev 10.1/16: app public; demo ~ dev peered.
function topology(): State {
  const s = emptyState();
  s.vpcs.demo = {
    name: 'demo', cidr: '10.0.0.0/16', uplink: 'eth0', transit: '100.64.0.0/30', subnets: {
      web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', apps: [], policy: { subnet: '10.0.1.0/24', ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }], egress: [], default: 'deny' } },
      db: { name: 'db', cidr: '10.0.2.0/24', type: 'private', apps: [] },
    },
  };
  s.vpcs.dev = { name: 'dev', cidr: '10.1.0.0/16', uplink: 'eth0', transit: '100.64.0.4/30', subnets: { app: { name: 'app', cidr: '10.1.1.0/24', type: 'public', apps: [] } } };
  s.peerings = [{ vpc1: 'demo', vpc2: 'dev', link: '100.64.0.8/30' }];
  return s;
}

const kernelOf = (s: State, drift: OpDrift[] = []): KernelView => {
  const ns = new Set<string>();
  for (const v of Object.values(s.vpcs)) {
    ns.add(`vpcr-${v.name}`);
    for (const sn of Object.values(v.subnets)) ns.add(`ns-${v.name}-${sn.name}`);
  }
  return { namespaces: ns, hostForward: '1', drift };
};

/** Drift as the engine builds it from verify's answer: an op of the current state's full plan and its owner. */
function driftOf(s: State, pred: (o: Op) => boolean, kind = 'missing', detail = 'something is wrong'): OpDrift {
  const full = fullPlan(s);
  const i = full.ops.findIndex(pred);
  if (i < 0) throw new Error('no such op in the full plan');
  return { op: full.ops[i]!, object: full.owners[i]!, kind, detail };
}

test('the full plan of a state is exactly the plan that builds it from nothing', (t) => {
  const s = topology();
  const built = plan(emptyState(), s, { namespaces: new Set(), hostForward: '0' });
  t.deepEqual(fullPlan(s).ops, built.ops);
  t.deepEqual(fullPlan(emptyState()).ops, []);
});

test('each op of the full plan names its object', (t) => {
  const full = fullPlan(topology());
  const ownerOf = (pred: (o: Op) => boolean) => full.owners[full.ops.findIndex(pred)];
  t.is(ownerOf((o) => o.op === 'netnsAdd' && o.ns === 'vpcr-demo'), 'vpc demo');
  t.is(ownerOf((o) => o.op === 'nftApply' && o.ns === 'ns-demo-web'), 'subnet demo/web');
  t.is(ownerOf((o) => o.op === 'nftApply' && o.ns === 'vpcr-demo'), 'vpc demo');
  t.is(ownerOf((o) => o.op === 'vethAdd' && o.ns === 'vpcr-demo' && o.peerNs === 'vpcr-dev'), 'peering demo dev');
  t.is(ownerOf((o) => o.op === 'routeAdd' && o.ns === '' && o.dst === '10.0.1.0/24'), 'subnet demo/web');
  t.is(ownerOf((o) => o.op === 'nftApply' && o.ns === ''), 'host');
  t.is(full.ops.length, full.owners.length);
});

test('the full plan of some VPCs: theirs, their peerings and the host level only', (t) => {
  const full = fullPlan(topology(), new Set(['dev']));
  const namespaces = new Set(full.ops.map((o) => o.ns));
  t.false(namespaces.has('vpcr-demo') && full.ops.some((o) => o.op === 'netnsAdd' && o.ns === 'vpcr-demo'));
  t.false(namespaces.has('ns-demo-web'));
  t.true(full.owners.includes('peering demo dev'));
  t.true(full.owners.includes('host'));
  t.false(full.ops.some((o) => o.op === 'routeAdd' && o.ns === '' && o.dst === '10.0.1.0/24'), "demo's host routes are demo's");
});

test('a lost policy table is re-applied alone, named in the changes', (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'nftApply' && o.ns === 'ns-demo-web', 'missing', 'table inet vpcctl in ns-demo-web is missing');
  const p = plan(s, s, kernelOf(s, [d]));
  t.deepEqual(p.ops, [d.op]);
  t.deepEqual(p.changes, ['repair subnet demo/web: table inet vpcctl in ns-demo-web is missing']);
  t.deepEqual(p.namespaces, [], 'nothing is rebuilt');
});

test('an address, a route and a sysctl are re-made in place; addresses before routes', (t) => {
  const s = topology();
  const route = driftOf(s, (o) => o.op === 'routeAdd' && o.ns === 'vpcr-demo' && o.dst === '10.0.2.2/32', 'missing', 'route 10.0.2.2/32 missing');
  const addr = driftOf(s, (o) => o.op === 'addrAdd' && o.ns === 'ns-demo-db', 'missing', 'address 10.0.2.2/24 missing');
  const sysctl = driftOf(s, (o) => o.op === 'sysctlSet' && o.ns === 'vpcr-demo' && o.key === 'net/ipv4/conf/all/rp_filter', 'differs');
  const p = plan(s, s, kernelOf(s, [sysctl, route, addr]));
  t.deepEqual(p.ops, [addr.op, route.op, sysctl.op]);
  t.deepEqual(p.changes, ['repair vpc demo: something is wrong', 'repair subnet demo/db: route 10.0.2.2/32 missing', 'repair subnet demo/db: address 10.0.2.2/24 missing']);
});

test('a link set down is set up again at both ends, without rebuilding anything', (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'vethAdd' && o.peerNs === 'ns-demo-web', 'differs', 'link eth0 in ns-demo-web is down');
  const p = plan(s, s, kernelOf(s, [d]));
  t.deepEqual(p.ops, [{ op: 'linkUp', ns: 'vpcr-demo', name: 'sn-0a000100' }, { op: 'linkUp', ns: 'ns-demo-web', name: 'eth0' }]);
});

test('a deleted veth is made again with every address and route on its two ends', (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'vethAdd' && o.peerNs === 'ns-demo-db');
  const p = plan(s, s, kernelOf(s, [d]));
  t.deepEqual(p.ops.map((o) => [o.op, o.ns]), [
    ['vethAdd', 'vpcr-demo'], ['addrAdd', 'vpcr-demo'], ['addrAdd', 'ns-demo-db'],
    ['routeAdd', 'vpcr-demo'], ['routeAdd', 'ns-demo-db'], ['routeAdd', 'ns-demo-db'],
  ]);
  t.deepEqual(p.namespaces, [], 'the host namespace and its apps stay');
});

test('a veth renamed at both ends: its old pair is deleted by its tag first, then made again with what was on it', (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'vethAdd' && o.peerNs === 'ns-demo-db');
  const tag = (d.op as Extract<Op, { op: 'vethAdd' }>).peerAlias;
  const p = plan(s, s, kernelOf(s, [{ ...d, renamed: { ns: 'ns-demo-db', name: 'moved1', alias: tag, peer: { ns: 'vpcr-demo', name: 'moved0' } } }]));
  t.deepEqual(p.ops[0], { op: 'linkDel', ns: 'ns-demo-db', name: 'moved1', alias: tag });
  t.deepEqual(p.ops.slice(1).map((o) => o.op), ['vethAdd', 'addrAdd', 'addrAdd', 'routeAdd', 'routeAdd', 'routeAdd']);
  t.regex(p.changes.join('\n'), /its old pair, renamed moved1 in ns-demo-db, is deleted first/);
  t.deepEqual(p.namespaces, []);
});

test("two router ends swapped: each pair is deleted by its own end, both are made again, no namespace is rebuilt", (t) => {
  const s = topology();
  const drifts = ['web', 'db'].map((sn) => driftOf(s, (o) => o.op === 'vethAdd' && o.peerNs === `ns-demo-${sn}`, 'differs', 'not the peer'));
  const ends = drifts.map((d) => d.op as Extract<Op, { op: 'vethAdd' }>);
  // web's router end sits at db's name and db's at web's.
  const swapped = drifts.map((d, i) => ({ ...d, renamed: { ns: 'vpcr-demo', name: ends[1 - i]!.name, alias: ends[i]!.alias, peer: { ns: ends[i]!.peerNs, name: 'eth0' } } }));
  t.deepEqual(plan(s, s, kernelOf(s, drifts)).namespaces.sort(), ['ns-demo-db', 'ns-demo-web'], 'without the renamed ends found, both are rebuilt');
  const p = plan(s, s, kernelOf(s, swapped));
  t.deepEqual(p.namespaces, [], 'the subnets keep their namespaces and apps');
  t.deepEqual(p.ops.filter((o) => o.op === 'linkDel'), ends.map((e, i) => ({ op: 'linkDel', ns: 'vpcr-demo', name: ends[1 - i]!.name, alias: e.alias })));
  t.deepEqual(p.ops.filter((o) => o.op === 'vethAdd'), ends, "both pairs made again, though each is at the other's deleted name");
  t.true(p.ops.findIndex((o) => o.op === 'vethAdd') > p.ops.findLastIndex((o) => o.op === 'linkDel'), 'after both deletions');
});

test('a peering renamed at both ends, then removed: the plan deletes it by its new name too, after everything else', (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'vethAdd' && o.ns === 'vpcr-demo' && o.peerNs === 'vpcr-dev');
  const tag = (d.op as Extract<Op, { op: 'vethAdd' }>).alias;
  const unpeered = { ...structuredClone(s), peerings: [] };
  const p = plan(s, unpeered, kernelOf(s, [{ ...d, renamed: { ns: 'vpcr-demo', name: 'moved0', alias: tag, peer: { ns: 'vpcr-dev', name: 'moved1' } } }]));
  t.deepEqual(p.ops.at(-1), { op: 'linkDel', ns: 'vpcr-demo', name: 'moved0', alias: tag });
  t.true(p.ops.slice(0, -1).some((o) => o.op === 'linkDel' && o.ns === 'vpcr-demo'), 'and by its own name, as ever');
  t.regex(p.changes.join('\n'), /peering demo dev: its veth, renamed moved0 in vpcr-demo, is deleted too/);
});

test("a peering's veth not as made is made again, never by rebuilding the far router (a whole VPC)", (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'vethAdd' && o.alias.startsWith('vpcctl:peer:'), 'differs', 'link px-0a000000 in vpcr-dev is not the peer of px-0a010000 in vpcr-demo');
  const p = plan(s, s, kernelOf(s, [d]));
  t.deepEqual(p.namespaces, [], 'no namespace is deleted or made');
  t.deepEqual(p.ops.map((o) => [o.op, o.ns]), [
    ['vethAdd', 'vpcr-demo'], ['addrAdd', 'vpcr-demo'], ['addrAdd', 'vpcr-dev'], ['routeAdd', 'vpcr-demo'], ['routeAdd', 'vpcr-dev'],
  ]);
});

test("a gateway's veth not as made is made again in place, never by rebuilding its router (a whole VPC)", (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'vethAdd' && o.alias === 'vpcctl:igw:demo', 'differs', 'link vg-64000000 in the host namespace has alias "other", want "vpcctl:igw:demo"');
  const p = plan(s, s, kernelOf(s, [d]));
  t.deepEqual(p.namespaces, [], 'no namespace is deleted or made');
  t.false(p.ops.some((o) => o.op === 'netnsDel'), JSON.stringify(p.ops));
  t.deepEqual(p.ops[0], d.op, 'the pair is made again first');
});

test('a namespace that lost its tag is rebuilt as a missing one is', (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'netnsAdd' && o.ns === 'ns-demo-db', 'differs', 'namespace ns-demo-db is not tagged');
  const p = plan(s, s, kernelOf(s, [d]));
  t.deepEqual(p.ops.filter((o) => o.op === 'netnsDel' || o.op === 'netnsAdd').map((o) => [o.op, o.ns]), [['netnsDel', 'ns-demo-db'], ['netnsAdd', 'ns-demo-db']]);
  t.deepEqual(p.changes, ['repair subnet demo/db']);
});

test('no repair for what the plan removes, rebuilds or re-makes itself', (t) => {
  const s = topology();
  const policy = driftOf(s, (o) => o.op === 'nftApply' && o.ns === 'ns-demo-web');
  const dbRoute = driftOf(s, (o) => o.op === 'routeAdd' && o.ns === 'ns-demo-db');
  // The policy changes and db goes: the drifted old policy is not put back before the new one, db is not repaired.
  const des = structuredClone(s);
  des.vpcs.demo!.subnets.web!.policy!.default = 'allow';
  delete des.vpcs.demo!.subnets.db;
  const p = plan(s, des, kernelOf(s, [policy, dbRoute]));
  const applies = p.ops.filter((o) => o.op === 'nftApply' && o.ns === 'ns-demo-web');
  t.is(applies.length, 1);
  t.notDeepEqual(applies[0], policy.op);
  t.false(p.ops.some((o) => o.ns === 'ns-demo-db' && o.op !== 'netnsDel'));
  t.false(p.changes.some((c) => c.startsWith('repair')));

  // A router rebuilt (its namespace missing) makes everything in it again: no repair ops on top.
  const rdrift = driftOf(s, (o) => o.op === 'sysctlSet' && o.ns === 'vpcr-demo');
  const k = kernelOf(s, [rdrift]);
  const q = plan(s, s, { ...k, namespaces: new Set([...k.namespaces].filter((n) => n !== 'vpcr-demo')) });
  t.is(q.ops.filter((o) => JSON.stringify(o) === JSON.stringify(rdrift.op)).length, 1, 'made once, by the rebuild');
});

test('the host table drifted: re-applied once, even when the plan changes the host level too', (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'nftApply' && o.ns === '', 'differs', 'table inet vpcctl differs: rule 2 of chain input changed');
  t.deepEqual(plan(s, s, kernelOf(s, [d])).ops, [d.op]);
  const des = structuredClone(s);
  des.vpcs.demo!.subnets.more = { name: 'more', cidr: '10.0.3.0/24', type: 'public', apps: [] };
  const p = plan(s, des, kernelOf(s, [d]));
  t.is(p.ops.filter((o) => o.op === 'nftApply' && o.ns === '').length, 1);
});

test('nft marks: kept for namespaces that stay, replaced by what an execute learnt, forgotten when gone or remade', (t) => {
  const s = topology();
  const before = { 'ns-demo-web': { gen: 3 }, 'ns-demo-db': { gen: 4 }, 'vpcr-demo': { gen: 5 }, '': { gen: 9 }, 'ns-old-x': { gen: 1 } };
  const marks = nextMarks(before, { 'vpcr-demo': { gen: 7 } }, ['ns-demo-db'], s);
  t.deepEqual(marks, { 'ns-demo-web': { gen: 3 }, 'vpcr-demo': { gen: 7 }, '': { gen: 9 } });
  t.is(nextMarks(before, {}, [], emptyState()), undefined, 'no VPC left: no marks, not even the host');
});

test("a namespace's lo set down is set up again; the namespace is not rebuilt", (t) => {
  const s = topology();
  const d = driftOf(s, (o) => o.op === 'netnsAdd' && o.ns === 'ns-demo-db', 'differs', 'link lo in ns-demo-db is down');
  const p = plan(s, s, kernelOf(s, [d]));
  t.deepEqual(p.ops, [{ op: 'linkUp', ns: 'ns-demo-db', name: 'lo' }]);
});

test('the full plan text is kept beside the state and rebuilt when the state changed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpcctl-plan-'));
  const s = topology();
  const text = planText(s, dir);
  t.is(text, planJson(fullPlan(s).ops));
  const file = join(dir, CACHE_FILE);
  const [key] = readFileSync(file, 'utf8').split('\n');
  writeFileSync(file, `${key}\n["marker"]`);
  t.is(String(planText(structuredClone(s), dir)), '["marker"]', 'same state: read, not rebuilt');
  const more = structuredClone(s);
  more.vpcs.demo!.subnets.db!.type = 'public';
  t.is(planText(more, dir), planJson(fullPlan(more).ops), 'changed state: rebuilt');
  // A directory that cannot be made (under a file): '/nonexistent/dir' was made by the first run as root,
  // and a plan cached there by older code was then read back.
  t.is(planText(s, '/dev/null/vpcctl-no-cache'), text, 'no cache dir: built each time');
});

test('the cached plan text is ASCII (read back as latin1) and means the same JSON when names are not', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpcctl-plan-'));
  const s = topology();
  s.vpcs.demo!.uplink = 'wlän0😀';
  const text = String(planText(s, dir));
  t.true(/^[\x00-\x7f]*$/.test(text));
  t.deepEqual(JSON.parse(text), JSON.parse(planJson(fullPlan(s).ops)));
  t.is(String(planText(s, dir)), text, 'read back from the file unchanged');
});

test('the cached plan is keyed by the build too: a newer planner never reads a plan an older one cached', (t) => {
  const s = topology();
  t.is(planKey(s, '1.0.0+1'), planKey(structuredClone(s), '1.0.0+1'));
  t.not(planKey(s, '1.0.0+1'), planKey(s, '1.0.0+2'));
  t.not(planKey(s, '1.0.0+1'), planKey(s, '1.0.1+1'));
  t.is(planKey(s), planKey(s, buildId()));
});
