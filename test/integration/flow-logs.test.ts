import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, FETCH, freshStateDir, inNs, nft, vpcctl } from '../helpers/sandbox.js';
import { native } from '../../src/native.js';

/**
 * Issue 16 §4: flow logs. With the VPC's switch on, each subnet's policy
 * table logs the first packet of each new connection (NFLOG, read by the
 * native reader inside the namespace); `flow-logs --follow` prints one
 * entry per decision with ACCEPT/REJECT and the rule, and keeps the last N
 * in a ring per subnet that `flow-logs` prints later.
 */
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const tcp = async (ns: string, dst: string, port: number) => (await (await native()).tcpConnect(ns, dst, port, 500)).ok;
const table = (ns: string) => nft(['list', 'table', 'inet', 'vpcctl'], ns);
const hasTable = (ns: string) => nft(['list', 'tables'], ns).includes('inet vpcctl');
const stateText = () => readFileSync(join(state, 'state.json'), 'utf8');

interface Entry { time: string; vpc: string; subnet: string; src: string; srcPort: number | null; dst: string; dstPort: number | null; protocol: string; action: string; rule: string }

/** `flow-logs --follow --json` as a child: its entries as they come; stop() ends it (SIGTERM) and says how. */
function follow(t: ExecutionContext, args: string[] = [], env: Record<string, string> = {}, vpc = 'f') {
  const child: ChildProcess = spawn(process.execPath, [CLI, 'flow-logs', '--vpc', vpc, '--follow', '--json', ...args], {
    env: { ...process.env, VPCCTL_STATE_DIR: state, NO_COLOR: '1', ...env },
  });
  const entries: Entry[] = [];
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const l of lines) if (l) entries.push(JSON.parse(l) as Entry);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A failed assertion must not leave a follower holding a subnet's group for the next test.
  t.teardown(() => { child.kill('SIGKILL'); });
  child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  const until = async (what: () => boolean, ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (what()) return true;
    return what();
  };
  return {
    entries,
    stderr: () => err,
    ready: () => until(() => /following flow logs/.test(err), 10_000),
    /** Waits until `n` entries came (or `ms` passed). */
    count: (n: number, ms = 5000) => until(() => entries.length >= n, ms),
    stop: async () => { child.kill('SIGTERM'); return exited; },
  };
}

test.before(async () => {
  const steps = [
    ['create-vpc', '--name', 'f', '--cidr', '10.40.0.0/16'],
    ['create-subnet', '--vpc', 'f', '--name', 'web', '--cidr', '10.40.1.0/24', '--type', 'public'],
    ['create-subnet', '--vpc', 'f', '--name', 'db', '--cidr', '10.40.2.0/24', '--type', 'private'],
    ['deploy-app', '--vpc', 'f', '--subnet', 'web', '--port', '80'],
    ['deploy-app', '--vpc', 'f', '--subnet', 'web', '--port', '22'],
  ];
  for (const s of steps) {
    const r = await run(...s);
    if (r.code !== 0) throw new Error(`${s.join(' ')}: ${r.stderr}`);
  }
  const policy = join(state, 'web.json');
  writeFileSync(policy, JSON.stringify({ subnet: '10.40.1.0/24', ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }, { port: 22, protocol: 'tcp', action: 'deny' }] }));
  const r = await run('apply-policy', '--vpc', 'f', '--subnet', 'web', '--policy', policy);
  if (r.code !== 0) throw new Error(r.stderr);
});

test.serial('off by default: the policy table has no log rule, a subnet without a policy has no table', async (t) => {
  t.notRegex(table('ns-f-web'), /log /);
  t.false(hasTable('ns-f-db'));
});

test.serial('bad input: exit 2 with one line, state and tables as before', async (t) => {
  const before = { state: stateText(), web: table('ns-f-web') };
  for (const args of [
    ['flow-logs', 'enable', '--vpc', 'nope'],
    ['flow-logs', 'bogus', '--vpc', 'f'],
    ['flow-logs', 'enable', '--vpc', 'f', '--subnet', 'web'],
    ['flow-logs', '--vpc', 'f', '--since', 'yesterday'],
    ['flow-logs', '--vpc', 'f', '--subnet', 'nope'],
    ['flow-logs', 'enable'],
  ]) {
    const r = await run(...args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  t.is(stateText(), before.state);
  t.is(table('ns-f-web'), before.web);
  t.false(hasTable('ns-f-db'));
});

test.serial('enable: log rules before each verdict and for the default; a subnet without a policy gets a logging allow-all table; status in sync', async (t) => {
  const r = await run('flow-logs', 'enable', '--vpc', 'f');
  t.is(r.code, 0, r.stderr);
  const web = table('ns-f-web');
  t.regex(web, /ct state new tcp dport 80 limit rate 100\/second burst 200 packets log prefix "ingress\[0\] ACCEPT" group 16\s+tcp dport 80 counter packets \d+ bytes \d+ accept comment "ingress\[0\]"/);
  t.regex(web, /ct state new tcp dport 22 limit rate 100\/second burst 200 packets log prefix "ingress\[1\] REJECT" group 16\s+tcp dport 22 counter packets \d+ bytes \d+ drop comment "ingress\[1\]"/);
  t.regex(web, /log prefix "default ACCEPT" group 16/);
  t.regex(table('ns-f-db'), /log prefix "default ACCEPT" group 16/);
  t.regex((await run('flow-logs', 'enable', '--vpc', 'f')).stdout, /nothing changed/);
  const s = await run('status');
  t.is(s.code, 0, s.stdout);
  t.true(JSON.parse((await run('show-vpc', '--name', 'f', '--json')).stdout).flowLogs);
  t.regex((await run('show-vpc', '--name', 'f')).stdout, /flow logs: on/);
});

test.serial('an allowed and a denied connection: ACCEPT and REJECT with their rules, once per connection; established traffic logs nothing', async (t) => {
  const f = follow(t);
  t.true(await f.ready(), f.stderr());
  t.true(await tcp('ns-f-db', '10.40.1.2', 80), 'allowed');
  t.false(await tcp('ns-f-db', '10.40.1.2', 22), 'denied by ingress[1]');
  // One connection that carries a request and a response, many packets each way.
  const get = inNs('ns-f-db', [process.execPath, FETCH, 'http://10.40.1.2/']);
  t.is(get.status, 0, get.stderr);
  // web: two connections to 80 accepted, one to 22 refused; db: its three egress decisions.
  t.true(await f.count(6), JSON.stringify(f.entries));
  await new Promise((r) => setTimeout(r, 1500)); // anything more (a repeat, a reply) would show by now
  t.is(await f.stop(), 0, f.stderr());
  const web = f.entries.filter((e) => e.subnet === 'web');
  const db = f.entries.filter((e) => e.subnet === 'db');
  const accepted = web.filter((e) => e.dstPort === 80);
  t.is(accepted.length, 2, JSON.stringify(web));
  for (const e of accepted) t.like(e, { vpc: 'f', src: '10.40.2.2', dst: '10.40.1.2', protocol: 'tcp', action: 'ACCEPT', rule: 'ingress[0]' });
  const refused = web.filter((e) => e.dstPort === 22);
  t.is(refused.length, 1, 'a retransmitted SYN is the same decision');
  t.like(refused[0], { src: '10.40.2.2', dst: '10.40.1.2', protocol: 'tcp', action: 'REJECT', rule: 'ingress[1]' });
  t.is(web.length, 3, 'replies from web are established: no egress entry in web');
  t.is(db.length, 3, JSON.stringify(db));
  for (const e of db) t.like(e, { src: '10.40.2.2', action: 'ACCEPT', rule: 'default' });
  t.deepEqual(new Set(accepted.map((e) => e.srcPort)).size, 2, 'two connections, two source ports');

  // What the follower printed, its ring keeps: printed later without --follow.
  const kept = await run('flow-logs', '--vpc', 'f', '--json');
  t.is(kept.code, 0, kept.stderr);
  const sorted = (list: Entry[]) => list.map((e) => JSON.stringify(e)).sort();
  t.deepEqual(sorted(JSON.parse(kept.stdout)), sorted(f.entries), 'the same entries');
  t.is(JSON.parse((await run('flow-logs', '--vpc', 'f', '--subnet', 'web', '--json')).stdout).length, 3);
  const text = await run('flow-logs', '--vpc', 'f', '--subnet', 'web');
  t.regex(text.stdout, /^\S+Z web 10\.40\.2\.2:\d+ -> 10\.40\.1\.2:22 tcp REJECT ingress\[1\]$/m);
  t.regex(text.stdout, /^\S+Z web 10\.40\.2\.2:\d+ -> 10\.40\.1\.2:80 tcp ACCEPT ingress\[0\]$/m);
  t.deepEqual(JSON.parse((await run('flow-logs', '--vpc', 'f', '--since', '2000-01-01T00:00:00Z', '--json')).stdout).length, 6);
  await new Promise((r) => setTimeout(r, 1100));
  t.deepEqual(JSON.parse((await run('flow-logs', '--vpc', 'f', '--since', '1s', '--json')).stdout), [], '--since filters by time');
});

test.serial('one reader per subnet: a second follower leaves the subnet to the first, and says so', async (t) => {
  const first = follow(t, ['--subnet', 'web']);
  t.true(await first.ready(), first.stderr());
  const second = follow(t);
  t.true(await second.ready(), second.stderr());
  t.regex(second.stderr(), /subnet f\/web is followed by another vpcctl flow-logs/);
  t.regex(second.stderr(), /following flow logs of vpc f \(db\)/);
  t.true(await tcp('ns-f-db', '10.40.1.2', 80));
  t.true(await first.count(1) && await second.count(1));
  t.is(await first.stop(), 0);
  t.is(await second.stop(), 0);
  t.like(first.entries[0], { subnet: 'web', rule: 'ingress[0]', action: 'ACCEPT' });
  t.like(second.entries[0], { subnet: 'db', rule: 'default', action: 'ACCEPT' });
});

test.serial('a follower of the whole VPC follows a subnet made after it started, and lets a deleted one go', async (t) => {
  const f = follow(t);
  t.true(await f.ready(), f.stderr());
  const made = await run('create-subnet', '--vpc', 'f', '--name', 'late', '--cidr', '10.40.3.0/24', '--type', 'private');
  t.is(made.code, 0, made.stderr);
  try {
    const told = async () => {
      for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (/following subnet f\/late too/.test(f.stderr())) return true;
      return false;
    };
    t.true(await told(), f.stderr());
    t.true(await tcp('ns-f-late', '10.40.1.2', 80));
    t.true(await f.count(2), JSON.stringify(f.entries));
    t.like(f.entries.find((e) => e.subnet === 'late'), { src: '10.40.3.2', dst: '10.40.1.2', dstPort: 80, action: 'ACCEPT', rule: 'default' });
  } finally {
    t.is((await run('delete-subnet', '--vpc', 'f', '--name', 'late')).code, 0);
  }
  await new Promise((r) => setTimeout(r, 1500)); // a scan after the deletion drops it
  t.true(await tcp('ns-f-db', '10.40.1.2', 80), 'still following the others');
  t.true(await f.count(4), JSON.stringify(f.entries));
  // Made again, in a new namespace: followed again.
  t.is((await run('create-subnet', '--vpc', 'f', '--name', 'late', '--cidr', '10.40.3.0/24', '--type', 'private')).code, 0);
  try {
    const twice = async () => {
      for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if ((f.stderr().match(/following subnet f\/late too/g) ?? []).length === 2) return true;
      return false;
    };
    t.true(await twice(), f.stderr());
  } finally {
    t.is((await run('delete-subnet', '--vpc', 'f', '--name', 'late')).code, 0);
  }
  t.is(await f.stop(), 0, f.stderr());
});

test.serial('the ring is bounded: the last N entries per subnet', async (t) => {
  const env = { VPCCTL_FLOW_LOG_RING: '4' };
  const f = follow(t, ['--subnet', 'web'], env);
  t.true(await f.ready(), f.stderr());
  for (let i = 0; i < 12; i++) t.true(await tcp('ns-f-db', '10.40.1.2', 80));
  t.true(await f.count(12), JSON.stringify(f.entries));
  t.is(await f.stop(), 0);
  const lines = readFileSync(join(state, 'flow-logs', 'ns-f-web.jsonl'), 'utf8').trim().split('\n');
  t.true(lines.length <= 5, `${lines.length} lines`);
  const kept = JSON.parse((await vpcctl(state, ['flow-logs', '--vpc', 'f', '--subnet', 'web', '--json'], env)).stdout) as Entry[];
  t.deepEqual(kept.map((e) => e.srcPort), f.entries.slice(-4).map((e) => e.srcPort), 'the newest four');
});

test.serial('a changed log rule is drift, repaired by the next command on the VPC', async (t) => {
  nft(['flush', 'chain', 'inet', 'vpcctl', 'ingress'], 'ns-f-web');
  const s = await run('status');
  t.is(s.code, 1, s.stdout);
  t.regex(s.stdout, /subnet f\/web/);
  t.is((await run('flow-logs', 'enable', '--vpc', 'f')).code, 0);
  t.is((await run('status')).code, 0);
  t.regex(table('ns-f-web'), /log prefix "ingress\[0\] ACCEPT"/);
});

test.serial('disable: the log rules go, the policy stays, the logging-only table goes', async (t) => {
  const r = await run('flow-logs', 'disable', '--vpc', 'f');
  t.is(r.code, 0, r.stderr);
  const web = table('ns-f-web');
  t.notRegex(web, /log /);
  t.regex(web, /tcp dport 22 counter packets \d+ bytes \d+ drop comment "ingress\[1\]"/);
  t.false(hasTable('ns-f-db'));
  t.true(await tcp('ns-f-db', '10.40.1.2', 80));
  t.false(await tcp('ns-f-db', '10.40.1.2', 22));
  t.is((await run('status')).code, 0);
  t.notRegex(stateText(), /"flowLogs"/);
  t.false(JSON.parse((await run('show-vpc', '--name', 'f', '--json')).stdout).flowLogs);
});

test.serial('topology files: flowLogs: true on a VPC', async (t) => {
  const file = join(state, 'topo.json');
  writeFileSync(file, JSON.stringify({ vpcs: [{ name: 'g', cidr: '10.41.0.0/16', flowLogs: true, subnets: [{ name: 'app', cidr: '10.41.1.0/24', type: 'private' }] }] }));
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  t.regex(table('ns-g-app'), /log prefix "default ACCEPT" group 16/);
  t.regex((await run('apply', '-f', file)).stdout, /0 changes/);
  writeFileSync(file, JSON.stringify({ vpcs: [{ name: 'g', cidr: '10.41.0.0/16', subnets: [{ name: 'app', cidr: '10.41.1.0/24', type: 'private' }] }] }));
  t.is((await run('apply', '-f', file)).code, 0);
  t.false(hasTable('ns-g-app'), 'absent in the file: off');
});

test.serial('IPv6: a dual-stack VPC logs its IPv6 connections, addresses bracketed before ports', async (t) => {
  const steps = [
    ['create-vpc', '--name', 'f6', '--cidr', '10.42.0.0/16', '--ipv6-cidr', 'fd00:42::/56'],
    ['create-subnet', '--vpc', 'f6', '--name', 'web', '--cidr', '10.42.1.0/24', '--type', 'public'],
    ['create-subnet', '--vpc', 'f6', '--name', 'db', '--cidr', '10.42.2.0/24', '--type', 'private'],
  ];
  for (const s of steps) t.is((await run(...s)).code, 0, s.join(' '));
  const policy = join(state, 'web6.json');
  writeFileSync(policy, JSON.stringify({ ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }, { port: 22, protocol: 'tcp', action: 'deny' }] }));
  t.is((await run('apply-policy', '--vpc', 'f6', '--subnet', 'web', '--policy', policy)).code, 0);
  t.is((await run('flow-logs', 'enable', '--vpc', 'f6')).code, 0);
  // A listener on both ports over IPv6 (the test's own, under `ip netns exec`).
  const script = "const net=require('net');let n=0;for(const p of [80,22])net.createServer((s)=>s.end()).listen(p,'::',()=>{if(++n===2)console.log('up')});";
  const server = spawn('/usr/sbin/ip', ['netns', 'exec', 'ns-f6-web', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { server.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.once('data', () => resolve());
    server.once('exit', (code) => reject(new Error(`listener exited (${code})`)));
  });
  const f = follow(t, ['--subnet', 'web'], {}, 'f6');
  t.true(await f.ready(), f.stderr());
  t.true(await tcp('ns-f6-db', 'fd00:42::2', 80), 'allowed over IPv6');
  t.false(await tcp('ns-f6-db', 'fd00:42::2', 22), 'denied over IPv6');
  t.true(await f.count(2), JSON.stringify(f.entries));
  t.is(await f.stop(), 0, f.stderr());
  t.like(f.entries.find((e) => e.dstPort === 80), { vpc: 'f6', subnet: 'web', src: 'fd00:42:0:1::2', dst: 'fd00:42::2', protocol: 'tcp', action: 'ACCEPT', rule: 'ingress[0]' });
  t.like(f.entries.find((e) => e.dstPort === 22), { src: 'fd00:42:0:1::2', dst: 'fd00:42::2', protocol: 'tcp', action: 'REJECT', rule: 'ingress[1]' });
  const text = await run('flow-logs', '--vpc', 'f6', '--subnet', 'web');
  t.regex(text.stdout, /^\S+Z web \[fd00:42:0:1::2\]:\d+ -> \[fd00:42::2\]:80 tcp ACCEPT ingress\[0\]$/m);
  t.regex(text.stdout, /^\S+Z web \[fd00:42:0:1::2\]:\d+ -> \[fd00:42::2\]:22 tcp REJECT ingress\[1\]$/m);
  t.is((await run('delete-vpc', '--name', 'f6')).code, 0);
});
