import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { freshStateDir, inNs, vpcctl } from '../helpers/sandbox.js';

/**
 * DNS names without a daemon (issue 16 §3): /etc/netns/<ns>/hosts (and a
 * private subnet's resolv.conf), seen by `ip netns exec`, `vpcctl exec`
 * and vpcctl's apps. Lookups go through Node's dns.lookup (getaddrinfo:
 * /etc/hosts first) inside the subnets; a name that is not there is only
 * ever looked up from a private subnet, whose resolver leads nowhere (no
 * DNS query leaves a namespace). /etc is copy-on-write in the sandbox.
 */
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const must = async (...args: string[]) => {
  const r = await run(...args);
  if (r.code !== 0) throw new Error(`vpcctl ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
};
const etc = (ns: string, file = 'hosts') => `/etc/netns/${ns}/${file}`; // a subnet's: a symlink to its VPC's file

/** What `name` resolves to inside a subnet, through `vpcctl exec` (an address, or the error code). */
async function lookup(vpc: string, subnet: string, name: string): Promise<string> {
  const js = `require('dns').lookup(${JSON.stringify(name)}, { family: 4 }, (e, a) => console.log(e ? e.code : a))`;
  const r = await run('exec', '--vpc', vpc, '--subnet', subnet, '--', process.execPath, '-e', js);
  return r.stdout.trim() || `exit ${r.code}: ${r.stderr.trim()}`;
}
const unresolved = /^(ENOTFOUND|EAI_AGAIN|ESERVFAIL|ECONNREFUSED)$/;

// a: 10.10/16 (web public, db private); b: 10.20/16 (api private); c: 10.30/16 (x private), never peered with a
test.before(async () => {
  await must('create-vpc', '--name', 'a', '--cidr', '10.10.0.0/16');
  await must('create-subnet', '--vpc', 'a', '--name', 'web', '--cidr', '10.10.1.0/24', '--type', 'public');
  await must('create-subnet', '--vpc', 'a', '--name', 'db', '--cidr', '10.10.2.0/24', '--type', 'private');
  await must('create-vpc', '--name', 'b', '--cidr', '10.20.0.0/16');
  await must('create-subnet', '--vpc', 'b', '--name', 'api', '--cidr', '10.20.1.0/24', '--type', 'private');
  await must('create-vpc', '--name', 'c', '--cidr', '10.30.0.0/16');
  await must('create-subnet', '--vpc', 'c', '--name', 'x', '--cidr', '10.30.1.0/24', '--type', 'private');
});

test.serial('a VPC\'s names resolve inside it: exec, ip netns exec and an app as nobody', async (t) => {
  t.is(await lookup('a', 'db', 'web.a.internal'), '10.10.1.2');
  t.is(await lookup('a', 'web', 'db.a.internal'), '10.10.2.2');
  t.is(await lookup('a', 'web', 'web.a.internal'), '10.10.1.2', 'its own name');
  t.is(await lookup('a', 'db', 'localhost'), '127.0.0.1');
  // iproute2 finds the same file where it looks (an independent witness)
  t.regex(inNs('ns-a-db', ['cat', '/etc/hosts']).stdout, /^10\.10\.1\.2\tweb\.a\.internal$/m);
  // an app (unprivileged, detached) sees them too
  const js = "require('dns').lookup('db.a.internal', { family: 4 }, (e, a) => { console.log('lookup', e ? e.code : a); require('net').createServer().listen(7001); })";
  await must('deploy-app', '--vpc', 'a', '--subnet', 'web', '--port', '7001', '--command', `${process.execPath} -e "${js}"`);
  const log = await must('logs', '--vpc', 'a', '--subnet', 'web', '--port', '7001');
  t.regex(log.stdout, /^lookup 10\.10\.2\.2$/m);
  await must('stop-app', '--vpc', 'a', '--subnet', 'web', '--port', '7001');
  t.regex((await must('show-vpc', '--name', 'a')).stdout, /web\.a\.internal/);
});

test.serial('resolv.conf: a private subnet asks no nameserver, a public one keeps the machine\'s', async (t) => {
  const cat = async (vpc: string, subnet: string) => (await must('exec', '--vpc', vpc, '--subnet', subnet, '--', 'cat', '/etc/resolv.conf')).stdout;
  t.notRegex(await cat('a', 'db'), /^\s*nameserver/m);
  t.regex(await cat('a', 'db'), /^# vpcctl:router:a /);
  t.is(await cat('a', 'web'), readFileSync('/etc/resolv.conf', 'utf8'));
  t.false(existsSync(etc('ns-a-web', 'resolv.conf')));
});

test.serial('an unpeered VPC\'s names do not resolve; peering makes them resolve both ways; unpeering ends it', async (t) => {
  t.regex(await lookup('a', 'db', 'api.b.internal'), unresolved, 'not peered yet');
  t.regex(await lookup('b', 'api', 'db.a.internal'), unresolved);
  await must('peer-vpcs', '--vpc1', 'a', '--vpc2', 'b');
  t.is(await lookup('a', 'db', 'api.b.internal'), '10.20.1.2');
  t.is(await lookup('a', 'web', 'api.b.internal'), '10.20.1.2');
  t.is(await lookup('b', 'api', 'web.a.internal'), '10.10.1.2');
  // c is peered with b only: not transitive, so a and c never see each other's names
  await must('peer-vpcs', '--vpc1', 'b', '--vpc2', 'c');
  t.is(await lookup('b', 'api', 'x.c.internal'), '10.30.1.2');
  t.regex(await lookup('a', 'db', 'x.c.internal'), unresolved);
  t.regex(await lookup('c', 'x', 'db.a.internal'), unresolved);
  t.notRegex(readFileSync(etc('ns-a-web'), 'utf8'), /\.c\.internal/);
  // a subnet added to b shows up in its peers' files
  await must('create-subnet', '--vpc', 'b', '--name', 'late', '--cidr', '10.20.2.0/24', '--type', 'private');
  t.is(await lookup('a', 'db', 'late.b.internal'), '10.20.2.2');
  t.is(await lookup('c', 'x', 'late.b.internal'), '10.20.2.2');
  await must('unpeer-vpcs', '--vpc1', 'b', '--vpc2', 'a');
  t.regex(await lookup('a', 'db', 'api.b.internal'), unresolved);
  t.regex(await lookup('b', 'api', 'db.a.internal'), unresolved);
  t.is(await lookup('b', 'api', 'x.c.internal'), '10.30.1.2', 'the other peering stays');
});

test.serial('a failed change leaves the files as they were', async (t) => {
  const before = readFileSync(etc('ns-a-db'), 'utf8');
  const r = await vpcctl(state, ['create-subnet', '--vpc', 'a', '--name', 'bad', '--cidr', '10.10.9.0/24', '--type', 'private'], { VPCCTL_FAULT_AT: '4' });
  t.is(r.code, 1, r.stderr);
  t.is(readFileSync(etc('ns-a-db'), 'utf8'), before);
  t.false(existsSync('/etc/netns/ns-a-bad'));
  t.regex(await lookup('a', 'db', 'bad.a.internal'), unresolved);
});

test.serial('status reports a changed or missing file; the next change of the VPC writes it again', async (t) => {
  writeFileSync(etc('ns-a-web'), `${readFileSync(etc('ns-a-web'), 'utf8')}10.10.2.99\tdb.a.internal\n`);
  rmSync(etc('ns-a-db', 'resolv.conf'));
  const s = await run('status');
  t.is(s.code, 1);
  t.regex(s.stdout, /vpc a: \/etc\/netns\/vpcr-a\/hosts differs from the names of the state/);
  t.regex(s.stdout, /subnet a\/db: \/etc\/netns\/ns-a-db\/resolv\.conf is missing/);
  await must('create-subnet', '--vpc', 'a', '--name', 'web', '--cidr', '10.10.1.0/24', '--type', 'public'); // same again: a no-op
  t.is(await lookup('a', 'web', 'db.a.internal'), '10.10.2.2');
  t.notRegex(readFileSync(etc('ns-a-web'), 'utf8'), /10\.10\.2\.99/);
  t.true(existsSync(etc('ns-a-db', 'resolv.conf')));
  t.is((await run('status')).code, 0);
});

test.serial('a foreign file is left alone, and the subnet\'s names go with it', async (t) => {
  // Someone else's file in a subnet's directory, and a directory of a name vpcctl would use
  writeFileSync('/etc/netns/ns-a-db/mine.conf', 'foreign\n');
  mkdirSync('/etc/netns/ns-zz-q', { recursive: true });
  writeFileSync('/etc/netns/ns-zz-q/hosts', '10.99.0.2 q.zz.internal\n');
  // a foreign hosts file where a new subnet's would go: not overwritten (a warning says so), not removed
  mkdirSync('/etc/netns/ns-c-y', { recursive: true });
  writeFileSync('/etc/netns/ns-c-y/hosts', '10.99.0.3 theirs\n');
  const made = await must('create-subnet', '--vpc', 'c', '--name', 'y', '--cidr', '10.30.2.0/24', '--type', 'private');
  t.regex(made.stderr, /\/etc\/netns\/ns-c-y\/hosts is not vpcctl's: left alone/);
  t.is(readFileSync('/etc/netns/ns-c-y/hosts', 'utf8'), '10.99.0.3 theirs\n');
  t.regex(readFileSync('/etc/netns/ns-c-y/resolv.conf', 'utf8'), /^# vpcctl:router:c /);
  await must('delete-subnet', '--vpc', 'c', '--name', 'y');
  t.deepEqual(readdirSync('/etc/netns/ns-c-y'), ['hosts']);
  t.is(readFileSync('/etc/netns/ns-c-y/hosts', 'utf8'), '10.99.0.3 theirs\n');
  await must('delete-subnet', '--vpc', 'a', '--name', 'web');
  t.false(existsSync('/etc/netns/ns-a-web'), 'removed with its subnet');
  t.regex(await lookup('a', 'db', 'web.a.internal'), unresolved, 'and the name is gone from the others');
  await must('delete-vpc', '--name', 'a');
  t.deepEqual(readdirSync('/etc/netns/ns-a-db'), ['mine.conf'], 'vpcctl\'s files went; the foreign one and its directory stay');
  t.true(existsSync(etc('ns-b-api')));
});

test.serial('apply: names written; the same file again is a no-op; with the names gone, it writes them again', async (t) => {
  const file = `${state}/topo.json`;
  writeFileSync(file, JSON.stringify({ vpcs: [{ name: 't', cidr: '10.40.0.0/16', subnets: [
    { name: 's1', cidr: '10.40.1.0/24', type: 'private' }, { name: 's2', cidr: '10.40.2.0/24', type: 'public' }] }] }));
  await must('apply', '-f', file);
  t.is(await lookup('t', 's1', 's2.t.internal'), '10.40.2.2');
  t.regex((await must('apply', '-f', file)).stdout, /^0 changes$/m);
  rmSync('/etc/netns/ns-t-s1', { recursive: true });
  rmSync('/etc/netns/vpcr-t', { recursive: true });
  t.notRegex((await must('apply', '-f', file)).stdout, /^0 changes$/m);
  t.is(await lookup('t', 's1', 's2.t.internal'), '10.40.2.2');
  t.is((await run('status')).code, 0);
});

test.serial('cleanup-all removes every file vpcctl wrote, even without a state file, and nothing else', async (t) => {
  t.true(existsSync(etc('ns-b-api')) && existsSync(etc('ns-c-x', 'resolv.conf')));
  rmSync(`${state}/state.json`); // found by the tag in their first line, not by the state
  await must('cleanup-all');
  t.false(existsSync('/etc/netns/ns-b-api'));
  t.false(existsSync('/etc/netns/ns-c-x'));
  t.false(existsSync('/etc/netns/vpcr-b'));
  t.is(readFileSync('/etc/netns/ns-a-db/mine.conf', 'utf8'), 'foreign\n');
  t.is(readFileSync('/etc/netns/ns-zz-q/hosts', 'utf8'), '10.99.0.2 q.zz.internal\n');
  t.is(readFileSync('/etc/netns/ns-c-y/hosts', 'utf8'), '10.99.0.3 theirs\n');
});
