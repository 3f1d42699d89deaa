/**
 * Issue 13, items 4-6: apps never run as root by accident nor take a port
 * another process holds, and names read from the state file are never
 * trusted to delete, kill or unlink anything.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FETCH, freshStateDir, inNs, ip, netnsList, vpcctl } from '../helpers/sandbox.js';
import { alive } from '../../src/api/apps.js';
import { native } from '../../src/native.js';

const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const stateFile = join(state, 'state.json');
const readState = () => JSON.parse(readFileSync(stateFile, 'utf8'));
const pidsIn = async (ns: string) => (await native()).netnsPids(ns);
const deploy = (...args: string[]) => run('deploy-app', '--vpc', 'prod', '--subnet', 'web', ...args);
// /run is the sandbox's own tmpfs: "../../run/trust-x" from /run/netns is /run/trust-x.
const OUTSIDE = '../../run/trust-x';
const OUTSIDE_FILE = '/run/trust-x';
const children: ChildProcess[] = [];

/** A process started by the test with `ip netns exec` (execs, so its pid is the command's). */
function startIn(ns: string, argv: string[]): ChildProcess {
  const c = spawn('/usr/sbin/ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  return c;
}
const listening = (c: ChildProcess) => new Promise<void>((resolve, reject) => {
  c.stdout!.once('data', () => resolve());
  c.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
});

/** A foreign namespace made by "someone else", with a process in it and (optionally) a foreign tag on lo. */
function foreignNs(name: string, tag?: string): ChildProcess {
  ip(['netns', 'add', name]);
  if (tag) ip(['link', 'set', 'lo', 'alias', tag], name);
  return startIn(name, ['sleep', '600']);
}

function setPending(pending: string[]) {
  const s = readState();
  s.pending = pending;
  writeFileSync(stateFile, JSON.stringify(s));
}

test.before(async () => {
  for (const s of [
    ['create-vpc', '--name', 'prod', '--cidr', '10.0.0.0/16'],
    ['create-subnet', '--vpc', 'prod', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'private'],
  ]) {
    const r = await run(...s);
    if (r.code !== 0) throw new Error(`${s.join(' ')}: ${r.stderr}`);
  }
});

test.after.always(() => {
  for (const c of children) if (c.pid && alive(c.pid)) process.kill(c.pid, 'SIGKILL');
});

const oneLine = (s: string) => s.trim().split('\n').length === 1;

test.serial('deploy-app --user "" is refused before anything starts (it used to run as root)', async (t) => {
  const r = await deploy('--port', '8000', '--user', '');
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /user is empty/);
  t.true(oneLine(r.stderr), r.stderr);
  t.deepEqual(await pidsIn('ns-prod-web'), [], 'no process started');
  t.deepEqual(readState().vpcs.prod.subnets.web.apps, [], 'no app recorded');
  t.false(existsSync(join(state, 'logs', 'prod-web-8000.log')));
});

test.serial('an unknown user, or a uid given as a number, is refused: root only by name', async (t) => {
  const unknown = await deploy('--port', '8000', '--user', 'no-such-user-vpcctl');
  t.is(unknown.code, 2, unknown.stderr);
  t.regex(unknown.stderr, /user "no-such-user-vpcctl" does not exist/);
  t.true(oneLine(unknown.stderr), unknown.stderr);
  // "0" used to match root's uid field in /etc/passwd.
  const zero = await deploy('--port', '8000', '--user', '0');
  t.is(zero.code, 2, zero.stderr);
  t.regex(zero.stderr, /is a number: give a user name/);
  t.deepEqual(await pidsIn('ns-prod-web'), [], 'no process started');
  t.deepEqual(readState().vpcs.prod.subnets.web.apps, []);
  // Asked for by name, root is still possible.
  const root = await deploy('--port', '8001', '--user', 'root');
  t.is(root.code, 0, root.stderr);
  const app = readState().vpcs.prod.subnets.web.apps[0];
  t.regex(readFileSync(`/proc/${app.pid}/status`, 'utf8'), /^Uid:\s+0\s/m);
  t.is((await run('stop-app', '--vpc', 'prod', '--subnet', 'web')).code, 0);
});

test.serial('a port another process listens on (IPv4 or IPv6) is refused with its pid; nothing recorded', async (t) => {
  const node = process.execPath;
  const v4 = startIn('ns-prod-web', [node, '-e', "require('net').createServer().listen(8080, '0.0.0.0', () => console.log('up'))"]);
  const v6 = startIn('ns-prod-web', [node, '-e', "require('net').createServer().listen(8081, '::', () => console.log('up'))"]);
  await Promise.all([listening(v4), listening(v6)]);
  // The holder's pid, then its comm (node, or MainThread: newer Node names its main thread).
  for (const [port, holder] of [[8080, v4], [8081, v6]] as const) {
    const r = await deploy('--port', String(port));
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`port ${port} is already in use in subnet "web" of vpc "prod" \\(held by pid ${holder.pid} \\([^)]+\\)\\)`));
    t.true(oneLine(r.stderr), r.stderr);
  }
  t.deepEqual((await pidsIn('ns-prod-web')).sort(), [v4.pid, v6.pid].sort(), 'no app process started');
  t.deepEqual(JSON.parse((await run('list-apps', '--json')).stdout), [], 'no app recorded');
  // The same port is free in another subnet's namespace.
  t.is((await run('create-subnet', '--vpc', 'prod', '--name', 'db', '--cidr', '10.0.2.0/24', '--type', 'private')).code, 0);
  const other = await run('deploy-app', '--vpc', 'prod', '--subnet', 'db', '--port', '8080');
  t.is(other.code, 0, other.stderr);
  for (const c of [v4, v6]) process.kill(c.pid!, 'SIGKILL');
});

test.serial('an app as nobody serves port 80 with CAP_NET_BIND_SERVICE alone, without the per-subnet sysctl', async (t) => {
  const sysctl = inNs('ns-prod-web', ['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start']);
  t.is(sysctl.stdout.trim(), '1024', 'the namespace keeps the kernel default');
  const r = await deploy('--port', '80');
  t.is(r.code, 0, r.stderr);
  const app = readState().vpcs.prod.subnets.web.apps.find((a: { port: number }) => a.port === 80);
  const status = readFileSync(`/proc/${app.pid}/status`, 'utf8');
  t.regex(status, /^Uid:\s+65534\s/m, 'unprivileged');
  // Bit 10 (CAP_NET_BIND_SERVICE) and nothing else: effective, permitted, ambient.
  for (const set of ['CapEff', 'CapPrm', 'CapAmb']) t.regex(status, new RegExp(`^${set}:\\s+0+400$`, 'm'), set);
  const res = inNs('ns-prod-db', [process.execPath, FETCH, 'http://10.0.1.2/']);
  t.is(res.status, 0, res.stderr);
  t.like(JSON.parse(res.stdout), { subnet: 'web', port: 80 });
  t.is((await run('stop-app', '--vpc', 'prod', '--subnet', 'web')).code, 0);
});

test.serial('stop-app signals a pid from the state only if it is an app of that subnet', async (t) => {
  // A process outside the subnet whose pid was written into the state as an app.
  const bystander = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(bystander);
  const s = readState();
  s.vpcs.prod.subnets.web.apps = [{ port: 9999, pid: bystander.pid, command: ['x'], user: 'nobody', logFile: '/dev/null', startedAt: new Date().toISOString() }];
  writeFileSync(stateFile, JSON.stringify(s));
  const r = await run('stop-app', '--vpc', 'prod', '--subnet', 'web', '--port', '9999');
  t.is(r.code, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 200));
  t.true(alive(bystander.pid!), 'the bystander was not signalled');
  t.deepEqual(readState().vpcs.prod.subnets.web.apps, [], 'the stale record is gone');
  process.kill(bystander.pid!, 'SIGKILL');
});

test.serial('names in the pending list that are not vpcctl\'s are reported, never deleted, killed or unlinked', async (t) => {
  const plain = foreignNs('foreign');
  const tagged = foreignNs('ns-prod-zzz', 'someone-else');
  writeFileSync(OUTSIDE_FILE, 'not vpcctl\'s');
  // A crash leftover of ours: untagged, well named, recorded as pending.
  ip(['netns', 'add', 'ns-prod-crashed']);
  setPending(['foreign', OUTSIDE, 'ns-prod-zzz', 'ns-prod-crashed']);

  // status names the bad entries as ignored, not as something the next command repairs.
  const st = await run('status');
  t.is(st.code, 1);
  t.regex(st.stdout, /ignored\s+pending entry "foreign" is no vpcctl namespace name/);
  t.regex(st.stdout, /ignored\s+pending entry "\.\.\/\.\.\/run\/trust-x" is no vpcctl namespace name/);
  t.notRegex(st.stdout, /netns foreign \(a run stopped/);

  const r = await run('create-subnet', '--vpc', 'prod', '--name', 'cache', '--cidr', '10.0.3.0/24', '--type', 'private');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /warning: pending entry "foreign" in the state is not a vpcctl namespace name/);
  t.regex(r.stderr, /warning: pending entry "\.\.\/\.\.\/run\/trust-x" in the state is not a vpcctl namespace name/);
  t.regex(r.stderr, /warning: network namespace "ns-prod-zzz" is not vpcctl's \(tagged "someone-else"\): left alone/);
  const list = netnsList();
  t.true(list.includes('foreign') && list.includes('ns-prod-zzz'), 'foreign namespaces kept');
  t.true(alive(plain.pid!) && alive(tagged.pid!), 'their processes live');
  t.is(readFileSync(OUTSIDE_FILE, 'utf8'), 'not vpcctl\'s', 'the file outside /run/netns is untouched');
  t.false(list.includes('ns-prod-crashed'), 'our own untagged leftover is still cleaned up');
  t.true(list.includes('ns-prod-cache'));
  t.deepEqual(readState().pending, [], 'reported once, then dropped from the state');
});

test.serial('a state naming a foreign namespace as its own subnet does not make delete-subnet take it', async (t) => {
  // Someone replaced ns-prod-db (a subnet of the state) with a namespace of theirs.
  t.is((await run('delete-subnet', '--vpc', 'prod', '--name', 'db')).code, 0);
  const s = readState();
  s.vpcs.prod.subnets.db = { name: 'db', cidr: '10.0.2.0/24', type: 'private', apps: [] };
  writeFileSync(stateFile, JSON.stringify(s));
  const theirs = foreignNs('ns-prod-db', 'docker');
  const r = await run('delete-subnet', '--vpc', 'prod', '--name', 'db');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /network namespace "ns-prod-db" is not vpcctl's \(tagged "docker"\): left alone/);
  t.true(netnsList().includes('ns-prod-db'));
  t.true(alive(theirs.pid!));
});

test.serial('cleanup-all leaves foreign pending names, their processes and outside files alone', async (t) => {
  const before = readdirSync('/run/netns');
  t.true(before.includes('foreign'));
  setPending(['foreign', OUTSIDE, 'ns-prod-zzz']);
  const r = await run('cleanup-all');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /pending entry "foreign" in the state is not a vpcctl namespace: left alone/);
  t.regex(r.stderr, /pending entry "\.\.\/\.\.\/run\/trust-x" in the state is not a vpcctl namespace: left alone/);
  t.regex(r.stderr, /pending entry "ns-prod-zzz" in the state is not a vpcctl namespace: left alone/);
  t.deepEqual(netnsList(), ['foreign', 'ns-prod-db', 'ns-prod-zzz'], 'only vpcctl\'s namespaces went');
  for (const c of children.slice(-3)) t.true(alive(c.pid!), `pid ${c.pid} lives`);
  t.true(existsSync(OUTSIDE_FILE));
});
