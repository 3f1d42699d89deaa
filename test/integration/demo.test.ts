import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
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
  t.regex(r.stdout, /^ {4}from prod\/web: db\.prod\.internal -> 10\.0\.2\.2$/m);
  t.regex(r.stdout, /^ {4}from prod\/web: web\.dev\.internal -> 10\.1\.1\.2$/m, "a peered VPC's name");
  t.regex(r.stdout, /^ {4}prod\/web fetching http:\/\/198\.51\.100\.10\/ : ok$/m, 'the answer understood, not printed raw');
  t.regex(r.stdout, /^ {4}edge\/web fetching http:\/\/\[2001:db8:100::10\]:8080\/ : ok, the server saw 2001:db8:8000::2 \(the subnet's own address\)$/m, 'routed IPv6');
  // A story: a step line, then its lines indented under it; no raw output of the programs run.
  t.notRegex(r.stdout, /\{"vpc"/, 'no raw JSON of the built-in server');
  const stray = r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('==> ') && !l.startsWith('    '));
  t.deepEqual(stray, [], 'every line is a step or indented under one');
  t.regex(r.stdout, /^ {4}\S+Z web 10\.0\.2\.2:\d+ -> 10\.0\.1\.2:80 tcp ACCEPT ingress\[0\]$/m, 'a flow log: ACCEPT');
  t.regex(r.stdout, /^ {4}\S+Z web 10\.0\.2\.2:\d+ -> 10\.0\.1\.2:22 tcp REJECT ingress\[1\]$/m, 'a flow log: REJECT with its rule');
  t.true(existsSync(`${out}/vpcctl-demo.svg`));
  t.regex(readFileSync(`${out}/vpcctl-demo.svg`, 'utf8'), /<svg/);
  t.deepEqual(netnsList(), []);
  t.is(ip(['-br', 'link']), linksBefore);
  t.notRegex(nft(['list', 'ruleset']), /vpcctl/);
  t.deepEqual(etcNetns(), etcBefore, "the names' files stayed in the demo's own copy of /etc");
});

test('demo --keep: the hint\'s commands work as printed (from another shell, into the sandbox, with its state dir)', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'vpcctl-demo-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, 'demo', '--keep'], { cwd: out, env: { ...process.env, VPCCTL_SANDBOX: '', NO_COLOR: '1' } });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stdout += d; });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  for (let i = 0; i < 1200 && !stdout.includes('press Enter'); i++) await new Promise((r) => setTimeout(r, 100));
  t.true(stdout.includes('press Enter'), stdout);
  const hint = stdout.slice(stdout.indexOf('the topology stays up'));
  const commands = [...hint.matchAll(/^ {4}(sudo nsenter .*)$/gm)].map((m) => m[1]!);
  t.true(commands.length >= 3, hint);
  for (const line of commands) {
    // As printed, minus sudo (the test is root already); no shell: the words as a person's shell would split them.
    const argv = line.replace(/^sudo /, '').split(' ');
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
    t.is(r.status, 0, `${line}: ${r.stderr}`);
    if (line.includes('list-vpcs')) t.regex(r.stdout, /^prod\s+10\.0\.0\.0\/16/m, 'the demo\'s state, not the default state dir');
    if (line.includes('netns list')) t.regex(r.stdout, /ns-prod-web/);
  }
  child.stdin.end('\n');
  t.is(await exited, 0, stdout);
  t.deepEqual(netnsList(), []);
});
