import test from 'ava';
import { earlyTarget } from '../../src/cli/early.js';

// The launcher's early read starts only for the calls whose CLI path takes it (apply without
// --dry-run, status), on the state dir the CLI will read: the same flag, variable and default.
const argv = (...args: string[]) => ['node', 'vpcctl', ...args];
const env = {};

test('apply and status, with the default state dir or $VPCCTL_STATE_DIR', (t) => {
  t.deepEqual(earlyTarget(argv('apply', '-f', 'x.yaml'), env), { command: 'apply', stateDir: '/var/lib/vpcctl', cluster: undefined });
  t.deepEqual(earlyTarget(argv('status', '--json'), env), { command: 'status', stateDir: '/var/lib/vpcctl', cluster: undefined });
  t.is(earlyTarget(argv('status'), { VPCCTL_STATE_DIR: '/srv/s' })?.stateDir, '/srv/s');
});

test('--state-dir and --cluster before the command, in both spellings', (t) => {
  t.is(earlyTarget(argv('--state-dir', '/a', 'status'), { VPCCTL_STATE_DIR: '/b' })?.stateDir, '/a', 'the flag wins over the variable');
  t.is(earlyTarget(argv('--state-dir=/a', 'apply', '-f', 'x'), env)?.stateDir, '/a');
  t.is(earlyTarget(argv('--cluster', '/c.json', 'status'), env)?.cluster, '/c.json');
  t.is(earlyTarget(argv('--cluster=/c.json', '--state-dir', '/a', 'status'), env)?.cluster, '/c.json');
});

test('nothing for other commands, dry runs, help, or what the CLI parses differently', (t) => {
  for (const args of [
    [], ['list-vpcs'], ['cluster', 'status'], ['apply', '-f', 'x', '--dry-run'], ['status', '--help'], ['--help', 'status'],
    ['-V'], ['--state-dir'], ['apply', '-f', 'x', '--state-dir', '/a'], ['status', '--cluster=/c'], ['--verbose', 'status'],
  ]) {
    t.is(earlyTarget(argv(...args), env), null, args.join(' '));
  }
});
