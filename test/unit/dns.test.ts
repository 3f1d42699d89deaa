import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnsName, etcFileOwner, etcFilesOf, namesScope, visibleRecords, withKeepDir, type DnsLayout } from '../../src/model/dns.js';
import { removeAllEtcFiles, removeEtcFiles, writeEtcFiles } from '../../src/state/etc-netns.js';

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

test('files: hosts for every subnet, a resolver leading nowhere for private ones only', (t) => {
  const files = etcFilesOf(layout(), ['a', 'gone']);
  t.deepEqual([...files.keys()], ['ns-a-web', 'ns-a-db']);
  const web = files.get('ns-a-web')!;
  const db = files.get('ns-a-db')!;
  t.true(web.hosts!.startsWith('# vpcctl:host:a/web written by vpcctl:'));
  t.regex(web.hosts!, /^127\.0\.0\.1\tlocalhost$/m);
  t.regex(web.hosts!, /^10\.1\.1\.2\tapi\.b\.internal$/m);
  t.notRegex(web.hosts!, /x\.c\.internal/);
  t.is(web['resolv.conf'], null, 'a public subnet keeps the machine\'s resolver');
  t.notRegex(db['resolv.conf']!, /^nameserver/m, 'no nameserver: nothing is asked outside');
  t.true(db['resolv.conf']!.startsWith('# vpcctl:host:a/db '));
});

test('ownership: only a file whose first line is the tag of its own directory', (t) => {
  const text = etcFilesOf(layout(), ['a']).get('ns-a-web')!.hosts!;
  t.deepEqual(etcFileOwner('ns-a-web', text), { ours: true, keepDir: false });
  t.deepEqual(etcFileOwner('ns-a-web', withKeepDir(text)), { ours: true, keepDir: true });
  t.false(etcFileOwner('ns-a-db', text).ours, "another namespace's file is not this one's");
  t.false(etcFileOwner('ns-a-web', '127.0.0.1 localhost\n').ours);
  t.false(etcFileOwner('ns-a-web', `# hand-written\n${text}`).ours);
  t.false(etcFileOwner('ns-a-web', '# vpcctl:router:a written by vpcctl: x\n').ours);
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

test('write: creates the directory, writes what differs, removes its own file when no longer wanted', (t) => {
  const r = root();
  const files = etcFilesOf(layout(), ['a']);
  const warnings: string[] = [];
  const db = files.get('ns-a-db')!;
  t.deepEqual(writeEtcFiles('ns-a-db', db, (m) => warnings.push(m), r), [join(r, 'ns-a-db/hosts'), join(r, 'ns-a-db/resolv.conf')]);
  t.is(readFileSync(join(r, 'ns-a-db/hosts'), 'utf8'), db.hosts);
  t.deepEqual(writeEtcFiles('ns-a-db', db, (m) => warnings.push(m), r), [], 'unchanged: nothing written');
  // the subnet turned public: vpcctl's resolv.conf goes
  t.deepEqual(writeEtcFiles('ns-a-db', { ...db, 'resolv.conf': null }, (m) => warnings.push(m), r), [join(r, 'ns-a-db/resolv.conf')]);
  t.false(existsSync(join(r, 'ns-a-db/resolv.conf')));
  t.deepEqual(warnings, []);
  t.deepEqual(removeEtcFiles('ns-a-db', r), [join(r, 'ns-a-db/hosts')]);
  t.false(existsSync(join(r, 'ns-a-db')), 'the directory vpcctl made goes with its last file');
});

test('foreign files and directories are never rewritten or removed', (t) => {
  const r = root();
  const db = etcFilesOf(layout(), ['a']).get('ns-a-db')!;
  // someone else's directory with their own resolv.conf and another file
  mkdirSync(join(r, 'ns-a-db'));
  writeFileSync(join(r, 'ns-a-db/resolv.conf'), 'nameserver 192.0.2.53\n');
  writeFileSync(join(r, 'ns-a-db/nsswitch.conf'), 'hosts: files\n');
  const warnings: string[] = [];
  t.deepEqual(writeEtcFiles('ns-a-db', db, (m) => warnings.push(m), r), [join(r, 'ns-a-db/hosts')]);
  t.is(readFileSync(join(r, 'ns-a-db/resolv.conf'), 'utf8'), 'nameserver 192.0.2.53\n');
  t.regex(warnings[0] ?? '', /resolv\.conf is not vpcctl's: left alone/);
  t.true(etcFileOwner('ns-a-db', readFileSync(join(r, 'ns-a-db/hosts'), 'utf8')).keepDir, 'the found directory is remembered');
  t.deepEqual(removeEtcFiles('ns-a-db', r), [join(r, 'ns-a-db/hosts')]);
  t.deepEqual(readdirSync(join(r, 'ns-a-db')).sort(), ['nsswitch.conf', 'resolv.conf']);
  // an empty directory that was there before vpcctl wrote in it stays too
  mkdirSync(join(r, 'ns-a-web'));
  writeEtcFiles('ns-a-web', etcFilesOf(layout(), ['a']).get('ns-a-web')!, () => {}, r);
  removeEtcFiles('ns-a-web', r);
  t.true(existsSync(join(r, 'ns-a-web')));
  // a symlinked directory is not written through
  const elsewhere = root();
  symlinkSync(elsewhere, join(r, 'ns-b-api'));
  const w2: string[] = [];
  t.deepEqual(writeEtcFiles('ns-b-api', etcFilesOf(layout(), ['b']).get('ns-b-api')!, (m) => w2.push(m), r), []);
  t.deepEqual(readdirSync(elsewhere), []);
  t.regex(w2[0] ?? '', /not a directory of its own/);
});

test('cleanup: every vpcctl file under the root, by its tag; nothing else', (t) => {
  const r = root();
  const files = etcFilesOf(layout(), ['a', 'b']);
  for (const [ns, f] of files) writeEtcFiles(ns, f, () => {}, r);
  mkdirSync(join(r, 'mine'));
  writeFileSync(join(r, 'mine/hosts'), readFileSync(join(r, 'ns-a-web/hosts'))); // a copy under a foreign name
  writeFileSync(join(r, 'ns-b-api/hosts.bak'), 'kept\n');
  // ns-a-web's file copied into another vpcctl-named directory does not fit there
  mkdirSync(join(r, 'ns-c-x'));
  writeFileSync(join(r, 'ns-c-x/hosts'), readFileSync(join(r, 'ns-a-web/hosts')));
  const removed = removeAllEtcFiles(r).sort();
  t.deepEqual(removed, ['ns-a-db/hosts', 'ns-a-db/resolv.conf', 'ns-a-web/hosts', 'ns-b-api/hosts', 'ns-b-api/resolv.conf'].map((p) => join(r, p)));
  t.deepEqual(readdirSync(r).sort(), ['mine', 'ns-b-api', 'ns-c-x']);
  t.deepEqual(readdirSync(join(r, 'ns-b-api')), ['hosts.bak']);
  t.deepEqual(removeAllEtcFiles(join(r, 'absent')), []);
});
