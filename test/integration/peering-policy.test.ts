import test from 'ava';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshStateDir, ip, nft, vpcctl, ROOT } from '../helpers/sandbox.js';
import { native } from '../../src/native.js';

const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const ping = async (ns: string, dst: string) => (await (await native()).ping(ns, dst, 500)).ok;
const tcp = async (ns: string, dst: string, port: number) => (await (await native()).tcpConnect(ns, dst, port, 500)).ok;
const policyFile = (name: string, body: unknown) => {
  const path = join(state, `${name}.json`);
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
  return path;
};

// a: 10.10/16 (web public, db private), b: 10.20/16 (web public, db private), c: 10.30/16 (web)
test.before(async () => {
  const steps = [
    ['create-vpc', '--name', 'a', '--cidr', '10.10.0.0/16'],
    ['create-subnet', '--vpc', 'a', '--name', 'web', '--cidr', '10.10.1.0/24', '--type', 'public'],
    ['create-subnet', '--vpc', 'a', '--name', 'db', '--cidr', '10.10.2.0/24', '--type', 'private'],
    ['create-vpc', '--name', 'b', '--cidr', '10.20.0.0/16'],
    ['create-subnet', '--vpc', 'b', '--name', 'web', '--cidr', '10.20.1.0/24', '--type', 'public'],
    ['create-subnet', '--vpc', 'b', '--name', 'db', '--cidr', '10.20.2.0/24', '--type', 'private'],
    ['create-vpc', '--name', 'c', '--cidr', '10.30.0.0/16'],
    ['create-subnet', '--vpc', 'c', '--name', 'web', '--cidr', '10.30.1.0/24', '--type', 'public'],
  ];
  for (const s of steps) {
    const r = await run(...s);
    if (r.code !== 0) throw new Error(`${s.join(' ')}: ${r.stderr}`);
  }
  for (const [vpc, subnet] of [['a', 'web'], ['a', 'db'], ['b', 'web'], ['b', 'db']]) {
    for (const port of [80, 22]) await run('deploy-app', '--vpc', vpc!, '--subnet', subnet!, '--port', String(port));
  }
});

test.serial('peering: both ways, private subnets too; repeating it is a no-op', async (t) => {
  t.false(await ping('ns-a-web', '10.20.1.2'), 'isolated before peering');
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'b')).code, 0);
  t.true(await ping('ns-a-web', '10.20.1.2'));
  t.true(await ping('ns-b-web', '10.10.1.2'));
  t.true(await ping('ns-a-db', '10.20.2.2'), 'private to private');
  t.true(await tcp('ns-b-db', '10.10.2.2', 80));
  const again = await run('peer-vpcs', '--vpc1', 'b', '--vpc2', 'a');
  t.is(again.code, 0);
  t.regex(again.stdout, /nothing changed/);
  t.deepEqual(JSON.parse((await run('list-peerings', '--json')).stdout).map((p: { vpc1: string; vpc2: string }) => [p.vpc1, p.vpc2]), [['a', 'b']]);
});

test.serial('a subnet created after peering gets the routes too', async (t) => {
  t.is((await run('create-subnet', '--vpc', 'a', '--name', 'late', '--cidr', '10.10.3.0/24', '--type', 'private')).code, 0);
  t.regex(ip(['route'], 'ns-a-late'), /10\.20\.0\.0\/16 via 10\.10\.3\.1/);
  t.true(await ping('ns-a-late', '10.20.2.2'));
});

test.serial('refused: overlapping CIDRs, self-peering, unknown VPC', async (t) => {
  t.is((await run('create-vpc', '--name', 'dup', '--cidr', '10.20.0.0/16')).code, 0);
  const overlap = await run('peer-vpcs', '--vpc1', 'c', '--vpc2', 'dup');
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'dup')).code, 2, 'a is peered with b, which overlaps dup');
  t.is(overlap.code, 0, 'c and dup do not overlap');
  t.is((await run('unpeer-vpcs', '--vpc1', 'c', '--vpc2', 'dup')).code, 0);
  const self = await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'a');
  t.is(self.code, 2);
  t.regex(self.stderr, /cannot peer with itself/);
  const unknown = await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'zz');
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /vpc "zz" does not exist/);
  t.is((await run('create-vpc', '--name', 'same', '--cidr', '10.10.128.0/17')).code, 0);
  const r = await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'same');
  t.is(r.code, 2);
  t.regex(r.stderr, /overlaps/);
  await run('delete-vpc', '--name', 'same');
  await run('delete-vpc', '--name', 'dup');
});

test.serial('peering is not transitive, even with a route added by hand', async (t) => {
  t.is((await run('peer-vpcs', '--vpc1', 'b', '--vpc2', 'c')).code, 0);
  t.true(await ping('ns-c-web', '10.20.1.2'), 'b and c talk');
  ip(['route', 'add', '10.30.0.0/16', 'via', '10.10.2.1'], 'ns-a-db');
  ip(['route', 'add', '10.30.0.0/16', 'dev', 'px-0a140000'], 'vpcr-a'); // even the router is told
  t.false(await ping('ns-a-db', '10.30.1.2'), 'a cannot reach c through b');
  t.false(await ping('ns-a-web', '10.30.1.2'));
  t.false(await ping('ns-c-web', '10.10.1.2'));
});

const seed = JSON.parse(readFileSync(join(ROOT, 'policies', 'web.json'), 'utf8'));
const aWeb = { ...seed, subnet: '10.10.1.0/24' };

test.serial("the seed's policy: 80 reachable, 22 blocked, from the same VPC and from a peer; replies pass", async (t) => {
  t.true(await tcp('ns-a-db', '10.10.1.2', 22), '22 open before the policy');
  const r = await run('apply-policy', '--vpc', 'a', '--subnet', 'web', '--policy', policyFile('seed', aWeb));
  t.is(r.code, 0, r.stderr);
  t.true(await tcp('ns-a-db', '10.10.1.2', 80));
  t.false(await tcp('ns-a-db', '10.10.1.2', 22));
  t.true(await tcp('ns-b-web', '10.10.1.2', 80), 'from the peer');
  t.false(await tcp('ns-b-web', '10.10.1.2', 22));
  t.true(await tcp('ns-a-web', '10.20.1.2', 22), 'replies to connections a/web opens pass');
  t.true(await ping('ns-a-db', '10.10.1.2'), 'default allow: ICMP passes');
  const show = JSON.parse((await run('show-policy', '--vpc', 'a', '--subnet', 'web', '--json')).stdout);
  const deny = show.rules.find((x: { rule: string }) => x.rule.startsWith('ingress[1]'));
  t.true(deny.packets > 0, 'the deny rule counted the blocked SYNs');
  t.regex((await run('show-policy', '--vpc', 'a', '--subnet', 'web')).stdout, /^ingress\s+allow tcp 80 from any\s+\d+/m);
});

test.serial('--subnet may be left out when the policy names the subnet by CIDR; a mismatch is refused', async (t) => {
  t.is((await run('apply-policy', '--vpc', 'a', '--policy', policyFile('seed2', aWeb))).code, 0);
  const r = await run('apply-policy', '--vpc', 'a', '--subnet', 'db', '--policy', policyFile('seed3', aWeb));
  t.is(r.code, 2);
  t.regex(r.stderr, /policy is for subnet 10\.10\.1\.0\/24/);
});

test.serial('default deny, ICMP rule, port range, cidr scoping, egress deny', async (t) => {
  const policy = {
    subnet: '10.10.1.0/24', default: 'deny',
    ingress: [
      { port: '8000-8100', protocol: 'tcp', action: 'allow' },
      { port: 80, protocol: 'tcp', cidr: '10.10.2.0/24', action: 'allow' },
      { protocol: 'icmp', cidr: '10.20.0.0/16', action: 'allow' },
    ],
    egress: [{ port: 22, protocol: 'tcp', action: 'deny' }],
  };
  await run('deploy-app', '--vpc', 'a', '--subnet', 'web', '--port', '8050');
  t.is((await run('apply-policy', '--vpc', 'a', '--subnet', 'web', '--policy', policyFile('rich', policy))).code, 0);
  t.true(await tcp('ns-a-db', '10.10.1.2', 8050), 'in the range');
  t.true(await tcp('ns-a-db', '10.10.1.2', 80), 'allowed from a/db');
  t.false(await tcp('ns-b-web', '10.10.1.2', 80), 'not from b (cidr scope)');
  t.false(await tcp('ns-a-db', '10.10.1.2', 22), 'default deny');
  t.true(await ping('ns-b-web', '10.10.1.2'), 'ICMP allowed from b');
  t.false(await ping('ns-a-db', '10.10.1.2'), 'ICMP not allowed from a/db');
  t.false(await tcp('ns-a-web', '10.20.1.2', 22), 'egress deny');
});

test.serial('a bad policy leaves the old one working; errors are one line, exit 2', async (t) => {
  const before = nft(['-s', 'list', 'table', 'inet', 'vpcctl'], 'ns-a-web');
  const cases: [string, unknown, RegExp][] = [
    ['missing', null, /no such file/],
    ['badjson', '{"subnet": "10.10.1.0/24", "ingress": [}', /invalid JSON at line 1, column \d+/],
    ['badport', { subnet: '10.10.1.0/24', ingress: [{ port: 70000, protocol: 'tcp', action: 'allow' }] }, /ingress\[0\]\.port/],
    ['badproto', { subnet: '10.10.1.0/24', ingress: [{ port: 80, protocol: 'sctp', action: 'allow' }] }, /ingress\[0\]\.protocol/],
    ['badaction', { subnet: '10.10.1.0/24', ingress: [{ port: 80, action: 'maybe' }] }, /ingress\[0\]\.action/],
    ['wrongsubnet', { subnet: '10.10.9.0/24', ingress: [] }, /policy is for subnet 10\.10\.9\.0\/24/],
  ];
  for (const [name, body, message] of cases) {
    const file = body === null ? join(state, 'nope.json') : policyFile(name, body);
    const r = await run('apply-policy', '--vpc', 'a', '--subnet', 'web', '--policy', file);
    t.is(r.code, 2, `${name}: ${r.stderr}`);
    t.regex(r.stderr, message, name);
    t.is(r.stderr.trim().split('\n').length, 1);
  }
  t.is(nft(['-s', 'list', 'table', 'inet', 'vpcctl'], 'ns-a-web'), before, 'the previous policy is in force');
  t.true(await tcp('ns-a-db', '10.10.1.2', 8050));
});

test.serial('remove-policy opens the subnet again; unpeer restores isolation; delete-vpc removes its peerings', async (t) => {
  t.is((await run('remove-policy', '--vpc', 'a', '--subnet', 'web')).code, 0);
  t.true(await tcp('ns-a-db', '10.10.1.2', 22));
  t.is((await run('unpeer-vpcs', '--vpc1', 'a', '--vpc2', 'b')).code, 0);
  t.false(await ping('ns-a-web', '10.20.1.2'));
  t.false(await ping('ns-a-db', '10.20.2.2'));
  t.notRegex(ip(['route'], 'ns-a-db'), /10\.20\.0\.0/);
  t.is((await run('delete-vpc', '--name', 'c')).code, 0);
  t.deepEqual(JSON.parse((await run('list-peerings', '--json')).stdout), []);
  t.notRegex(ip(['link'], 'vpcr-b'), /px-/);
});

test.serial("a peering end whose tag someone changed: status gives the fix, apply refuses it, and following the fix repairs", async (t) => {
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'b')).code, 0);
  for (const ns of ['vpcr-a', 'vpcr-b']) {
    const end = ip(['-o', 'link'], ns).match(/\d+: (px-[0-9a-f]+)@/)![1]!;
    ip(['link', 'set', end, 'alias', 'someone'], ns);
  }
  const s = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  const fix = s.drift.find((d) => d.object === 'peering a b' && d.fix)?.fix ?? '';
  t.regex(fix, /^a veth tagged "someone" that vpcctl did not make holds the name px-[0-9a-f]+ in vpcr-[ab], /, JSON.stringify(s.drift));
  const r = await run('create-subnet', '--vpc', 'a', '--name', 'web', '--cidr', '10.10.1.0/24', '--type', 'public');
  t.is(r.code, 1, r.stdout);
  t.regex(r.stderr, /in the way: a veth tagged "someone" that vpcctl did not make/);
  const [, ns, name] = fix.match(/'ip -n (\S+) link del (\S+)'/)!;
  ip(['link', 'del', name!], ns!);
  const again = await run('create-subnet', '--vpc', 'a', '--name', 'web', '--cidr', '10.10.1.0/24', '--type', 'public');
  t.is(again.code, 0, again.stderr);
  t.is((await run('status')).code, 0);
  t.true(await ping('ns-a-db', '10.20.2.2'));
});

test.serial('one peering end re-tagged, either one: status and a command on either VPC see it alike', async (t) => {
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'b')).code, 0);
  for (const ns of ['vpcr-a', 'vpcr-b']) {
    const end = ip(['-o', 'link'], ns).match(/\d+: (px-[0-9a-f]+)@/)![1]!;
    ip(['link', 'set', end, 'alias', 'someone'], ns);
    const s = await run('status', '--json');
    t.is(s.code, 1, `${ns}: ${s.stdout}`);
    const drift = (JSON.parse(s.stdout) as { drift: { object: string; detail: string }[] }).drift;
    t.true(drift.some((d) => d.object === 'peering a b' && d.detail.includes(`${end} in ${ns}`)), JSON.stringify(drift));
    // Each VPC's own command reads its peering's ends as status does (both whole): never "nothing changed".
    for (const vpc of ['a', 'b']) {
      const r = await run('create-subnet', '--vpc', vpc, '--name', 'web', '--cidr', `10.${vpc === 'a' ? 10 : 20}.1.0/24`, '--type', 'public');
      t.is(r.code, 1, `${ns}, vpc ${vpc}: ${r.stdout}`);
      t.regex(r.stderr, new RegExp(`link ${end} in netns "${ns}": in the way: a veth tagged "someone"`));
    }
    ip(['link', 'del', end], ns);
    t.is((await run('create-subnet', '--vpc', 'a', '--name', 'web', '--cidr', '10.10.1.0/24', '--type', 'public')).code, 0);
    t.is((await run('status')).code, 0, ns);
  }
  t.true(await ping('ns-a-db', '10.20.2.2'));
});

test.serial('a VPC without subnets, peered: its peer\'s end re-tagged is drift for status and for a command alike', async (t) => {
  t.is((await run('create-vpc', '--name', 'e', '--cidr', '10.50.0.0/16')).code, 0);
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'e')).code, 0);
  const end = ip(['-o', 'link'], 'vpcr-a').match(/\d+: (px-0a320000)@/)![1]!;
  ip(['link', 'set', end, 'alias', 'someone'], 'vpcr-a');
  const s = await run('status');
  t.is(s.code, 1, s.stdout);
  t.regex(s.stdout, new RegExp(`peering a e: link ${end} in vpcr-a has alias "someone"`));
  const r = await run('create-subnet', '--vpc', 'a', '--name', 'web', '--cidr', '10.10.1.0/24', '--type', 'public');
  t.is(r.code, 1, r.stdout);
  t.regex(r.stderr, /in the way: a veth tagged "someone"/);
  ip(['link', 'set', end, 'alias', 'vpcctl:peer:a~e'], 'vpcr-a');
  t.is((await run('status')).code, 0);
  t.is((await run('delete-vpc', '--name', 'e', '--yes')).code, 0);
});

test.serial("a peering's veth renamed at both ends: a command on either VPC deletes the old pair by its tag and makes it again, rebuilding nothing", async (t) => {
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'b')).code, 0);
  const end = (ns: string) => ip(['-o', 'link'], ns).match(/\d+: (px-[0-9a-f]+)@/)![1]!;
  const inode = (ns: string) => statSync(`/run/netns/${ns}`).ino;
  const spaces = ['vpcr-a', 'vpcr-b', 'ns-a-web', 'ns-b-web'];
  const ids = spaces.map(inode);
  ip(['link', 'set', end('vpcr-a'), 'name', 'moved0'], 'vpcr-a');
  ip(['link', 'set', end('vpcr-b'), 'name', 'moved1'], 'vpcr-b');
  const report = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  t.true(report.drift.some((d) => d.object === 'peering a b'), JSON.stringify(report.drift));
  t.deepEqual(report.drift.filter((d) => d.fix), [], 'nothing for the owner to do');
  const r = await run('peer-vpcs', '--vpc1', 'b', '--vpc2', 'a');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /its old pair, renamed moved[01] in vpcr-[ab], is deleted first/);
  for (const ns of ['vpcr-a', 'vpcr-b']) t.notRegex(ip(['-o', 'link'], ns), /moved[01]/, `the old pair is gone from ${ns}`);
  t.true(await ping('ns-a-web', '10.20.1.2'));
  t.is((await run('status')).code, 0);
  t.deepEqual(spaces.map(inode), ids, 'no namespace was rebuilt');
});

test.serial("unpeer of a peering renamed at both ends: its links go by their new names too, and the VPCs are isolated again", async (t) => {
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'b')).code, 0);
  const end = (ns: string) => ip(['-o', 'link'], ns).match(/\d+: (px-[0-9a-f]+)@/)![1]!;
  ip(['link', 'set', end('vpcr-a'), 'name', 'moved0'], 'vpcr-a');
  ip(['link', 'set', end('vpcr-b'), 'name', 'moved1'], 'vpcr-b');
  t.true(await ping('ns-a-web', '10.20.1.2'), 'a renamed link carries traffic as before');
  const r = await run('unpeer-vpcs', '--vpc1', 'a', '--vpc2', 'b');
  t.is(r.code, 0, r.stderr);
  for (const ns of ['vpcr-a', 'vpcr-b']) t.notRegex(ip(['-o', 'link'], ns), /moved[01]/, `nothing of the peering is left in ${ns}`);
  t.false(await ping('ns-a-web', '10.20.1.2'), 'isolated again');
  t.is((await run('status')).code, 0);
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'b')).code, 0, 'and it can be peered again');
  t.true(await ping('ns-a-web', '10.20.1.2'));
});

test.serial("a foreign link at the staying router's peering end: delete-vpc of the peer leaves it, and rebuilds nothing of the VPC that stays", async (t) => {
  t.is((await run('peer-vpcs', '--vpc1', 'a', '--vpc2', 'b')).code, 0);
  const end = ip(['-o', 'link'], 'vpcr-b').match(/\d+: (px-[0-9a-f]+)@/)![1]!;
  const appsOfB = async () => (JSON.parse((await run('list-apps', '--vpc', 'b', '--json')).stdout) as { pid: number; running: boolean }[])
    .map((a) => [a.pid, a.running]);
  const before = await appsOfB();
  t.is(before.length, 4);
  const inode = (ns: string) => statSync(`/run/netns/${ns}`).ino;
  const ids = ['vpcr-b', 'ns-b-web', 'ns-b-db'].map(inode);
  // vpcctl's end renamed away, someone's bridge at its name.
  ip(['link', 'set', end, 'name', 'moved0'], 'vpcr-b');
  ip(['link', 'add', end, 'type', 'bridge'], 'vpcr-b');
  const r = await run('delete-vpc', '--name', 'a');
  t.is(r.code, 0, r.stderr);
  t.regex(ip(['-d', '-o', 'link', 'show', end], 'vpcr-b'), /bridge/, "the bridge is not vpcctl's to delete");
  t.deepEqual(['vpcr-b', 'ns-b-web', 'ns-b-db'].map(inode), ids, "b's namespaces were not rebuilt");
  t.deepEqual(await appsOfB(), before, "b's apps still run");
  t.deepEqual(JSON.parse((await run('list-peerings', '--json')).stdout), []);
  ip(['link', 'del', end], 'vpcr-b');
});
