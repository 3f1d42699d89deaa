import test from 'ava';
import { parseCidr } from '../../src/model/cidr.js';
import {
  checkClaims, checkUplinkLink, constrainingRoutes, defaultRouteDev, describeRoute, footprint, rootConstraints,
  networkOf, newClaims, type RootNet, type RootRoute,
} from '../../src/model/root-routes.js';
import { checkNotSpecial, specialRangeOf } from '../../src/model/special-ranges.js';
import { checkSubnetCidr, checkVpcCidr } from '../../src/model/validate.js';
import { parseTopology } from '../../src/model/schema.js';
import { validateTopology } from '../../src/model/validate.js';
import { errorOf } from '../helpers/error-of.js';


const route = (dst: string, extra: Partial<RootRoute> = {}): RootRoute =>
  ({ dst, table: 254, protocol: 4, scope: 0, kind: 1, metric: 0, ...extra });

/** A host like the sandbox's: an uplink, a LAN route, one VPC's gateway link and its routes. */
const host = (): RootNet => ({
  links: [
    { name: 'lo', up: true, loopback: true },
    { name: 'eth0', up: true, loopback: false },
    { name: 'eth1', up: false, loopback: false },
    { name: 'dummy0', up: true, loopback: false },
    { name: 'vg-64400000', alias: 'vpcctl:igw:prod', up: true, loopback: false },
    { name: 'vg-64400004', up: true, loopback: false }, // named like ours, not tagged: someone else's
  ],
  addrs: [
    { dev: 'lo', cidr: '127.0.0.1/8' },
    { dev: 'eth0', cidr: '192.168.1.20/24' },
    { dev: 'eth0', cidr: '192.0.2.5/28' },
    { dev: 'eth1', cidr: '172.31.0.1/24' },
    { dev: 'vg-64400000', cidr: '100.64.0.1/30' },
  ],
  routes: [
    route('default', { via: '192.168.1.1', dev: 'eth0', protocol: 16, metric: 100 }),
    route('default', { via: '192.168.1.254', dev: 'dummy0', metric: 50 }),
    route('192.168.1.0/24', { dev: 'eth0', protocol: 2, scope: 253 }),
    route('10.99.0.0/16', { via: '192.168.1.254', dev: 'eth0' }),
    route('10.66.0.0/16', { kind: 6 }), // blackhole
    route('100.64.0.0/30', { dev: 'vg-64400000', protocol: 2, scope: 253 }),
    route('10.0.1.0/24', { via: '100.64.0.2', dev: 'vg-64400000' }), // vpcctl's own public subnet route
    route('10.200.0.0/16', { dev: 'vg-64400004' }),
    route('10.8.0.0/24', { dev: 'eth0', table: 100 }), // a VPN's policy table
    route('10.9.0.0/24', { dev: 'eth0', table: 101 }), // a table no rule looks up
    route('192.168.1.20', { dev: 'eth0', table: 255, kind: 2, scope: 254, protocol: 2 }),
    route('127.0.0.0/8', { dev: 'lo', table: 255, kind: 2, scope: 254, protocol: 2 }),
    route('224.0.0.0/4', { dev: 'eth0', kind: 5 }), // multicast type: not a unicast route
    route('10.72.1.0/24', { table: 255, kind: 8 }), // a prohibit route in `local`, which the lookup reads first
    route('10.71.1.0/24', { kind: 9 }), // throw: main's lookup ends there
  ].map((r) => (r.dst.includes('/') || r.dst === 'default' ? r : { ...r, dst: `${r.dst}/32` })),
  ruleTables: [255, 254, 253, 100],
});

test('constraining routes: foreign, non-default, steering, in the tables the lookup uses', (t) => {
  const dsts = constrainingRoutes(host()).map((r) => `${r.dst}@${r.table}`).sort();
  t.deepEqual(dsts, ['10.200.0.0/16@254', '10.66.0.0/16@254', '10.71.1.0/24@254', '10.72.1.0/24@255', '10.8.0.0/24@100', '10.99.0.0/16@254', '192.168.1.0/24@254']);
  t.is(describeRoute(constrainingRoutes(host()).find((r) => r.dst === '10.72.1.0/24')!), 'prohibit 10.72.1.0/24 (table local, proto static)');
  t.is(describeRoute(constrainingRoutes(host()).find((r) => r.dst === '10.71.1.0/24')!), 'throw 10.71.1.0/24 (proto static)');
});

test('routes are described as ip route shows them, with table and protocol', (t) => {
  const kernelRoute = constrainingRoutes(host()).find((r) => r.dst === '192.168.1.0/24')!;
  t.is(describeRoute(kernelRoute), '192.168.1.0/24 dev eth0 (proto kernel)');
  t.is(describeRoute(route('10.99.0.0/16', { via: '192.168.1.254', dev: 'eth0' })), '10.99.0.0/16 via 192.168.1.254 dev eth0 (proto static)');
  t.is(describeRoute(route('10.66.0.0/16', { kind: 6 })), 'blackhole 10.66.0.0/16 (proto static)');
  t.is(describeRoute(route('10.8.0.0/24', { dev: 'wg0', table: 100, protocol: 186 })), '10.8.0.0/24 dev wg0 (table 100, proto bgp)');
  t.is(describeRoute(route('10.8.0.0/24', { dev: 'wg0', table: 253, protocol: 77 })), '10.8.0.0/24 dev wg0 (table default, proto 77)');
});

test('the default route: the main table\'s lowest metric', (t) => {
  t.is(defaultRouteDev(host()), 'dummy0');
  t.is(defaultRouteDev({ ...host(), routes: [] }), null);
});

test('networkOf masks the host bits of an address', (t) => {
  t.deepEqual(networkOf('203.0.113.1/24'), parseCidr('203.0.113.0/24'));
  t.deepEqual(networkOf('10.1.2.3/32'), parseCidr('10.1.2.3/32'));
  t.deepEqual(networkOf('10.1.2.3/0'), parseCidr('0.0.0.0/0'));
});

const constraints = () => rootConstraints(host(), { transitPool: '100.64.0.0/16', uplinks: ['eth0'] });
const claim = (cidr: string, subnet?: string) => ({ vpc: 'x', cidr, uplink: 'eth0', ...(subnet ? { subnet } : {}) });

test('a claim over a foreign route, the uplink network or the transit pool is refused, naming it', (t) => {
  const cases: Array<[string, string | undefined, string]> = [
    ['192.168.1.0/24', undefined, 'vpc "x" 192.168.1.0/24 overlaps the host route 192.168.1.0/24 dev eth0 (proto kernel): choose another CIDR'],
    ['192.168.0.0/16', undefined, 'vpc "x" 192.168.0.0/16 overlaps the host route 192.168.1.0/24 dev eth0 (proto kernel): choose another CIDR'],
    // An address without a route of its own (a /32 peer address, a route someone deleted) still counts.
    ['192.0.2.0/24', undefined, 'vpc "x" 192.0.2.0/24 overlaps the network 192.0.2.0/28 of the uplink eth0 (address 192.0.2.5/28): choose another CIDR'],
    ['10.99.1.0/24', 'web', 'subnet "web" of vpc "x" 10.99.1.0/24 overlaps the host route 10.99.0.0/16 via 192.168.1.254 dev eth0 (proto static): choose another CIDR'],
    ['100.64.0.0/16', undefined, "vpc \"x\" 100.64.0.0/16 overlaps vpcctl's transit pool 100.64.0.0/16 (set VPCCTL_TRANSIT_POOL for another): choose another CIDR"],
    ['100.0.0.0/8', undefined, "vpc \"x\" 100.0.0.0/8 overlaps vpcctl's transit pool 100.64.0.0/16 (set VPCCTL_TRANSIT_POOL for another): choose another CIDR"],
    ['10.8.0.0/16', undefined, 'vpc "x" 10.8.0.0/16 overlaps the host route 10.8.0.0/24 dev eth0 (table 100, proto static): choose another CIDR'],
    ['10.66.5.0/24', 'db', 'subnet "db" of vpc "x" 10.66.5.0/24 overlaps the host route blackhole 10.66.0.0/16 (proto static): choose another CIDR'],
    ['10.200.0.0/24', 'x', 'subnet "x" of vpc "x" 10.200.0.0/24 overlaps the host route 10.200.0.0/16 dev vg-64400004 (proto static): choose another CIDR'],
  ];
  for (const [cidr, subnet, message] of cases) {
    const e = errorOf(() => checkClaims([claim(cidr, subnet)], constraints()));
    t.is(e.code, 'OVERLAP');
    t.is(e.exitCode, 2);
    t.is(e.message, message);
  }
});

test('vpcctl\'s own routes, the default route, other tables and local routes do not constrain', (t) => {
  for (const cidr of ['10.0.0.0/16', '10.0.1.0/24', '10.9.0.0/24', '10.1.0.0/16', '172.16.0.0/12']) {
    t.notThrows(() => checkClaims([claim(cidr)], constraints()), cidr);
  }
  // The uplink's network constrains only where it is an uplink: eth1 is not one here.
  t.notThrows(() => checkClaims([claim('172.31.0.0/24')], constraints()));
});

test('a topology path prefixes the message', (t) => {
  const e = errorOf(() => checkClaims([claim('10.99.1.0/24', 'web')], constraints(), () => 'vpcs[0].subnets[1].cidr'));
  t.regex(e.message, /^vpcs\[0\]\.subnets\[1\]\.cidr: subnet "web" of vpc "x" 10\.99\.1\.0\/24 overlaps the host route/);
});

const vpcs = (publicCidr = '10.0.1.0/24', uplink: string | null = 'eth0') => ({
  prod: {
    name: 'prod', cidr: '10.0.0.0/16', uplink,
    subnets: { web: { name: 'web', cidr: publicCidr, type: 'public' }, db: { name: 'db', cidr: '10.0.2.0/24', type: 'private' } },
  },
});

test('new claims: only new VPCs, changed ones, and new public subnets', (t) => {
  const before = footprint(vpcs());
  t.deepEqual(newClaims(before, vpcs()), [], 'nothing new: nothing to check (a later route never blocks a repair)');
  t.deepEqual(newClaims(footprint({}), vpcs()), [
    { vpc: 'prod', cidr: '10.0.0.0/16', uplink: 'eth0' },
    { vpc: 'prod', subnet: 'web', cidr: '10.0.1.0/24', uplink: 'eth0' },
  ]);
  t.deepEqual(newClaims(before, vpcs('10.0.3.0/24')), [{ vpc: 'prod', subnet: 'web', cidr: '10.0.3.0/24', uplink: 'eth0' }]);
  t.is(newClaims(before, vpcs('10.0.1.0/24', 'eth1')).length, 2, 'a new uplink claims the VPC again');
  const privateToPublic = vpcs();
  privateToPublic.prod.subnets.db.type = 'public';
  t.deepEqual(newClaims(before, privateToPublic), [{ vpc: 'prod', subnet: 'db', cidr: '10.0.2.0/24', uplink: 'eth0' }]);
});

test('--uplink: real, up, not loopback, with an address, not vpcctl\'s', (t) => {
  t.notThrows(() => checkUplinkLink(host(), 'eth0'));
  const cases: Array<[string, RegExp]> = [
    ['nope0', /uplink "nope0" does not exist on this host/],
    ['lo', /uplink "lo" is the loopback interface/],
    ['eth1', /uplink "eth1" is down/],
    ['dummy0', /uplink "dummy0" has no IPv4 address/],
    ['vg-64400000', /uplink "vg-64400000" is one of vpcctl's own gateway links/],
  ];
  for (const [name, re] of cases) {
    const e = errorOf(() => checkUplinkLink(host(), name));
    t.is(e.exitCode, 2);
    t.regex(e.message, re);
  }
});

test('special ranges: loopback, link-local, multicast, class E, 0/8 are refused; neighbours are not', (t) => {
  for (const cidr of ['0.0.0.0/8', '127.0.0.0/16', '169.254.1.0/24', '224.0.0.0/8', '239.1.0.0/16', '240.0.0.0/8', '255.255.255.0/24', '224.0.0.0/3']) {
    t.truthy(specialRangeOf(parseCidr(cidr)), cidr);
    const e = errorOf(() => checkNotSpecial(parseCidr(cidr), 'subnet'));
    t.is(e.code, 'INVALID_CIDR');
    t.is(e.exitCode, 2);
  }
  for (const cidr of ['1.0.0.0/8', '126.255.0.0/16', '169.253.0.0/16', '223.255.255.0/24', '10.0.0.0/8', '100.64.0.0/10']) {
    t.is(specialRangeOf(parseCidr(cidr)), undefined, cidr);
  }
  t.is(errorOf(() => checkVpcCidr('224.0.0.0/8')).message,
    'vpc 224.0.0.0/8 overlaps the multicast 224.0.0.0/4 range, which is not routable: choose another CIDR');
  t.is(errorOf(() => checkSubnetCidr('0.0.0.0/0', '240.0.1.0/24', [])).message,
    'subnet 240.0.1.0/24 overlaps the reserved (class E and broadcast) 240.0.0.0/4 range, which is not routable: choose another CIDR');
  const e = errorOf(() => validateTopology(parseTopology({ vpcs: [{ name: 'm', cidr: '169.254.0.0/16', subnets: [] }] })));
  t.is(e.message, 'vpcs[0].cidr: vpc 169.254.0.0/16 overlaps the link-local 169.254.0.0/16 range, which is not routable: choose another CIDR');
});

test('a claim from a topology file is named by its path; one kept from the state by none', async (t) => {
  const { claimPath, readTopology } = await import('../../src/api/topology.js');
  const topo = readTopology({ vpcs: [
    { name: 'a', cidr: '10.1.0.0/16', subnets: [] },
    { name: 'b', cidr: '10.2.0.0/16', subnets: [{ name: 'x', cidr: '10.2.1.0/24', type: 'private' }, { name: 'web', cidr: '10.2.2.0/24', type: 'public' }] },
  ] });
  t.is(claimPath(topo, { vpc: 'b', cidr: '10.2.0.0/16', uplink: null }), 'vpcs[1].cidr');
  t.is(claimPath(topo, { vpc: 'b', subnet: 'web', cidr: '10.2.2.0/24', uplink: null }), 'vpcs[1].subnets[1].cidr');
  t.is(claimPath(topo, { vpc: 'b', subnet: 'kept', cidr: '10.2.3.0/24', uplink: null }), undefined);
  t.is(claimPath(topo, { vpc: 'old', cidr: '10.3.0.0/16', uplink: null }), undefined);
});
