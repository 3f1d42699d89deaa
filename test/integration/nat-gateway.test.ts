import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FETCH, freshStateDir, inNs, ip, nft, vpcctl } from '../helpers/sandbox.js';
import { SIM, buildSimInternet } from '../../src/sim/internet.js';
import { native } from '../../src/native.js';

/**
 * Issue 16 §1: a private subnet with `egress: nat` reaches the internet
 * (outbound connections and their replies) and nothing outside the VPC
 * opens a connection to it: not the internet, not the host, not a
 * neighbour on the uplink that routes the VPC's CIDR to the host. Public
 * subnets take new connections from the host itself only (and on
 * published ports): the same neighbour reached a public app before.
 */
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const tcp = async (ns: string, dst: string, port: number) => (await (await native()).tcpConnect(ns, dst, port, 500)).ok;
const fetchFrom = (ns: string) => inNs(ns, [process.execPath, FETCH, `http://${SIM.serverAddress}/`]);
const stateText = () => readFileSync(join(state, 'state.json'), 'utf8');
const ruleset = () => nft(['-s', 'list', 'ruleset']);

test.before(async () => {
  await buildSimInternet();
  // The neighbour: the simulated internet routes the VPC's CIDR to the host's uplink address.
  ip(['route', 'add', '10.0.0.0/16', 'via', SIM.uplinkAddress], SIM.ns);
});

test.serial('create-subnet --egress nat: a private subnet reaches the internet, seen from the uplink address', async (t) => {
  t.is((await run('create-vpc', '--name', 'prod', '--cidr', '10.0.0.0/16')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'prod', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public')).code, 0);
  const r = await run('create-subnet', '--vpc', 'prod', '--name', 'app', '--cidr', '10.0.2.0/24', '--type', 'private', '--egress', 'nat');
  t.is(r.code, 0, r.stderr);
  t.is((await run('create-subnet', '--vpc', 'prod', '--name', 'db', '--cidr', '10.0.3.0/24', '--type', 'private')).code, 0);
  const f = fetchFrom('ns-prod-app');
  t.is(f.status, 0, f.stderr);
  t.is(JSON.parse(f.stdout).client, SIM.uplinkAddress, 'the server sees the masqueraded uplink address');
  t.regex(ip(['route'], 'ns-prod-app'), /default via 10\.0\.2\.1 dev eth0/);
});

test.serial('a private subnet without nat (the default) still has no internet', async (t) => {
  t.not(fetchFrom('ns-prod-db').status, 0);
  t.false(await tcp('ns-prod-db', SIM.serverAddress, 80));
});

test.serial('nothing from outside opens a connection to a nat subnet: not the internet, not a neighbour with a route, not the host', async (t) => {
  for (const s of ['web', 'app', 'db']) t.is((await run('deploy-app', '--vpc', 'prod', '--subnet', s, '--port', '80')).code, 0);
  t.true(await tcp('ns-prod-app', '10.0.2.2', 80), 'the app listens');
  t.false(await tcp(SIM.ns, '10.0.2.2', 80), 'neighbour with a route to the VPC -> nat subnet');
  t.false(await tcp(SIM.ns, '10.0.3.2', 80), 'neighbour -> private subnet');
  t.false(await tcp('', '10.0.2.2', 80), 'host -> nat subnet');
  // Even when the host routes the subnet into the gateway by hand: the router drops it.
  const show = JSON.parse((await run('show-vpc', '--name', 'prod', '--json')).stdout);
  ip(['route', 'add', '10.0.2.0/24', 'via', show.gateway.routerAddress, 'dev', show.gateway.hostLink]);
  try {
    t.false(await tcp('', '10.0.2.2', 80), 'host -> nat subnet with a route by hand');
  } finally {
    ip(['route', 'del', '10.0.2.0/24', 'dev', show.gateway.hostLink]);
  }
  // The nat subnet's own connections still work while inbound is refused.
  t.is(fetchFrom('ns-prod-app').status, 0);
});

test.serial('public subnets: the host opens connections to them, a neighbour beyond the host does not', async (t) => {
  t.true(await tcp('', '10.0.1.2', 80), 'host -> public app');
  t.false(await tcp(SIM.ns, '10.0.1.2', 80), 'neighbour with a route to the VPC -> public app (reachable before issue 16)');
  t.is(fetchFrom('ns-prod-web').status, 0, 'the public subnet still reaches the internet');
});

test.serial('set-egress changes the way out in place: the app keeps running', async (t) => {
  const pidOf = async () => JSON.parse((await run('list-apps', '--vpc', 'prod', '--json')).stdout).find((a: { subnet: string }) => a.subnet === 'app').pid;
  const pid = await pidOf();
  let r = await run('set-egress', '--vpc', 'prod', '--subnet', 'app', 'none');
  t.is(r.code, 0, r.stderr);
  t.not(fetchFrom('ns-prod-app').status, 0, 'no internet with egress none');
  t.notRegex(ip(['route'], 'ns-prod-app'), /default/);
  r = await run('set-egress', '--vpc', 'prod', '--subnet', 'db', 'nat');
  t.is(r.code, 0, r.stderr);
  t.is(fetchFrom('ns-prod-db').status, 0, 'db reaches the internet with nat');
  r = await run('set-egress', '--vpc', 'prod', '--subnet', 'app', 'nat');
  t.is(r.code, 0, r.stderr);
  t.is(fetchFrom('ns-prod-app').status, 0);
  t.is(await pidOf(), pid, 'the same app process');
  t.true(await tcp('ns-prod-app', '10.0.2.2', 80));
  t.is((await run('set-egress', '--vpc', 'prod', '--subnet', 'db', 'none')).code, 0);
  t.not(fetchFrom('ns-prod-db').status, 0);
});

test.serial('bad egress input: exit 2, state and kernel as before', async (t) => {
  const before = [stateText(), ruleset(), ip(['route'], 'ns-prod-web')];
  const cases: string[][] = [
    ['create-subnet', '--vpc', 'prod', '--name', 'x', '--cidr', '10.0.9.0/24', '--type', 'public', '--egress', 'nat'],
    ['create-subnet', '--vpc', 'prod', '--name', 'x', '--cidr', '10.0.9.0/24', '--type', 'private', '--egress', 'open'],
    ['set-egress', '--vpc', 'prod', '--subnet', 'web', 'nat'],
    ['set-egress', '--vpc', 'prod', '--subnet', 'app', 'everything'],
    ['set-egress', '--vpc', 'prod', '--subnet', 'nope', 'nat'],
    ['create-subnet', '--vpc', 'prod', '--name', 'app', '--cidr', '10.0.2.0/24', '--type', 'private'],
  ];
  for (const args of cases) {
    const r = await run(...args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  t.regex((await run(...cases[0]!)).stderr, /applies to private subnets only/);
  t.regex((await run(...cases[5]!)).stderr, /egress nat/, 'the conflict names the existing egress');
  t.deepEqual([stateText(), ruleset(), ip(['route'], 'ns-prod-web')], before);
});

test.serial('show-vpc and graph show the egress; status covers it as drift and a command repairs it', async (t) => {
  const show = JSON.parse((await run('show-vpc', '--name', 'prod', '--json')).stdout);
  const egress = Object.fromEntries(show.subnetDetails.map((s: { name: string; egress: string }) => [s.name, s.egress]));
  t.deepEqual(egress, { web: 'internet gateway', app: 'nat', db: 'none' });
  t.regex((await run('show-vpc', '--name', 'prod')).stdout, /EGRESS[\s\S]*app[\s│]+10\.0\.2\.0\/24[\s│]+private[\s│]+nat\s/);
  t.regex((await run('graph', '--format', 'mermaid')).stdout, /app<\/b><br\/>10\.0\.2\.0\/24<br\/>private NAT/);
  t.is((await run('status')).code, 0);
  ip(['route', 'del', 'default'], 'ns-prod-app');
  const s = await run('status');
  t.is(s.code, 1);
  t.regex(s.stdout, /drift\s+subnet prod\/app: .*default/);
  t.is((await run('create-subnet', '--vpc', 'prod', '--name', 'app', '--cidr', '10.0.2.0/24', '--type', 'private', '--egress', 'nat')).code, 0);
  t.is((await run('status')).code, 0, 'repaired');
  t.is(fetchFrom('ns-prod-app').status, 0);
});

test.serial('topology: egress nat applies, egress on a public subnet is refused with its path', async (t) => {
  const file = join(state, 'topo.json');
  const topo = (egress: string, type = 'private') => ({
    vpcs: [{ name: 'file', cidr: '10.8.0.0/16', subnets: [{ name: 'p', cidr: '10.8.1.0/24', type, egress }] }],
  });
  writeFileSync(file, JSON.stringify(topo('nat', 'public')));
  const bad = await run('apply', '-f', file);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /vpcs\[0\]\.subnets\[0\]\.egress: egress nat applies to private subnets only/);
  t.notRegex(ip(['netns', 'list']), /vpcr-file/);
  writeFileSync(file, JSON.stringify(topo('nat')));
  t.is((await run('apply', '-f', file)).code, 0);
  t.is(fetchFrom('ns-file-p').status, 0);
  t.is((await run('apply', '-f', file)).stdout.trim(), '0 changes');
  writeFileSync(file, JSON.stringify(topo('none')));
  const r = await run('apply', '-f', file);
  t.regex(r.stdout, /set egress none on file\/p/);
  t.not(fetchFrom('ns-file-p').status, 0);
  t.is((await run('cleanup-all')).code, 0);
});
