import test from 'ava';
import { writeFileSync } from 'node:fs';
import { buildLab, INTERNET, type Lab, type SimHost } from '../helpers/cluster-lab.js';
import { FETCH } from '../helpers/sandbox.js';

// Three simulated hosts (own network and mount namespaces), an underlay
// bridge, an uplink each to the simulated internet, a 3-member etcd with
// one member per host, and an agent per host.
let lab: Lab;
test.before(async () => {
  lab = await buildLab();
});
test.after.always(async () => {
  await lab?.stop();
});

type Status = { hosts: Array<{ name: string; live: boolean; subnets: number; inSync: boolean; applied?: { error?: string } }> };
const status = async (h: SimHost): Promise<Status> => {
  const r = await h.vpcctl(['cluster', 'status', '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};
const until = async (what: string, fn: () => Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try { if (await fn()) return; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
};
const allInSync = async (h: SimHost, n = 3) => {
  const s = await status(h);
  return s.hosts.length === n && s.hosts.every((x) => x.live && x.inSync);
};

test.serial('each host joins (underlay detected from the etcd network) and its agent keeps it live', async (t) => {
  for (const h of lab.hosts) {
    const r = await h.vpcctl(['cluster', 'join', '--etcd', lab.endpoints, '--host', h.name]);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`underlay ${h.underlay.replaceAll('.', '\\.')}`));
    h.startAgent();
  }
  await until('three live hosts in sync', () => allInSync(lab.hosts[0]!));
  t.pass();
});

test.serial("a topology applied on one host: each host's agent builds only its share, through its own uplink", async (t) => {
  const file = '/run/lab-topology.json';
  writeFileSync(file, JSON.stringify({
    vpcs: [
      { name: 'a', cidr: '10.0.0.0/16', subnets: [
        { name: 'web', cidr: '10.0.1.0/24', type: 'public', host: 'h1' },
        { name: 'api', cidr: '10.0.2.0/24', type: 'public', host: 'h2' },
        { name: 'db', cidr: '10.0.3.0/24', type: 'private', host: 'h3' },
      ] },
      // Same CIDR, another VPC: isolated by construction, on another host here.
      { name: 'b', cidr: '10.0.0.0/16', subnets: [{ name: 'web', cidr: '10.0.1.0/24', type: 'private', host: 'h2' }] },
    ],
  }));
  const [h1, h2, h3] = lab.hosts as [SimHost, SimHost, SimHost];
  const r = await h1.vpcctl(['apply', '-f', file]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /written to the cluster/);
  await until('agents in sync', () => allInSync(h1));
  t.deepEqual(h1.netns(), ['ns-a-web', 'vpcr-a']);
  t.deepEqual(h2.netns(), ['ns-a-api', 'ns-b-web', 'vpcr-a', 'vpcr-b']);
  t.deepEqual(h3.netns(), ['ns-a-db', 'vpcr-a']);
  // Public subnets leave through their own host's uplink; the private one does not leave at all.
  const fetch = (h: SimHost, ns: string) => h.sh(['/usr/sbin/ip', 'netns', 'exec', ns, process.execPath, FETCH, `http://${INTERNET.server}/`], 8000);
  t.is(fetch(h1, 'ns-a-web').status, 0, fetch(h1, 'ns-a-web').stderr);
  t.is(fetch(h2, 'ns-a-api').status, 0);
  t.not(fetch(h3, 'ns-a-db').status, 0);
  t.not(fetch(h2, 'ns-b-web').status, 0);
  // Each host's local state is its share, and its kernel matches it.
  for (const h of lab.hosts) t.is((await h.vpcctl(['status'])).code, 0, h.name);
});

/** GET http://addr:port/ from a subnet on a host: the app's answer (it names its VPC and subnet), or null. */
const ask = (h: SimHost, ns: string, addr: string, port = 8080): { vpc: string; subnet: string; client: string } | null => {
  const r = h.sh(['/usr/sbin/ip', 'netns', 'exec', ns, process.execPath, FETCH, `http://${addr}:${port}/`], 8000);
  return r.status === 0 ? JSON.parse(r.stdout) : null;
};
const appsRunning = async (h: SimHost, n: number) =>
  JSON.parse((await h.vpcctl(['list-apps', '--json'])).stdout).filter((a: { running: boolean }) => a.running).length === n;

test.serial('across hosts: a VPC is one network over VXLAN, equal CIDRs stay apart, a deny policy holds', async (t) => {
  const [h1, h2, h3] = lab.hosts as [SimHost, SimHost, SimHost];
  // VPC b (10.0.0.0/16 like a) gets a subnet on h3 with a's api CIDR: the same address in two VPCs on two hosts.
  t.is((await h1.vpcctl(['create-subnet', '--vpc', 'b', '--name', 'api', '--cidr', '10.0.2.0/24', '--host', 'h3'])).code, 0);
  for (const [vpc, subnet] of [['a', 'api'], ['b', 'api']]) {
    const r = await h1.vpcctl(['deploy-app', '--vpc', vpc!, '--subnet', subnet!, '--port', '8080']);
    t.is(r.code, 0, r.stderr);
  }
  await until('apps running on h2 and h3', async () => (await appsRunning(h2, 1)) && (await appsRunning(h3, 1)));
  await until('all in sync', () => allInSync(h1));
  // Every router of a VPC has a VXLAN link on its host's underlay, MTU lowered by the encapsulation.
  const vx = h1.sh(['/usr/sbin/ip', 'netns', 'exec', 'vpcr-a', '/usr/sbin/ip', '-d', 'link', 'show', 'vx0']).stdout;
  t.regex(vx, /mtu 1450/);
  t.regex(vx, /vxlan id \d+ local 192\.0\.2\.\d+/);
  t.regex(h1.sh(['/usr/sbin/ip', 'netns', 'exec', 'ns-a-web', '/usr/sbin/ip', 'link', 'show', 'eth0']).stdout, /mtu 1450/);
  // Names of subnets on other hosts resolve (from the hosts file: no query is sent).
  t.regex(h1.sh(['/usr/sbin/ip', 'netns', 'exec', 'ns-a-web', 'getent', '-s', 'files', 'hosts', 'api.a.internal']).stdout, /^10\.0\.2\.2\s+api\.a\.internal$/m);
  t.is(h1.sh(['/usr/sbin/ip', 'netns', 'exec', 'ns-a-web', 'getent', '-s', 'files', 'hosts', 'api.b.internal']).status, 2, "another VPC's name does not resolve");

  // h1 -> h2 and h3 -> h2 in VPC a: the answer comes from a/api, and sees the client's own address (no NAT).
  t.like(ask(h1, 'ns-a-web', '10.0.2.2'), { vpc: 'a', subnet: 'api', client: '10.0.1.2' });
  t.like(ask(h3, 'ns-a-db', '10.0.2.2'), { vpc: 'a', subnet: 'api', client: '10.0.3.2' });
  // h2 -> h3: VPC b's web reaches b/api on h3, never a/api beside it on h2.
  t.like(ask(h2, 'ns-b-web', '10.0.2.2'), { vpc: 'b', subnet: 'api' });
  // Nothing crosses between the VPCs: b reaches no subnet of a, a none of b (a has no 10.0.1 peer in b to answer).
  t.is(ask(h2, 'ns-b-web', '10.0.3.2'), null, 'b/web -> a/db (h3)');
  t.is(ask(h3, 'ns-b-api', '10.0.3.2'), null, 'b/api -> a/db on the same host');

  // A deny policy on a/api (h2) holds against a/web (h1) and lets a/db (h3) in.
  writeFileSync('/run/lab-api-policy.json', JSON.stringify({
    subnet: '10.0.2.0/24', ingress: [{ port: 8080, protocol: 'tcp', action: 'allow', cidr: '10.0.3.0/24' }], default: 'deny',
  }));
  t.is((await h1.vpcctl(['apply-policy', '--vpc', 'a', '--policy', '/run/lab-api-policy.json'])).code, 0);
  await until('policy on h2', async () => ask(h1, 'ns-a-web', '10.0.2.2') === null, 15_000);
  t.like(ask(h3, 'ns-a-db', '10.0.2.2'), { vpc: 'a', subnet: 'api' });
  for (const h of lab.hosts) t.is((await h.vpcctl(['status'])).code, 0, `${h.name}: in sync, overlay included`);

  // Removing b's only subnet on h3 removes b's router there, and h2's router of b loses its peer.
  // (a/api's app stays: the etcd outage test below talks to it across hosts.)
  t.is((await h1.vpcctl(['stop-app', '--vpc', 'b', '--subnet', 'api', '--port', '8080'])).code, 0);
  t.is((await h1.vpcctl(['delete-subnet', '--vpc', 'b', '--name', 'api'])).code, 0);
  await until('b gone from h3', async () => !h3.netns().includes('vpcr-b') && (await allInSync(h1)));
  t.is(h2.sh(['/usr/sbin/ip', 'netns', 'exec', 'vpcr-b', '/usr/sbin/bridge', 'fdb', 'show', 'dev', 'vx0']).stdout.trim(), '', 'no entry left for h3');
});

test.serial('peering across hosts: both ways between peers, never transitive, and gone with its VPCs', async (t) => {
  const [h1, h2, h3] = lab.hosts as [SimHost, SimHost, SimHost];
  // hub (h1) peers with left (h2) and right (h3); left and right are not peered.
  const file = '/run/lab-peering.json';
  writeFileSync(file, JSON.stringify({
    vpcs: [
      { name: 'hub', cidr: '10.20.0.0/16', subnets: [{ name: 's', cidr: '10.20.1.0/24', type: 'private', host: 'h1', apps: [{ port: 8080 }] }] },
      { name: 'left', cidr: '10.30.0.0/16', subnets: [{ name: 's', cidr: '10.30.1.0/24', type: 'private', host: 'h2', apps: [{ port: 8080 }] }] },
      { name: 'right', cidr: '10.40.0.0/16', subnets: [{ name: 's', cidr: '10.40.1.0/24', type: 'private', host: 'h3', apps: [{ port: 8080 }] }] },
    ],
    peerings: [{ vpc1: 'hub', vpc2: 'left' }, { vpc1: 'right', vpc2: 'hub' }],
  }));
  t.is((await h1.vpcctl(['apply', '-f', file])).code, 0);
  await until('apps running', async () => (await appsRunning(h1, 1)) && (await appsRunning(h2, 2)) && (await appsRunning(h3, 1)));
  await until('all in sync', () => allInSync(h1));
  // A peer's router stands wherever the other side has a subnet: hub's on h2 and h3, left's and right's on h1.
  t.true(h2.netns().includes('vpcr-hub') && h3.netns().includes('vpcr-hub') && h1.netns().includes('vpcr-left'));
  t.like(ask(h1, 'ns-hub-s', '10.30.1.2'), { vpc: 'left', client: '10.20.1.2' });
  t.like(ask(h2, 'ns-left-s', '10.20.1.2'), { vpc: 'hub', client: '10.30.1.2' });
  t.like(ask(h3, 'ns-right-s', '10.20.1.2'), { vpc: 'hub', client: '10.40.1.2' });
  t.like(ask(h1, 'ns-hub-s', '10.40.1.2'), { vpc: 'right' });
  t.is(ask(h2, 'ns-left-s', '10.40.1.2'), null, 'left -> right through hub: not transitive');
  t.is(ask(h3, 'ns-right-s', '10.30.1.2'), null, 'right -> left through hub: not transitive');
  for (const h of lab.hosts) t.is((await h.vpcctl(['status'])).code, 0, `${h.name}: in sync`);
  t.is((await h1.vpcctl(['destroy', '-f', file])).code, 0);
  await until('peering VPCs gone everywhere', async () =>
    lab.hosts.every((h) => !h.netns().some((n) => /-(hub|left|right)(-|$)/.test(n))) && (await allInSync(h1)));
  t.pass();
});

test.serial('etcd: one member down, writes work; two down, writes fail clearly and traffic keeps flowing; back, agents converge', async (t) => {
  const [h1, h2] = lab.hosts as [SimHost, SimHost];
  const fetch = () => h1.sh(['/usr/sbin/ip', 'netns', 'exec', 'ns-a-web', process.execPath, FETCH, `http://${INTERNET.server}/`], 8000);
  await lab.etcd.stop(2);
  const one = await h1.vpcctl(['create-subnet', '--vpc', 'a', '--name', 'q1', '--cidr', '10.0.50.0/24', '--host', 'h2']);
  t.is(one.code, 0, one.stderr);
  await until('q1 on h2', async () => h2.netns().includes('ns-a-q1'));
  await lab.etcd.stop(1);
  const two = await h1.vpcctl(['create-subnet', '--vpc', 'a', '--name', 'q2', '--cidr', '10.0.51.0/24']);
  t.is(two.code, 1);
  t.regex(two.stderr, /^vpcctl: etcd unavailable: /);
  t.is(fetch().status, 0, 'the data plane does not depend on etcd');
  t.like(ask(lab.hosts[2]!, 'ns-a-db', '10.0.2.2'), { vpc: 'a', subnet: 'api' }, 'nor does traffic across hosts');
  t.true(h2.netns().includes('ns-a-q1'), 'agents keep what they built');
  await lab.etcd.start(1);
  await lab.etcd.start(2);
  t.is((await h1.vpcctl(['delete-subnet', '--vpc', 'a', '--name', 'q1'])).code, 0);
  await until('all in sync after the outage', () => allInSync(h1), 60_000);
  t.false(h2.netns().includes('ns-a-q1'), 'the watch resumed: the delete reached h2');
});

test.serial('kill -9 an agent in the middle of a large apply, restart it: it converges with nothing leaked', async (t) => {
  const [h1, h2] = lab.hosts as [SimHost, SimHost];
  const many = Array.from({ length: 150 }, (_, i) => ({ name: `s${i}`, cidr: `10.9.${i}.0/24`, type: 'private', host: 'h2' }));
  const file = '/run/lab-big.json';
  writeFileSync(file, JSON.stringify({ vpcs: [{ name: 'big', cidr: '10.9.0.0/16', subnets: many }] }));
  t.is((await h1.vpcctl(['apply', '-f', file])).code, 0);
  // Wait until h2 is mid-way: some of the namespaces exist, not all.
  await until('apply under way on h2', async () => h2.netns().some((n) => n.startsWith('ns-big-')), 30_000);
  await h2.killAgent('SIGKILL');
  const partial = h2.netns().filter((n) => n.startsWith('ns-big-')).length;
  t.log(`killed with ${partial} of 150 namespaces made`);
  h2.startAgent();
  await until('converged after restart', () => allInSync(h1), 60_000);
  const ns = h2.netns();
  t.is(ns.filter((n) => n.startsWith('ns-big-')).length, 150);
  t.is((await h2.vpcctl(['status'])).code, 0, 'no drift, no pending namespace, nothing orphaned');
  t.deepEqual(h1.netns(), ['ns-a-web', 'vpcr-a'], 'other hosts untouched');
});

test.serial("policies and apps written on one host are enforced and run on the subnet's host", async (t) => {
  const [h1, , h3] = lab.hosts as [SimHost, SimHost, SimHost];
  writeFileSync('/run/lab-policy.json', JSON.stringify({ subnet: '10.0.3.0/24', ingress: [{ port: 5432, action: 'allow' }], default: 'deny' }));
  const p = await h1.vpcctl(['apply-policy', '--vpc', 'a', '--policy', '/run/lab-policy.json']);
  t.is(p.code, 0, p.stderr);
  t.regex(p.stdout, /policy on a\/db: written to the cluster/);
  const app = await h1.vpcctl(['deploy-app', '--vpc', 'a', '--subnet', 'db', '--port', '8080']);
  t.is(app.code, 0, app.stderr);
  t.regex(app.stdout, /host h3/);
  const nftOnH3 = () => h3.sh(['/usr/sbin/ip', 'netns', 'exec', 'ns-a-db', '/usr/sbin/nft', 'list', 'ruleset']).stdout;
  await until('policy and app on h3', async () => /5432/.test(nftOnH3()) && JSON.parse((await h3.vpcctl(['list-apps', '--json'])).stdout).some((a: { port: number; running: boolean }) => a.port === 8080 && a.running));
  t.regex(nftOnH3(), /policy drop|drop/);
  // The same port twice: refused in the intent (exit 2), nothing written.
  const dup = await h1.vpcctl(['deploy-app', '--vpc', 'a', '--subnet', 'db', '--port', '8080']);
  t.is(dup.code, 2);
  // stop-app from another host: the subnet's host stops the process.
  t.is((await lab.hosts[1]!.vpcctl(['stop-app', '--vpc', 'a', '--subnet', 'db', '--port', '8080'])).code, 0);
  await until('app stopped on h3', async () => JSON.parse((await h3.vpcctl(['list-apps', '--json'])).stdout).length === 0);
  t.is((await h1.vpcctl(['deploy-app', '--vpc', 'a', '--subnet', 'db', '--port', '8080'])).code, 0);
  await until('app back on h3', async () => JSON.parse((await h3.vpcctl(['list-apps', '--json'])).stdout).length === 1);
});

test.serial('a host whose agent is gone is reported down when its lease lapses', async (t) => {
  const [h1, , h3] = lab.hosts as [SimHost, SimHost, SimHost];
  await h3.killAgent('SIGKILL');
  const fdbToH3 = () => h1.sh(['/usr/sbin/ip', 'netns', 'exec', 'vpcr-a', '/usr/sbin/bridge', 'fdb', 'show', 'dev', 'vx0']).stdout.includes(`dst ${h3.underlay} `);
  t.true(fdbToH3(), "h1's router of a has an FDB entry for h3 while h3 is live");
  await until('h3 down', async () => !(await status(h1)).hosts.find((h) => h.name === 'h3')!.live, 15_000);
  t.deepEqual(h3.netns(), ['ns-a-db', 'vpcr-a'], 'its kernel keeps what it had: traffic keeps flowing');
  await until("the other hosts drop h3's FDB entries", async () => !fdbToH3(), 15_000);
  h3.startAgent();
  await until('h3 back', () => allInSync(h1));
  await until("h3's FDB entries back", async () => fdbToH3(), 15_000);
});

test.serial('cluster leave --drain moves the subnets of a host to the others; its agent empties it', async (t) => {
  const [h1, , h3] = lab.hosts as [SimHost, SimHost, SimHost];
  const r = await h1.vpcctl(['cluster', 'leave', '--host', 'h3', '--drain']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /; 1 subnet moved$/m);
  await until('h3 empty', async () => h3.netns().length === 0);
  await until('two hosts in sync', () => allInSync(h1, 2));
  const where = [h1, lab.hosts[1]!].find((h) => h.netns().includes('ns-a-db'));
  t.truthy(where, 'a/db now runs on h1 or h2');
  // Its policy and its app moved with it.
  await until('app running on the new host', async () =>
    JSON.parse((await where!.vpcctl(['list-apps', '--json'])).stdout).some((a: { port: number; running: boolean }) => a.port === 8080 && a.running));
  t.regex(where!.sh(['/usr/sbin/ip', 'netns', 'exec', 'ns-a-db', '/usr/sbin/nft', 'list', 'ruleset']).stdout, /5432/);
});
