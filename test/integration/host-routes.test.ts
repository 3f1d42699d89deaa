import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FETCH, freshStateDir, inNs, ip, vpcctl } from '../helpers/sandbox.js';
import { SIM, buildSimInternet } from '../../src/sim/internet.js';
import { native } from '../../src/native.js';
import { Vpcctl } from '../../src/api/vpcctl.js';
import { VpcctlError } from '../../src/errors.js';

// Issue 13, item 1 (and the --uplink, vg-link and special-range parts of 7): vpcctl never
// takes a route the host already has. Each refusal is exit 2 with the route named, and the
// host's routes (all tables, less vpcctl's own) end exactly as they began.
const state = freshStateDir();
const dir = mkdtempSync('/run/vpcctl/routes-');
const run = (...args: string[]) => vpcctl(state, args);
const stateText = () => readFileSync(join(state, 'state.json'), 'utf8');
/** `ip -4 route show table all` less vpcctl's own lines (its gateway links' routes, local and broadcast entries). */
const hostRoutes = () => ip(['-4', 'route', 'show', 'table', 'all']).split('\n').filter((l) => !/ dev vg-[0-9a-f]{8}\b/.test(l)).join('\n');
const routeTo = (dst: string) => ip(['route', 'show', 'table', 'all', dst]).trim();
const fetchFrom = (ns: string) => inNs(ns, [process.execPath, FETCH, `http://${SIM.serverAddress}/`]);
const hostReachesInternet = async () => (await (await native()).tcpConnect('', SIM.serverAddress, SIM.serverPort, 1000)).ok;
const write = (name: string, body: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(body));
  return path;
};

let routesBefore = '';

test.before(async () => {
  await buildSimInternet();
  // The host's own LAN (a link with an address: a `proto kernel` route) and a foreign static route.
  // veth pairs stand in for real links: the sandbox kernel may lack the dummy driver.
  ip(['link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0p']);
  ip(['link', 'set', 'lan0', 'up']);
  ip(['link', 'set', 'lan0p', 'up']);
  ip(['addr', 'add', '10.55.1.1/24', 'dev', 'lan0']);
  // A VPN-like policy table: a route the main table does not show, looked up by a rule.
  ip(['route', 'add', '10.44.0.0/16', 'via', SIM.upstreamAddress, 'dev', SIM.uplink, 'table', '100']);
  ip(['rule', 'add', 'to', '10.44.0.0/16', 'lookup', '100']);
  // One VPC with a public subnet whose internet must survive everything below.
  for (const args of [
    ['create-vpc', '--name', 'base', '--cidr', '10.0.0.0/16'],
    ['create-subnet', '--vpc', 'base', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public'],
    // Made before the foreign 10.99.0.0/16 route appears below.
    ['create-vpc', '--name', 'corp', '--cidr', '10.99.0.0/16'],
  ]) {
    const r = await run(...args);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  }
  ip(['route', 'add', '10.99.0.0/16', 'via', SIM.upstreamAddress, 'dev', SIM.uplink]);
  routesBefore = hostRoutes();
});

test.serial('a VPC on the uplink\'s own network is refused; the proto kernel route and the internet stay', async (t) => {
  const before = stateText();
  const r = await run('create-vpc', '--name', 'lan', '--cidr', '203.0.113.0/24');
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr.trim(), 'vpcctl: vpc "lan" 203.0.113.0/24 overlaps the host route 203.0.113.0/24 dev uplink0 (proto kernel): choose another CIDR');
  t.regex(routeTo('203.0.113.0/24'), /^203\.0\.113\.0\/24 dev uplink0 proto kernel scope link src 203\.0\.113\.1/);
  t.true(await hostReachesInternet());
  t.is(stateText(), before, 'the state is as before');
  // A wider VPC covering the uplink's network, too.
  t.is((await run('create-vpc', '--name', 'lan', '--cidr', '203.0.0.0/16')).code, 2);
});

test.serial('a public subnet on the host\'s LAN is refused, naming the route and its device', async (t) => {
  t.is((await run('create-vpc', '--name', 'edge', '--cidr', '10.55.0.0/16')).code, 2, 'the VPC itself covers the LAN');
  // A VPC made before the LAN appeared: its new public subnet is checked on its own.
  ip(['link', 'set', 'lan0', 'down']);
  ip(['addr', 'flush', 'dev', 'lan0']);
  t.is((await run('create-vpc', '--name', 'edge', '--cidr', '10.55.0.0/16')).code, 0);
  ip(['link', 'set', 'lan0', 'up']);
  ip(['link', 'set', 'lan0p', 'up']);
  ip(['addr', 'add', '10.55.1.1/24', 'dev', 'lan0']);
  const r = await run('create-subnet', '--vpc', 'edge', '--name', 'web', '--cidr', '10.55.1.0/24', '--type', 'public');
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr.trim(), 'vpcctl: subnet "web" of vpc "edge" 10.55.1.0/24 overlaps the host route 10.55.1.0/24 dev lan0 (proto kernel): choose another CIDR');
  t.regex(routeTo('10.55.1.0/24'), /dev lan0 proto kernel/);
  // A private subnet puts no route on the host: allowed.
  t.is((await run('create-subnet', '--vpc', 'edge', '--name', 'db', '--cidr', '10.55.1.0/24', '--type', 'private')).code, 0);
  t.is((await run('delete-vpc', '--name', 'edge')).code, 0);
  t.regex(routeTo('10.55.1.0/24'), /dev lan0 proto kernel/, 'delete-vpc leaves the LAN route');
});

test.serial('a public subnet over a foreign 10.99.0.0/16 route is refused, and delete-vpc keeps that route', async (t) => {
  const foreign = routeTo('10.99.0.0/16');
  t.is(foreign, `10.99.0.0/16 via ${SIM.upstreamAddress} dev ${SIM.uplink}`);
  const r = await run('create-subnet', '--vpc', 'corp', '--name', 'web', '--cidr', '10.99.1.0/24', '--type', 'public');
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr.trim(), `vpcctl: subnet "web" of vpc "corp" 10.99.1.0/24 overlaps the host route 10.99.0.0/16 via ${SIM.upstreamAddress} dev ${SIM.uplink} (proto boot): choose another CIDR`);
  t.is(routeTo('10.99.1.0/24'), '', 'no route of vpcctl shadows part of it');
  t.is((await run('create-vpc', '--name', 'corp2', '--cidr', '10.99.0.0/16')).code, 2);
  // Routes of a policy table the host's rules look up count too.
  const vpn = await run('create-vpc', '--name', 'vpn', '--cidr', '10.44.0.0/16');
  t.is(vpn.code, 2);
  t.regex(vpn.stderr, /overlaps the host route 10\.44\.0\.0\/16 via 203\.0\.113\.254 dev uplink0 \(table 100, proto boot\)/);
  t.is((await run('delete-vpc', '--name', 'corp')).code, 0);
  t.is(routeTo('10.99.0.0/16'), foreign, 'the foreign route is still there');
});

test.serial('a VPC inside the transit pool is refused; the other VPC keeps its internet', async (t) => {
  t.is(fetchFrom('ns-base-web').status, 0, 'base reaches the internet before');
  const r = await run('create-vpc', '--name', 'pool', '--cidr', '100.64.0.0/16');
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr.trim(), "vpcctl: vpc \"pool\" 100.64.0.0/16 overlaps vpcctl's transit pool 100.64.0.0/16 (set VPCCTL_TRANSIT_POOL for another): choose another CIDR");
  t.is((await run('create-vpc', '--name', 'pool', '--cidr', '100.0.0.0/8')).code, 2, 'a VPC covering the pool');
  const f = fetchFrom('ns-base-web');
  t.is(f.status, 0, `base still reaches the internet: ${f.stderr}`);
});

test.serial('a foreign link named like the next gateway link: that /30 is skipped', async (t) => {
  const api = new Vpcctl({ stateDir: state });
  const dry = await api.createVpc({ name: 'next', cidr: '10.30.0.0/16' }, { dryRun: true });
  const veth = dry.plan.ops.find((o) => o.op === 'vethAdd' && o.ns === '');
  t.truthy(veth);
  const taken = (veth as { name: string }).name;
  ip(['link', 'add', taken, 'type', 'veth', 'peer', 'name', 'foreign0']);
  try {
    const r = await run('create-vpc', '--name', 'next', '--cidr', '10.30.0.0/16');
    t.is(r.code, 0, r.stderr);
    const show = JSON.parse((await run('show-vpc', '--name', 'next', '--json')).stdout);
    t.not(show.gateway.hostLink, taken);
    t.regex(ip(['-d', 'link', 'show', taken]), /foreign0/, 'the foreign link is untouched');
    t.is((await run('delete-vpc', '--name', 'next')).code, 0);
    t.regex(ip(['-d', 'link', 'show', taken]), /foreign0/, 'and still there after delete-vpc');
  } finally {
    ip(['link', 'del', taken]);
  }
});

test.serial('--uplink must be a real, up, non-loopback link with an address', async (t) => {
  ip(['link', 'add', 'down0', 'type', 'veth', 'peer', 'name', 'down0p']);
  ip(['addr', 'add', '192.0.2.1/24', 'dev', 'down0']);
  ip(['link', 'add', 'bare0', 'type', 'veth', 'peer', 'name', 'bare0p']);
  ip(['link', 'set', 'bare0', 'up']);
  try {
    const before = stateText();
    for (const [uplink, why] of [['lo', 'is the loopback interface'], ['down0', 'is down'], ['bare0', 'has no IPv4 address'], ['nope0', 'does not exist on this host']]) {
      const r = await run('create-vpc', '--name', 'up', '--cidr', '10.31.0.0/16', '--uplink', uplink!);
      t.is(r.code, 2, `${uplink}: ${r.stderr}`);
      t.is(r.stderr.trim(), `vpcctl: uplink "${uplink}" ${why}: pass the interface that reaches the internet`);
    }
    t.is(stateText(), before);
  } finally {
    ip(['link', 'del', 'down0']);
    ip(['link', 'del', 'bare0']);
  }
});

test.serial('multicast, class E, loopback, link-local and 0/8 CIDRs are exit 2 from validation', async (t) => {
  for (const cidr of ['224.0.0.0/8', '239.1.0.0/16', '240.0.0.0/8', '255.255.255.0/24', '127.0.0.0/16', '169.254.0.0/16', '0.0.0.0/8']) {
    const r = await run('create-vpc', '--name', 'odd', '--cidr', cidr);
    t.is(r.code, 2, `${cidr}: ${r.stderr}`);
    t.regex(r.stderr, /range, which is not routable: choose another CIDR/);
  }
  const r = await run('create-subnet', '--vpc', 'base', '--name', 'mc', '--cidr', '224.0.1.0/24', '--type', 'private');
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr.trim(), 'vpcctl: subnet 224.0.1.0/24 overlaps the multicast 224.0.0.0/4 range, which is not routable: choose another CIDR');
});

test.serial('the same refusals through apply -f, with the path in the file', async (t) => {
  const before = stateText();
  const cases: Array<[unknown, RegExp]> = [
    [{ vpcs: [{ name: 'lan', cidr: '203.0.113.0/24', subnets: [] }] },
      /^vpcctl: vpcs\[0\]\.cidr: vpc "lan" 203\.0\.113\.0\/24 overlaps the host route 203\.0\.113\.0\/24 dev uplink0 \(proto kernel\)/],
    [{ vpcs: [{ name: 'ok', cidr: '10.32.0.0/16', subnets: [] }, { name: 'pool', cidr: '100.64.0.0/16', subnets: [] }] },
      /^vpcctl: vpcs\[1\]\.cidr: vpc "pool" 100\.64\.0\.0\/16 overlaps vpcctl's transit pool/],
    [{ vpcs: [{ name: 'base', cidr: '10.0.0.0/16', subnets: [
      { name: 'web', cidr: '10.0.1.0/24', type: 'public' },
      { name: 'lan', cidr: '10.0.9.0/24', type: 'private' },
      { name: 'corp', cidr: '10.0.7.0/24', type: 'public' }] }] },
      /^vpcctl: vpcs\[0\]\.subnets\[2\]\.cidr: subnet "corp" of vpc "base" 10\.0\.7\.0\/24 overlaps the host route 10\.0\.7\.0\/24 via 203\.0\.113\.254 dev uplink0 \(proto boot\)/],
    [{ vpcs: [{ name: 'up', cidr: '10.33.0.0/16', uplink: 'lo', subnets: [] }] },
      /^vpcctl: vpcs\[0\]\.uplink: uplink "lo" is the loopback interface/],
    [{ vpcs: [{ name: 'mc', cidr: '239.0.0.0/8', subnets: [{ name: 'a', cidr: '239.0.1.0/24', type: 'private' }] }] },
      /^vpcctl: vpcs\[0\]\.cidr: vpc 239\.0\.0\.0\/8 overlaps the multicast 224\.0\.0\.0\/4 range/],
  ];
  ip(['route', 'add', '10.0.7.0/24', 'via', SIM.upstreamAddress, 'dev', SIM.uplink]);
  try {
    for (const [i, [doc, re]] of cases.entries()) {
      const r = await run('apply', '-f', write(`t${i}.json`, doc));
      t.is(r.code, 2, r.stderr);
      t.regex(r.stderr.trim(), re);
    }
  } finally {
    ip(['route', 'del', '10.0.7.0/24', 'via', SIM.upstreamAddress, 'dev', SIM.uplink]);
  }
  t.is(stateText(), before, 'nothing was applied');
});

test.serial('a foreign route that appears after the check is never replaced: the plan fails and rolls back', async (t) => {
  const api = new Vpcctl({ stateDir: state });
  const before = stateText();
  const orig = api.engine.run.bind(api.engine);
  // Between the guard and the executor, someone adds the very route the plan adds.
  api.engine.run = async (plan, opts) => {
    ip(['route', 'add', '10.0.8.0/24', 'via', SIM.upstreamAddress, 'dev', SIM.uplink]);
    return orig(plan, opts);
  };
  try {
    const e = await t.throwsAsync(api.createSubnet({ vpc: 'base', name: 'race', cidr: '10.0.8.0/24', type: 'public' }));
    t.true(e instanceof VpcctlError);
    t.regex(e!.message, /the route 10\.0\.8\.0\/24 via 203\.0\.113\.254 dev uplink0 is there and not on vg-[0-9a-f]{8}: refusing to replace/);
    t.is(routeTo('10.0.8.0/24'), `10.0.8.0/24 via ${SIM.upstreamAddress} dev ${SIM.uplink}`, 'the foreign route is intact');
    t.is(stateText(), before);
    t.false(ip(['netns', 'list']).includes('ns-base-race'), 'rolled back');
  } finally {
    ip(['route', 'del', '10.0.8.0/24', 'via', SIM.upstreamAddress, 'dev', SIM.uplink]);
  }
});

test.serial('after all of it, the host\'s routes (less vpcctl\'s) are exactly as before', async (t) => {
  t.is(hostRoutes(), routesBefore);
  t.true(await hostReachesInternet());
  t.is(fetchFrom('ns-base-web').status, 0);
  const doctor = await run('doctor');
  t.regex(doctor.stdout, /must not overlap[\s\S]*transit pool 100\.64\.0\.0\/16[\s\S]*route 10\.99\.0\.0\/16 via 203\.0\.113\.254 dev uplink0 \(proto boot\)/);
  t.regex(doctor.stdout, /route 10\.44\.0\.0\/16 via 203\.0\.113\.254 dev uplink0 \(table 100, proto boot\)/);
  t.notRegex(doctor.stdout, /route [^\n]*dev vg-/, "vpcctl's own routes are not listed");
  t.is((await run('cleanup-all')).code, 0);
  t.is(hostRoutes(), routesBefore);
});
