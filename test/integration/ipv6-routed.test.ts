import test from 'ava';
import { freshStateDir, ip, linkGone, nft, vpcctl } from '../helpers/sandbox.js';
import { Children, hostV6, simInternet6, tcp } from '../helpers/ipv6.js';
import { SIM } from '../../src/sim/internet.js';

// Routed IPv6 (issue 17): a VPC with a global prefix inside the one the simulated provider routes
// to the host (SIM.delegated6) reaches the IPv6 internet without NAT66, by its subnets' own addresses.
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const PORT = 8080;
const PREFIX = '2001:db8:8000::/56';
const WEB = '2001:db8:8000:1::2';
const WORKER = '2001:db8:8000:2::2';

/** A server of the simulated internet on [::]:8080 that answers each client with the address it sees. */
const children = new Children();
const fetch6 = simInternet6(test, PORT, children);

/**
 * fetch6 where an answer is expected, tried a few times: a gateway link made a moment ago carries
 * nothing until the kernel's link watcher (batched, up to a second) has seen its carrier, and the
 * neighbour solicitation lost meanwhile is resent only a second later.
 */
async function fetchSoon(ns: string, to?: string): Promise<string> {
  for (let i = 0; i < 8; i++) {
    const got = fetch6(ns, to);
    if (got) return got;
    await new Promise((r) => setTimeout(r, 250));
  }
  return '';
}
/** The host's routes to `prefix` (`ip -6 route show` lines). */
const hostRoutes = (prefix: string) => ip(['-6', 'route', 'show', prefix]).trim();

let before: ReturnType<typeof hostV6>;

test.serial('a global prefix is routed: the server sees the subnet\'s own address, and the host routes the prefix to the router', async (t) => {
  before = hostV6();
  let r = await run('create-vpc', '--name', 'r6', '--cidr', '10.0.0.0/16', '--ipv6-cidr', PREFIX);
  t.is(r.code, 0, r.stderr);
  r = await run('create-subnet', '--vpc', 'r6', '--name', 'web', '--cidr', '10.0.1.0/24', '--ipv6-cidr', '2001:db8:8000:1::/64', '--type', 'public');
  t.is(r.code, 0, r.stderr);
  r = await run('create-subnet', '--vpc', 'r6', '--name', 'worker', '--cidr', '10.0.2.0/24', '--ipv6-cidr', '2001:db8:8000:2::/64', '--type', 'private', '--egress', 'nat');
  t.is(r.code, 0, r.stderr);
  r = await run('create-subnet', '--vpc', 'r6', '--name', 'db', '--cidr', '10.0.3.0/24', '--ipv6-cidr', '2001:db8:8000:3::/64', '--type', 'private');
  t.is(r.code, 0, r.stderr);
  r = await run('create-subnet', '--vpc', 'r6', '--name', 'v6only', '--ipv6-cidr', '2001:db8:8000:4::/64', '--type', 'public');
  t.is(r.code, 0, r.stderr);

  t.regex(hostRoutes(PREFIX), /^2001:db8:8000::\/56 via fd7f:ffff:ffff:ffff::6440:2 dev vg-[0-9a-f]+/);
  t.is(await fetchSoon('ns-r6-web'), WEB, 'no NAT66: the server sees the public subnet\'s own address');
  t.is(await fetchSoon('ns-r6-worker'), WORKER, 'the egress-only gateway: out by its own address, and the replies back');
  t.is(fetch6('ns-r6-db'), '', 'a private subnet without NAT gateway has no IPv6 internet');
  t.is(await fetchSoon('ns-r6-v6only'), '2001:db8:8000:4::2', 'an IPv6-only subnet too');
  // Nothing of this VPC is translated, at the router or at the host.
  t.notRegex(nft(['list', 'table', 'inet', 'vpcctl'], 'vpcr-r6'), /snat ip6/);
  t.notRegex(nft(['list', 'table', 'inet', 'vpcctl']), /ip6 saddr .* masquerade/);
  t.regex((await run('show-vpc', 'r6')).stdout, /^IPv6 internet: routed, no NAT66 \(a global prefix: the host routes 2001:db8:8000::\/56 to the router\)$/m);
  t.is(JSON.parse((await run('show-vpc', 'r6', '-o', 'json')).stdout).gateway.ipv6, 'routed');
  t.is((await run('status')).code, 0);
});

test.serial('nothing from the internet opens a connection into a routed VPC, public or egress-only', async (t) => {
  // The provider routes the prefix to the host (SIM.delegated6): packets arrive, and are dropped.
  t.regex(ip(['-6', 'route', 'show', SIM.delegated6], SIM.ns), /via 2001:db8:ffff::1/);
  await children.listen('ns-r6-web', [PORT]);
  await children.listen('ns-r6-worker', [PORT]);
  t.false(await tcp(SIM.ns, WEB, PORT), 'into the public subnet: nothing (as in IPv4: only published ports)');
  t.false(await tcp(SIM.ns, WORKER, PORT), 'into the egress-only subnet: nothing');
  t.regex(nft(['list', 'table', 'inet', 'vpcctl']), /nothing beyond the host opens connections into a VPC/);
  // The listeners are up: the host itself reaches the public one (as it reaches public subnets over IPv4),
  // and the router keeps it from the private one.
  t.true(await tcp('', WEB, PORT));
  t.false(await tcp('', WORKER, PORT));
  t.true(await tcp('ns-r6-web', WORKER, PORT), 'the VPC itself reaches it');
});

test.serial('the host route is checked like every other: deleted by hand, status says so and the next command on the VPC puts it back', async (t) => {
  const line = hostRoutes(PREFIX);
  const dev = /dev (vg-[0-9a-f]+)/.exec(line)![1]!;
  ip(['-6', 'route', 'del', PREFIX, 'dev', dev]);
  const s = await run('status');
  t.is(s.code, 1, s.stdout);
  t.regex(s.stdout, /drift +vpc r6: route 2001:db8:8000::\/56 via fd7f:ffff:ffff:ffff::6440:2 dev vg-[0-9a-f]+ in the host namespace is missing/);
  const r = await run('create-subnet', '--vpc', 'r6', '--name', 'extra', '--cidr', '10.0.9.0/24', '--ipv6-cidr', '2001:db8:8000:9::/64');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /repair vpc r6: /);
  t.is(hostRoutes(PREFIX), line);
  t.is((await run('status')).code, 0);
  t.is(await fetchSoon('ns-r6-web'), WEB);
  t.is((await run('delete-subnet', '--vpc', 'r6', '--name', 'extra')).code, 0);

  // Taken by a route on another link: vpcctl never replaces a route it does not own, so status says
  // what would repair it, every command on the VPC refuses (exit 1, rolled back), and once the owner
  // removes that route the next command puts vpcctl's back.
  ip(['-6', 'route', 'replace', PREFIX, 'via', SIM.upstreamAddress6, 'dev', SIM.uplink]);
  const held = await run('status');
  t.is(held.code, 1);
  t.regex(held.stdout, /^ {10}a route on uplink0 holds 2001:db8:8000::\/56 in the host namespace, and vpcctl never replaces a route that is not on its own link: remove it if it is not needed \('ip -6 route del 2001:db8:8000::\/56'\), then any command on the VPC puts vpcctl's back$/m);
  t.regex(JSON.parse((await run('status', '--json')).stdout).drift[0].fix, /vpcctl never replaces a route/);
  const refused = await run('create-subnet', '--vpc', 'r6', '--name', 'extra', '--cidr', '10.0.9.0/24', '--ipv6-cidr', '2001:db8:8000:9::/64');
  t.is(refused.code, 1);
  t.regex(refused.stderr, /refusing to replace a route that is not this one's/);
  t.regex(hostRoutes(PREFIX), /via 2001:db8:ffff::fe dev uplink0/, 'the foreign route is left as it is');
  ip(['-6', 'route', 'del', PREFIX]);
  // A blackhole in its place (missing, to the verify, which reads unicast routes): the same.
  ip(['-6', 'route', 'replace', 'blackhole', PREFIX]);
  const blackholed = await run('status');
  t.regex(blackholed.stdout, /^ {10}a blackhole route holds 2001:db8:8000::\/56 in the host namespace, .*\('ip -6 route del blackhole 2001:db8:8000::\/56'\)/m);
  const refused2 = await run('create-subnet', '--vpc', 'r6', '--name', 'extra', '--cidr', '10.0.9.0/24', '--ipv6-cidr', '2001:db8:8000:9::/64');
  t.is(refused2.code, 1);
  t.regex(refused2.stderr, /a route to 2001:db8:8000::\/56 is there that is not a unicast route .*refusing to replace/);
  ip(['-6', 'route', 'del', 'blackhole', PREFIX]);
  t.is((await run('create-subnet', '--vpc', 'r6', '--name', 'extra', '--cidr', '10.0.9.0/24', '--ipv6-cidr', '2001:db8:8000:9::/64')).code, 0);
  t.is(hostRoutes(PREFIX), line);
  t.is((await run('delete-subnet', '--vpc', 'r6', '--name', 'extra')).code, 0);
  t.is((await run('status')).code, 0);
});

test.serial('a routed prefix must not take a host route or another VPC\'s routed prefix: refused, exit 2, nothing changed', async (t) => {
  const stateBefore = (await run('list-vpcs', '-o', 'json')).stdout;
  const routesBefore = ip(['-6', 'route', 'show', 'table', 'all']);
  // Another VPC inside the first one's prefix.
  let r = await run('create-vpc', '--name', 'twin', '--cidr', '10.1.0.0/16', '--ipv6-cidr', '2001:db8:8000::/60');
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /^vpcctl: vpc "twin" IPv6 2001:db8:8000::\/60 \(a global prefix, routed by the host\) overlaps vpc "r6" \(2001:db8:8000::\/56\), which the host routes already: choose another prefix$/m);
  // The uplink's own network (a proto kernel route).
  r = await run('create-vpc', '--name', 'twin', '--cidr', '10.1.0.0/16', '--ipv6-cidr', '2001:db8:ffff::/56');
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /overlaps the host route 2001:db8:ffff::\/64 dev uplink0 \(proto kernel\): choose another prefix$/m);
  // A foreign static route (a VPN, another tool's network).
  ip(['-6', 'route', 'add', '2001:db8:9000::/48', 'via', SIM.upstreamAddress6, 'dev', SIM.uplink]);
  try {
    r = await run('create-vpc', '--name', 'twin', '--cidr', '10.1.0.0/16', '--ipv6-cidr', '2001:db8:9000::/56');
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /overlaps the host route 2001:db8:9000::\/48 via 2001:db8:ffff::fe dev uplink0/);
    t.is(r.stderr.trim().split('\n').length, 1);
    t.is((await run('list-vpcs', '-o', 'json')).stdout, stateBefore);
    t.regex(hostRoutes('2001:db8:9000::/48'), /via 2001:db8:ffff::fe dev uplink0/, 'the foreign route is as it was');
  } finally {
    ip(['-6', 'route', 'del', '2001:db8:9000::/48', 'via', SIM.upstreamAddress6, 'dev', SIM.uplink]);
  }
  // What the lookup reads before main (a blackhole in `local`), and an address of the host's that
  // has no route yet (its link is down).
  ip(['-6', 'route', 'add', 'blackhole', '2001:db8:b000::/48', 'table', 'local']);
  ip(['link', 'add', 'dv0', 'type', 'veth', 'peer', 'name', 'dv1']);
  ip(['-6', 'addr', 'add', '2001:db8:d100::1/64', 'dev', 'dv0']);
  try {
    r = await run('create-vpc', '--name', 'twin', '--cidr', '10.1.0.0/16', '--ipv6-cidr', '2001:db8:b000::/56');
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /overlaps the host route blackhole 2001:db8:b000::\/48 dev lo \(table local, proto boot\)/);
    r = await run('create-vpc', '--name', 'twin', '--cidr', '10.1.0.0/16', '--ipv6-cidr', '2001:db8:d100::/56');
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /overlaps the host's own address 2001:db8:d100::1 on dv0: choose another prefix$/m);
  } finally {
    ip(['link', 'del', 'dv0']);
    ip(['-6', 'route', 'del', 'blackhole', '2001:db8:b000::/48', 'table', 'local']);
  }
  t.is(ip(['-6', 'route', 'show', 'table', 'all']), routesBefore);
  t.deepEqual(ip(['netns', 'list']).split('\n').filter((l) => l.includes('twin')), []);
  // doctor lists what a routed prefix may not take; vpcctl's own route is not one of them.
  const doctor = (await run('doctor')).stdout;
  t.regex(doctor, /new routed \(global\) IPv6 prefixes must not overlap:[\s\S]*route 2001:db8:ffff::\/64 dev uplink0 \(proto kernel\)[\s\S]*address 2001:db8:ffff::1 on uplink0/);
  t.notRegex(doctor, /2001:db8:8000::\/56/);
  // A unique-local prefix equal to nothing routed is NAT66 and claims nothing on the host: allowed.
  r = await run('create-vpc', '--name', 'twin', '--cidr', '10.1.0.0/16', '--ipv6-cidr', 'fd00:8000::/56');
  t.is(r.code, 0, r.stderr);
  t.is(hostRoutes('fd00:8000::/56'), '');
  t.is((await run('delete-vpc', '--name', 'twin', '--yes')).code, 0);
});

test.serial('a topology file names the field of a refused routed prefix', async (t) => {
  const file = `${state}/twin.json`;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, JSON.stringify({ vpcs: [{ name: 'twin', cidr: '10.1.0.0/16', ipv6Cidr: '2001:db8:ffff::/56', subnets: [] }] }));
  const r = await run('apply', '-f', file);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /^vpcctl: vpcs\[0\]\.ipv6Cidr: vpc "twin" IPv6 2001:db8:ffff::\/56 .* overlaps the host route 2001:db8:ffff::\/64 dev uplink0/m);
});

test.serial('a routed prefix and a public subnet\'s CIDR move between VPCs in one apply, again and again', async (t) => {
  const { writeFileSync } = await import('node:fs');
  // A topology re-apply keeps subnets it does not name: each VPC always has its `web`, following its CIDR.
  const vpc = (name: string, b: number, ipv6Cidr: string) =>
    ({ name, cidr: `10.${b}.0.0/16`, ipv6Cidr, subnets: [{ name: 'web', cidr: `10.${b}.1.0/24`, type: 'public' }] });
  const doc = (x6: string, z6: string, zTakes: boolean) =>
    JSON.stringify({ vpcs: zTakes ? [vpc('x', 5, x6), vpc('z', 1, z6)] : [vpc('x', 1, x6), vpc('z', 3, z6)] });
  const one = `${state}/move-1.json`;
  const two = `${state}/move-2.json`;
  writeFileSync(one, doc('2001:db8:8100::/56', '2001:db8:8200::/56', false));
  writeFileSync(two, doc('fd00:10::/56', '2001:db8:8100::/56', true));
  // The old router's gateway link (and its routes) go only when the kernel's cleanup of its
  // namespace runs: each move hands the routes over by deleting them on that link first.
  for (let i = 0; i < 3; i++) {
    for (const file of [one, two]) {
      const r = await run('apply', '-f', file);
      t.is(r.code, 0, `${file}, round ${i}: ${r.stderr}`);
      t.is((await run('status')).code, 0);
    }
  }
  t.regex(hostRoutes('2001:db8:8100::/56'), /via fd7f:ffff:ffff:ffff::6440:\w+ dev vg-/);
  t.is(ip(['-6', 'route', 'show', '2001:db8:8100::/56']).trim().split('\n').length, 1, 'one route: z\'s');
  t.is((await run('delete-vpc', '--name', 'x', '--yes')).code, 0);
  t.is((await run('delete-vpc', '--name', 'z', '--yes')).code, 0);
});

test.serial('teardown: the host route goes with the VPC; nothing IPv6 left on the host', async (t) => {
  t.is((await run('delete-vpc', '--name', 'r6', '--yes')).code, 0);
  t.true(await linkGone(/^vg-/), 'the gateway link is gone with the router');
  t.is(hostRoutes(PREFIX), '');
  t.deepEqual(hostV6(), before);
});
