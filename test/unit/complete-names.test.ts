import test from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/cli/main.js';
import { leaves, nameKind } from '../../src/cli/completion.js';
import { completeNames, optionValue } from '../../src/cli/complete-names.js';

/** Names for completion come from the state file alone, and anything wrong with it gives none. */

const stateIn = (text: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpcctl-complete-'));
  writeFileSync(join(dir, 'state.json'), text);
  return dir;
};
const good = JSON.stringify({
  version: 1,
  vpcs: {
    shop: { name: 'shop', subnets: { web: {}, db: {} } },
    lab: { name: 'lab', subnets: { job: {} } },
  },
});

test('VPC names, and subnet names of the VPC the command line names (or of all)', (t) => {
  const dir = stateIn(good);
  const env = { VPCCTL_STATE_DIR: dir };
  t.deepEqual(completeNames('vpc', [], env), ['lab', 'shop']);
  t.deepEqual(completeNames('subnet', ['show-policy', '--vpc', 'shop'], env), ['db', 'web']);
  t.deepEqual(completeNames('subnet', ['show-policy', '--vpc=lab'], env), ['job']);
  t.deepEqual(completeNames('subnet', [], env), ['db', 'job', 'web'], 'no --vpc: every subnet');
  t.deepEqual(completeNames('subnet', ['x', '--vpc', 'nope'], env), [], 'an unknown VPC has none');
  t.deepEqual(completeNames('to-subnet', ['test-connectivity', '--vpc', 'shop', '--to-vpc', 'lab'], env), ['job']);
  t.deepEqual(completeNames('to-subnet', ['test-connectivity', '--vpc', 'shop'], env), ['db', 'web'], '--to-vpc defaults to --vpc');
  // --state-dir on the command line wins over the environment.
  t.deepEqual(completeNames('vpc', ['--state-dir', dir, 'show-vpc'], { VPCCTL_STATE_DIR: '/nonexistent' }), ['lab', 'shop']);
});

test('optionValue: the last value given, in either spelling, none after --', (t) => {
  t.is(optionValue(['--vpc', 'a', '--vpc', 'b'], '--vpc'), 'b');
  t.is(optionValue(['--vpc=a'], '--vpc'), 'a');
  t.is(optionValue(['--vpc'], '--vpc'), undefined);
  t.is(optionValue(['--', '--vpc', 'a'], '--vpc'), undefined);
  t.is(optionValue(['--vpc1', 'a'], '--vpc'), undefined);
});

test('a missing, corrupt, odd or hostile state gives no names, and nothing is written', (t) => {
  const cases: Record<string, string> = {
    absent: join(tmpdir(), 'vpcctl-no-such-dir'),
    corrupt: stateIn('{"vpcs": {"a": '),
    notObject: stateIn('"vpcs"'),
    nullState: stateIn('null'),
    vpcsArray: stateIn('{"vpcs": ["a"]}'),
    badSubnets: stateIn('{"vpcs": {"a": null, "b": {"subnets": 3}}}'),
  };
  const dirNotFile = mkdtempSync(join(tmpdir(), 'vpcctl-complete-'));
  mkdirSync(join(dirNotFile, 'state.json'));
  cases.dirNotFile = dirNotFile;
  const fifo = mkdtempSync(join(tmpdir(), 'vpcctl-complete-'));
  execFileSync('mkfifo', [join(fifo, 'state.json')]);
  cases.fifo = fifo;
  for (const [what, dir] of Object.entries(cases)) {
    const before = (() => { try { return readdirSync(dir).map((f) => `${f}:${statSync(join(dir, f)).mtimeMs}`); } catch { return []; } })();
    t.deepEqual(completeNames('subnet', [], { VPCCTL_STATE_DIR: dir }), [], what);
    t.deepEqual(completeNames('vpc', [], { VPCCTL_STATE_DIR: dir }), what === 'badSubnets' ? ['a', 'b'] : [], what);
    const after = (() => { try { return readdirSync(dir).map((f) => `${f}:${statSync(join(dir, f)).mtimeMs}`); } catch { return []; } })();
    t.deepEqual(after, before, `${what}: no file made or touched (no lock, no write)`);
  }
  // Names that would split in a shell word list are left out.
  t.deepEqual(completeNames('vpc', [], { VPCCTL_STATE_DIR: stateIn('{"vpcs": {"a b": {}, "ok": {}}}') }), ['ok']);
});

test('which options complete to names, from the command definitions', (t) => {
  const kinds: string[] = [];
  for (const { path, cmd } of leaves(buildProgram())) {
    for (const o of cmd.options) {
      const k = nameKind(cmd, o);
      if (k) kinds.push(`${path.join(' ')} ${o.long}=${k}`);
    }
  }
  for (const expected of [
    'show-vpc --name=vpc', 'delete-vpc --name=vpc', 'create-subnet --vpc=vpc', 'delete-subnet --name=subnet',
    'show-policy --subnet=subnet', 'peer-vpcs --vpc2=vpc', 'test-connectivity --from-subnet=subnet',
    'test-connectivity --to-subnet=to-subnet', 'test-connectivity --to-vpc=vpc', 'publish --targets=subnet',
  ]) t.true(kinds.includes(expected), expected);
  // A name being created is new: nothing to complete.
  t.false(kinds.some((k) => /^create-(vpc|subnet) --name=/.test(k)), kinds.join(', '));
  t.false(leaves(buildProgram()).some((l) => l.path[0] === '__complete'), 'the hidden command is in no script or man page');
});
