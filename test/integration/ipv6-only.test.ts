import test, { type ExecutionContext } from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FETCH, freshStateDir, inNs, ip, linkGone, netnsList, nft, vpcctl } from '../helpers/sandbox.js';
import { Children, checkSpoofingDropped, fetchFrom, hostV6, ping, tcp } from '../helpers/ipv6.js';
import { checkRefusals, type Refusal } from '../helpers/refusals.js';
import { SIM, buildSimInternet } from '../../src/sim/internet.js';
import { native } from '../../src/native.js';

// IPv6-only subnets (issue 17): a subnet of a dual-stack VPC with no IPv4 block, on the real kernel.
// The simulated internet (its IPv6 side is 2001:db8::/32) is the host's uplink, so VPCs get gateways.
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const readState = () => readFileSync(join(state, 'state.json'), 'utf8');
const forward6 = async () => (await (await native()).sysctlGet('', 'net/ipv6/conf/all/forwarding')).trim();
const PORT = 8080;
const fetch6 = (ns: string, to: string = SIM.serverAddress6) => fetchFrom(ns, to, PORT);
const ok = async (t: { is: (a: unknown, b: unknown, m?: string) => void }, ...args: string[]) => {
  const r = await run(...args);
  t.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r;
};
/** Addresses and routes of IPv4 in a namespace: an IPv6-only subnet's host has none but loopback's. */
const ipv4Of = (ns: string) => ({
  addrs: ip(['-4', '-o', 'addr'], ns).split('\n').filter((l) => l && !/ lo /.test(l)),
  routes: ip(['-4', 'route', 'show', 'table', 'all'], ns).split('\n').filter((l) => l && !/ dev lo /.test(l)),
});

const children = new Children();
let hostBefore: ReturnType<typeof hostV6>;
test.before(async () => {
  await buildSimInternet();
  await children.addressEcho(PORT);
  hostBefore = hostV6();
});
test.after.always(() => children.stopAll());

test.serial('IPv6-only subnets: no IPv4 anywhere, ::2 host and ::1 gateway, reach each other and dual-stack subnets over IPv6', async (t) => {
  await ok(t, 'create-vpc', '--name', 'v6', '--cidr', '10.0.0.0/16', '--ipv6-cidr', 'fd00:60::/56');
  const web = await ok(t, 'create-subnet', '--vpc', 'v6', '--name', 'web', '--type', 'public');
  t.regex(web.stdout, /subnet v6\/web: done/);
  await ok(t, 'create-subnet', '--vpc', 'v6', '--name', 'db', '--type', 'private', '--ipv6-cidr', 'fd00:60:0:2::/64');
  await ok(t, 'create-subnet', '--vpc', 'v6', '--name', 'dual', '--cidr', '10.0.3.0/24', '--type', 'private');
  await ok(t, 'create-subnet', '--vpc', 'v6', '--name', 'worker', '--type', 'private', '--egress', 'nat');
  const s = JSON.parse(readState()).vpcs.v6.subnets;
  t.deepEqual(s.web, { name: 'web', ipv6Cidr: 'fd00:60::/64', type: 'public', apps: [] }, 'no cidr in the state');
  t.is(s.dual.ipv6Cidr, 'fd00:60:0:1::/64', 'allocated in order around the given one');
  t.is(s.worker.ipv6Cidr, 'fd00:60:0:3::/64');

  for (const name of ['web', 'db', 'worker']) t.deepEqual(ipv4Of(`ns-v6-${name}`), { addrs: [], routes: [] }, `${name}: no IPv4`);
  t.regex(ip(['-6', 'addr', 'show', 'eth0'], 'ns-v6-db'), /inet6 fd00:60:0:2::2\/64 scope global nodad/);
  t.regex(ip(['-6', 'route', 'show', 'default'], 'ns-v6-web'), /default via fd00:60::1 dev eth0/);
  t.notRegex(ip(['-6', 'route'], 'ns-v6-db'), /default/);
  // The router's link to an IPv6-only subnet carries its ::1 and no IPv4 address; the host has no route to it.
  const link = ip(['-o', 'addr', 'show', 's6-00000002'], 'vpcr-v6');
  t.regex(link, /inet6 fd00:60:0:2::1\/64/);
  t.notRegex(link, /inet /);
  t.notRegex(ip(['route', 'show', 'table', 'all']), /fd00:60|10\.0\.3\./, 'no host route to the VPC\'s subnets');

  t.true(await ping('ns-v6-web', 'fd00:60:0:2::2'), 'IPv6-only -> IPv6-only');
  t.true(await ping('ns-v6-db', 'fd00:60::2'), 'and back');
  t.true(await ping('ns-v6-db', 'fd00:60:0:1::2'), 'IPv6-only -> dual-stack over IPv6');
  t.true(await ping('ns-v6-dual', 'fd00:60:0:2::2'), 'dual-stack -> IPv6-only');
  t.true(await ping('ns-v6-web', 'fd00:60::1'), 'its gateway answers');
  t.false(await ping('ns-v6-dual', '10.0.0.2'), 'nothing answers in IPv4 where web would be');
  t.is((await run('status')).code, 0, 'verify reads it back: in sync');
  t.regex((await run('create-subnet', '--vpc', 'v6', '--name', 'db', '--type', 'private', '--ipv6-cidr', 'fd00:60:0:2::/64')).stdout, /nothing changed/);
});

test.serial('test-connectivity: IPv6 by default where a side is IPv6-only, `both` is IPv6 alone there; --all probes those pairs over ICMPv6', async (t) => {
  const r = await ok(t, 'test-connectivity', '--vpc', 'v6', '--from-subnet', 'web', '--to-subnet', 'dual', '--json');
  t.like(JSON.parse(r.stdout), { from: { address: 'fd00:60::2' }, to: { address: 'fd00:60:0:1::2' }, icmp: { ok: true }, reachable: true });
  const both = await ok(t, 'test-connectivity', '--vpc', 'v6', '--from-subnet', 'dual', '--to-subnet', 'db', '--family', 'both');
  t.regex(both.stdout, /^v6\/dual \(fd00:60:0:1::2\) -> v6\/db \(fd00:60:0:2::2\)\nicmpv6: reachable/);
  t.notRegex(both.stdout, /IPv6:/, 'one family probed');
  t.is((await run('test-connectivity', '--vpc', 'v6', '--from-subnet', 'web', '--to-subnet', 'db', '--port', '9', '--json')).code, 1, 'nothing listens: unreachable, exit 1');

  const all = await run('test-connectivity', '--all', '-o', 'json');
  t.is(all.code, 0, all.stdout + all.stderr);
  const m = JSON.parse(all.stdout);
  t.is(m.pairs, 12);
  t.is(m.asExpected, 12);
  const matrix = await run('test-connectivity', '--all', '--matrix');
  t.regex(matrix.stdout, /v6\/web +- +yes +yes +yes/);
});

test.serial('drift in an IPv6-only subnet is reported and repaired; delete-subnet takes its router link with it', async (t) => {
  ip(['-6', 'addr', 'del', 'fd00:60:0:2::2/64', 'dev', 'eth0'], 'ns-v6-db');
  ip(['-6', 'route', 'del', 'default'], 'ns-v6-web');
  const r = await run('status');
  t.is(r.code, 1);
  t.regex(r.stdout, /address fd00:60:0:2::2\/64 missing on eth0/);
  t.regex(r.stdout, /route ::\/0 via fd00:60::1 dev eth0 .*is missing/);
  await ok(t, 'create-vpc', '--name', 'v6', '--cidr', '10.0.0.0/16', '--ipv6-cidr', 'fd00:60::/56');
  t.is((await run('status')).code, 0, 'repaired');
  t.true(await ping('ns-v6-web', 'fd00:60:0:2::2'));

  await ok(t, 'create-subnet', '--vpc', 'v6', '--name', 'tmp', '--type', 'private', '--ipv6-cidr', 'fd00:60:0:9::/64');
  t.regex(ip(['-o', 'link'], 'vpcr-v6'), /s6-00000009/);
  await ok(t, 'delete-subnet', '--vpc', 'v6', '--name', 'tmp');
  t.true(await linkGone(/^s6-00000009$/, 'vpcr-v6'), "the router's end goes with the subnet's namespace");
  t.false(netnsList().includes('ns-v6-tmp'));
  t.is((await run('status')).code, 0);
});

test.serial('an app in an IPv6-only subnet listens on IPv6; its DNS name is its IPv6 address', async (t) => {
  const r = await ok(t, 'deploy-app', '--vpc', 'v6', '--subnet', 'db', '--port', '8081');
  t.regex(r.stdout, /app on v6\/db:8081 running/);
  t.true(await tcp('ns-v6-web', 'fd00:60:0:2::2', 8081), 'reached over IPv6');
  const got = inNs('ns-v6-web', [process.execPath, FETCH, 'http://[fd00:60:0:2::2]:8081/']);
  t.is(got.status, 0, got.stderr);
  t.regex(got.stdout, /"address":"fd00:60:0:2::2".*"client":"fd00:60::2"/, 'the built-in app says where it runs, over IPv6');
  const hosts = readFileSync('/etc/netns/vpcr-v6/hosts', 'utf8');
  t.regex(hosts, /\nfd00:60:0:2::2\tdb\.v6\.internal\n/);
  t.regex(hosts, /\n10\.0\.3\.2\tdual\.v6\.internal\nfd00:60:0:1::2\tdual\.v6\.internal\n/, 'a dual-stack subnet: its IPv4 record, then its IPv6 one');
  const both = await run('exec', '--vpc', 'v6', '--subnet', 'web', '--', 'getent', 'ahostsv6', 'dual.v6.internal');
  t.regex(both.stdout, /^fd00:60:0:1::2\s+STREAM dual\.v6\.internal/m, 'the IPv6 name of a dual-stack subnet resolves');
  const name = await run('exec', '--vpc', 'v6', '--subnet', 'web', '--', 'getent', 'hosts', 'db.v6.internal');
  t.regex(name.stdout, /^fd00:60:0:2::2\s+db\.v6\.internal/);
  await ok(t, 'stop-app', '--vpc', 'v6', '--subnet', 'db', '--port', '8081');
});

test.serial('bad input: one-line error, exit 2, state and kernel exactly as they were', async (t) => {
  await ok(t, 'create-vpc', '--name', 'four', '--cidr', '10.4.0.0/16');
  const file = (name: string, doc: unknown) => {
    const path = join(state, name);
    writeFileSync(path, JSON.stringify(doc));
    return path;
  };
  const topoPublish = file('publish6.json', { vpcs: [{ name: 'p6', cidr: '10.9.0.0/16', ipv6Cidr: 'fd00:69::/56', subnets: [
    { name: 'web', type: 'public', publish: [{ port: 80, hostPort: 8089 }] }] }] });
  const topoFour = file('four6.json', { vpcs: [{ name: 'f6', cidr: '10.8.0.0/16', subnets: [{ name: 'web', type: 'public' }] }] });
  const wrongPolicy = file('wrong-policy.json', { subnet: '10.0.2.0/24', ingress: [], default: 'allow' });
  const cases: Refusal[] = [
    ['IPv4-only vpc without --cidr', ['create-subnet', '--vpc', 'four', '--name', 'x', '--type', 'private'],
      /^vpcctl: a subnet of vpc "four" needs an IPv4 cidr: the vpc is IPv4-only/],
    ['--family 4 to an IPv6-only subnet', ['test-connectivity', '--vpc', 'v6', '--from-subnet', 'dual', '--to-subnet', 'db', '--family', '4'],
      /^vpcctl: subnet v6\/db is IPv6-only: it has no IPv4 address \(probe with family 6\)$/m],
    ['--family 4 from an IPv6-only subnet', ['test-connectivity', '--vpc', 'v6', '--from-subnet', 'web', '--to-subnet', 'dual', '--family', '4'],
      /subnet v6\/web is IPv6-only/],
    ['publish', ['publish', '--vpc', 'v6', '--subnet', 'web', '--port', '80', '--host-port', '8089'],
      /^vpcctl: subnet "web" of vpc "v6" is IPv6-only: publish forwards an IPv4 host port to the subnet's IPv4 host \(DNAT\), and it has none$/m],
    ['publish in a topology', ['apply', '-f', topoPublish, '-y'], /vpcs\[0\]\.subnets\[0\]\.publish: subnet "web" of vpc "p6" is IPv6-only/],
    ['IPv6-only in an IPv4-only topology vpc', ['apply', '-f', topoFour, '-y'], /vpcs\[0\]\.subnets\[0\]\.cidr: a subnet of vpc "f6" needs an IPv4 cidr/],
    ['the same name as a dual-stack subnet', ['create-subnet', '--vpc', 'v6', '--name', 'db', '--cidr', '10.0.2.0/24', '--type', 'private'],
      /^vpcctl: subnet "db" already exists in vpc "v6" as IPv6-only fd00:60:0:2::\/64 \(private, egress none\)$/m],
    ['a policy for another block', ['apply-policy', '--vpc', 'v6', '--subnet', 'db', '--policy', wrongPolicy],
      /policy is for subnet 10\.0\.2\.0\/24, but subnet "db" is IPv6-only fd00:60:0:2::\/64$/m],
  ];
  await checkRefusals(t, run, cases,
    () => ({ ns: netnsList(), state: readState(), host: nft(['list', 'ruleset']), v6: hostV6(), routes: ip(['route', 'show', 'table', 'all']) }));
  await ok(t, 'delete-vpc', '--name', 'four', '--yes');
});

test.serial('isolation: a VPC with the same IPv6 prefix and the same /64s reaches nothing of the other', async (t) => {
  await ok(t, 'create-vpc', '--name', 'twin', '--cidr', '10.0.0.0/16', '--ipv6-cidr', 'fd00:60::/56');
  await ok(t, 'create-subnet', '--vpc', 'twin', '--name', 'db', '--type', 'public', '--ipv6-cidr', 'fd00:60:0:2::/64');
  await ok(t, 'create-subnet', '--vpc', 'twin', '--name', 'other', '--type', 'public', '--ipv6-cidr', 'fd00:60:0:5::/64');
  t.true(await ping('ns-twin-db', 'fd00:60:0:5::2'), 'its own subnets answer');
  t.false(await ping('ns-twin-db', 'fd00:60::2'), 'v6/web is not reached from the twin');
  t.false(await ping('ns-twin-other', 'fd00:60:0:1::2'), 'nor v6/dual');
  t.false(await ping('ns-v6-web', 'fd00:60:0:5::2'), 'and the other way');
  t.true(await ping('ns-v6-web', 'fd00:60:0:2::2'), 'the same address is v6/db\'s own for v6');
  await ok(t, 'delete-vpc', '--name', 'twin', '--yes');
});

test.serial('internet: a public IPv6-only subnet reaches the IPv6 internet (NAT66 at the host), a private one does not', async (t) => {
  t.is(await forward6(), '1');
  t.is(fetch6('ns-v6-web'), SIM.uplinkAddress6, 'the server sees the uplink\'s IPv6 address');
  t.is(fetch6('ns-v6-db'), '', 'private: no IPv6 internet');
  ip(['-6', 'route', 'add', '::/0', 'via', 'fd00:60:0:2::1', 'dev', 'eth0'], 'ns-v6-db');
  t.is(fetch6('ns-v6-db'), '', 'not even with a default route added by hand: the router drops it');
  ip(['-6', 'route', 'del', '::/0'], 'ns-v6-db');
  t.regex(nft(['list', 'table', 'inet', 'vpcctl'], 'vpcr-v6'), /ip6 saddr @private6 oifname "igw0" counter packets [1-9]\d* bytes \d+ drop comment "private subnets have no internet \(IPv6\)"/);
});

test.serial('egress-only gateway: a private IPv6-only subnet with egress nat goes out, nothing comes in', async (t) => {
  t.is(fetch6('ns-v6-worker'), SIM.uplinkAddress6, 'out, and the replies back');
  t.deepEqual(ipv4Of('ns-v6-worker').routes, [], 'no IPv4 default route: only the IPv6 one');
  await children.listen('ns-v6-worker', [7100]);
  // A neighbour that routes the VPC's prefix to this host, and a host route to the router (made by hand):
  // still no connection from outside reaches the subnet.
  ip(['-6', 'route', 'add', 'fd00:60::/56', 'via', SIM.uplinkAddress6], SIM.ns);
  const vg = ip(['-o', 'link', 'show']).split('\n').map((l) => /^\d+: (vg-[0-9a-f]+)@/.exec(l)?.[1]).find(Boolean)!;
  const router6 = ip(['-6', '-o', 'addr', 'show', 'igw0'], 'vpcr-v6').match(/inet6 (fd7f:[0-9a-f:]+)\/126/)![1]!;
  ip(['-6', 'route', 'add', 'fd00:60::/56', 'via', router6, 'dev', vg]);
  try {
    t.false(await tcp(SIM.ns, 'fd00:60:0:3::2', 7100), 'from the internet to the egress-only subnet: nothing');
    t.false(await ping(SIM.ns, 'fd00:60:0:3::2'));
  } finally {
    ip(['-6', 'route', 'del', 'fd00:60::/56', 'dev', vg]);
    ip(['-6', 'route', 'del', 'fd00:60::/56'], SIM.ns);
  }
  t.true(await tcp('ns-v6-web', 'fd00:60:0:3::2', 7100), 'while inside the VPC it is reached');

  await ok(t, 'set-egress', '--vpc', 'v6', '--subnet', 'worker', 'none');
  t.notRegex(ip(['-6', 'route'], 'ns-v6-worker'), /default/, 'its IPv6 default route goes with the NAT gateway');
  t.is(fetch6('ns-v6-worker'), '');
  await ok(t, 'set-egress', '--vpc', 'v6', '--subnet', 'worker', 'nat');
  t.is(fetch6('ns-v6-worker'), SIM.uplinkAddress6);
  t.is((await run('status')).code, 0);
});

test.serial('anti-spoofing: an IPv6-only host sending from an address not its own is dropped by its router', async (t) => {
  await children.listen('ns-v6-db', [7000, 7001]);
  checkSpoofingDropped(t, {
    router: 'vpcr-v6', srcNs: 'ns-v6-web', own: 'fd00:60::2', forged: 'fd00:60:0:1::99', dstNs: 'ns-v6-db', dst: 'fd00:60:0:2::2', port: 7000,
  });
});

test.serial('policy over IPv6 on an IPv6-only subnet (named by its /64): one port allowed, another denied', async (t) => {
  const file = join(state, 'db-policy.json');
  writeFileSync(file, JSON.stringify({
    subnet: 'fd00:60:0:2::/64',
    ingress: [
      { port: 7000, protocol: 'tcp', action: 'allow', cidr: 'fd00:60::/64' },
      { port: 7001, protocol: 'tcp', action: 'deny' },
      { protocol: 'icmp', action: 'allow' },
    ],
    default: 'deny',
  }));
  // No --subnet: the policy's own subnet, the /64, names it.
  const r = await ok(t, 'apply-policy', '--vpc', 'v6', '--policy', file);
  t.regex(r.stdout + r.stderr, /db/);
  t.is(JSON.parse(readState()).vpcs.v6.subnets.db.policy.subnet, 'fd00:60:0:2::/64');
  // Flush the neighbour caches: the allowed connection below needs neighbour discovery through the policy.
  ip(['-6', 'neigh', 'flush', 'all'], 'ns-v6-db');
  ip(['-6', 'neigh', 'flush', 'all'], 'vpcr-v6');
  t.true(await tcp('ns-v6-web', 'fd00:60:0:2::2', 7000), 'port 7000 from web (fd00:60::/64): allowed');
  t.false(await tcp('ns-v6-web', 'fd00:60:0:2::2', 7001), 'port 7001: denied');
  t.false(await tcp('ns-v6-dual', 'fd00:60:0:2::2', 7000), 'port 7000 from dual (outside the rule\'s range): denied by default');
  t.true(await ping('ns-v6-dual', 'fd00:60:0:2::2'), '`icmp` allows ICMPv6 echo');
  const shown = await ok(t, 'show-policy', '--vpc', 'v6', '--subnet', 'db');
  t.regex(shown.stdout, /fd00:60::\/64/);
  // --all predicts the policy over IPv6 (icmp allowed from anywhere): every pair as expected.
  t.is((await run('test-connectivity', '--all')).code, 0);
  t.is((await run('status')).code, 0);
});

test.serial('peering: IPv6-only subnets reach a peer both ways, not transitively; an IPv4-only peer has no family in common', async (t) => {
  for (const [name, n] of [['pa', 1], ['pb', 2], ['pc', 3]] as const) {
    await ok(t, 'create-vpc', '--name', name, '--cidr', `10.${n}0.0.0/16`, '--ipv6-cidr', `fd00:6${n}::/56`);
    await ok(t, 'create-subnet', '--vpc', name, '--name', 'app', '--type', 'private');
  }
  await ok(t, 'create-vpc', '--name', 'pfour', '--cidr', '10.40.0.0/16');
  await ok(t, 'create-subnet', '--vpc', 'pfour', '--name', 'app', '--cidr', '10.40.1.0/24', '--type', 'private');
  t.false(await ping('ns-pa-app', 'fd00:62::2'), 'not peered yet');
  await ok(t, 'peer-vpcs', '--vpc1', 'pa', '--vpc2', 'pb');
  await ok(t, 'peer-vpcs', '--vpc1', 'pb', '--vpc2', 'pc');
  await ok(t, 'peer-vpcs', '--vpc1', 'pa', '--vpc2', 'pfour');
  t.regex(ip(['-6', 'route'], 'ns-pa-app'), /fd00:62::\/56 via fd00:61::1 dev eth0/);
  t.deepEqual(ipv4Of('ns-pa-app'), { addrs: [], routes: [] }, 'no IPv4 route to the IPv4-only peer: nothing to route it with');
  t.true(await ping('ns-pa-app', 'fd00:62::2'), 'pa -> pb');
  t.true(await ping('ns-pb-app', 'fd00:61::2'), 'pb -> pa');
  t.true(await ping('ns-pc-app', 'fd00:62::2'), 'pc -> pb');
  t.false(await ping('ns-pa-app', 'fd00:63::2'), 'pa -> pc: not transitive');
  t.false(await ping('ns-pc-app', 'fd00:61::2'), 'pc -> pa: not transitive');
  const r = await ok(t, 'test-connectivity', '--vpc', 'pa', '--from-subnet', 'app', '--to-vpc', 'pb', '--to-subnet', 'app', '--json');
  t.like(JSON.parse(r.stdout), { to: { address: 'fd00:62::2' }, reachable: true });
  const none = await run('test-connectivity', '--vpc', 'pa', '--from-subnet', 'app', '--to-vpc', 'pfour', '--to-subnet', 'app');
  t.is(none.code, 2);
  t.regex(none.stderr, /subnet pfour\/app has no IPv6 address: its vpc is not dual-stack/);
  const all = JSON.parse((await run('test-connectivity', '--all', '-o', 'json')).stdout);
  t.is(all.asExpected, all.pairs, JSON.stringify(all.results.filter((p: { reachable: boolean; expected: boolean }) => p.reachable !== p.expected)));
  t.is((await run('status')).code, 0);

  await ok(t, 'unpeer-vpcs', '--vpc1', 'pa', '--vpc2', 'pb');
  t.notRegex(ip(['-6', 'route'], 'ns-pa-app'), /fd00:62::/, 'the peer route goes with the peering');
  t.false(await ping('ns-pa-app', 'fd00:62::2'));
  for (const name of ['pa', 'pb', 'pc', 'pfour']) await ok(t, 'delete-vpc', '--name', name, '--yes');
});

test.serial('topology file: a subnet without cidr is IPv6-only; making it dual-stack on re-apply replaces it, and back', async (t) => {
  const file = join(state, 'topo.json');
  const doc = (cidr?: string) => ({ vpcs: [{ name: 'tv', cidr: '10.70.0.0/16', ipv6Cidr: 'fd00:70::/56', subnets: [
    { name: 'a', type: 'private', ...(cidr ? { cidr } : {}) },
    { name: 'b', type: 'private' },
  ] }] });
  writeFileSync(file, JSON.stringify(doc()));
  await ok(t, 'apply', '-f', file, '-y');
  t.deepEqual(ipv4Of('ns-tv-a'), { addrs: [], routes: [] });
  t.true(await ping('ns-tv-a', 'fd00:70:0:1::2'));
  t.regex((await run('apply', '-f', file, '-y')).stdout, /nothing changed|0 changes|no changes/i, 'a re-apply changes nothing');

  writeFileSync(file, JSON.stringify(doc('10.70.1.0/24')));
  const plan = await ok(t, 'apply', '-f', file, '--dry-run');
  t.regex(plan.stdout, /~ subnet tv\/a: cidr \(none\) -> 10\.70\.1\.0\/24/);
  await ok(t, 'apply', '-f', file, '-y');
  t.regex(ip(['-4', '-o', 'addr', 'show', 'eth0'], 'ns-tv-a'), /inet 10\.70\.1\.2\/24/);
  t.is(JSON.parse(readState()).vpcs.tv.subnets.a.ipv6Cidr, 'fd00:70::/64', 'its /64 kept');
  t.true(await ping('ns-tv-a', 'fd00:70:0:1::2'), 'IPv6 as before');

  writeFileSync(file, JSON.stringify(doc()));
  await ok(t, 'apply', '-f', file, '-y');
  t.deepEqual(ipv4Of('ns-tv-a'), { addrs: [], routes: [] }, 'IPv6-only again');
  t.is((await run('status')).code, 0);
  await ok(t, 'delete-vpc', '--name', 'tv', '--yes');
});

/** Nothing of vpcctl's left on the host: namespaces, gateway links, IPv6 routes and addresses, IPv6 forwarding. */
async function leftNothing(t: ExecutionContext): Promise<void> {
  t.deepEqual(netnsList().filter((n) => n !== SIM.ns), []);
  // The gateway link goes with the router's namespace, which the kernel destroys in the background.
  for (let i = 0; i < 50 && /vg-/.test(ip(['-o', 'link'])); i++) await new Promise((r) => setTimeout(r, 100));
  t.notRegex(ip(['-o', 'link']), /vg-/);
  t.deepEqual(hostV6(), hostBefore);
  t.is(await forward6(), '0', 'IPv6 forwarding back as it was');
}

test.serial('teardown: delete-vpc and cleanup-all leave no namespace, link, route, address, table or file of theirs', async (t) => {
  await ok(t, 'delete-vpc', '--name', 'v6', '--yes');
  await leftNothing(t);

  // Again, torn down by cleanup-all this time.
  await ok(t, 'create-vpc', '--name', 'gone', '--cidr', '10.0.0.0/16', '--ipv6-cidr', 'fd00:60::/56');
  await ok(t, 'create-subnet', '--vpc', 'gone', '--name', 'web', '--type', 'public');
  await ok(t, 'create-subnet', '--vpc', 'gone', '--name', 'db', '--type', 'private', '--egress', 'nat');
  await ok(t, 'deploy-app', '--vpc', 'gone', '--subnet', 'web', '--port', '8080');
  t.is(fetch6('ns-gone-web'), SIM.uplinkAddress6);
  await ok(t, 'cleanup-all', '--yes');
  await leftNothing(t);
  t.notRegex(nft(['list', 'tables']), /vpcctl/);
  t.false(existsSync('/etc/netns') && readdirSync('/etc/netns').some((d) => d.includes('gone')), 'no name files left');
});
