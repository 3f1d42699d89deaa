import test from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loopbackMembers, startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { CLI, freshStateDir, netnsList, vpcctl } from '../helpers/sandbox.js';
import YAML from 'yaml';
import { ClusterStore } from '../../src/cluster/store.js';
import { key } from '../../src/cluster/keys.js';

// A real 3-member etcd (Debian's etcd-server) on the sandbox's loopback,
// started here and ended by pid. Tests run one at a time: some stop members.
let etcd: EtcdCluster;
const dir = mkdtempSync('/run/vpcctl/cluster-');
const state = freshStateDir();
const cfgOf = (host: string) => `${dir}/${host}.json`;
// Long enough that a joined host stays live through a test without an agent.
const env = { VPCCTL_LEASE_TTL: '60' };
const as = (host: string, ...args: string[]) => vpcctl(state, ['--cluster', cfgOf(host), ...args], env);
const status = async (host = 'h1') => {
  const r = await as(host, 'cluster', 'status', '--json');
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { revision: number; hosts: Array<{ name: string; live: boolean; subnets: number; inSync: boolean; applied?: { ok: boolean; error?: string } }> };
};
const until = async (what: string, fn: () => Promise<boolean>, ms = 15_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

test.before(async () => {
  etcd = await startEtcd(loopbackMembers());
  // h1's underlay: its agent makes each router's VXLAN link over it (a veth whose other end goes nowhere).
  const ip = (...args: string[]) => execFileSync('/usr/sbin/ip', args);
  ip('link', 'add', 'underlay0', 'type', 'veth', 'peer', 'name', 'underlay0p');
  ip('addr', 'add', '192.0.2.11/24', 'dev', 'underlay0');
  ip('link', 'set', 'underlay0', 'up');
});
test.after.always(async () => {
  await etcd?.stopAll();
});

test.serial('join writes the cluster file and registers the host; status lists hosts and liveness', async (t) => {
  const j1 = await vpcctl(state, ['cluster', 'join', '--etcd', etcd.endpoints.join(','), '--host', 'h1', '--underlay', '192.0.2.11', '--cluster', cfgOf('h1')], env);
  t.is(j1.code, 0, j1.stderr);
  t.true(existsSync(cfgOf('h1')));
  // VPCCTL_CLUSTER names the file too.
  const j2 = await vpcctl(state, ['cluster', 'join', '--etcd', etcd.endpoints.join(','), '--host', 'h2', '--underlay', '192.0.2.12'], { ...env, VPCCTL_CLUSTER: cfgOf('h2') });
  t.is(j2.code, 0, j2.stderr);
  const s = await status();
  t.deepEqual(s.hosts.map((h) => [h.name, h.live]), [['h1', true], ['h2', true]]);
  // Same name, another underlay: refused, nothing changed.
  const dup = await vpcctl(state, ['cluster', 'join', '--etcd', etcd.endpoints[0]!, '--host', 'h2', '--underlay', '192.0.2.99', '--cluster', `${dir}/x.json`], env);
  t.is(dup.code, 2, dup.stderr);
  t.regex(dup.stderr, /already joined with underlay 192\.0\.2\.12/);
  t.false(existsSync(`${dir}/x.json`));
  const bad = await vpcctl(state, ['cluster', 'join', '--etcd', 'nope', '--host', 'h3', '--cluster', `${dir}/x.json`], env);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^vpcctl: --etcd: "nope" is not a URL/);
  // The same join again is a no-op; a cluster file that names another host or cluster is not overwritten.
  const again = await vpcctl(state, ['cluster', 'join', '--etcd', etcd.endpoints.join(','), '--host', 'h1', '--underlay', '192.0.2.11', '--cluster', cfgOf('h1')], env);
  t.is(again.code, 0, again.stderr);
  const other = await vpcctl(state, ['cluster', 'join', '--etcd', etcd.endpoints.join(','), '--host', 'h3', '--underlay', '192.0.2.13', '--cluster', cfgOf('h1')], env);
  t.is(other.code, 2);
  t.regex(other.stderr, /already joins this machine to .* as host "h1": 'vpcctl cluster leave --host h1' first/);
  // VPCs made on this host alone would be pruned by the agent: refused, nothing registered or written.
  const alone = freshStateDir();
  const none = { ...env, VPCCTL_CLUSTER: `${dir}/none.json` };
  t.is((await vpcctl(alone, ['create-vpc', '--name', 'mine', '--cidr', '10.77.0.0/16'], none)).code, 0);
  const taken = await vpcctl(alone, ['cluster', 'join', '--etcd', etcd.endpoints.join(','), '--host', 'h4', '--underlay', '192.0.2.14', '--cluster', `${dir}/h4.json`], env);
  t.is(taken.code, 2);
  t.regex(taken.stderr, /^vpcctl: this host has a VPC made outside a cluster \(mine\); the agent would delete it/);
  t.false(existsSync(`${dir}/h4.json`));
  t.false((await status()).hosts.some((h) => h.name === 'h4'));
  t.is((await vpcctl(alone, ['delete-vpc', '--name', 'mine'], none)).code, 0);
});

test.serial('with a cluster, create-subnet writes intent: --host places it, without it spreads; bad input exits 2', async (t) => {
  t.is((await as('h1', 'create-vpc', '--name', 'a', '--cidr', '10.0.0.0/16')).code, 0);
  const r = await as('h1', 'create-subnet', '--vpc', 'a', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public', '--host', 'h2');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /on host h2: written to the cluster/);
  const spread = await as('h1', 'create-subnet', '--vpc', 'a', '--name', 'db', '--cidr', '10.0.2.0/24');
  t.regex(spread.stdout, /on host h1/, 'h1 had fewer subnets');
  const overlap = await as('h1', 'create-subnet', '--vpc', 'a', '--name', 'x', '--cidr', '10.0.1.128/25');
  t.is(overlap.code, 2);
  t.regex(overlap.stderr, /^vpcctl: 10\.0\.1\.128\/25 overlaps subnet "web"/);
  const nohost = await as('h1', 'create-subnet', '--vpc', 'a', '--name', 'x', '--cidr', '10.0.3.0/24', '--host', 'h9');
  t.is(nohost.code, 2);
  t.regex(nohost.stderr, /host "h9" has not joined/);
  t.deepEqual((await status()).hosts.map((h) => h.subnets), [1, 1]);
  t.deepEqual(netnsList(), [], 'writing intent touches no kernel: only agents do');
  // Reads show the cluster, not this host's share (no agent ran: the local state is empty).
  const list = await as('h2', 'list-vpcs', '-o', 'json');
  t.is(list.code, 0, list.stderr);
  t.like(JSON.parse(list.stdout), [{ name: 'a', cidr: '10.0.0.0/16', subnets: 2, public: 1, private: 1 }]);
  const show = await as('h1', 'show-vpc', '--name', 'a');
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, /^VPC a {2}10\.0\.0\.0\/16 {2}VNI \d+ {2}on h1, h2$/m);
  t.regex(show.stdout, /^db\s+10\.0\.2\.0\/24\s+private\s+none\s+h1\s/m);
  t.regex(show.stdout, /^web\s+10\.0\.1\.0\/24\s+public\s+internet gateway\s+h2\s/m);
  t.deepEqual(JSON.parse((await as('h1', 'show-vpc', '--name', 'a', '--json')).stdout).subnets.map((s: { name: string; host: string }) => [s.name, s.host]), [['db', 'h1'], ['web', 'h2']]);
  const missing = await as('h1', 'show-vpc', '--name', 'nope');
  t.is(missing.code, 2, missing.stderr);
  t.regex(missing.stderr, /^vpcctl: vpc "nope" does not exist in the cluster$/m);
});

test.serial('cluster status -o json|yaml|table: the same data in each form; a bad format exits 2', async (t) => {
  const json = await as('h1', 'cluster', 'status', '-o', 'json');
  t.is(json.code, 0, json.stderr);
  const data = JSON.parse(json.stdout) as { revision: number; vpcs: number; subnets: number; hosts: Array<{ name: string; underlay: string; live: boolean; subnets: number }> };
  t.deepEqual(data.hosts.map((h) => [h.name, h.underlay, h.live, h.subnets]), [['h1', '192.0.2.11', true, 1], ['h2', '192.0.2.12', true, 1]]);
  t.is(data.subnets, 2);
  // --json is the same as -o json; yaml parses back to the same data (nothing written in between).
  t.deepEqual(JSON.parse((await as('h1', 'cluster', 'status', '--json')).stdout), data);
  const yaml = await as('h1', 'cluster', 'status', '-o', 'yaml');
  t.is(yaml.code, 0, yaml.stderr);
  t.notRegex(yaml.stdout, /^\s*[{[]/, 'yaml, not JSON');
  t.deepEqual(YAML.parse(yaml.stdout), data);
  for (const form of [['-o', 'table'], []]) {
    const tab = await as('h1', 'cluster', 'status', ...form);
    t.is(tab.code, 0, tab.stderr);
    const lines = tab.stdout.trimEnd().split('\n');
    t.regex(lines[0]!, new RegExp(`^revision ${data.revision}: 1 vpcs?, 2 subnets, 2 hosts`));
    t.regex(tab.stdout, /HOST\s+UNDERLAY\s+LIVE\s+SUBNETS\s+APPLIED\s+STATE/);
    t.regex(tab.stdout, /h1\s+192\.0\.2\.11\s+up\s+1\s/);
    t.regex(tab.stdout, /h2\s+192\.0\.2\.12\s+up\s+1\s/);
  }
  const bad = await as('h1', 'cluster', 'status', '-o', 'xml');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /xml/);
});

test.serial('two concurrent writers never lose each other\'s change, and never both pass an exclusive check', async (t) => {
  t.is((await as('h1', 'create-vpc', '--name', 'race', '--cidr', '10.5.0.0/16')).code, 0);
  // Eight CLIs add eight different subnets at once: all eight land.
  const many = await Promise.all([...Array(8).keys()].map((n) =>
    as(n % 2 ? 'h1' : 'h2', 'create-subnet', '--vpc', 'race', '--name', `s${n}`, '--cidr', `10.5.${n}.0/24`, '--host', 'h1')));
  t.deepEqual(many.map((r) => r.code), [0, 0, 0, 0, 0, 0, 0, 0], many.map((r) => r.stderr).join(''));
  // Two overlapping subnets at once: exactly one wins, the other is refused as an overlap.
  const two = await Promise.all([
    as('h1', 'create-subnet', '--vpc', 'race', '--name', 'p', '--cidr', '10.5.100.0/24', '--host', 'h1'),
    as('h2', 'create-subnet', '--vpc', 'race', '--name', 'q', '--cidr', '10.5.100.0/25', '--host', 'h1'),
  ]);
  t.deepEqual(two.map((r) => r.code).sort(), [0, 2], two.map((r) => r.stderr).join(''));
  const store = ClusterStore.open(etcd.endpoints);
  try {
    const snap = await store.snapshot();
    const winner = two[0]!.code === 0 ? 'p' : 'q';
    t.deepEqual(Object.keys(snap.intent.subnets.race!).sort(), [winner, 's0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'].sort());
    // Same with the library directly: two transactions racing on one VPC, both retried to success.
    await Promise.all(['u', 'v'].map((n, i) => ClusterStore.open(etcd.endpoints).transact((intent) => {
      intent.subnets.race![n] = { name: n, cidr: `10.5.${200 + i}.0/24`, type: 'private', host: 'h1' };
    })));
    const after = await store.snapshot();
    t.truthy(after.intent.subnets.race!.u && after.intent.subnets.race!.v);
    t.is(after.intent.vpcs.race!.gen, snap.intent.vpcs.race!.gen + 2, 'each write bumped the VPC guard once');
  } finally {
    store.close();
  }
});

test.serial('one etcd member down: writes work; two down: a clear error, exit 1, within the timeout', async (t) => {
  await etcd.stop(0);
  const one = await as('h1', 'create-vpc', '--name', 'quorum', '--cidr', '10.6.0.0/16');
  t.is(one.code, 0, one.stderr);
  await etcd.stop(1);
  const started = Date.now();
  const two = await as('h1', 'create-vpc', '--name', 'noquorum', '--cidr', '10.7.0.0/16');
  t.is(two.code, 1);
  t.regex(two.stderr, /^vpcctl: etcd unavailable: /);
  t.is(two.stderr.trim().split('\n').length, 1, 'one line');
  t.true(Date.now() - started < 15_000, `failed in ${Date.now() - started} ms`);
  const st = await as('h1', 'cluster', 'status');
  t.is(st.code, 1);
  t.regex(st.stderr, /etcd unavailable/);
  await etcd.start(0);
  await etcd.start(1);
  const back = await status();
  t.is(back.hosts.length, 2);
  const store = ClusterStore.open(etcd.endpoints);
  t.truthy((await store.snapshot()).intent.vpcs.quorum);
  t.falsy((await store.snapshot()).intent.vpcs.noquorum, 'the failed write left nothing');
  store.close();
});

let agent: ChildProcess | undefined;
const startAgent = (host: string) => {
  agent = spawn(process.execPath, [CLI, '--cluster', cfgOf(host), 'agent'], {
    env: { ...process.env, VPCCTL_STATE_DIR: state, VPCCTL_LEASE_TTL: '3', NO_COLOR: '1' }, stdio: 'ignore',
  });
  return agent;
};
const killAgent = async (signal: NodeJS.Signals = 'SIGKILL') => {
  const a = agent;
  if (!a || a.exitCode !== null) return;
  const gone = new Promise((r) => a.once('exit', r));
  process.kill(a.pid!, signal);
  await gone;
};

test.serial("the agent applies its host's share through the planner, reports it, follows changes and restarts", async (t) => {
  t.teardown(() => killAgent());
  startAgent('h1');
  // h1's share of VPC a is db, and all of race and nothing of h2's web.
  await until('h1 in sync', async () => (await status()).hosts.find((h) => h.name === 'h1')!.inSync);
  const ns = netnsList();
  t.true(ns.includes('vpcr-a') && ns.includes('ns-a-db'), ns.join(' '));
  t.false(ns.includes('ns-a-web'), 'a subnet of another host is not made here');
  t.true(ns.includes('ns-race-s0'));
  t.false(ns.includes('vpcr-quorum'), 'a VPC without a subnet here has no router here');
  const local = await vpcctl(state, ['status']);
  t.is(local.code, 0, `${local.stdout}${local.stderr}`);

  // A change in etcd reaches the kernel through the watch.
  t.is((await as('h1', 'delete-subnet', '--vpc', 'a', '--name', 'db')).code, 0);
  await until('ns-a-db removed', async () => !netnsList().includes('ns-a-db'));
  t.false(netnsList().includes('vpcr-a'), 'the last subnet here gone: the router goes too');

  // kill -9 and restart: a full resync converges; nothing leaked.
  await killAgent();
  t.is((await as('h1', 'create-subnet', '--vpc', 'quorum', '--name', 'late', '--cidr', '10.6.1.0/24', '--host', 'h1')).code, 0);
  t.is((await as('h1', 'delete-subnet', '--vpc', 'race', '--name', 's7')).code, 0);
  await until('h1 down', async () => !(await status()).hosts.find((h) => h.name === 'h1')!.live);
  startAgent('h1');
  await until('h1 in sync again', async () => {
    const h = (await status()).hosts.find((x) => x.name === 'h1')!;
    return h.live && h.inSync;
  });
  t.true(netnsList().includes('ns-quorum-late'));
  t.false(netnsList().includes('ns-race-s7'));
  t.is((await vpcctl(state, ['status'])).code, 0);
  const statusKeys = async () => {
    const s = ClusterStore.open(etcd.endpoints);
    try { return await s.client.getAll().prefix(key.status('h1')).keys(); } finally { s.close(); }
  };
  const keys = await statusKeys();
  t.true(keys.includes(key.subnetStatus('h1', 'quorum', 'late')));
  t.false(keys.includes(key.subnetStatus('h1', 'race', 's7')), 'a status the previous run wrote for a deleted subnet is removed');

  // SIGTERM: a clean stop revokes the lease (down at once, not after the TTL) and leaves the kernel as it is.
  const a = agent!;
  const exited = new Promise<number | null>((r) => a.once('exit', (code) => r(code)));
  const t0 = Date.now();
  process.kill(a.pid!, 'SIGTERM');
  t.is(await exited, 0);
  t.true(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
  t.false((await status()).hosts.find((h) => h.name === 'h1')!.live);
  t.true(netnsList().includes('ns-quorum-late'), 'traffic keeps flowing while no agent runs');

  // In sync means applied with the hosts live now: the other hosts' tunnels to h1 went with its lease.
  const after = await status();
  const h1 = after.hosts.find((h) => h.name === 'h1')!;
  t.true((h1.applied as { liveHosts?: string[] }).liveHosts?.includes('h1'));
  t.false(h1.inSync, 'its last apply saw itself live');
  const liveNow = after.hosts.filter((h) => h.live).map((h) => h.name).sort();
  const s = ClusterStore.open(etcd.endpoints);
  try {
    await s.client.put(`${key.status('h1')}agent`).value(JSON.stringify({ ...h1.applied, liveHosts: liveNow }));
  } finally { s.close(); }
  t.true((await status()).hosts.find((h) => h.name === 'h1')!.inSync, 'a report made with the same hosts live');
});

test.serial('leave: refused while the host runs subnets; --drain moves them; the agent of a removed host empties it', async (t) => {
  t.teardown(() => killAgent());
  startAgent('h1');
  await until('h1 in sync', async () => (await status()).hosts.find((h) => h.name === 'h1')!.inSync);
  const refused = await as('h1', 'cluster', 'leave', '--host', 'h1');
  t.is(refused.code, 2);
  t.regex(refused.stderr, /still runs \d+ subnets/);
  // h2 is not live any more (its join's lease lapsed long ago? it was 60 s): renew it by joining again.
  t.is((await vpcctl(state, ['cluster', 'join', '--etcd', etcd.endpoints.join(','), '--host', 'h2', '--underlay', '192.0.2.12', '--cluster', cfgOf('h2')], env)).code, 0);
  const drained = await as('h2', 'cluster', 'leave', '--host', 'h1', '--drain');
  t.is(drained.code, 0, drained.stderr);
  t.regex(drained.stdout, /host h1 left the cluster; \d+ subnets? moved/);
  const s = await status('h2');
  t.deepEqual(s.hosts.map((h) => h.name), ['h2']);
  t.true(s.hosts[0]!.subnets >= 10);
  // h1's agent sees it left: prunes everything here and stops.
  await until('agent exit', async () => agent!.exitCode !== null);
  t.is(agent!.exitCode, 0);
  t.deepEqual(netnsList(), []);
  const store = ClusterStore.open(etcd.endpoints);
  t.deepEqual((await store.client.getAll().prefix(key.status('h1')).keys()), [], "the host's status is gone");
  store.close();
});

test.serial('an agent whose host is not in the cluster touches nothing and exits 1', async (t) => {
  const local = await vpcctl(state, ['create-vpc', '--name', 'local1', '--cidr', '10.44.0.0/16']);
  t.is(local.code, 0, local.stderr);
  writeFileSync(cfgOf('ghost'), JSON.stringify({ etcd: etcd.endpoints, host: 'ghost', underlay: '192.0.2.99' }));
  startAgent('ghost');
  const code = await new Promise((r) => agent!.once('exit', r));
  t.is(code, 1);
  t.true(netnsList().includes('vpcr-local1'), 'a wrong cluster file does not prune this host');
});
