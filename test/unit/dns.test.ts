import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dnsName, etcFileOwner, linkOwner, linkTarget, namesScope, subnetLinks, visibleRecords, vpcEtcFiles, withKeepDir, type DnsLayout,
} from '../../src/model/dns.js';
import { linkEtcFiles, removeAllEtcFiles, removeEtcFiles, writeEtcFiles } from '../../src/state/etc-netns.js';
import { namesDrift, namesPresent, syncNames } from '../../src/api/dns.js';

const layout = (): DnsLayout => ({
  vpcs: {
    a: { name: 'a', subnets: { web: { name: 'web', cidr: '10.0.1.0/24', type: 'public' }, db: { name: 'db', cidr: '10.0.2.0/24', type: 'private' } } },
    b: { name: 'b', subnets: { api: { name: 'api', cidr: '10.1.1.0/24', type: 'private' } } },
    c: { name: 'c', subnets: { x: { name: 'x', cidr: '10.2.1.0/24', type: 'public' } } },
  },
  peerings: [{ vpc1: 'b', vpc2: 'a' }, { vpc1: 'b', vpc2: 'c' }],
});

test('names: own VPC and direct peers only (peering is not transitive)', (t) => {
  const s = layout();
  t.is(dnsName('a', 'web'), 'web.a.internal');
  const names = (v: string) => visibleRecords(s, v).map((r) => `${r.name}=${r.address}`);
  t.deepEqual(names('a'), ['web.a.internal=10.0.1.2', 'db.a.internal=10.0.2.2', 'api.b.internal=10.1.1.2']);
  t.deepEqual(names('b'), ['api.b.internal=10.1.1.2', 'web.a.internal=10.0.1.2', 'db.a.internal=10.0.2.2', 'x.c.internal=10.2.1.2']);
  // a and c are both peered with b, not with each other
  t.false(names('c').some((n) => n.includes('.a.internal')));
  t.false(names('a').some((n) => n.includes('.c.internal')));
});

test('dual-stack: a subnet is named by its IPv4 host, then its IPv6 host, for hosts of dual-stack VPCs only', (t) => {
  const s = layout();
  s.vpcs.a!.ipv6Cidr = 'fd00:a::/56';
  s.vpcs.a!.subnets.web!.ipv6Cidr = 'fd00:a::/64';
  s.vpcs.b!.ipv6Cidr = 'fd00:b::/56';
  s.vpcs.b!.subnets.api!.ipv6Cidr = 'fd00:b::/64';
  const names = (v: string) => visibleRecords(s, v).map((r) => `${r.name}=${r.address}`);
  t.deepEqual(names('a'), ['web.a.internal=10.0.1.2', 'web.a.internal=fd00:a::2', 'db.a.internal=10.0.2.2', 'api.b.internal=10.1.1.2', 'api.b.internal=fd00:b::2']);
  // c is IPv4 only: IPv6 is not routed between it and b, so its hosts get b's IPv4 names alone
  t.deepEqual(names('c'), ['x.c.internal=10.2.1.2', 'api.b.internal=10.1.1.2']);
  t.regex(vpcEtcFiles(s, 'a').hosts!, /\n10\.0\.1\.2\tweb\.a\.internal\nfd00:a::2\tweb\.a\.internal\n/, 'IPv4 first: glibc prefers it to a ULA');
  t.true(namesScope(layout(), s).has('a'), 'a subnet gaining a /64 rewrites the files');
});

test('on a cluster host the names of subnets on other hosts resolve too, for the VPC and its peers; a change of them is a change of names', (t) => {
  const s = layout();
  s.vpcs.a!.overlay = { names: { far: '10.0.9.0/24' } };
  const names = (v: string) => visibleRecords(s, v).map((r) => `${r.name}=${r.address}`);
  t.true(names('a').includes('far.a.internal=10.0.9.2'));
  t.true(names('b').includes('far.a.internal=10.0.9.2'), "a peer's remote subnet");
  t.false(names('c').some((n) => n.includes('.a.internal')), 'still not transitive');
  const before = layout();
  t.true(namesScope(before, s).has('a'), 'a remote subnet appearing rewrites the files');
  t.false(namesScope(s, structuredClone(s)).has('a'));
});

test('files: one hosts per VPC (its names), a resolver leading nowhere when it has private subnets', (t) => {
  const a = vpcEtcFiles(layout(), 'a');
  t.true(a.hosts!.startsWith('# vpcctl:router:a written by vpcctl:'));
  t.regex(a.hosts!, /^127\.0\.0\.1\tlocalhost$/m);
  t.regex(a.hosts!, /^10\.0\.2\.2\tdb\.a\.internal$/m);
  t.regex(a.hosts!, /^10\.1\.1\.2\tapi\.b\.internal$/m);
  t.notRegex(a.hosts!, /x\.c\.internal/);
  t.notRegex(a['resolv.conf']!, /^nameserver/m, 'no nameserver: nothing is asked outside');
  t.is(vpcEtcFiles(layout(), 'c')['resolv.conf'], null, 'only public subnets: no resolver file');
  t.deepEqual(subnetLinks({ type: 'public' }), { hosts: true, 'resolv.conf': false });
  t.deepEqual(subnetLinks({ type: 'private' }), { hosts: true, 'resolv.conf': true });
  t.deepEqual(subnetLinks({ type: 'private', egress: 'nat' }), { hosts: true, 'resolv.conf': false }, "behind the NAT gateway: the machine's resolver");
});

test('ownership: a file whose first line is the tag of its own directory; a link that points where vpcctl points', (t) => {
  const text = vpcEtcFiles(layout(), 'a').hosts!;
  t.deepEqual(etcFileOwner('vpcr-a', text), { ours: true, keepDir: false });
  t.deepEqual(etcFileOwner('vpcr-a', withKeepDir(text)), { ours: true, keepDir: true });
  t.false(etcFileOwner('vpcr-b', text).ours, "another namespace's file is not this one's");
  t.false(etcFileOwner('vpcr-a', '127.0.0.1 localhost\n').ours);
  t.false(etcFileOwner('vpcr-a', `# hand-written\n${text}`).ours);
  t.false(etcFileOwner('ns-a-web', text).ours, "a subnet's directory holds links, not the router's file");
  t.is(linkTarget('a', 'hosts', true, '/etc/netns'), '../vpcr-a/hosts');
  t.deepEqual(linkOwner('ns-a-web', 'hosts', '../vpcr-a/hosts', '/etc/netns'), { ours: true, keepDir: false });
  t.deepEqual(linkOwner('ns-a-web', 'hosts', '/etc/netns/vpcr-a/hosts', '/etc/netns'), { ours: true, keepDir: true });
  t.false(linkOwner('ns-a-web', 'hosts', '../vpcr-b/hosts', '/etc/netns').ours, "another VPC's");
  t.false(linkOwner('ns-a-web', 'hosts', '../vpcr-a/resolv.conf', '/etc/netns').ours);
  t.false(linkOwner('ns-a-web', 'hosts', '/etc/hosts.real', '/etc/netns').ours);
  // ns-a-b-c is vpc "a" subnet "b-c" or vpc "a-b" subnet "c": either VPC's link fits
  t.true(linkOwner('ns-a-b-c', 'hosts', '../vpcr-a-b/hosts', '/etc/netns').ours);
});

test('scope: what changed, peering ends, and the peers of each', (t) => {
  const before = layout();
  const same = layout();
  t.deepEqual([...namesScope(before, same)], []);
  t.deepEqual([...namesScope(before, same, [], true)].sort(), ['a', 'b', 'c']);
  t.deepEqual([...namesScope(before, same, ['c'])].sort(), ['b', 'c']);
  // a subnet added to c: c's hosts and its peer b's list it; a does not see c
  const added = layout();
  added.vpcs.c!.subnets.y = { name: 'y', cidr: '10.2.2.0/24', type: 'private' };
  t.deepEqual([...namesScope(before, added)].sort(), ['b', 'c']);
  // a's private db going behind the NAT gateway changes its resolv.conf link: a is in scope
  const natted = layout();
  natted.vpcs.a!.subnets.db!.egress = 'nat';
  t.true(namesScope(before, natted).has('a'));
  // a policy or app change does not alter names
  t.deepEqual([...namesScope(before, same)], []);
  // unpeering a and b: both ends and b's other peer (whose files do not change, but are checked)
  const unpeered = layout();
  unpeered.peerings = [{ vpc1: 'b', vpc2: 'c' }];
  t.deepEqual([...namesScope(before, unpeered)].sort(), ['a', 'b', 'c']);
  // a VPC deleted
  const deleted = layout();
  delete deleted.vpcs.c;
  deleted.peerings = [{ vpc1: 'b', vpc2: 'a' }];
  t.deepEqual([...namesScope(before, deleted)].sort(), ['a', 'b', 'c']);
});

const root = () => mkdtempSync(join(tmpdir(), 'vpcctl-etcns-'));
const read = (path: string) => readFileSync(path, 'utf8');

test('sync: shared files and links made, kept in step with peerings, removed with subnets and VPCs', (t) => {
  const r = root();
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const empty: DnsLayout = { vpcs: {}, peerings: [] };
  const s = layout();
  syncNames(empty, s, {}, warn, r);
  t.deepEqual(readdirSync(r).sort(), ['ns-a-db', 'ns-a-web', 'ns-b-api', 'ns-c-x', 'vpcr-a', 'vpcr-b', 'vpcr-c']);
  t.is(readlinkSync(join(r, 'ns-a-web/hosts')), '../vpcr-a/hosts');
  t.is(read(join(r, 'ns-a-web/hosts')), vpcEtcFiles(s, 'a').hosts);
  t.deepEqual(readdirSync(join(r, 'ns-a-web')), ['hosts'], 'a public subnet keeps the machine\'s resolver');
  t.is(readlinkSync(join(r, 'ns-a-db/resolv.conf')), '../vpcr-a/resolv.conf');
  t.deepEqual(syncNames(s, s, { all: true }, warn, r), [], 'nothing to change: nothing written');
  t.deepEqual(namesDrift(s, r), []);
  // a and b unpeered: a's names lose b's subnet; b's files change too
  const unpeered = { ...layout(), peerings: [{ vpc1: 'b', vpc2: 'c' }] };
  t.deepEqual(syncNames(s, unpeered, {}, warn, r).sort(), [join(r, 'vpcr-a/hosts'), join(r, 'vpcr-b/hosts')]);
  t.notRegex(read(join(r, 'ns-a-db/hosts')), /api\.b\.internal/);
  // drift: a removed link and an edited file are reported
  rmSync(join(r, 'ns-a-db/hosts'));
  writeFileSync(join(r, 'vpcr-b/hosts'), `${read(join(r, 'vpcr-b/hosts'))}10.9.9.9 extra\n`);
  t.deepEqual(namesDrift(unpeered, r).map((d) => `${d.vpc}/${d.subnet ?? ''} ${d.kind}`).sort(), ['a/db missing', 'b/ differs']);
  t.true(namesPresent(unpeered, r), 'the cheap check sees directories, not each link');
  rmSync(join(r, 'ns-a-web'), { recursive: true });
  t.false(namesPresent(unpeered, r));
  syncNames(unpeered, unpeered, { also: ['a', 'b'] }, warn, r);
  t.deepEqual(namesDrift(unpeered, r), []);
  t.true(namesPresent(unpeered, r));
  t.false(namesPresent(unpeered, join(r, 'absent')));
  t.true(namesPresent({ vpcs: {}, peerings: [] }, join(r, 'absent')));
  // subnet db deleted, then VPC c
  const fewer = structuredClone(unpeered) as DnsLayout & typeof unpeered;
  delete (fewer.vpcs.a!.subnets as Record<string, unknown>).db;
  delete (fewer.vpcs as Record<string, unknown>).c;
  fewer.peerings = [];
  syncNames(unpeered, fewer, {}, warn, r);
  t.deepEqual(readdirSync(r).sort(), ['ns-a-web', 'ns-b-api', 'vpcr-a', 'vpcr-b']);
  t.deepEqual(readdirSync(join(r, 'vpcr-a')), ['hosts'], 'no private subnet left: no resolver file');
  t.deepEqual(warnings, []);
});

test('write: creates the directory, writes what differs, removes its own file when no longer wanted', (t) => {
  const r = root();
  const a = vpcEtcFiles(layout(), 'a');
  const warnings: string[] = [];
  t.deepEqual(writeEtcFiles('vpcr-a', a, (m) => warnings.push(m), r), [join(r, 'vpcr-a/hosts'), join(r, 'vpcr-a/resolv.conf')]);
  t.is(read(join(r, 'vpcr-a/hosts')), a.hosts);
  t.deepEqual(writeEtcFiles('vpcr-a', a, (m) => warnings.push(m), r), [], 'unchanged: nothing written');
  t.deepEqual(writeEtcFiles('vpcr-a', { ...a, 'resolv.conf': null }, (m) => warnings.push(m), r), [join(r, 'vpcr-a/resolv.conf')]);
  t.false(existsSync(join(r, 'vpcr-a/resolv.conf')));
  t.deepEqual(warnings, []);
  t.deepEqual(removeEtcFiles('vpcr-a', r), [join(r, 'vpcr-a/hosts')]);
  t.false(existsSync(join(r, 'vpcr-a')), 'the directory vpcctl made goes with its last file');
});

test('foreign files and directories are never rewritten or removed', (t) => {
  const r = root();
  const a = vpcEtcFiles(layout(), 'a');
  writeEtcFiles('vpcr-a', a, () => {}, r);
  // someone else's directory with their own resolv.conf and another file
  mkdirSync(join(r, 'ns-a-db'));
  writeFileSync(join(r, 'ns-a-db/resolv.conf'), 'nameserver 192.0.2.53\n');
  writeFileSync(join(r, 'ns-a-db/nsswitch.conf'), 'hosts: files\n');
  const warnings: string[] = [];
  t.deepEqual(linkEtcFiles('ns-a-db', 'a', subnetLinks({ type: 'private' }), (m) => warnings.push(m), r), [join(r, 'ns-a-db/hosts')]);
  t.is(read(join(r, 'ns-a-db/resolv.conf')), 'nameserver 192.0.2.53\n');
  t.regex(warnings[0] ?? '', /resolv\.conf is not vpcctl's: left alone/);
  t.is(readlinkSync(join(r, 'ns-a-db/hosts')), join(r, 'vpcr-a/hosts'), 'the found directory is remembered by the link');
  t.deepEqual(removeEtcFiles('ns-a-db', r), [join(r, 'ns-a-db/hosts')]);
  t.deepEqual(readdirSync(join(r, 'ns-a-db')).sort(), ['nsswitch.conf', 'resolv.conf']);
  // an empty directory that was there before vpcctl wrote in it stays too
  mkdirSync(join(r, 'ns-a-web'));
  linkEtcFiles('ns-a-web', 'a', subnetLinks({ type: 'public' }), () => {}, r);
  removeEtcFiles('ns-a-web', r);
  t.true(existsSync(join(r, 'ns-a-web')));
  // a hosts file that is not a vpcctl link, in a directory vpcctl did not make
  mkdirSync(join(r, 'ns-b-api'));
  writeFileSync(join(r, 'ns-b-api/hosts'), read(join(r, 'vpcr-a/hosts')));
  t.deepEqual(removeEtcFiles('ns-b-api', r), [], 'even a copy of vpcctl\'s text is not vpcctl\'s there');
  // a symlinked directory is not written through
  const elsewhere = root();
  symlinkSync(elsewhere, join(r, 'ns-c-x'));
  const w2: string[] = [];
  t.deepEqual(linkEtcFiles('ns-c-x', 'c', subnetLinks({ type: 'private' }), (m) => w2.push(m), r), []);
  t.deepEqual(readdirSync(elsewhere), []);
  t.regex(w2[0] ?? '', /not a directory of its own/);
});

test('cleanup: every vpcctl file and link under the root, by its tag or target; nothing else', (t) => {
  const r = root();
  syncNames({ vpcs: {}, peerings: [] }, layout(), {}, () => {}, r);
  mkdirSync(join(r, 'mine'));
  writeFileSync(join(r, 'mine/hosts'), read(join(r, 'vpcr-a/hosts'))); // a copy under a foreign name
  writeFileSync(join(r, 'ns-b-api/hosts.bak'), 'kept\n');
  // vpcr-a's file copied into another vpcctl-named directory does not fit there
  mkdirSync(join(r, 'vpcr-z'));
  writeFileSync(join(r, 'vpcr-z/hosts'), read(join(r, 'vpcr-a/hosts')));
  const removed = removeAllEtcFiles(r).sort();
  t.deepEqual(removed, [
    'ns-a-db/hosts', 'ns-a-db/resolv.conf', 'ns-a-web/hosts', 'ns-b-api/hosts', 'ns-b-api/resolv.conf', 'ns-c-x/hosts',
    'vpcr-a/hosts', 'vpcr-a/resolv.conf', 'vpcr-b/hosts', 'vpcr-b/resolv.conf', 'vpcr-c/hosts',
  ].map((p) => join(r, p)));
  t.deepEqual(readdirSync(r).sort(), ['mine', 'ns-b-api', 'vpcr-z']);
  t.deepEqual(readdirSync(join(r, 'ns-b-api')), ['hosts.bak']);
  t.deepEqual(removeAllEtcFiles(join(r, 'absent')), []);
});
