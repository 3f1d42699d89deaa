import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freshStateDir, ip, netnsList, nft, vpcctl } from '../helpers/sandbox.js';
import { checkRefusals, type Refusal } from '../helpers/refusals.js';
import { native } from '../../src/native.js';

// One sandbox per file: tests share the host table, so they run one at a time.
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const readState = () => JSON.parse(readFileSync(join(state, 'state.json'), 'utf8'));
const ping = async (ns: string, dst: string) => (await (await native()).ping(ns, dst, 500)).ok;

test.serial('create-vpc makes a tagged router namespace with forwarding on, and is idempotent', async (t) => {
  const r = await run('create-vpc', '--name', 'demo', '--cidr', '10.0.0.0/16');
  t.is(r.code, 0, r.stderr);
  t.true(netnsList().includes('vpcr-demo'));
  t.regex(ip(['link', 'show', 'lo'], 'vpcr-demo'), /alias vpcctl:router:demo/);
  t.is((await (await native()).sysctlGet('vpcr-demo', 'net/ipv4/ip_forward')).trim(), '1');
  t.regex(nft(['list', 'table', 'inet', 'vpcctl'], 'vpcr-demo'), /chain forward/);

  const again = await run('create-vpc', '--name', 'demo', '--cidr', '10.0.0.0/16');
  t.is(again.code, 0);
  t.regex(again.stdout, /nothing changed/);
  const other = await run('create-vpc', '--name', 'demo', '--cidr', '10.9.0.0/16');
  t.is(other.code, 2);
  t.regex(other.stderr, /already exists with cidr 10\.0\.0\.0\/16/);
});

test.serial('create-subnet: host namespace, eth0 at .2, gateway .1 on the router, /32 route, anti-spoofing', async (t) => {
  t.is((await run('create-subnet', '--vpc', 'demo', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'demo', '--name', 'db', '--cidr', '10.0.2.0/24', '--type', 'private')).code, 0);
  t.regex(ip(['-4', 'addr', 'show', 'eth0'], 'ns-demo-web'), /inet 10\.0\.1\.2\/24/);
  t.regex(ip(['route', 'show', 'default'], 'ns-demo-web'), /default via 10\.0\.1\.1 dev eth0/);
  t.regex(ip(['route'], 'ns-demo-db'), /10\.0\.0\.0\/16 via 10\.0\.2\.1 dev eth0/);
  t.notRegex(ip(['route'], 'ns-demo-db'), /default/);
  t.regex(ip(['-4', 'addr', 'show', 'sn-0a000100'], 'vpcr-demo'), /inet 10\.0\.1\.1\/32/);
  t.regex(ip(['route', 'show', '10.0.1.2'], 'vpcr-demo'), /10\.0\.1\.2 dev sn-0a000100/);
  t.regex(ip(['link', 'show', 'sn-0a000100'], 'vpcr-demo'), /alias vpcctl:subnet:demo\/web/);
  const n = await native();
  t.is((await n.sysctlGet('vpcr-demo', 'net/ipv4/conf/all/rp_filter')).trim(), '1');
  t.is((await n.sysctlGet('vpcr-demo', 'net/ipv4/conf/all/proxy_arp')).trim(), '1');
  t.true(await ping('ns-demo-web', '10.0.2.2'), 'subnets of one VPC reach each other');
  t.true(await ping('ns-demo-db', '10.0.1.2'));
  const again = await run('create-subnet', '--vpc', 'demo', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public');
  t.regex(again.stdout, /nothing changed/);
  t.is((await run('create-subnet', '--vpc', 'demo', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'private')).code, 2);
});

const invalid: Refusal[] = [
  ['malformed CIDR', ['create-vpc', '--name', 'x', '--cidr', '10.0.0/16'], /is not a CIDR/],
  ['VPC prefix too long', ['create-vpc', '--name', 'x', '--cidr', '10.5.0.0/29'], /\/29/],
  ['VPC prefix too short', ['create-vpc', '--name', 'x', '--cidr', '10.0.0.0/7'], /\/7/],
  ['bad VPC name', ['create-vpc', '--name', 'Bad_Name', '--cidr', '10.5.0.0/16'], /name "Bad_Name" is invalid/],
  ['host bits set', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.3.5/24'], /host bits set/],
  ['subnet /31', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.3.0/31'], /\/31/],
  ['subnet /32', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.3.1/32'], /\/32/],
  ['subnet outside VPC', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.7.1.0/24'], /not inside/],
  ['overlapping subnets', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.1.128/25'], /overlaps subnet "web"/],
  ['unknown VPC', ['create-subnet', '--vpc', 'nope', '--name', 'x', '--cidr', '10.0.3.0/24'], /vpc "nope" does not exist/],
  ['unknown subnet', ['delete-subnet', '--vpc', 'demo', '--name', 'nope'], /subnet "nope" does not exist/],
  ['bad type', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.3.0/24', '--type', 'dmz'], /type "dmz" is invalid/],
  ['bad subnet name', ['create-subnet', '--vpc', 'demo', '--name', '-x', '--cidr', '10.0.3.0/24'], /subnet name "-x" is invalid/],
];

test.serial('bad input: one-line error, exit 2, state and kernel exactly as they were', async (t) => {
  await checkRefusals(t, run, invalid, () => ({ ns: netnsList(), state: readFileSync(join(state, 'state.json'), 'utf8'), host: nft(['list', 'ruleset']) }));
});

test.serial('VPCs are isolated, also with overlapping CIDRs', async (t) => {
  t.is((await run('create-vpc', '--name', 'twin', '--cidr', '10.0.0.0/16')).code, 0, 'same CIDR as demo is allowed');
  t.is((await run('create-subnet', '--vpc', 'twin', '--name', 'app', '--cidr', '10.0.3.0/24', '--type', 'public')).code, 0);
  t.is((await run('create-vpc', '--name', 'far', '--cidr', '10.9.0.0/16')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'far', '--name', 'app', '--cidr', '10.9.1.0/24', '--type', 'public')).code, 0);
  t.true(await ping('ns-twin-app', '10.0.3.1'), 'its own gateway answers');
  t.false(await ping('ns-twin-app', '10.0.1.2'), 'overlapping VPC: demo/web unreachable');
  t.false(await ping('ns-demo-web', '10.0.3.2'));
  t.false(await ping('ns-far-app', '10.0.1.2'), 'disjoint VPCs do not reach each other through the host');
  t.false(await ping('ns-demo-web', '10.9.1.2'));
});

test.serial('a failure mid-command is rolled back: injected fault at each step', async (t) => {
  const before = { ns: netnsList(), state: readFileSync(join(state, 'state.json'), 'utf8'), routes: ip(['route'], 'vpcr-demo') };
  for (const k of [1, 3, 6, 7]) { // 7 is the last op (the router table)
    const r = await vpcctl(state, ['create-subnet', '--vpc', 'demo', '--name', 'new', '--cidr', '10.0.9.0/24', '--type', 'private'], { VPCCTL_FAULT_AT: String(k) });
    t.is(r.code, 1, `fault at ${k}`);
    t.regex(r.stderr, /injected fault/);
    t.deepEqual(netnsList(), before.ns, `fault at ${k}: no namespace left`);
    t.is(ip(['route'], 'vpcr-demo'), before.routes, `fault at ${k}: router routes as before`);
    t.is(readFileSync(join(state, 'state.json'), 'utf8'), before.state, `fault at ${k}: state as before`);
  }
});

test.serial('status detects a namespace deleted behind vpcctl\'s back; create repairs it', async (t) => {
  t.is((await run('status')).code, 0);
  ip(['netns', 'del', 'ns-demo-db']);
  const r = await run('status');
  t.is(r.code, 1);
  t.regex(r.stdout, /missing\s+netns ns-demo-db/);
  t.is((await run('create-vpc', '--name', 'demo', '--cidr', '10.0.0.0/16')).code, 0);
  t.is((await run('status')).code, 0, 'the next change repaired the subnet');
  t.true(await ping('ns-demo-db', '10.0.1.2'));
});

test.serial('list-vpcs and show-vpc, as tables and as JSON', async (t) => {
  const list = JSON.parse((await run('list-vpcs', '--json')).stdout);
  t.deepEqual(list.map((v: { name: string }) => v.name).sort(), ['demo', 'far', 'twin']);
  const show = JSON.parse((await run('show-vpc', '--name', 'demo', '--json')).stdout);
  t.deepEqual(show.subnetDetails.map((s: { name: string; host: string }) => [s.name, s.host]), [['web', '10.0.1.2'], ['db', '10.0.2.2']]);
  t.regex((await run('list-vpcs')).stdout, /demo.*10\.0\.0\.0\/16/);
  t.regex((await run('show-vpc', '--name', 'demo')).stdout, /web.*10\.0\.1\.0\/24.*public/);
});

test.serial('delete-subnet and delete-vpc remove only what they name', async (t) => {
  t.is((await run('delete-subnet', '--vpc', 'demo', '--name', 'db')).code, 0);
  t.false(netnsList().includes('ns-demo-db'));
  t.is((await run('delete-vpc', '--name', 'twin')).code, 0);
  const ns = netnsList();
  t.false(ns.includes('vpcr-twin'));
  t.false(ns.includes('ns-twin-app'));
  t.true(ns.includes('vpcr-demo') && ns.includes('ns-demo-web') && ns.includes('ns-far-app'));
  t.true(await ping('ns-demo-web', '10.0.1.1'));
});

test.serial('20 concurrent create-subnet calls all land, and the state matches the kernel', async (t) => {
  const calls = Array.from({ length: 20 }, (_, i) =>
    run('create-subnet', '--vpc', 'demo', '--name', `c${i}`, '--cidr', `10.0.${100 + i}.0/24`, '--type', i % 2 ? 'public' : 'private'));
  const results = await Promise.all(calls);
  for (const r of results) t.is(r.code, 0, r.stderr);
  const subnets = Object.keys(readState().vpcs.demo.subnets);
  t.is(subnets.filter((s) => s.startsWith('c')).length, 20);
  const ns = netnsList();
  for (let i = 0; i < 20; i++) t.true(ns.includes(`ns-demo-c${i}`));
  t.is((await run('status')).code, 0);
});

test.serial('cleanup-all removes everything tagged, even without the state file, and twice is fine', async (t) => {
  ip(['netns', 'add', 'ns-foreign']); // not vpcctl's: must survive
  rmSync(join(state, 'state.json'));
  const r = await run('cleanup-all');
  t.is(r.code, 0, r.stderr);
  t.deepEqual(netnsList(), ['ns-foreign']);
  t.notRegex(ip(['link']), /vg-/);
  t.notRegex(nft(['list', 'ruleset']), /table inet vpcctl/);
  t.is((await run('cleanup-all')).code, 0);
  ip(['netns', 'del', 'ns-foreign']);
});
