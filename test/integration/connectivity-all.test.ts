import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, freshStateDir, nft, vpcctl } from '../helpers/sandbox.js';

/**
 * `test-connectivity --all` at 150 subnets (22,350 pairs): one batch of
 * probes in the native module, a summary, the pairs that differ from the
 * prediction, --matrix and --json. The time is printed (t.log), not asserted.
 */

const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const PER_VPC = 50;

test.before(async () => {
  // a and b peered, c alone; a/s1 refuses ICMP from a/s2 by policy (predicted, so as expected).
  const vpc = (name: string, octet: number) => ({
    name, cidr: `10.${octet}.0.0/16`,
    subnets: Array.from({ length: PER_VPC }, (_, i) => ({
      name: `s${i}`, cidr: `10.${octet}.${i}.0/24`, type: 'private',
      ...(name === 'a' && i === 1 ? { policy: { ingress: [{ protocol: 'icmp', action: 'deny', cidr: '10.60.2.0/24' }] } } : {}),
    })),
  });
  const file = join(state, 'big.json');
  writeFileSync(file, JSON.stringify({ vpcs: [vpc('a', 60), vpc('b', 61), vpc('c', 62)], peerings: [{ vpc1: 'a', vpc2: 'b' }] }));
  const r = await run('apply', '-f', file);
  if (r.code !== 0) throw new Error(r.stderr);
});

const PAIRS = 150 * 149;

test.serial('150 subnets: every pair probed, the summary says all are as the policies and peerings predict', async (t) => {
  const started = Date.now();
  const r = await run('test-connectivity', '--all');
  t.log(`test-connectivity --all, 150 subnets: ${Date.now() - started} ms for the whole CLI call; it says: ${r.stdout.split('\n')[0]}`);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, new RegExp(`^150 subnets, ${PAIRS} pairs probed \\(ICMP\\) in \\d+ ms\\n${PAIRS} of ${PAIRS} pairs as expected\\n$`));
});

test.serial('a pair the kernel treats otherwise than predicted is listed, with what was expected; exit 1', async (t) => {
  // Behind vpcctl's back: c/s0 drops every echo request (nft as an independent tool, in the sandbox).
  nft(['add table inet rogue; add chain inet rogue rin { type filter hook input priority -10; policy accept; }; add rule inet rogue rin icmp type echo-request drop'], 'ns-c-s0');
  t.teardown(() => nft(['delete table inet rogue'], 'ns-c-s0'));
  const r = await run('test-connectivity', '--all');
  t.is(r.code, 1);
  t.regex(r.stdout, new RegExp(`^${PAIRS - (PER_VPC - 1)} of ${PAIRS} pairs as expected; ${PER_VPC - 1} differ:$`, 'm'));
  t.regex(r.stdout, /^FROM\s+TO\s+FOUND\s+EXPECTED$/m);
  t.regex(r.stdout, /^c\/s1\s+c\/s0\s+blocked \(.*timed out.*\)\s+reachable$/m);
  t.is(r.stdout.split('\n').filter((l) => /\sc\/s0\s/.test(l)).length, PER_VPC - 1, 'only the pairs into c/s0');

  // Megabytes of JSON: more than the helper's execFile buffer.
  const json = spawnSync(process.execPath, [CLI, 'test-connectivity', '--all', '--json'], {
    encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, VPCCTL_STATE_DIR: state },
  });
  t.is(json.status, 1);
  const data = JSON.parse(json.stdout);
  t.is(data.pairs, PAIRS);
  t.is(data.results.length, PAIRS, 'all results');
  const denied = data.results.find((p: { from: string; to: string }) => p.from === 'a/s2' && p.to === 'a/s1');
  t.like(denied, { reachable: false, expected: false, reason: 'a/s1 ingress: deny icmp from 10.60.2.0/24' });
  const peered = data.results.find((p: { from: string; to: string }) => p.from === 'b/s3' && p.to === 'a/s4');
  t.like(peered, { reachable: true, expected: true });
  t.regex(String(peered.rttMs), /^\d+(\.\d{1,2})?$/, 'rounded');
  t.like(data.results.find((p: { from: string; to: string }) => p.from === 'a/s0' && p.to === 'c/s0'), { reachable: false, expected: false, reason: 'vpcs a and c are not peered' });
});

test.serial('--matrix prints the grid as well; `| head -1` of a big output exits 0 without a word', async (t) => {
  const r = await run('test-connectivity', '--all', '--matrix');
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.regex(lines[0]!, /^from \\ to\s+a\/s0\s+a\/s1/);
  t.is(lines.filter((l) => /^[abc]\/s\d+\s/.test(l)).length, 150);
  t.regex(r.stdout, /pairs as expected/);
  // Megabytes of JSON into a reader that leaves after one line, from a terminal (stderr is the pty).
  // script(1) runs the line with $SHELL, unset in CI (then dash, without PIPESTATUS): bash is named.
  const pty = spawnSync('script', ['-qec', `${process.execPath} ${CLI} test-connectivity --all -o json | head -1; echo "rc=\${PIPESTATUS[0]}"`, '/dev/null'], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, VPCCTL_STATE_DIR: state, SHELL: '/bin/bash' },
  });
  const out = pty.stdout.replace(/\r/g, '');
  t.regex(out, /^\{\nrc=0\n$/, out);
});
