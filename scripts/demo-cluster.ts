/**
 * `sudo make demo-cluster`: one VPC over three hosts, told as a story.
 * The hosts are simulated (test/helpers/cluster-lab.ts: each its own network
 * and mount namespace, an underlay bridge on 192.0.2.0/24, an uplink each to
 * a simulated internet, one etcd member each), inside scripts/sandbox.sh, so
 * everything it builds dies with it. Each host runs `vpcctl agent`; every
 * command below is the real CLI run inside one of the hosts.
 */
import { writeFileSync } from 'node:fs';
import pc from 'picocolors';
import { buildLab, INTERNET, type SimHost } from '../test/helpers/cluster-lab.js';
import { FETCH } from '../test/helpers/sandbox.js';

const step = (n: number, text: string) => console.log(`\n${pc.bold(`${n}. ${text}`)}`);
const line = (text: string) => console.log(`   ${text}`);
const run = async (h: SimHost, args: string[]) => {
  line(pc.dim(`${h.name}$ vpcctl ${args.join(' ')}`));
  const r = await h.vpcctl(args);
  for (const l of (r.stdout + r.stderr).trimEnd().split('\n').filter(Boolean)) line(`  ${l}`);
  if (r.code !== 0) throw new Error(`vpcctl ${args.join(' ')} exited ${r.code}`);
  return r;
};
const until = async (what: string, fn: () => Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
};
const inSync = async (h: SimHost, n: number) => {
  const s = JSON.parse((await h.vpcctl(['cluster', 'status', '--json'])).stdout) as { hosts: Array<{ live: boolean; inSync: boolean }> };
  return s.hosts.length === n && s.hosts.every((x) => x.live && x.inSync);
};
/** GET from a subnet of a host; prints who answered, or that nothing did. */
const probe = (h: SimHost, vpc: string, subnet: string, url: string, expect: boolean) => {
  const r = h.sh(['/usr/sbin/ip', 'netns', 'exec', `ns-${vpc}-${subnet}`, process.execPath, FETCH, url], 8000);
  const who = r.status === 0 ? JSON.parse(r.stdout) as { vpc: string; subnet: string; client: string } : null;
  const got = who ? `answered by ${who.vpc}/${who.subnet}, which saw ${who.client}` : 'no answer';
  const ok = !!who === expect;
  line(`${ok ? pc.green('✔') : pc.red('✘')} ${vpc}/${subnet} on ${h.name} -> ${url}: ${got}`);
  if (!ok) process.exitCode = 1;
};

const lab = await buildLab();
try {
  const [h1, h2, h3] = lab.hosts as [SimHost, SimHost, SimHost];
  step(1, 'Three hosts join the cluster (etcd has one member on each); each starts its agent');
  for (const h of lab.hosts) {
    await run(h, ['cluster', 'join', '--etcd', lab.endpoints, '--host', h.name]);
    h.startAgent();
  }
  await until('three live hosts', () => inSync(h1, 3));
  await run(h1, ['cluster', 'status']);

  step(2, 'One topology, written once on h1: VPC shop spans the three hosts; VPC lab reuses its CIDR on h2');
  const file = '/run/demo-cluster.json';
  writeFileSync(file, JSON.stringify({
    vpcs: [
      { name: 'shop', cidr: '10.0.0.0/16', subnets: [
        { name: 'web', cidr: '10.0.1.0/24', type: 'public', host: 'h1' },
        { name: 'api', cidr: '10.0.2.0/24', type: 'private', host: 'h2', apps: [{ port: 8080 }] },
        { name: 'db', cidr: '10.0.3.0/24', type: 'private', host: 'h3', apps: [{ port: 8080 }],
          policy: { ingress: [{ port: 8080, protocol: 'tcp', action: 'allow', cidr: '10.0.2.0/24' }], default: 'deny' } },
      ] },
      { name: 'lab', cidr: '10.0.0.0/16', subnets: [{ name: 'x', cidr: '10.0.1.0/24', type: 'private', host: 'h2' }] },
    ],
  }));
  await run(h1, ['apply', '-f', file]);
  await until('every agent in sync', () => inSync(h1, 3));
  line('each agent built only its share:');
  for (const h of lab.hosts) line(`  ${h.name}: ${h.netns().join(' ')}`);

  step(3, 'Across hosts: routers joined by VXLAN (static FDB and neighbour entries, MTU 1450), no NAT');
  for (const l of h1.sh(['/usr/sbin/ip', 'netns', 'exec', 'vpcr-shop', '/usr/sbin/bridge', 'fdb', 'show', 'dev', 'vx0']).stdout.trim().split('\n')) line(pc.dim(`h1 vpcr-shop fdb: ${l}`));
  probe(h1, 'shop', 'web', 'http://10.0.2.2:8080/', true);
  probe(h2, 'shop', 'api', 'http://10.0.3.2:8080/', true);
  line("db's policy lets only api in:");
  probe(h1, 'shop', 'web', 'http://10.0.3.2:8080/', false);
  line('names resolve across hosts (each router\'s hosts file, no DNS server):');
  const name = h1.sh(['/usr/sbin/ip', 'netns', 'exec', 'ns-shop-web', 'getent', '-s', 'files', 'hosts', 'db.shop.internal']).stdout.trim().split(/\s+/)[0];
  line(`${name === '10.0.3.2' ? pc.green('✔') : pc.red('✘')} shop/web on h1: db.shop.internal -> ${name || 'not found'}`);
  if (name !== '10.0.3.2') process.exitCode = 1;
  line('lab has the same CIDR as shop, and sees none of it:');
  probe(h2, 'lab', 'x', 'http://10.0.2.2:8080/', false);
  line('public subnets leave by their own host\'s uplink:');
  probe(h1, 'shop', 'web', `http://${INTERNET.server}/`, true);

  step(4, 'h3 leaves with --drain: db moves to another host with its policy and its app');
  await run(h1, ['cluster', 'leave', '--host', 'h3', '--drain']);
  await until('h3 emptied and two hosts in sync', async () => h3.netns().length === 0 && (await inSync(h1, 2)));
  const where = [h1, h2].find((h) => h.netns().includes('ns-shop-db'))!;
  line(`db now runs on ${where.name}`);
  await until('db app up', async () => JSON.parse((await where.vpcctl(['list-apps', '--json'])).stdout).some((a: { running: boolean }) => a.running));
  probe(h2, 'shop', 'api', 'http://10.0.3.2:8080/', true);
  probe(h1, 'shop', 'web', 'http://10.0.3.2:8080/', false);
  await run(h1, ['cluster', 'status']);
  console.log(`\n${process.exitCode ? pc.red('Some checks failed.') : pc.green('Every check held.')} The lab and everything in it go with the sandbox.`);
} finally {
  await lab.stop();
}
