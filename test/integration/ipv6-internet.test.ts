import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { ip, freshStateDir, linkGone, nft, vpcctl } from '../helpers/sandbox.js';
import { Children, hostV6, simInternet6 } from '../helpers/ipv6.js';
import { SIM } from '../../src/sim/internet.js';
import { native } from '../../src/native.js';

// The IPv6 side of the simulated internet (2001:db8::/32) and dual-stack VPCs' way to it (issue 17).
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const forward6 = async () => (await (await native()).sysctlGet('', 'net/ipv6/conf/all/forwarding')).trim();
const PORT = 8080;
const ACCEPT_RA = `/proc/sys/net/ipv6/conf/${SIM.uplink}/accept_ra`;
const readAcceptRa = () => readFileSync(ACCEPT_RA, 'utf8').trim();
const writeAcceptRa = (v: string) => writeFileSync(ACCEPT_RA, v);

/** A server of the simulated internet on [::]:8080 that answers each client with the address it sees. */
const children = new Children();
const fetch6 = simInternet6(test, PORT, children);


let before: ReturnType<typeof hostV6>;

test.serial('a host whose IPv6 default route comes from router advertisements (accept_ra=1) is not cut off: refused, exit 2, nothing changed', async (t) => {
  const stateBefore = (await run('list-vpcs', '-o', 'json')).stdout;
  // The simulated uplink's default route as SLAAC would have made it.
  ip(['-6', 'route', 'replace', '::/0', 'via', SIM.upstreamAddress6, 'dev', SIM.uplink, 'proto', 'ra']);
  try {
    t.regex(ip(['-6', 'route', 'show', 'default']), /proto ra/);
    t.is(readAcceptRa(), '1');
    const r = await run('create-vpc', '--name', 'ra6', '--cidr', '10.9.0.0/16', '--ipv6-cidr', 'fd00:69::/56');
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /^vpcctl: IPv6 internet needs the host's IPv6 forwarding on, .* router advertisements on uplink0 \(accept_ra=1\).*Set net\.ipv6\.conf\.uplink0\.accept_ra=2 first/);
    t.is(r.stderr.trim().split('\n').length, 1);
    t.is(await forward6(), '0');
    t.is((await run('list-vpcs', '-o', 'json')).stdout, stateBefore);
    t.deepEqual(ip(['netns', 'list']).split('\n').filter((l) => l.includes('ra6')), []);
    // accept_ra=2 keeps the advertisements coming with forwarding on: allowed.
    writeAcceptRa('2');
    const ok = await run('create-vpc', '--name', 'ra6', '--cidr', '10.9.0.0/16', '--ipv6-cidr', 'fd00:69::/56');
    t.is(ok.code, 0, ok.stderr);
    t.is(await forward6(), '1');
    t.is((await run('delete-vpc', '--name', 'ra6', '--yes')).code, 0);
    t.is(await forward6(), '0');
  } finally {
    writeAcceptRa('1');
    ip(['-6', 'route', 'replace', '::/0', 'via', SIM.upstreamAddress6, 'dev', SIM.uplink, 'proto', 'static']);
  }
});

test.serial('a host IPv6 route into the range the gateway links take their /126s from is not shadowed: refused, exit 2, nothing changed', async (t) => {
  const stateBefore = (await run('list-vpcs', '-o', 'json')).stdout;
  ip(['-6', 'route', 'add', 'fd7f:ffff:ffff:ffff::/64', 'via', SIM.upstreamAddress6, 'dev', SIM.uplink]);
  try {
    const r = await run('create-vpc', '--name', 'pool6', '--cidr', '10.9.0.0/16', '--ipv6-cidr', 'fd00:69::/56');
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /^vpcctl: the host has an IPv6 route to fd7f:ffff:ffff:ffff::\/64 on uplink0, inside fd7f:ffff:ffff:ffff::\/64, .*refusing to shadow it$/m);
    t.is(await forward6(), '0');
    t.is((await run('list-vpcs', '-o', 'json')).stdout, stateBefore);
    t.regex(ip(['-6', 'route', 'show', 'fd7f:ffff:ffff:ffff::/64']), /via 2001:db8:ffff::fe dev uplink0/, 'the route is as it was');
    // An IPv4-only VPC takes nothing of that range: allowed.
    t.is((await run('create-vpc', '--name', 'pool4', '--cidr', '10.9.0.0/16')).code, 0);
    t.is((await run('delete-vpc', '--name', 'pool4', '--yes')).code, 0);
  } finally {
    ip(['-6', 'route', 'del', 'fd7f:ffff:ffff:ffff::/64', 'via', SIM.upstreamAddress6, 'dev', SIM.uplink]);
  }
});

test.serial('public subnets reach the IPv6 internet (NAT66 at the host), private ones do not', async (t) => {
  // The IPv4-only VPC deleted above: its gateway link (with the kernel's IPv6 on the host's end) goes
  // when the kernel's cleanup destroys its router namespace, a moment after delete-vpc returned.
  t.true(await linkGone(/^vg-/), "the deleted VPC's gateway link is gone");
  before = hostV6();
  t.is(await forward6(), '0');
  let r = await run('create-vpc', '--name', 'net6', '--cidr', '10.0.0.0/16', '--ipv6-cidr', 'fd00:60::/56');
  t.is(r.code, 0, r.stderr);
  t.is(await forward6(), '1', 'IPv6 forwarding on while a dual-stack VPC has a gateway');
  for (const [name, cidr, type] of [['web', '10.0.1.0/24', 'public'], ['db', '10.0.2.0/24', 'private']]) {
    r = await run('create-subnet', '--vpc', 'net6', '--name', name!, '--cidr', cidr!, '--type', type!);
    t.is(r.code, 0, r.stderr);
  }
  r = await run('create-subnet', '--vpc', 'net6', '--name', 'worker', '--cidr', '10.0.3.0/24', '--type', 'private', '--egress', 'nat');
  t.is(r.code, 0, r.stderr);
  t.is(fetch6('ns-net6-web'), SIM.uplinkAddress6, 'the server sees the uplink\'s IPv6 address');
  t.is(fetch6('ns-net6-db'), '', 'a private subnet has no IPv6 internet');
  ip(['-6', 'route', 'add', '::/0', 'via', 'fd00:60:0:1::1', 'dev', 'eth0'], 'ns-net6-db');
  t.is(fetch6('ns-net6-db'), '', 'not even with a default route added by hand: the router drops it');
  t.regex(nft(['list', 'table', 'inet', 'vpcctl'], 'vpcr-net6'), /private subnets have no internet \(IPv6\)/);
  t.is((await run('status')).code, 0);
  // The router's gateway link has vpcctl's fixed link-local only (the kernel makes none in a router).
  t.deepEqual([...ip(['-6', 'addr', 'show', 'igw0'], 'vpcr-net6').matchAll(/inet6 (fe80::\S+)/g)].map((m) => m[1]), ['fe80::2/64']);
});

test.serial('egress-only gateway: a private subnet with a NAT gateway opens IPv6 connections out, nothing comes in', async (t) => {
  t.is(fetch6('ns-net6-worker'), SIM.uplinkAddress6, 'out, and the replies back');
  // A neighbour that routes the VPC's prefix to this host, and a host route to the router (made by hand):
  // still no connection from outside reaches the subnet.
  ip(['-6', 'route', 'add', 'fd00:60::/56', 'via', SIM.uplinkAddress6], SIM.ns);
  const vg = ip(['-o', 'link', 'show']).split('\n').map((l) => /^\d+: (vg-[0-9a-f]+)@/.exec(l)?.[1]).find(Boolean)!;
  ip(['-6', 'route', 'add', 'fd00:60::/56', 'via', 'fd7f:ffff:ffff:ffff::6440:2', 'dev', vg]);
  t.is(fetch6(SIM.ns, 'fd00:60:0:2::2'), '', 'from the internet to the egress-only subnet: nothing');
  ip(['-6', 'route', 'del', 'fd00:60::/56', 'dev', vg]);
  ip(['-6', 'route', 'del', 'fd00:60::/56'], SIM.ns);

  t.is((await run('set-egress', '--vpc', 'net6', '--subnet', 'worker', 'none')).code, 0);
  t.notRegex(ip(['-6', 'route'], 'ns-net6-worker'), /default/, 'its IPv6 default route goes with the NAT gateway');
  t.is(fetch6('ns-net6-worker'), '');
  t.is((await run('set-egress', '--vpc', 'net6', '--subnet', 'worker', 'nat')).code, 0);
  t.is(fetch6('ns-net6-worker'), SIM.uplinkAddress6);
});

test.serial('teardown: IPv6 forwarding back as it was, no IPv6 route or address left on the host', async (t) => {
  t.is((await run('delete-vpc', '--name', 'net6', '--yes')).code, 0);
  t.is(await forward6(), '0');
  // The gateway link goes with the router's namespace, which the kernel destroys in the background.
  for (let i = 0; i < 50 && /vg-/.test(ip(['-o', 'link'])); i++) await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(hostV6(), before);
});
