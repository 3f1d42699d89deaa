import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VpcctlError } from '../../src/errors.js';
import { checkState } from '../../src/state/schema.js';
import { isSealed, seal } from '../../src/state/seal.js';
import { StateStore } from '../../src/state/store.js';
import { emptyState, type State } from '../../src/state/types.js';

const dir = () => mkdtempSync(join(tmpdir(), 'vpcctl-state-'));

const sample = (): State => ({
  ...emptyState(),
  hostForwardBefore: '0',
  vpcs: {
    demo: {
      name: 'demo', cidr: '10.0.0.0/16', uplink: 'eth0', transit: '100.64.0.0/30',
      subnets: {
        web: {
          name: 'web', cidr: '10.0.1.0/24', type: 'public',
          policy: { ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }], egress: [], default: 'deny' },
          apps: [{ port: 80, pid: 42, command: ['x'], user: 'nobody', logFile: '/l', startedAt: 'now' }],
        },
      },
    },
  },
  revision: 3,
});

test('seal: a sealed state is recognised; any change, reformatting or truncation is not', (t) => {
  const text = seal(sample());
  t.true(isSealed(text));
  t.like(JSON.parse(text), { version: 1, revision: 3 });
  t.regex(text, /,"checksum":"fp64:[0-9a-f]{16}"}\n$/);
  t.false(isSealed(text.replace('10.0.1.0/24', '10.0.2.0/24')), 'a changed value');
  t.false(isSealed(JSON.stringify(JSON.parse(text), null, 2)), 'reformatted (jq .)');
  t.false(isSealed(text.slice(0, text.length / 2)), 'truncated');
  t.false(isSealed(JSON.stringify(sample())), 'no checksum');
  t.false(isSealed(text.replace(/fp64:[0-9a-f]{16}/, `sha256:${'0'.repeat(64)}`)), 'sealed the way vpcctl did before fp64');
  // Sealing a state read back (checksum field and all) gives the same text.
  t.is(seal(JSON.parse(text)), text);
});

test('checkState: the state schema accepts what vpcctl writes and names the first wrong field', (t) => {
  const ok = checkState(JSON.parse(JSON.stringify({ ...sample(), pending: undefined })));
  t.true('state' in ok);
  if ('state' in ok) t.deepEqual(ok.state.pending, [], 'pending defaults to empty, as the store always read it');
  t.true('state' in checkState({ ...sample(), somethingNewer: { x: 1 } }), 'unknown fields are kept, not refused');
  const problem = (v: unknown) => ('problem' in checkState(v) ? (checkState(v) as { problem: string }).problem : 'ok');
  t.regex(problem(null), /expected object, got null/);
  t.regex(problem({ version: 1 }), /transitPool: is required/);
  const s = sample();
  (s.vpcs.demo as unknown as { cidr: number }).cidr = 42;
  t.regex(problem(s), /vpcs\.demo\.cidr: expected string, got number 42/);
  const renamed = sample();
  renamed.vpcs.other = renamed.vpcs.demo!;
  t.regex(problem(renamed), /vpcs\.other\.name: is "demo", but its key is "other"/);
  const evil = sample();
  evil.vpcs.demo!.subnets.web!.name = '../x';
  t.regex(problem(evil), /subnets\.web\.name: "\.\.\/x" is not a valid vpcctl name/);
  const badCidr = sample();
  badCidr.vpcs.demo!.cidr = '10.0.0.0/33';
  t.regex(problem(badCidr), /vpcs\.demo\.cidr: "10\.0\.0\.0\/33" is not a CIDR/);
});

test('store: write then read round-trips; each write keeps the file it replaces as the backup', async (t) => {
  const store = new StateStore(dir());
  const a = sample();
  await store.write(a);
  const textA = readFileSync(store.file, 'utf8');
  t.false(existsSync(store.backup), 'no backup before a second version exists');
  const read = await store.read();
  t.deepEqual(read, { ...a, pending: [] });
  t.false('checksum' in read);
  read.vpcs.demo!.cidr = '10.9.0.0/16';
  await store.write(read);
  t.is(readFileSync(store.backup, 'utf8'), textA);
  t.is((await store.read()).vpcs.demo!.cidr, '10.9.0.0/16');
  t.deepEqual(readdirSync(store.dir).sort(), ['state.json', 'state.json.bak'], 'no temporary files');
});

test('store: a state sealed by an older vpcctl (sha256) is read through the schema and sealed anew by the next write', async (t) => {
  const store = new StateStore(dir());
  const body = JSON.stringify(sample());
  writeFileSync(store.file, `${body.slice(0, -1)},"checksum":"sha256:${'ab'.repeat(32)}"}\n`);
  const read = await store.read();
  t.is(read.vpcs.demo!.cidr, '10.0.0.0/16');
  t.false('checksum' in read);
  await store.write(read);
  t.true(isSealed(readFileSync(store.file, 'utf8')));
});

test('store transaction: the first write rotates the backup, later ones do not; revert puts the file back byte for byte', async (t) => {
  const store = new StateStore(dir());
  await store.write(sample());
  const before = readFileSync(store.file, 'utf8');
  const tx = store.transaction();
  await tx.write({ ...sample(), pending: ['ns-demo-web'] });
  await tx.write({ ...sample(), revision: 9 });
  t.is(readFileSync(store.backup, 'utf8'), before, 'the backup is the state before the command, not its pending mark');
  t.true(tx.revert());
  t.is(readFileSync(store.file, 'utf8'), before);
  t.is(readFileSync(store.backup, 'utf8'), before, 'the backup stays');

  // No file before: revert removes the one the command made.
  const fresh = new StateStore(dir());
  const tx2 = fresh.transaction();
  await tx2.write(sample());
  t.true(tx2.revert());
  t.false(existsSync(fresh.file));
});

test('store: an unreadable state is a one-line STATE error naming the file and how to restore the backup', async (t) => {
  const store = new StateStore(dir());
  await store.write(sample());
  await store.write(sample());
  for (const text of ['{"version":1,', 'null', '{"version":1}', '[]']) {
    writeFileSync(store.file, text);
    const e = await t.throwsAsync(store.read(), { instanceOf: VpcctlError });
    t.is(e!.code, 'STATE');
    t.false(e!.message.includes('\n'));
    t.true(e!.message.includes(`state ${store.file} is`), e!.message);
    t.true(e!.message.endsWith(`the previous state is in ${store.backup}: cp ${store.backup} ${store.file}`), e!.message);
  }
  writeFileSync(store.file, '{"version":7}');
  t.regex((await t.throwsAsync(store.read()))!.message, /has version 7, this vpcctl reads 1/);
  // A backup that is no good either is not offered.
  writeFileSync(store.backup, 'garbage');
  t.regex((await t.throwsAsync(store.read()))!.message, /no good backup .*'vpcctl cleanup-all'/);
  // A hand-written state of the right shape is read (through the schema).
  writeFileSync(store.file, JSON.stringify({ version: 1, transitPool: '100.64.0.0/16', vpcs: {}, peerings: [] }));
  t.deepEqual((await store.read()).pending, []);
});

test('store: temporary state files of runs that died are removed by the next write; a live process keeps its own', async (t) => {
  const d = dir();
  const store = new StateStore(d);
  // No process has pid 2^22 + 1 (above the kernel's pid_max ceiling); pid 1 is always alive.
  const dead = join(d, `state.json.tmp-${(1 << 22) + 1}`);
  const live = join(d, 'state.json.tmp-1');
  const other = join(d, 'notes.tmp-7');
  for (const f of [dead, live, other]) writeFileSync(f, 'partial');
  await store.write(sample());
  t.false(existsSync(dead));
  t.true(existsSync(live));
  t.true(existsSync(other));
  t.deepEqual(readdirSync(d).filter((n) => n.includes('.tmp-')).sort(), ['notes.tmp-7', 'state.json.tmp-1']);
});

test('a state file that is not a regular file is refused at once, naming what it is (a FIFO would block, /dev/zero never end)', async (t) => {
  const fifoDir = dir();
  execFileSync('mkfifo', [join(fifoDir, 'state.json')]);
  const started = Date.now();
  const fifo = await t.throwsAsync(new StateStore(fifoDir).read(), { instanceOf: VpcctlError });
  t.is(fifo?.code, 'STATE');
  t.regex(fifo?.message ?? '', /^state .*state\.json is a FIFO, not a regular file; no good backup/);
  t.true(Date.now() - started < 2000, 'not blocked on the FIFO');

  const zeroDir = dir();
  symlinkSync('/dev/zero', join(zeroDir, 'state.json'));
  const zero = await t.throwsAsync(new StateStore(zeroDir).read(), { instanceOf: VpcctlError });
  t.regex(zero?.message ?? '', /is a character device, not a regular file/);

  // A good state beside a FIFO backup: read as usual; its restore hint does not block on the backup either.
  const backupDir = dir();
  const store = new StateStore(backupDir);
  await store.write(sample());
  execFileSync('mkfifo', [store.backup]);
  t.is((await store.read()).revision, 4);
  t.regex(await store.restoreHint(), /^no good backup/);
});
