import {
  RTPROT_RA, checkClaims, checkClaims6, footprint, newClaims, raDefaultsAtRisk, rootConstraints6, routes6InPool,
} from '../../src/model/root-routes.js';
import test from 'ava';
import { readFileSync } from 'node:fs';
import {
  contains6, formatCidr6, hostAddress6, ip6ToString, nthSubnet6, overlaps6, parseCidr6, parseIp6, ulaFor,
} from '../../src/model/cidr6.js';
import { gatewayIp6, hostIfaceCidr6, isRoutedPrefix6, routedPrefix6, transitEnds6 } from '../../src/model/addresses.js';
import { checkSubnetCidr6, checkVpcCidr6, nextSubnet6, validateTopology } from '../../src/model/validate.js';
import { parseTopology } from '../../src/model/schema.js';
import { compilePolicy } from '../../src/firewall/policy.js';
import { routerRuleset } from '../../src/firewall/router.js';
import { rootRuleset } from '../../src/firewall/root.js';
import { plan, type KernelView } from '../../src/plan/planner.js';
import { fullPlan } from '../../src/plan/full.js';
import type { Op } from '../../src/plan/ops.js';
import { emptyState, type State, type VpcState } from '../../src/state/types.js';
import { checkFixture } from '../helpers/fixture.js';
import { errorOf } from '../helpers/error-of.js';

// --- CIDR math ------------------------------------------------------------------

test('IPv6 text: any RFC 4291 form parses; printing is RFC 5952', (t) => {
  t.is(parseIp6('::'), 0n);
  t.is(parseIp6('::1'), 1n);
  t.is(ip6ToString(parseIp6('2001:0db8:0000:0000:0000:0000:0000:0001')), '2001:db8::1');
  t.is(ip6ToString(parseIp6('fd00:10:0:0:1:0:0:0')), 'fd00:10:0:0:1::', 'the longest zero run is compressed');
  t.is(ip6ToString(parseIp6('1:0:0:1:0:0:1:1')), '1::1:0:0:1:1', 'the first of equal runs');
  t.is(ip6ToString(parseIp6('1:0:1:1:1:1:1:1')), '1:0:1:1:1:1:1:1', 'a single zero group is not');
  t.is(ip6ToString(0n), '::');
  for (const bad of ['1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '::ffff:1.2.3.4', 'fe80::1%eth0']) {
    t.throws(() => parseIp6(bad), undefined, bad);
  }
});

test('IPv6 CIDRs: canonical only, host bits clear, a clear message naming the fix', (t) => {
  t.deepEqual(parseCidr6('fd00:10::/56'), { network: 0xfd000010n << 96n, prefix: 56 });
  t.throws(() => parseCidr6('FD00:10::/56'), { message: /not in canonical form \(write fd00:10::\/56\)/ });
  t.throws(() => parseCidr6('fd00:0:0:0::/56'), { message: /write fd00::\/56/ });
  t.throws(() => parseCidr6('fd00:10::1/56'), { message: /host bits set \(did you mean fd00:10::\/56\?\)/ });
  t.throws(() => parseCidr6('fd00::/129'), { message: /is not an IPv6 CIDR/ });
  t.throws(() => parseCidr6('fd00::/056'), { message: /is not an IPv6 CIDR/ });
  t.throws(() => parseCidr6('10.0.0.0/8'), { message: /is not an IPv6 CIDR/ });
});

test('IPv6 containment, overlap, carving and host addresses', (t) => {
  const vpc = parseCidr6('fd00:10::/56');
  t.true(contains6(vpc, parseCidr6('fd00:10:0:ff::/64')));
  t.false(contains6(vpc, parseCidr6('fd00:10:0:100::/64')));
  t.true(overlaps6(parseCidr6('fd00:10::/64'), vpc));
  t.false(overlaps6(parseCidr6('fd00:11::/56'), vpc));
  t.is(formatCidr6(nthSubnet6(vpc, 64, 0)), 'fd00:10::/64');
  t.is(formatCidr6(nthSubnet6(vpc, 64, 255)), 'fd00:10:0:ff::/64');
  t.throws(() => nthSubnet6(vpc, 64, 256));
  t.is(ip6ToString(hostAddress6(parseCidr6('fd00:10:0:2::/64'), 2)), 'fd00:10:0:2::2');
  t.is(gatewayIp6('fd00:10:0:2::/64'), 'fd00:10:0:2::1');
  t.is(hostIfaceCidr6('fd00:10:0:2::/64'), 'fd00:10:0:2::2/64');
});

test('a ULA /56 derived from the name: stable, in fd00::/8, distinct for distinct names', (t) => {
  const a = ulaFor('prod');
  t.is(a, ulaFor('prod'));
  t.regex(a, /^fd[0-9a-f]{2}:/);
  t.true(a.endsWith('/56'));
  t.notThrows(() => checkVpcCidr6(a));
  t.not(a, ulaFor('dev'));
});

// --- Validation -------------------------------------------------------------------

test('IPv6 validation: prefix lengths, special ranges, outside the VPC, overlap', (t) => {
  t.throws(() => checkVpcCidr6('fd00::/64'), { message: /it must be between \/44 and \/60/ });
  t.throws(() => checkVpcCidr6('fd00::/40'), { message: /it must be between \/44 and \/60/ });
  t.throws(() => checkVpcCidr6('fe80::/56'), { message: /link-local fe80::\/10/ });
  t.throws(() => checkVpcCidr6('ff00::/56'), { message: /multicast ff00::\/8/ });
  t.throws(() => checkSubnetCidr6('fd00:10::/56', '::1/128', []), { message: /it must be \/64/ });
  t.throws(() => checkSubnetCidr6('::/44', '::/64', []), { message: /unspecified|IPv4-mapped|loopback/ });
  t.throws(() => checkSubnetCidr6('fd00:10::/56', 'fd00:11::/64', []), { message: /not inside the vpc's IPv6 CIDR fd00:10::\/56/ });
  t.throws(() => checkSubnetCidr6('fd00:10::/56', 'fd00:10::/64', [{ name: 'web', cidr: 'fd00:10::/64' }]), { message: /overlaps subnet "web"/ });
  t.is(nextSubnet6('fd00:10::/56', ['fd00:10::/64', 'fd00:10:0:2::/64']), 'fd00:10:0:1::/64');
  const all16 = Array.from({ length: 16 }, (_, i) => formatCidr6(nthSubnet6(parseCidr6('fd00:10::/60'), 64, i)));
  t.throws(() => nextSubnet6('fd00:10::/60', all16),
    { message: /no free \/64/ });
});

test('topology: IPv6 problems are reported with their paths, all at once', (t) => {
  const topo = parseTopology({
    vpcs: [
      { name: 'a', cidr: '10.0.0.0/16', ipv6Cidr: 'fd00:10::/56', subnets: [
        { name: 's1', cidr: '10.0.1.0/24', type: 'private', ipv6Cidr: 'fd00:10::/64' },
        { name: 's2', cidr: '10.0.2.0/24', type: 'private', ipv6Cidr: 'fd00:10::/64' },
        { name: 's3', cidr: '10.0.3.0/24', type: 'private', ipv6Cidr: 'fd00:99::/64' },
      ] },
      { name: 'b', cidr: '10.1.0.0/16', subnets: [{ name: 's', cidr: '10.1.1.0/24', type: 'private', ipv6Cidr: 'fd00:1::/64' }] },
      { name: 'c', cidr: '10.2.0.0/16', ipv6Cidr: 'fd00:10::/56', subnets: [] },
    ],
    peerings: [{ vpc1: 'a', vpc2: 'c' }],
  });
  const e = t.throws(() => validateTopology(topo));
  const lines = e!.message.split('\n');
  t.true(lines.some((l) => /vpcs\[0\]\.subnets\[1\]\.ipv6Cidr: fd00:10::\/64 overlaps subnet "s1"/.test(l)), e!.message);
  t.true(lines.some((l) => /vpcs\[0\]\.subnets\[2\]\.ipv6Cidr: fd00:99::\/64 is not inside/.test(l)), e!.message);
  t.true(lines.some((l) => /vpcs\[1\]\.subnets\[0\]\.ipv6Cidr: vpc "b" has no IPv6 CIDR/.test(l)), e!.message);
  t.true(lines.some((l) => /peerings\[0\]: .*disjoint IPv6 CIDRs/.test(l)), e!.message);
  t.throws(() => parseTopology({ vpcs: [{ name: 'x', cidr: '10.0.0.0/16', ipv6Cidr: 'FD00::/56' }] }), { message: /vpcs\[0\]\.ipv6Cidr: FD00::\/56 is not in canonical form/ });
});

// --- Firewall ---------------------------------------------------------------------

const texts = (o: unknown) => JSON.stringify(o);

test('policy: an IPv6 range matches ip6 addresses; a rule naming both families becomes two rules', (t) => {
  const rules = compilePolicy({
    default: 'deny', egress: [],
    ingress: [{ port: 22, protocol: 'tcp', action: 'allow', cidr: ['10.0.0.0/16', 'fd00:10::/56'] }],
  });
  const mine = rules.filter((r) => (r as { rule?: { comment?: string } }).rule?.comment === 'ingress[0]');
  t.is(mine.length, 2);
  t.regex(texts(mine[0]), /"protocol":"ip","field":"saddr"/);
  t.regex(texts(mine[1]), /"protocol":"ip6","field":"saddr".*"addr":"fd00:10::","len":56/);
});

test('policy of a dual-stack subnet: neighbour discovery passes before `invalid`, `icmp` means ICMP and ICMPv6', (t) => {
  const policy = { default: 'deny' as const, egress: [], ingress: [{ protocol: 'icmp' as const, action: 'allow' as const }] };
  const v4 = compilePolicy(policy);
  const v6 = compilePolicy(policy, { ipv6: true });
  t.notRegex(texts(v4), /neighbour discovery|"right":\{"set":\[1,58\]\}/, 'an IPv4-only subnet\'s table is as before');
  const comments = v6.map((r) => (r as { rule?: { comment?: string } }).rule?.comment).filter(Boolean);
  t.true(comments.indexOf('neighbour discovery') < comments.indexOf('invalid'));
  t.regex(texts(v6), /nd-neighbor-solicit/);
  t.regex(texts(v6), /"right":\{"set":\[1,58\]\}/, 'ICMP and ICMPv6, by protocol number');
});

const dual: VpcState = {
  name: 'demo', cidr: '10.0.0.0/16', ipv6Cidr: 'fd00:10::/56', uplink: null, transit: null,
  subnets: {
    web: { name: 'web', cidr: '10.0.1.0/24', ipv6Cidr: 'fd00:10::/64', type: 'public', apps: [] },
    db: { name: 'db', cidr: '10.0.2.0/24', ipv6Cidr: 'fd00:10:0:1::/64', type: 'private', apps: [] },
  },
};

test('router table: IPv6 anti-spoofing (fib saddr . iif) only in dual-stack VPCs', (t) => {
  t.regex(texts(routerRuleset(dual)), /"fib":\{"result":"oif","flags":\["saddr","iif"\]\}/);
  const { ipv6Cidr: _, ...v4 } = dual;
  t.notRegex(texts(routerRuleset(v4)), /fib/);
});

// --- Planner ------------------------------------------------------------------------

const kernelWith = (state: State): KernelView => {
  const ns = new Set<string>();
  for (const v of Object.values(state.vpcs)) {
    ns.add(`vpcr-${v.name}`);
    for (const s of Object.values(v.subnets)) ns.add(`ns-${v.name}-${s.name}`);
  }
  return { namespaces: ns, hostForward: '1' };
};
const find = <K extends Op['op']>(ops: Op[], op: K) => ops.filter((o): o is Extract<Op, { op: K }> => o.op === op);

function dualState(): State {
  const s = emptyState();
  s.vpcs.demo = structuredClone(dual);
  s.vpcs.b = {
    name: 'b', cidr: '10.1.0.0/16', ipv6Cidr: 'fd00:20::/56', uplink: null, transit: null,
    subnets: { db: { name: 'db', cidr: '10.1.1.0/24', ipv6Cidr: 'fd00:20::/64', type: 'private', apps: [] } },
  };
  s.peerings = [{ vpc1: 'demo', vpc2: 'b', link: '100.64.0.4/30' }];
  return s;
}

test('planner, dual-stack: router sysctls, ::1/::2 addresses, routes of both families, IPv6 peering', (t) => {
  const des = dualState();
  const p = plan(emptyState(), des, { namespaces: new Set(), hostForward: '1' });
  const sysctls = find(p.ops, 'sysctlSet').filter((o) => o.ns === 'vpcr-demo').map((o) => `${o.key}=${o.value}`);
  t.true(sysctls.includes('net/ipv6/conf/all/forwarding=1'));
  t.true(sysctls.includes('net/ipv6/conf/default/accept_dad=0'));
  t.false(sysctls.some((k) => k.includes('disable_ipv6')));
  const addrs = find(p.ops, 'addrAdd').map((o) => `${o.ns} ${o.dev} ${o.cidr}`);
  t.true(addrs.includes('vpcr-demo sn-0a000100 fd00:10::1/64'));
  t.true(addrs.includes('ns-demo-web eth0 fd00:10::2/64'));
  t.true(addrs.includes('vpcr-demo px-0a010000 fe80::1/64'));
  t.true(addrs.includes('vpcr-b px-0a000000 fe80::2/64'));
  const routes = find(p.ops, 'routeAdd').map((o) => `${o.ns} ${o.dst} ${o.via ?? ''}`);
  t.true(routes.includes('ns-demo-web ::/0 fd00:10::1'), 'public: an IPv6 default route');
  t.true(routes.includes('ns-demo-db fd00:10::/56 fd00:10:0:1::1'), 'private: the VPC prefix');
  t.true(routes.includes('ns-demo-db fd00:20::/56 fd00:10:0:1::1'), 'and the peer\'s');
  t.true(routes.includes('vpcr-demo fd00:20::/56 fe80::2'));
  t.true(routes.includes('vpcr-b fd00:10::/56 fe80::1'));
  t.deepEqual(plan(des, des, kernelWith(des)).ops, [], 'a dual-stack state in the kernel: nothing to do');
});

test('planner, dual-stack: routers make no link-local of their own; their IPv6 addresses come after their subnets\' links', (t) => {
  const routerV6 = (o: Op) => o.op === 'addrAdd' && o.ns.startsWith('vpcr-') && o.dev.startsWith('sn-') && o.cidr.includes(':');
  // In each router: after the last subnet link made there (a link coming up walks its router's IPv6 table).
  const after = (ops: Op[]) => ['vpcr-demo', 'vpcr-b'].every((r) => {
    const lastLink = ops.findLastIndex((o) => o.op === 'vethAdd' && o.ns === r && o.name.startsWith('sn-'));
    const first = ops.findIndex((o) => routerV6(o) && o.ns === r);
    return lastLink < first || first < 0;
  });
  const des = dualState();
  const created = plan(emptyState(), des, { namespaces: new Set(), hostForward: '1' }).ops;
  t.true(find(created, 'sysctlSet').some((o) => o.ns === 'vpcr-demo' && o.key === 'net/ipv6/conf/default/addr_gen_mode' && o.value === '1'));
  t.deepEqual(created.filter(routerV6).map((o) => (o as { cidr: string }).cidr).filter((c) => c.startsWith('fe80')), ['fe80::1/64', 'fe80::1/64', 'fe80::1/64']);
  t.true(after(created), 'new VPCs');
  // Subnets added to a VPC that stays: the same order.
  const more = structuredClone(des);
  for (const [name, i] of [['x', 7], ['y', 8]] as const) {
    more.vpcs.demo!.subnets[name] = { name, cidr: `10.0.${i}.0/24`, ipv6Cidr: `fd00:10:0:${i}::/64`, type: 'private', apps: [] };
  }
  const added = plan(des, more, kernelWith(des)).ops;
  t.is(added.filter(routerV6).length, 4);
  t.true(after(added), 'subnets added');
});

test('planner: a subnet\'s IPv6 prefix changing rebuilds it; a VPC becoming dual-stack rebuilds its router', (t) => {
  const cur = dualState();
  const des = structuredClone(cur);
  des.vpcs.demo!.subnets.db!.ipv6Cidr = 'fd00:10:0:5::/64';
  t.deepEqual(plan(cur, des, kernelWith(cur)).changes, ['replace subnet demo/db']);
  const v4 = structuredClone(cur);
  delete v4.vpcs.demo!.ipv6Cidr;
  for (const s of Object.values(v4.vpcs.demo!.subnets)) delete s.ipv6Cidr;
  t.true(plan(v4, cur, kernelWith(v4)).changes.includes('rebuild vpc demo'));
});

test('planner fixture: the full plan of a dual-stack state', (t) => {
  checkFixture(t, new URL('./fixtures/dual-stack-plan.json', import.meta.url).pathname, fullPlan(dualState()).ops);
  t.truthy(readFileSync(new URL('./fixtures/dual-stack-plan.json', import.meta.url), 'utf8'));
});

test('IPv6 internet: gateway ends derived from the IPv4 transit, host forwarding on while needed and put back after', (t) => {
  t.deepEqual(transitEnds6('100.64.0.4/30'), {
    near: 'fd7f:ffff:ffff:ffff::6440:5/126', far: 'fd7f:ffff:ffff:ffff::6440:6/126',
    nearIp: 'fd7f:ffff:ffff:ffff::6440:5', farIp: 'fd7f:ffff:ffff:ffff::6440:6',
  });
  const des = emptyState();
  des.vpcs.net = { ...structuredClone(dual), name: 'net', uplink: 'eth0', transit: '100.64.0.4/30' };
  const p = plan(emptyState(), des, { namespaces: new Set(), hostForward: '1', hostForward6: '0' });
  const f6 = (ops: Op[]) => find(ops, 'sysctlSet').filter((o) => o.key === 'net/ipv6/conf/all/forwarding' && o.ns === '').map((o) => o.value);
  t.deepEqual(f6(p.ops), ['1']);
  const routes = find(p.ops, 'routeAdd').map((o) => `${o.ns} ${o.dst} ${o.via ?? ''}`);
  t.true(routes.includes('vpcr-net ::/0 fd7f:ffff:ffff:ffff::6440:5'));
  t.true(find(p.ops, 'addrAdd').some((o) => o.ns === '' && o.cidr === 'fd7f:ffff:ffff:ffff::6440:5/126'));
  t.regex(texts(routerRuleset(des.vpcs.net!)), /"snat":\{"family":"ip6","addr":"fd7f:ffff:ffff:ffff::6440:6"\}/);

  const gone = { ...emptyState(), hostForward6Before: '0' };
  const back = plan(des, gone, { namespaces: kernelWith(des).namespaces, hostForward: '1', hostForward6: '1' });
  t.deepEqual(f6(back.ops), ['0'], 'put back as it was');
  t.is(back.ops[0]!.op, 'sysctlSet', 'first, before the namespaces go');

  const v4only = emptyState();
  v4only.vpcs.four = { name: 'four', cidr: '10.4.0.0/16', uplink: 'eth0', transit: '100.64.0.0/30', subnets: {} };
  t.deepEqual(f6(plan(emptyState(), v4only, { namespaces: new Set(), hostForward: '1', hostForward6: '0' }).ops), [], 'IPv4-only VPCs leave it alone');
});

test('host IPv6 forwarding would stop renewing a default route learnt from advertisements only where accept_ra is 1', (t) => {
  const route = (dst: string, dev: string, protocol: number) => ({ dst, dev, protocol, table: 254, scope: 0, kind: 1, metric: 1024 });
  const routes = [route('::/0', 'eth0', RTPROT_RA), route('::/0', 'eth1', RTPROT_RA), route('::/0', 'eth2', 4), route('2001:db8::/64', 'eth3', RTPROT_RA)];
  const acceptRa: Record<string, string> = { eth0: '1', eth1: '2', eth2: '1', eth3: '1' };
  t.deepEqual(raDefaultsAtRisk(routes, (d) => acceptRa[d]), ['eth0'], 'eth1 takes them anyway (2), eth2 is static, eth3 is no default');
  t.deepEqual(raDefaultsAtRisk([], () => '1'), []);
});

test('host IPv6 routes into the gateway pool: a foreign one is found; the default, vpcctl\'s gateway links and other ranges are not', (t) => {
  const route = (dst: string, dev: string) => ({ dst, dev, protocol: 4, table: 254, scope: 0, kind: 1, metric: 1024 });
  const pool = 'fd7f:ffff:ffff:ffff::/64';
  t.deepEqual(routes6InPool([
    route('::/0', 'eth0'), route('fd7f:ffff:ffff:ffff::6440:4/126', 'vg-64400004'), route('fd00::/8', 'eth0'), route('fd7f::/16', 'eth1'),
    route('fd7f:ffff:ffff:ffff::1/128', 'eth2'), route('2001:db8::/64', 'eth0'), route('fe80::/64', 'eth0'),
  ], pool).map((r) => r.dev), ['eth0', 'eth1', 'eth2'], 'fd00::/8 and fd7f::/16 contain the pool, a /128 sits in it');
  t.deepEqual(routes6InPool([route('::/0', 'eth0'), route('2001:db8::/32', 'eth0')], pool), []);
});

// --- Routed IPv6: a global prefix leaves as it is ----------------------------------

test('a global prefix (2000::/3) is routed when the VPC has a gateway; unique-local and others are translated', (t) => {
  t.true(isRoutedPrefix6('2001:db8:8000::/56'));
  t.true(isRoutedPrefix6('3fff::/56'));
  t.false(isRoutedPrefix6('fd00:10::/56'));
  t.false(isRoutedPrefix6('4000::/56'), 'outside 2000::/3: not global unicast');
  t.false(isRoutedPrefix6('100::/64'), 'discard-only');
  t.is(routedPrefix6({ ipv6Cidr: '2001:db8:8000::/56', transit: '100.64.0.0/30' }), '2001:db8:8000::/56');
  t.is(routedPrefix6({ ipv6Cidr: '2001:db8:8000::/56', transit: null }), null, 'no gateway: nothing to route');
  t.is(routedPrefix6({ ipv6Cidr: 'fd00:10::/56', transit: '100.64.0.0/30' }), null);
  t.is(routedPrefix6({ transit: '100.64.0.0/30' }), null);
});

const routedState = (): State => {
  const s = emptyState();
  s.vpcs.g = {
    name: 'g', cidr: '10.0.0.0/16', ipv6Cidr: '2001:db8:8000::/56', uplink: 'eth0', transit: '100.64.0.4/30',
    subnets: {
      web: { name: 'web', cidr: '10.0.1.0/24', ipv6Cidr: '2001:db8:8000:1::/64', type: 'public', apps: [] },
      worker: { name: 'worker', cidr: '10.0.2.0/24', ipv6Cidr: '2001:db8:8000:2::/64', type: 'private', egress: 'nat', apps: [] },
    },
  };
  s.vpcs.u = { ...structuredClone(s.vpcs.g!), name: 'u', ipv6Cidr: 'fd00:10::/56', transit: '100.64.0.8/30' };
  s.vpcs.u.subnets.web!.ipv6Cidr = 'fd00:10:0:1::/64';
  s.vpcs.u.subnets.worker!.ipv6Cidr = 'fd00:10:0:2::/64';
  return s;
};

test('routed: no NAT66 at its router nor at the host; the host routes its whole prefix over its own gateway link', (t) => {
  const s = routedState();
  const g = texts(routerRuleset(s.vpcs.g!));
  t.notRegex(g, /"snat":\{"family":"ip6"/, 'nothing translated at the router');
  t.regex(g, /egress-only gateway: private subnets out \(IPv6\)/, 'the egress-only gateway stays a firewall rule');
  t.regex(g, /private subnets are not reachable from outside \(IPv6\)/);
  t.regex(texts(routerRuleset(s.vpcs.u!)), /"snat":\{"family":"ip6","addr":"fd7f:ffff:ffff:ffff::6440:a"\}/, 'the unique-local one is');
  // The host masquerades the gateway pool (the unique-local VPC), never a routed prefix.
  const root = texts(rootRuleset(s)!);
  t.regex(root, /VPC internet via eth0 \(IPv6\)/);
  const onlyRouted = routedState();
  delete onlyRouted.vpcs.u;
  t.notRegex(texts(rootRuleset(onlyRouted)!), /VPC internet via eth0 \(IPv6\)/, 'no NAT66 rule when no VPC needs one');
  t.regex(texts(rootRuleset(onlyRouted)!), /nothing beyond the host opens connections into a VPC/);

  const p = plan(emptyState(), s, { namespaces: new Set(), hostForward: '1', hostForward6: '1' });
  const hostRoutes = find(p.ops, 'routeAdd').filter((o) => o.ns === '' && o.dst.includes(':'));
  t.deepEqual(hostRoutes, [{ op: 'routeAdd', ns: '', dst: '2001:db8:8000::/56', via: 'fd7f:ffff:ffff:ffff::6440:6', dev: 'vg-64400004' }]);
  const vethAt = p.ops.findIndex((o) => o.op === 'vethAdd' && o.name === 'vg-64400004');
  const addrAt = p.ops.findIndex((o) => o.op === 'addrAdd' && o.cidr === 'fd7f:ffff:ffff:ffff::6440:5/126');
  t.true(vethAt < addrAt && addrAt < p.ops.indexOf(hostRoutes[0]!), 'after its link and the address that makes the router on-link');
  // verify checks it (the full plan is what status compares with the kernel).
  t.true(fullPlan(s).ops.some((o) => o.op === 'routeAdd' && o.ns === '' && o.dst === '2001:db8:8000::/56'));
});

test('routed prefixes on the host: claimed when new or changed, refused over a host route or another routed VPC', (t) => {
  const s = routedState();
  t.deepEqual(newClaims(footprint({}), s.vpcs).filter((c) => c.ipv6), [{ vpc: 'g', cidr: '2001:db8:8000::/56', uplink: 'eth0', ipv6: true }]);
  t.deepEqual(newClaims(footprint(s.vpcs), s.vpcs), [], 'unchanged: nothing to check');
  const moved = routedState();
  moved.vpcs.g!.ipv6Cidr = '2001:db8:9000::/56';
  t.deepEqual(newClaims(footprint(s.vpcs), moved.vpcs).filter((c) => c.ipv6).map((c) => c.cidr), ['2001:db8:9000::/56']);

  const r6 = (dst: string, extra: Record<string, unknown> = {}) => ({ dst, dev: 'eth0', table: 254, protocol: 4, scope: 0, kind: 1, metric: 1024, ...extra });
  const net = { links: [{ name: 'vg-64400004', alias: 'vpcctl:igw:g', up: true, loopback: false }], addrs: [], routes: [], ruleTables: [] };
  const routes6 = [
    r6('::/0', { via: '2001:db8:ffff::fe' }),
    r6('2001:db8:ffff::/64', { protocol: 2 }),
    r6('2001:db8:8000::/56', { dev: 'vg-64400004' }), // vpcctl's own route: no constraint
    r6('2001:db8:a000::/48', { table: 255, kind: 5 }), // in `local`, multicast: steers nothing
    r6('2001:db8:c000::1/128', { table: 255, kind: 2, dev: 'eth1' }), // an address of the host's, without a prefix route
    r6('2001:db8:7000::/48', { kind: 6, dev: undefined }), // a blackhole
    r6('2001:db8:9000::/48', { table: 255, kind: 6, dev: undefined }), // a blackhole in `local`, which the lookup reads first
    r6('2001:db8:e000::/48', { kind: 2, dev: 'lo' }), // AnyIP: a range of the host's own, in main
    r6('2001:db8:9100::/48', { kind: 9, dev: undefined }), // throw
    r6('2001:db8:91e0::1/128', { table: 255, kind: 4, dev: 'lo' }), // an anycast address of the host's
  ];
  const addrs6 = [
    { dev: 'dv0', cidr: '2001:db8:d100::1/64' }, // on a down link, or still tentative: no route yet
    { dev: 'vg-64400004', cidr: '2001:db8:f000::1/64' }, // on vpcctl's own link
  ];
  const constraints = rootConstraints6(net, routes6, addrs6, s.vpcs);
  const claim = (cidr: string, vpc = 'n') => [{ vpc, cidr, uplink: 'eth0', ipv6: true as const }];
  t.notThrows(() => checkClaims6(claim('2001:db8:8000::/56', 'g'), constraints), 'a VPC does not collide with its own route');
  t.notThrows(() => checkClaims6(claim('2001:db8:a000::/56'), constraints));
  t.notThrows(() => checkClaims6(claim('2001:db8:f000::/56'), constraints), "an address on vpcctl's own link");
  t.regex(errorOf(() => checkClaims6(claim('2001:db8:9000::/56'), constraints)).message, /overlaps the host route blackhole 2001:db8:9000::\/48 \(table local, proto static\)/);
  t.regex(errorOf(() => checkClaims6(claim('2001:db8:e000::/56'), constraints)).message, /overlaps the host route local 2001:db8:e000::\/48 dev lo/);
  t.regex(errorOf(() => checkClaims6(claim('2001:db8:9100::/56'), constraints)).message, /overlaps the host route throw 2001:db8:9100::\/48/);
  t.regex(errorOf(() => checkClaims6(claim('2001:db8:91e0::/56'), constraints)).message, /overlaps the host's own address 2001:db8:91e0::1 on lo/);
  t.regex(errorOf(() => checkClaims6(claim('2001:db8:d100::/56'), constraints)).message, /overlaps the host's own address 2001:db8:d100::1 on dv0: choose another prefix$/);
  t.notThrows(() => checkClaims6(claim('2001:db8:b000::/56'), constraints));
  let e = errorOf(() => checkClaims6(claim('2001:db8:8000::/60'), constraints));
  t.is(e.code, 'OVERLAP');
  t.regex(e.message, /^vpc "n" IPv6 2001:db8:8000::\/60 \(a global prefix, routed by the host\) overlaps vpc "g" \(2001:db8:8000::\/56\), which the host routes already/);
  e = errorOf(() => checkClaims6(claim('2001:db8:ffff::/56'), constraints, () => 'vpcs[1].ipv6Cidr'));
  t.regex(e.message, /^vpcs\[1\]\.ipv6Cidr: vpc "n" .* overlaps the host route 2001:db8:ffff::\/64 dev eth0 \(proto kernel\): choose another prefix$/);
  t.regex(errorOf(() => checkClaims6(claim('2001:db8:7000::/56'), constraints)).message, /overlaps the host route blackhole 2001:db8:7000::\/48/);
  t.regex(errorOf(() => checkClaims6(claim('2001:db8:c000::/56'), constraints)).message, /overlaps the host's own address 2001:db8:c000::1 on eth1: choose another prefix$/);
  t.notThrows(() => checkClaims(claim('2001:db8:ffff::/56'), []), 'the IPv4 check leaves IPv6 claims to checkClaims6');
});

test('a host route that moves to another VPC in one plan is deleted on the old gateway link first', (t) => {
  const before = routedState();
  delete before.vpcs.u;
  const after = routedState();
  delete after.vpcs.u;
  after.vpcs.g = { ...after.vpcs.g!, cidr: '10.9.0.0/16', ipv6Cidr: 'fd00:20::/56', subnets: {} }; // g gives up its prefixes
  after.vpcs.h = { ...structuredClone(before.vpcs.g!), name: 'h', transit: '100.64.0.8/30' }; // h takes both
  const p = plan(before, after, { ...kernelWith(before), hostForward6: '1' });
  const dels = find(p.ops, 'routeDel').filter((o) => o.ns === '');
  t.deepEqual(dels.map((o) => `${o.dst} ${o.dev}`).sort(), ['10.0.1.0/24 vg-64400004', '2001:db8:8000::/56 vg-64400004']);
  const at = (op: Op) => p.ops.indexOf(op);
  const adds = find(p.ops, 'routeAdd').filter((o) => o.ns === '' && (o.dst === '2001:db8:8000::/56' || o.dst === '10.0.1.0/24'));
  t.is(adds.length, 2);
  t.true(adds.every((a) => a.dev === 'vg-64400008' && dels.every((d) => at(d) < at(a))), 'deleted before h adds them');
  t.true(dels.every((d) => at(d) < p.ops.findIndex((o) => o.op === 'netnsDel' && o.ns === 'vpcr-g')), 'while the old link is still there');
  // A VPC that goes for good leaves its routes to its link's removal: no extra op per route.
  const gone = plan(before, emptyState(), { ...kernelWith(before), hostForward6: '1' });
  t.deepEqual(find(gone.ops, 'routeDel'), []);
});
