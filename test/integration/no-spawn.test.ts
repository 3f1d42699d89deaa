import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, netnsList } from '../helpers/sandbox.js';

test('the native module changes the kernel without executing any program', (t) => {
  const trace = '/run/vpcctl/no-spawn.trace';
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve,execveat,vfork', '-o', trace,
    process.execPath, join(ROOT, 'test', 'fixtures', 'native-ops.mjs')], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { ping: true }, 'the kernel work really happened');
  const execs = readFileSync(trace, 'utf8').split('\n').filter((l) => /exec(ve|veat)\(/.test(l));
  t.is(execs.length, 1, `only node itself is executed:\n${execs.join('\n')}`);
  t.true(execs[0]!.includes(process.execPath));
  t.false(netnsList().some((n) => n.startsWith('trace-')));
});
