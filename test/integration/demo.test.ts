import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ip, netnsList, nft } from '../helpers/sandbox.js';

test('the demo runs to the end in a sandbox of its own and leaves nothing behind', (t) => {
  // Not under /run: the demo's own sandbox mounts a fresh tmpfs there.
  const out = mkdtempSync(join(tmpdir(), 'vpcctl-demo-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const linksBefore = ip(['-br', 'link']);
  const etcNetns = () => (existsSync('/etc/netns') ? readdirSync('/etc/netns').sort() : null);
  const etcBefore = etcNetns();
  const r = spawnSync(process.execPath, [CLI, 'demo'], {
    cwd: out, encoding: 'utf8', timeout: 120_000,
    env: { ...process.env, VPCCTL_SANDBOX: '', NO_COLOR: '1' },
  });
  t.is(r.status, 0, r.stdout + r.stderr);
  for (const step of ['simulated internet', 'two VPCs', 'NAT', 'peering prod <-> dev', "seed's policy", 'teardown']) {
    t.true(r.stdout.includes(step), step);
  }
  t.regex(r.stdout, /prod\/web fetching http:\/\/198\.51\.100\.10\/ : ok/);
  t.regex(r.stdout, /prod\/db fetching http:\/\/198\.51\.100\.10\/ : no internet/);
  t.regex(r.stdout, /prod\/worker fetching http:\/\/198\.51\.100\.10\/ : ok/, 'a NAT gateway');
  t.regex(r.stdout, /the internet \(routing 10\.0\.0\.0\/16 to this host\) -> prod\/worker:80: blocked/);
  const answers = [...r.stdout.matchAll(/connection \d to 203\.0\.113\.1:8080: answered by (\S+)/g)].map((m) => m[1]);
  t.deepEqual([...new Set(answers)].sort(), ['prod/web', 'prod/web2'], 'a published port with two targets');
  t.regex(r.stdout, /from the internet: ok/);
  t.regex(r.stdout, /prod\/db -> prod\/web:80: reachable/);
  t.regex(r.stdout, /prod\/db -> prod\/web:22: blocked/);
  t.regex(r.stdout, /\S+Z web 10\.0\.2\.2:\d+ -> 10\.0\.1\.2:80 tcp ACCEPT ingress\[0\]$/m, 'a flow log: ACCEPT');
  t.regex(r.stdout, /\S+Z web 10\.0\.2\.2:\d+ -> 10\.0\.1\.2:22 tcp REJECT ingress\[1\]$/m, 'a flow log: REJECT with its rule');
  t.regex(r.stdout, /^10\.0\.2\.2\s+db\.prod\.internal$/m);
  t.regex(r.stdout, /^10\.1\.1\.2\s+web\.dev\.internal$/m, "a peered VPC's name");
  t.true(existsSync(`${out}/vpcctl-demo.svg`));
  t.regex(readFileSync(`${out}/vpcctl-demo.svg`, 'utf8'), /<svg/);
  t.deepEqual(netnsList(), []);
  t.is(ip(['-br', 'link']), linksBefore);
  t.notRegex(nft(['list', 'ruleset']), /vpcctl/);
  t.deepEqual(etcNetns(), etcBefore, "the names' files stayed in the demo's own copy of /etc");
});
