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
  await until('h3 down', async () => !(await status(h1)).hosts.find((h) => h.name === 'h3')!.live, 15_000);
  t.deepEqual(h3.netns(), ['ns-a-db', 'vpcr-a'], 'its kernel keeps what it had: traffic keeps flowing');
  h3.startAgent();
  await until('h3 back', () => allInSync(h1));
});

test.serial('cluster leave --drain moves the subnets of a host to the others; its agent empties it', async (t) => {
  const [h1, , h3] = lab.hosts as [SimHost, SimHost, SimHost];
  const r = await h1.vpcctl(['cluster', 'leave', '--host', 'h3', '--drain']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /1 subnets moved/);
  await until('h3 empty', async () => h3.netns().length === 0);
  await until('two hosts in sync', () => allInSync(h1, 2));
  const where = [h1, lab.hosts[1]!].find((h) => h.netns().includes('ns-a-db'));
  t.truthy(where, 'a/db now runs on h1 or h2');
  // Its policy and its app moved with it.
  await until('app running on the new host', async () =>
    JSON.parse((await where!.vpcctl(['list-apps', '--json'])).stdout).some((a: { port: number; running: boolean }) => a.port === 8080 && a.running));
  t.regex(where!.sh(['/usr/sbin/ip', 'netns', 'exec', 'ns-a-db', '/usr/sbin/nft', 'list', 'ruleset']).stdout, /5432/);
});
