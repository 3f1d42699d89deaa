import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshStateDir, ip, netnsList, nft, vpcctl } from '../helpers/sandbox.js';
import { Children, checkSpoofingDropped, hostV6, ping, tcp } from '../helpers/ipv6.js';
import { checkRefusals, type Refusal } from '../helpers/refusals.js';
import { native } from '../../src/native.js';

// Dual-stack VPCs (issue 17). One sandbox per file: tests share the host, so they run one at a time.
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const readState = () => readFileSync(join(state, 'state.json'), 'utf8');

const children = new Children();
const listen = (ns: string, ports: number[]) => children.listen(ns, ports);
test.after.always(() => children.stopAll());

const rootBefore = hostV6();

test.serial('dual-stack VPC: static /64s (::1 gateway, ::2 host, no DAD), subnets reach each other over IPv6 and IPv4', async (t) => {
  // The routers' link-local choice is theirs: the host's default for new links stays as it was.
  const hostGenMode = async () => (await (await native()).sysctlGet('', 'net/ipv6/conf/default/addr_gen_mode')).trim();
  const genModeBefore = await hostGenMode();
  let r = await run('create-vpc', '--name', 'demo', '--cidr', '10.0.0.0/16', '--ipv6-cidr', 'fd00:10::/56');
  t.is(r.code, 0, r.stderr);
  r = await run('create-subnet', '--vpc', 'demo', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public');
  t.is(r.code, 0, r.stderr);
  r = await run('create-subnet', '--vpc', 'demo', '--name', 'db', '--cidr', '10.0.2.0/24', '--type', 'private', '--ipv6-cidr', 'fd00:10:0:2::/64');
  t.is(r.code, 0, r.stderr);
  r = await run('create-subnet', '--vpc', 'demo', '--name', 'app', '--cidr', '10.0.3.0/24', '--type', 'private');
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(readState());
  t.is(s.vpcs.demo.ipv6Cidr, 'fd00:10::/56');
  t.is(s.vpcs.demo.subnets.web.ipv6Cidr, 'fd00:10::/64', 'allocated in order');
  t.is(s.vpcs.demo.subnets.app.ipv6Cidr, 'fd00:10:0:1::/64', 'the next free /64');

  const addr = ip(['-6', 'addr', 'show', 'eth0'], 'ns-demo-web');
  t.regex(addr, /inet6 fd00:10::2\/64 scope global nodad/);
  t.notRegex(addr, /fd00:10::2\/64[^\n]*tentative/, 'usable at once');
  t.regex(ip(['-6', 'route', 'show', 'default'], 'ns-demo-web'), /default via fd00:10::1 dev eth0/);
  t.regex(ip(['-6', 'route'], 'ns-demo-db'), /fd00:10::\/56 via fd00:10:0:2::1 dev eth0/);
  t.notRegex(ip(['-6', 'route'], 'ns-demo-db'), /default/);
  // The router forwards IPv6; its links' link-local addresses skip DAD (usable at once, for neighbour discovery).
  t.is((await (await native()).sysctlGet('vpcr-demo', 'net/ipv6/conf/all/forwarding')).trim(), '1');
  const routerAddrs = ip(['-6', 'addr'], 'vpcr-demo');
  t.notRegex(routerAddrs, /tentative/);
  // Each link carries vpcctl's fixed link-local (fe80::1 on each subnet's link), none of the kernel's.
  t.deepEqual([...routerAddrs.matchAll(/inet6 (fe80::\S+)/g)].map((m) => m[1]), ['fe80::1/64', 'fe80::1/64', 'fe80::1/64']);
  t.is((await (await native()).sysctlGet('vpcr-demo', 'net/ipv6/conf/default/addr_gen_mode')).trim(), '1');
  t.is(await hostGenMode(), genModeBefore, "the host's addr_gen_mode is untouched");

  t.true(await ping('ns-demo-web', 'fd00:10:0:2::2'), 'web -> db over IPv6');
  t.true(await ping('ns-demo-db', 'fd00:10::2'), 'db -> web over IPv6');
  t.true(await ping('ns-demo-app', 'fd00:10:0:2::2'));
  t.true(await ping('ns-demo-web', '10.0.2.2'), 'IPv4 still works');
  t.true(await ping('ns-demo-web', 'fd00:10::1'), 'the gateway answers');
  t.is((await run('status')).code, 0, 'verify reads both families back: in sync');

  const again = await run('create-subnet', '--vpc', 'demo', '--name', 'db', '--cidr', '10.0.2.0/24', '--type', 'private', '--ipv6-cidr', 'fd00:10:0:2::/64');
  t.regex(again.stdout, /nothing changed/);
});

test.serial('test-connectivity --family 6|both probes over ICMPv6; show-vpc, list-vpcs and graph show both families', async (t) => {
  let r = await run('test-connectivity', '--vpc', 'demo', '--from-subnet', 'web', '--to-subnet', 'db', '--family', '6', '--json');
  t.is(r.code, 0, r.stderr);
  const six = JSON.parse(r.stdout);
  t.like(six, { from: { address: 'fd00:10::2' }, to: { address: 'fd00:10:0:2::2' }, icmp: { ok: true }, reachable: true });
  r = await run('test-connectivity', '--vpc', 'demo', '--from-subnet', 'web', '--to-subnet', 'db', '--family', 'both');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /10\.0\.1\.2\) -> demo\/db \(10\.0\.2\.2\)/);
  t.regex(r.stdout, /IPv6: fd00:10::2 -> fd00:10:0:2::2\nicmpv6: reachable/);
  const bad = await run('test-connectivity', '--vpc', 'demo', '--from-subnet', 'web', '--to-subnet', 'db', '--family', '5');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--family 5 is invalid/);

  const show = JSON.parse((await run('show-vpc', '--name', 'demo', '--json')).stdout);
  t.is(show.ipv6Cidr, 'fd00:10::/56');
  t.like(show.subnetDetails.find((s: { name: string }) => s.name === 'db'), { ipv6Cidr: 'fd00:10:0:2::/64', ipv6Gateway: 'fd00:10:0:2::1', ipv6Host: 'fd00:10:0:2::2' });
  t.regex((await run('show-vpc', '--name', 'demo')).stdout, /VPC demo {2}10\.0\.0\.0\/16 {2}fd00:10::\/56/);
  t.regex((await run('list-vpcs', '-o', 'wide')).stdout, /fd00:10::\/56/);
  t.regex((await run('graph', '--format', 'mermaid')).stdout, /10\.0\.2\.0\/24 · fd00:10:0:2::\/64/);
});

test.serial('drift in IPv6 objects: status names a missing address and route, the next change repairs them', async (t) => {
  ip(['-6', 'addr', 'del', 'fd00:10:0:2::2/64', 'dev', 'eth0'], 'ns-demo-db');
  ip(['-6', 'route', 'del', 'fd00:10::/56'], 'ns-demo-app');
  const r = await run('status');
  t.is(r.code, 1);
  t.regex(r.stdout, /address fd00:10:0:2::2\/64 missing on eth0/);
  t.regex(r.stdout, /route fd00:10::\/56 via fd00:10:0:1::1 dev eth0 .*is missing/);
  t.is((await run('create-vpc', '--name', 'demo', '--cidr', '10.0.0.0/16', '--ipv6-cidr', 'fd00:10::/56')).code, 0);
  t.is((await run('status')).code, 0, 'repaired');
  t.true(await ping('ns-demo-app', 'fd00:10:0:2::2'));
});

test.serial('an IPv4-only VPC keeps IPv6 disabled in its router', async (t) => {
  t.is((await run('create-vpc', '--name', 'four', '--cidr', '10.4.0.0/16')).code, 0);
  const n = await native();
  t.is((await n.sysctlGet('vpcr-four', 'net/ipv6/conf/all/disable_ipv6')).trim(), '1');
  t.is((await n.sysctlGet('vpcr-four', 'net/ipv6/conf/default/disable_ipv6')).trim(), '1');
  t.is((await run('delete-vpc', '--name', 'four', '--yes')).code, 0);
});

const invalid: Refusal[] = [
  ['malformed', ['create-vpc', '--name', 'x', '--cidr', '10.5.0.0/16', '--ipv6-cidr', 'fd00:::/56'], /fd00:::\/56 is not an IPv6 CIDR/],
  ['non-canonical', ['create-vpc', '--name', 'x', '--cidr', '10.5.0.0/16', '--ipv6-cidr', 'fd00:0010::/56'], /not in canonical form \(write fd00:10::\/56\)/],
  ['host bits', ['create-vpc', '--name', 'x', '--cidr', '10.5.0.0/16', '--ipv6-cidr', 'fd00:10::1/56'], /host bits set/],
  ['too long', ['create-vpc', '--name', 'x', '--cidr', '10.5.0.0/16', '--ipv6-cidr', 'fd00:10::/64'], /\/64; it must be between \/44 and \/60/],
  ['too short', ['create-vpc', '--name', 'x', '--cidr', '10.5.0.0/16', '--ipv6-cidr', 'fd00::/40'], /\/40; it must be between \/44 and \/60/],
  ['link-local', ['create-vpc', '--name', 'x', '--cidr', '10.5.0.0/16', '--ipv6-cidr', 'fe80::/56'], /link-local fe80::\/10/],
  ['multicast', ['create-vpc', '--name', 'x', '--cidr', '10.5.0.0/16', '--ipv6-cidr', 'ff00::/56'], /multicast ff00::\/8/],
  ['loopback', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.9.0/24', '--ipv6-cidr', '::1/128'], /prefix \/128; it must be \/64|loopback/],
  ['subnet not /64', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.9.0/24', '--ipv6-cidr', 'fd00:10:0:9::/80'], /it must be \/64/],
  ['outside the VPC', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.9.0/24', '--ipv6-cidr', 'fd00:99::/64'], /not inside the vpc's IPv6 CIDR fd00:10::\/56/],
  ['overlap', ['create-subnet', '--vpc', 'demo', '--name', 'x', '--cidr', '10.0.9.0/24', '--ipv6-cidr', 'fd00:10:0:2::/64'], /overlaps subnet "db"/],
];

test.serial('bad IPv6 input: one-line error, exit 2, state and kernel exactly as they were', async (t) => {
  t.is((await run('create-vpc', '--name', 'v4only', '--cidr', '10.6.0.0/16')).code, 0);
  const cases: Refusal[] = [
    ...invalid,
    ['IPv6 subnet in an IPv4-only VPC', ['create-subnet', '--vpc', 'v4only', '--name', 'x', '--cidr', '10.6.1.0/24', '--ipv6-cidr', 'fd00:6::/64'], /has no IPv6 CIDR/],
  ];
  await checkRefusals(t, run, cases, () => ({ ns: netnsList(), state: readState(), host: nft(['list', 'ruleset']), v6: hostV6() }));
  t.is((await run('delete-vpc', '--name', 'v4only', '--yes')).code, 0);
});

test.serial('isolation: two VPCs with the same IPv6 prefix do not reach each other', async (t) => {
  t.is((await run('create-vpc', '--name', 'twin', '--cidr', '10.0.0.0/16', '--ipv6-cidr', 'fd00:10::/56')).code, 0, 'equal prefixes are allowed');
  t.is((await run('create-subnet', '--vpc', 'twin', '--name', 'app', '--cidr', '10.0.5.0/24', '--type', 'public', '--ipv6-cidr', 'fd00:10:0:5::/64')).code, 0);
  t.true(await ping('ns-twin-app', 'fd00:10:0:5::1'), 'its own gateway answers');
  t.false(await ping('ns-twin-app', 'fd00:10:0:2::2'), 'demo/db unreachable from the twin');
  t.false(await ping('ns-demo-web', 'fd00:10:0:5::2'), 'and the other way');
  t.is((await run('delete-vpc', '--name', 'twin', '--yes')).code, 0);
});

test.serial('anti-spoofing: a host sending from an address not its own is dropped by its router', async (t) => {
  await listen('ns-demo-db', [7000, 7001]);
  checkSpoofingDropped(t, {
    router: 'vpcr-demo', srcNs: 'ns-demo-web', own: 'fd00:10::2', forged: 'fd00:10:0:1::99', dstNs: 'ns-demo-db', dst: 'fd00:10:0:2::2', port: 7000,
  });
});

test.serial('policy over IPv6: one port allowed, another denied, ICMPv6 by `icmp`, neighbour discovery under default deny', async (t) => {
  const file = join(state, 'db-policy.json');
  writeFileSync(file, JSON.stringify({
    ingress: [
      { port: 7000, protocol: 'tcp', action: 'allow', cidr: 'fd00:10::/64' },
      { port: 7001, protocol: 'tcp', action: 'deny' },
    ],
    default: 'deny',
  }));
  const r = await run('apply-policy', '--vpc', 'demo', '--subnet', 'db', '--policy', file);
  t.is(r.code, 0, r.stderr);
  // Flush the neighbour caches: the allowed connection below needs neighbour discovery through the policy.
  ip(['-6', 'neigh', 'flush', 'all'], 'ns-demo-db');
  ip(['-6', 'neigh', 'flush', 'all'], 'vpcr-demo');
  t.true(await tcp('ns-demo-web', 'fd00:10:0:2::2', 7000), 'port 7000 from web (fd00:10::/64): allowed');
  t.false(await tcp('ns-demo-web', 'fd00:10:0:2::2', 7001), 'port 7001: denied');
  t.false(await tcp('ns-demo-app', 'fd00:10:0:2::2', 7000), 'port 7000 from app (outside the rule\'s IPv6 range): denied by default');
  t.false(await tcp('ns-demo-app', '10.0.2.2', 7000), 'IPv4 from app: the IPv6 range does not match it, denied by default');
  t.false(await ping('ns-demo-web', 'fd00:10:0:2::2'), 'no ICMPv6 echo under default deny');

  writeFileSync(file, JSON.stringify({ ingress: [{ protocol: 'icmp', action: 'allow' }], default: 'deny' }));
  t.is((await run('apply-policy', '--vpc', 'demo', '--subnet', 'db', '--policy', file)).code, 0);
  t.true(await ping('ns-demo-web', 'fd00:10:0:2::2'), '`icmp` allows ICMPv6 echo too');
  t.true(await ping('ns-demo-web', '10.0.2.2'), 'and ICMP');
  t.false(await tcp('ns-demo-web', 'fd00:10:0:2::2', 7000), 'tcp now denied');
  t.is((await run('status')).code, 0);

  writeFileSync(file, JSON.stringify({ ingress: [], default: 'allow' }));
  t.is((await run('apply-policy', '--vpc', 'demo', '--subnet', 'db', '--policy', file)).code, 0);
});

test.serial('peering: IPv6 routes both ways, overlap refused per family, not transitive', async (t) => {
  t.is((await run('create-vpc', '--name', 'b', '--cidr', '10.20.0.0/16', '--ipv6-cidr', 'fd00:20::/56')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'b', '--name', 'db', '--cidr', '10.20.1.0/24', '--type', 'private')).code, 0);
  t.is((await run('create-vpc', '--name', 'c', '--cidr', '10.30.0.0/16', '--ipv6-cidr', 'fd00:30::/56')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'c', '--name', 'db', '--cidr', '10.30.1.0/24', '--type', 'private')).code, 0);
  t.is((await run('create-vpc', '--name', 'clash', '--cidr', '10.40.0.0/16', '--ipv6-cidr', 'fd00:20::/56')).code, 0);

  t.false(await ping('ns-demo-db', 'fd00:20::2'), 'not peered yet');
  const overlap = await run('peer-vpcs', '--vpc1', 'b', '--vpc2', 'clash');
  t.is(overlap.code, 2, 'IPv4 disjoint, IPv6 equal: refused');
  t.regex(overlap.stderr, /disjoint IPv6 CIDRs/);

  t.is((await run('peer-vpcs', '--vpc1', 'demo', '--vpc2', 'b')).code, 0);
  t.is((await run('peer-vpcs', '--vpc1', 'b', '--vpc2', 'c')).code, 0);
  t.regex(ip(['-6', 'route'], 'ns-demo-db'), /fd00:20::\/56 via fd00:10:0:2::1/);
  t.true(await ping('ns-demo-db', 'fd00:20::2'), 'demo -> b');
  t.true(await ping('ns-b-db', 'fd00:10:0:2::2'), 'b -> demo');
  t.true(await ping('ns-c-db', 'fd00:20::2'), 'c -> b');
  t.false(await ping('ns-demo-db', 'fd00:30::2'), 'demo -> c: not transitive');
  t.false(await ping('ns-c-db', 'fd00:10:0:2::2'), 'c -> demo: not transitive');
  t.true(await ping('ns-demo-db', '10.20.1.2'), 'IPv4 peering as before');
  t.is((await run('status')).code, 0);

  t.is((await run('unpeer-vpcs', '--vpc1', 'demo', '--vpc2', 'b')).code, 0);
  t.notRegex(ip(['-6', 'route'], 'ns-demo-db'), /fd00:20::/, 'the IPv6 peer route goes with the peering');
  t.false(await ping('ns-demo-db', 'fd00:20::2'));
});

test.serial('topology file: `ipv6: true` takes a stable /56 of fd00::/8 from the name; a re-apply changes nothing', async (t) => {
  const file = join(state, 'topo.json');
  writeFileSync(file, JSON.stringify({
    vpcs: [{ name: 'ula', cidr: '10.50.0.0/16', ipv6: true, subnets: [
      { name: 'a', cidr: '10.50.1.0/24', type: 'private' },
      { name: 'b', cidr: '10.50.2.0/24', type: 'private' },
    ] }],
  }));
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  const vpc = JSON.parse(readState()).vpcs.ula;
  t.regex(vpc.ipv6Cidr, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}[0-9a-f:]*::\/56$|^fd[0-9a-f:]+\/56$/);
  const b6 = vpc.subnets.b.ipv6Cidr as string;
  t.true(await ping('ns-ula-a', `${b6.split('/')[0]}2`));
  const again = await run('apply', '-f', file);
  t.regex(again.stdout, /nothing changed|0 changes|no changes/i);
  t.is(JSON.parse(readState()).vpcs.ula.ipv6Cidr, vpc.ipv6Cidr, 'the same prefix again');
  t.is((await run('status')).code, 0);
});

test.serial('teardown: cleanup-all leaves no namespace and no IPv6 route or address on the host', async (t) => {
  const r = await run('cleanup-all', '--yes');
  t.is(r.code, 0, r.stderr);
  t.deepEqual(netnsList().filter((n) => n.startsWith('ns-') || n.startsWith('vpcr-')), []);
  t.deepEqual(hostV6(), rootBefore);
});
