import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, freshStateDir, ip, netnsList, nft, vpcctl } from '../helpers/sandbox.js';
import { buildSimInternet } from '../../src/sim/internet.js';
import { native } from '../../src/native.js';

// Issue 13, item 2 and parts of 7: the state is durable or the command fails
// (and undoes its kernel changes); a bad state file, a bad input file, a
// read-only state dir and a closed stdout each get one clear line.

const work = mkdtempSync('/run/vpcctl/safety-');
// Each state dir allocates transit /30s from its own pool: VPCs of different
// state dirs share this sandbox's host, and their gateway link names must not meet.
let pools = 0;
const ownPool = () => ({ VPCCTL_TRANSIT_POOL: `100.64.${pools++}.0/24` });
const forward = async () => (await (await native()).sysctlGet('', 'net/ipv4/ip_forward')).trim();
const setForward = async (v: string) => (await native()).sysctlSet('', 'net/ipv4/ip_forward', v);
const oneLine = (s: string) => s.trim().split('\n').length === 1;
const ok = (t: { is: (a: number, b: number, m?: string) => void }, r: { code: number; stderr: string }) => t.is(r.code, 0, r.stderr);

function sh(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A real tmpfs of `size` as a state dir (test harness only: mount is not product code). */
function tmpfsDir(name: string, opts = 'size=64k'): string {
  const dir = join(work, name);
  mkdirSync(dir);
  sh('mount', ['-t', 'tmpfs', '-o', `${opts},mode=700`, name, dir]);
  return dir;
}

/** Fill `dir` with a file so that only `pages` pages stay free. */
function fillLeaving(dir: string, pages: number): string {
  const st = statfsSync(dir);
  const filler = join(dir, 'filler');
  writeFileSync(filler, Buffer.alloc((st.bavail - pages) * st.bsize));
  const left = statfsSync(dir).bavail;
  if (left !== pages) throw new Error(`filler left ${left} pages, not ${pages}`);
  return filler;
}

/** Everything of vpcctl's the host shows: namespaces, host links, routes, nftables, ip_forward. */
async function kernelSnapshot() {
  return {
    netns: netnsList(),
    links: ip(['-o', 'link']).split('\n').map((l) => l.split(':')[1]?.trim()).filter(Boolean).sort(),
    routes: ip(['route']),
    ruleset: nft(['-s', 'list', 'ruleset']),
    forward: await forward(),
  };
}

/** The kernel frees a deleted namespace's veth peers after vpcctl returns: wait for it, up to 10 s. */
async function settled<T>(read: () => Promise<T>, want: T, t: { deepEqual: (a: T, b: T, m?: string) => void }, message: string) {
  let now = await read();
  for (let i = 0; i < 100 && JSON.stringify(now) !== JSON.stringify(want); i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = await read();
  }
  t.deepEqual(now, want, message);
}

/** A topology whose subnet has a policy of `n` addresses: its state grows by ~19 n bytes. */
function bigTopology(file: string, vpc: string, cidr: string, n: number, type = 'public'): string {
  const prefix = cidr.split('.').slice(0, 2).join('.');
  const addresses = Array.from({ length: n }, (_, i) => `192.0.${i >> 8}.${i & 255}/32`);
  const doc = {
    vpcs: [{
      name: vpc, cidr,
      subnets: [{ name: 'web', cidr: `${prefix}.1.0/24`, type, policy: { ingress: [{ port: 443, action: 'allow', cidr: addresses }], default: 'deny' } }],
    }],
  };
  const path = join(work, file);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

test.before(async () => {
  await buildSimInternet();
  await setForward('0');
});

test.serial('full disk before the plan: a save that does not fit fails, nothing in the kernel, state.json byte for byte, next command works', async (t) => {
  const dir = tmpfsDir('full1');
  const env = ownPool();
  const run = (...args: string[]) => vpcctl(dir, args, env);
  // A state of ~10 KiB (three pages), so a write into one free page comes back short.
  const r0 = await run('apply', '-f', bigTopology('keep.json', 'keep', '10.1.0.0/16', 500, 'private'));
  t.is(r0.code, 0, r0.stderr);
  const stateFile = join(dir, 'state.json');
  t.true(readFileSync(stateFile).length > 8192, 'the state is larger than two pages');
  const filler = fillLeaving(dir, 1);
  const before = { state: readFileSync(stateFile, 'utf8'), kernel: await kernelSnapshot() };

  const r = await run('create-vpc', '--name', 'other', '--cidr', '10.2.0.0/16');
  t.not(r.code, 0, 'a state that cannot be saved fails the command');
  t.regex(r.stderr, /cannot save state .*state\.json: no space left on device/);
  t.true(oneLine(r.stderr), r.stderr);
  t.is(readFileSync(stateFile, 'utf8'), before.state, 'state.json is the previous version, byte for byte');
  t.deepEqual(await kernelSnapshot(), before.kernel, 'no trace of the command in the kernel');
  t.deepEqual(readdirSync(dir).filter((f) => /tmp/.test(f)), [], 'no temporary file left');

  rmSync(filler);
  const next = await run('create-vpc', '--name', 'other', '--cidr', '10.2.0.0/16');
  t.is(next.code, 0, next.stderr);
  ok(t, await run('status'));
  ok(t, await run('destroy', '-f', join(work, 'keep.json')));
  ok(t, await run('delete-vpc', '--name', 'other'));
});

test.serial('full disk after the plan: the final save fails, the kernel changes are undone through the planner, state.json byte for byte', async (t) => {
  const dir = tmpfsDir('full2');
  const env = ownPool();
  const run = (...args: string[]) => vpcctl(dir, args, env);
  // A small state file to compare with: a VPC made and deleted (ip_forward is back to 0).
  ok(t, await run('create-vpc', '--name', 'tiny', '--cidr', '10.3.0.0/16'));
  ok(t, await run('delete-vpc', '--name', 'tiny'));
  const stateFile = join(dir, 'state.json');
  // Two free pages: the pending mark (a few hundred bytes) fits, the final
  // state (a public subnet with a 600-address policy, ~12 KiB) does not.
  const filler = fillLeaving(dir, 2);
  const before = { state: readFileSync(stateFile, 'utf8'), kernel: await kernelSnapshot() };
  t.is(before.kernel.forward, '0');
  const topology = bigTopology('big.json', 'big', '10.4.0.0/16', 600);

  const r = await run('apply', '-f', topology);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /cannot save state .*state\.json: no space left on device.*kernel changes were undone/);
  t.true(oneLine(r.stderr), r.stderr);
  t.is(readFileSync(stateFile, 'utf8'), before.state, 'state.json is the previous version, byte for byte');
  await settled(kernelSnapshot, before.kernel, t, 'router, host, transit link, host route, host table gone; ip_forward back to 0');

  rmSync(filler);
  ok(t, await run('list-vpcs'));
  const again = await run('apply', '-f', topology);
  t.is(again.code, 0, `${again.stderr} ${sh('df', ['-k', dir])} ${sh('ls', ['-la', dir])}`);
  t.true(netnsList().includes('ns-big-web'));
  ok(t, await run('status'));
  ok(t, await run('destroy', '-f', topology));
});

test.serial('full disk after the plan and the undo fails too: exit 1 says so, the pending mark stays, and the next command with room cleans up', async (t) => {
  const dir = tmpfsDir('full3');
  const pool = ownPool();
  const run = (...args: string[]) => vpcctl(dir, args, pool);
  ok(t, await run('create-vpc', '--name', 'tiny', '--cidr', '10.3.0.0/16'));
  ok(t, await run('delete-vpc', '--name', 'tiny'));
  const stateFile = join(dir, 'state.json');
  const filler = fillLeaving(dir, 2);
  // tiny's transit link goes when the kernel has finished destroying its router: wait for that.
  for (let i = 0; i < 100 && ip(['-o', 'link']).includes('vg-'); i++) await new Promise((r) => setTimeout(r, 100));
  const before = { kernel: await kernelSnapshot() };
  const topology = bigTopology('big3.json', 'big3', '10.4.0.0/16', 600);

  // The second plan of the command (the undo after the failed save) fails at its first op.
  const r = await vpcctl(dir, ['apply', '-f', topology], { ...pool, VPCCTL_FAULT_AT: '2:1' });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /cannot save state .*no space left on device.*; undoing this command's kernel changes failed too \(.*injected fault.*\): 'vpcctl status' shows what differs/);
  t.true(oneLine(r.stderr), r.stderr);
  const marked = JSON.parse(readFileSync(stateFile, 'utf8'));
  t.deepEqual(Object.keys(marked.vpcs), [], 'the state does not claim the VPC');
  t.true(marked.pending.includes('vpcr-big3') && marked.pending.includes('ns-big3-web'), 'its namespaces are marked pending');

  t.is(await forward(), '1', "the undo's failed first op (ip_forward back to 0) left forwarding on");
  rmSync(filler);
  // Any command finishes the job: the pending namespaces the state does not want are removed.
  ok(t, await run('create-vpc', '--name', 'other', '--cidr', '10.2.0.0/16'));
  t.false(netnsList().some((n) => n.includes('big3')), 'nothing of the failed apply is left');
  t.deepEqual(JSON.parse(readFileSync(stateFile, 'utf8')).pending, []);
  ok(t, await run('status'));
  ok(t, await run('delete-vpc', '--name', 'other'));
  await settled(kernelSnapshot, before.kernel, t, 'the host as before the failed apply');
});

test.serial('a backup of the last good state is kept, and a damaged state says how to put it back', async (t) => {
  const dir = freshStateDir();
  const env = ownPool();
  const run = (...args: string[]) => vpcctl(dir, args, env);
  const file = join(dir, 'state.json');
  const bak = `${file}.bak`;
  ok(t, await run('create-vpc', '--name', 'b1', '--cidr', '10.5.0.0/16'));
  const first = readFileSync(file, 'utf8');
  ok(t, await run('create-vpc', '--name', 'b2', '--cidr', '10.6.0.0/16'));
  t.is(readFileSync(bak, 'utf8'), first, 'the backup is the state before the last change');

  // A truncated state (what a short write used to leave).
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, good.slice(0, 100));
  const r = await run('list-vpcs');
  t.is(r.code, 1);
  t.true(oneLine(r.stderr), r.stderr);
  t.true(r.stderr.includes(`state ${file} is corrupt`), r.stderr);
  t.true(r.stderr.includes(`the previous state is in ${bak}: cp ${bak} ${file}`), r.stderr);
  sh('cp', [bak, file]);
  const listed = await run('list-vpcs', '--json');
  t.is(listed.code, 0, listed.stderr);
  t.deepEqual(JSON.parse(listed.stdout).map((v: { name: string }) => v.name), ['b1']);
  // Back to the real state, and away with both VPCs.
  writeFileSync(file, good);
  ok(t, await run('delete-vpc', '--name', 'b1'));
  ok(t, await run('delete-vpc', '--name', 'b2'));
});

test.serial('a state file of the wrong shape: one line naming the file and the fix, exit 1, kernel untouched', async (t) => {
  const dir = freshStateDir();
  const file = join(dir, 'state.json');
  const env = ownPool();
  const run = (...args: string[]) => vpcctl(dir, args, env);
  const wrong: [string, string, RegExp][] = [
    ['null', 'null', /expected object, got null/],
    ['version only', '{"version":1}', /transitPool: is required/],
    ['cidr 42', JSON.stringify({ version: 1, transitPool: '100.64.0.0/16', vpcs: { a: { name: 'a', cidr: 42, uplink: null, transit: null, subnets: {} } }, peerings: [], pending: [] }), /vpcs\.a\.cidr: expected string, got number 42/],
  ];
  const before = netnsList();
  for (const [what, text, detail] of wrong) {
    writeFileSync(file, text);
    for (const args of [['list-vpcs'], ['create-vpc', '--name', 'x', '--cidr', '10.7.0.0/16']]) {
      const r = await run(...args);
      t.is(r.code, 1, `${what}, ${args[0]}: ${r.stderr}`);
      t.true(oneLine(r.stderr), `${what}: ${r.stderr}`);
      t.true(r.stderr.includes(`state ${file} is not a valid vpcctl state`), `${what}: ${r.stderr}`);
      t.regex(r.stderr, detail, what);
      t.regex(r.stderr, /cleanup-all|cp /, `${what}: says what to do`);
      t.notRegex(r.stderr, /TypeError|Cannot read properties|at .*\.js/, what);
    }
    t.is(readFileSync(file, 'utf8'), text, `${what}: the file is left for the user to look at`);
  }
  t.deepEqual(netnsList(), before);
  // A hand-written state of the right shape (no checksum) is read.
  writeFileSync(file, '{"version":1,"transitPool":"100.64.0.0/16","vpcs":{},"peerings":[]}');
  const ok = await run('list-vpcs');
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /no VPCs/);
});

/** ./vpcctl with a deadline: input that used to hang must not hang the test. */
function runWithin(ms: number, dir: string, args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const start = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, VPCCTL_STATE_DIR: dir, NO_COLOR: '1' }, timeout: ms, killSignal: 'SIGKILL' },
      (err, _out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr, ms: Date.now() - start }));
  });
}

test.serial('input files: /dev/zero, a directory, a FIFO and an oversized file are refused at once with exit 2', async (t) => {
  const dir = freshStateDir();
  const fifo = join(work, 'fifo');
  sh('mkfifo', [fifo]);
  const hugeTopology = join(work, 'huge.json');
  writeFileSync(hugeTopology, '');
  truncateSync(hugeTopology, 16 * 1024 * 1024 + 1);
  const hugePolicy = join(work, 'huge-policy.json');
  writeFileSync(hugePolicy, '');
  truncateSync(hugePolicy, 1024 * 1024 + 1);
  const cases: [string, string[], RegExp][] = [
    ['apply /dev/zero', ['apply', '-f', '/dev/zero'], /topology \/dev\/zero is a character device/],
    // A directory is a topology of its files (issue 19): each is read as a file is, and the first bad one is named.
    ['apply a directory', ['apply', '-f', work], /^vpcctl: topology .*\/huge-policy\.json: invalid JSON/],
    ['apply a FIFO', ['apply', '-f', fifo], /is a FIFO/],
    ['apply 16 MiB + 1', ['apply', '-f', hugeTopology], /larger than 16 MiB/],
    ['destroy /dev/zero', ['destroy', '-f', '/dev/zero'], /character device/],
    ['policy /dev/zero', ['apply-policy', '--vpc', 'x', '--subnet', 'y', '--policy', '/dev/zero'], /policy \/dev\/zero is a character device/],
    ['policy a directory', ['apply-policy', '--vpc', 'x', '--subnet', 'y', '--policy', work], /is a directory/],
    ['policy a FIFO', ['apply-policy', '--vpc', 'x', '--subnet', 'y', '--policy', fifo], /is a FIFO/],
    ['policy 1 MiB + 1', ['apply-policy', '--vpc', 'x', '--subnet', 'y', '--policy', hugePolicy], /larger than 1 MiB/],
  ];
  for (const [what, args, message] of cases) {
    const r = await runWithin(5000, dir, args);
    t.is(r.code, 2, `${what}: exit ${r.code} after ${r.ms} ms: ${r.stderr}`);
    t.regex(r.stderr, message, what);
    t.true(oneLine(r.stderr), `${what}: ${r.stderr}`);
    t.true(r.ms < 3000, `${what}: took ${r.ms} ms`);
  }
  t.false(existsSync(join(dir, 'state.json')), 'nothing was written');
});

test.serial('a read-only state dir gets its own message, not "busy"', async (t) => {
  const empty = tmpfsDir('ro-empty', 'size=64k,ro');
  const r = await vpcctl(empty, ['create-vpc', '--name', 'ro', '--cidr', '10.8.0.0/16']);
  t.is(r.code, 1);
  t.true(r.stderr.includes(`state dir ${empty} is read-only`), r.stderr);
  t.notRegex(r.stderr, /busy/);
  t.true(oneLine(r.stderr), r.stderr);
  t.false(netnsList().includes('vpcr-ro'));

  // A populated state dir bind-mounted read-only: reading works, changing says why not.
  const dir = freshStateDir();
  const env = ownPool();
  ok(t, await vpcctl(dir, ['create-vpc', '--name', 'ro2', '--cidr', '10.9.0.0/16'], env));
  const ro = join(work, 'ro-bind');
  mkdirSync(ro);
  sh('mount', ['--bind', dir, ro]);
  sh('mount', ['-o', 'remount,bind,ro', ro]);
  const list = await vpcctl(ro, ['list-vpcs']);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /ro2/);
  const change = await vpcctl(ro, ['delete-vpc', '--name', 'ro2']);
  t.is(change.code, 1);
  t.true(change.stderr.includes(`state dir ${ro} is read-only`), change.stderr);
  t.true(netnsList().includes('vpcr-ro2'), 'nothing was deleted');
  ok(t, await vpcctl(dir, ['delete-vpc', '--name', 'ro2'], env));
});

test.serial('output to a closed pipe ends quietly with exit 0, also under a pty', async (t) => {
  const dir = freshStateDir();
  // ~3000 VPCs: ~900 KiB of table, far more than a pipe holds, so head leaves mid-write.
  const vpcs: Record<string, unknown> = {};
  for (let i = 0; i < 3000; i++) vpcs[`v${i}`] = { name: `v${i}`, cidr: `10.${i % 250}.0.0/16`, uplink: null, transit: null, subnets: {} };
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, transitPool: '100.64.0.0/16', vpcs, peerings: [], pending: [] }));
  // As from a person's terminal: ava's workers set FORCE_COLOR, which skips the code that touches process.stdout.
  const env: NodeJS.ProcessEnv = { ...process.env, VPCCTL_STATE_DIR: dir, TERM: 'xterm' };
  for (const k of ['FORCE_COLOR', 'NO_COLOR', 'CI']) delete env[k];
  for (const args of ['list-vpcs', 'list-vpcs --json']) {
    const line = `${process.execPath} ${CLI} ${args} | head -1; echo "exit=\${PIPESTATUS[0]}"`;
    const plain = spawnSync('bash', ['-c', line], { encoding: 'utf8', env });
    t.regex(plain.stdout, /exit=0$/m, `${args} | head -1: ${plain.stdout.slice(-300)} ${plain.stderr}`);
    t.notRegex(plain.stderr, /EPIPE|Error/, args);
    // Under a pty (stderr a terminal, so colours load and touch process.stdout): the stream path.
    const pty = spawnSync('script', ['-qec', `bash -c '${line}'`, '/dev/null'], { encoding: 'utf8', env, timeout: 30_000 });
    t.regex(pty.stdout, /exit=0/, `${args} under a pty: ${pty.stdout.slice(-600)}`);
    t.notRegex(pty.stdout, /EPIPE|Unhandled|Error/, `${args} under a pty`);
  }
});

// Last: cleanup-all removes every vpcctl object in this sandbox.
test.serial('cleanup-all puts ip_forward back only if it still holds the 1 vpcctl set', async (t) => {
  const dir = freshStateDir();
  const env = ownPool();
  const run = (...args: string[]) => vpcctl(dir, args, env);
  // The host had forwarding on before vpcctl; something else turns it off later: leave it off.
  await setForward('1');
  ok(t, await run('create-vpc', '--name', 'fw', '--cidr', '10.10.0.0/16'));
  await setForward('0');
  const r = await run('cleanup-all');
  t.is(r.code, 0, r.stderr);
  t.is(await forward(), '0', 'a value changed by something else is left alone');
  t.regex(r.stdout, /ip_forward left at 0/);

  // Still vpcctl's 1: put back the 0 the host had.
  ok(t, await run('create-vpc', '--name', 'fw', '--cidr', '10.10.0.0/16'));
  t.is(await forward(), '1');
  const r2 = await run('cleanup-all');
  t.is(r2.code, 0, r2.stderr);
  t.is(await forward(), '0');
  t.regex(r2.stdout, /ip_forward restored to 0/);
});
