import test from 'ava';
import { createServer, type Server } from 'node:net';
import { FETCH, freshStateDir, inNs, ip, nft, vpcctl } from '../helpers/sandbox.js';
import { SIM, buildSimInternet } from '../../src/sim/internet.js';
import { native } from '../../src/native.js';

const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const tcp = async (ns: string, dst: string, port: number) => (await (await native()).tcpConnect(ns, dst, port, 500)).ok;
const fetchFrom = (ns: string) => inNs(ns, [process.execPath, FETCH, `http://${SIM.serverAddress}/`]);
const forward = async () => (await (await native()).sysctlGet('', 'net/ipv4/ip_forward')).trim();

// A foreign table that vpcctl must never change: listed without counters.
const foreign = () => nft(['-s', 'list', 'table', 'inet', 'foreign']);
let foreignBefore = '';
let hostService: Server;

test.before(async () => {
  await buildSimInternet();
  nft(['add', 'table', 'inet', 'foreign']);
  nft(['add', 'chain', 'inet', 'foreign', 'passthru', '{ type filter hook forward priority 10; policy accept; }']);
  nft(['add', 'rule', 'inet', 'foreign', 'passthru', 'ip', 'daddr', '192.0.2.0/24', 'counter', 'accept']);
  foreignBefore = foreign();
  (await native()).sysctlSet('', 'net/ipv4/ip_forward', '0');
  // A service of the host itself, on its uplink address and everywhere else.
  // Probes connect and close at once: a reset is expected, not an error of the test.
  hostService = createServer((s) => { s.on('error', () => undefined); s.end('host secret\n'); }).listen(9999, '0.0.0.0');
});

test.after.always(() => { hostService?.close(); });

test.serial('create: public and private subnets; show-vpc names gateway, transit and uplink', async (t) => {
  t.is((await run('create-vpc', '--name', 'prod', '--cidr', '10.0.0.0/16')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'prod', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'prod', '--name', 'db', '--cidr', '10.0.2.0/24', '--type', 'private')).code, 0);
  t.is(await forward(), '1', 'ip_forward on while a VPC exists');
  const show = JSON.parse((await run('show-vpc', '--name', 'prod', '--json')).stdout);
  t.like(show.gateway, { uplink: SIM.uplink, transit: '100.64.0.0/30', hostAddress: '100.64.0.1', routerAddress: '100.64.0.2' });
  t.regex((await run('show-vpc', '--name', 'prod')).stdout, /uplink uplink0, transit 100\.64\.0\.0\/30/);
  t.is(foreign(), foreignBefore, 'the foreign table is untouched');
});

test.serial('a public host reaches the internet, seen from the uplink address', async (t) => {
  const r = fetchFrom('ns-prod-web');
  t.is(r.status, 0, r.stderr);
  t.is(JSON.parse(r.stdout).client, SIM.uplinkAddress, 'the server sees the masqueraded uplink address');
});

test.serial('a private host never does, even with a default route added by hand', async (t) => {
  t.not(fetchFrom('ns-prod-db').status, 0);
  ip(['route', 'add', 'default', 'via', '10.0.2.1'], 'ns-prod-db');
  t.not(fetchFrom('ns-prod-db').status, 0, 'the router drops it');
  t.false(await tcp('ns-prod-db', SIM.serverAddress, 80));
});

test.serial('subnets cannot open connections to the host; the host reaches public apps only', async (t) => {
  t.true(await tcp('', SIM.uplinkAddress, 9999), 'the host service listens');
  for (const ns of ['ns-prod-web', 'ns-prod-db']) {
    t.false(await tcp(ns, SIM.uplinkAddress, 9999), `${ns} -> host uplink address`);
    t.false(await tcp(ns, '100.64.0.1', 9999), `${ns} -> host transit address`);
  }
  t.is((await run('deploy-app', '--vpc', 'prod', '--subnet', 'web', '--port', '80')).code, 0);
  t.is((await run('deploy-app', '--vpc', 'prod', '--subnet', 'db', '--port', '80')).code, 0);
  t.true(await tcp('', '10.0.1.2', 80), 'host -> public app');
  t.false(await tcp('', '10.0.2.2', 80), 'host -> private app');
});

test.serial('two VPCs with the same CIDR reach the internet at the same time', async (t) => {
  t.is((await run('create-vpc', '--name', 'twin', '--cidr', '10.0.0.0/16')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'twin', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public')).code, 0);
  const [a, b] = await Promise.all(['ns-prod-web', 'ns-twin-web'].map(async (ns) => fetchFrom(ns)));
  t.is(a!.status, 0, a!.stderr);
  t.is(b!.status, 0, b!.stderr);
});

test.serial('an unknown uplink is bad input; no default route gives a VPC without internet, and a warning', async (t) => {
  const r = await run('create-vpc', '--name', 'x', '--cidr', '10.5.0.0/16', '--uplink', 'nope0');
  t.is(r.code, 2);
  t.regex(r.stderr, /uplink "nope0" does not exist/);
  ip(['route', 'del', 'default']);
  try {
    const w = await run('create-vpc', '--name', 'island', '--cidr', '10.6.0.0/16');
    t.is(w.code, 0);
    t.regex(w.stderr, /no internet gateway/);
    t.is(JSON.parse((await run('show-vpc', '--name', 'island', '--json')).stdout).gateway, null);
  } finally {
    ip(['route', 'add', 'default', 'via', SIM.upstreamAddress, 'dev', SIM.uplink]);
  }
});

test.serial('doctor explains a foreign FORWARD drop policy', async (t) => {
  nft(['add', 'table', 'ip', 'filter']);
  nft(['add', 'chain', 'ip', 'filter', 'FORWARD', '{ type filter hook forward priority 0; policy drop; }']);
  try {
    const r = await run('doctor');
    t.is(r.code, 0, r.stdout);
    t.regex(r.stdout, /table ip filter, chain FORWARD drops forwarded packets/);
    t.regex(r.stdout, /fix: iptables -I FORWARD -i vg-\+ -j ACCEPT/);
  } finally {
    nft(['delete', 'table', 'ip', 'filter']);
  }
});

test.serial('delete and cleanup-all leave the foreign table byte-for-byte, and restore ip_forward', async (t) => {
  t.is((await run('delete-vpc', '--name', 'twin')).code, 0);
  t.is(foreign(), foreignBefore);
  t.is((await run('cleanup-all')).code, 0);
  t.is(foreign(), foreignBefore);
  t.is(await forward(), '0');
  t.notRegex(nft(['list', 'ruleset']), /table inet vpcctl/);
  t.notRegex(ip(['link']), /vg-/);
});
