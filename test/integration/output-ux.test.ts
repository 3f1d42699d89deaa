import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { CLI, freshStateDir, vpcctl } from '../helpers/sandbox.js';
import { native } from '../../src/native.js';

/** Issue 19, "Output, as scripts and people expect": formats, show-policy, logs, messages, completion, a pty. */

const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);

/**
 * A command line run under a pseudo-terminal (util-linux script), as a person at a terminal runs it.
 * script(1) runs it with $SHELL, which CI may leave unset (then /bin/sh, dash: no PIPESTATUS), so bash is named.
 */
function inPty(command: string, env: Record<string, string> = {}) {
  const r = spawnSync('script', ['-qec', command, '/dev/null'], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, VPCCTL_STATE_DIR: state, SHELL: '/bin/bash', ...env },
  });
  return { code: r.status, out: r.stdout.replace(/\r/g, '') };
}

test.before(async () => {
  const steps = [
    ['create-vpc', '--name', 'shop', '--cidr', '10.40.0.0/16'],
    ['create-subnet', '--vpc', 'shop', '--name', 'web', '--cidr', '10.40.1.0/24', '--type', 'public'],
    ['create-subnet', '--vpc', 'shop', '--name', 'db', '--cidr', '10.40.2.0/24'],
    ['create-vpc', '--name', 'lab', '--cidr', '10.41.0.0/16'],
    ['peer-vpcs', '--vpc1', 'shop', '--vpc2', 'lab'],
    ['deploy-app', '--vpc', 'shop', '--subnet', 'web', '--port', '80'],
    ['deploy-app', '--vpc', 'shop', '--subnet', 'db', '--port', '5432'],
    ['deploy-app', '--vpc', 'shop', '--subnet', 'db', '--port', '5433'],
  ];
  for (const s of steps) {
    const r = await run(...s);
    if (r.code !== 0) throw new Error(`${s.join(' ')}: ${r.stderr}`);
  }
});

test.serial('every read command: -o yaml parses back to what -o json and --json give', async (t) => {
  const reads = [['list-vpcs'], ['show-vpc', '--name', 'shop'], ['list-peerings'], ['list-apps'], ['list-published'], ['status'],
    ['show-policy', '--vpc', 'shop', '--subnet', 'web'], ['doctor'],
    ['test-connectivity', '--vpc', 'shop', '--from-subnet', 'db', '--to-subnet', 'web']];
  for (const args of reads) {
    // One after the other, and before the concurrent tests (serial tests run first): another test's app
    // appearing between two calls, or three doctors racing, is not what this compares.
    const json = await run(...args, '-o', 'json');
    const legacy = await run(...args, '--json');
    const yaml = await run(...args, '-o', 'yaml');
    t.is(yaml.code, json.code, `${args[0]}: ${yaml.stderr}`);
    const data = JSON.parse(json.stdout);
    // Live figures (rtt, counters, doctor's scratch namespace) differ between calls: compare the shape and the names.
    const stable = (v: unknown) => JSON.stringify(v, (k, x) => (/Ms$|packets|bytes/.test(k) ? typeof x : x));
    t.is(stable(YAML.parse(yaml.stdout)), stable(data), `${args[0]} -o yaml`);
    t.is(stable(JSON.parse(legacy.stdout)), stable(data), `${args[0]} --json`);
  }
});

test('numbers in JSON mean something: rttMs to hundredths', async (t) => {
  const r = await run('test-connectivity', '--vpc', 'shop', '--from-subnet', 'db', '--to-subnet', 'web', '-o', 'json');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /"rttMs": \d+(\.\d{1,2})?\n/);
});

test.serial('lists: tables without borders, -o wide adds columns, --no-headers, -q prints names', async (t) => {
  const table = await run('list-vpcs');
  t.notRegex(table.stdout, /[─│┌┐└┘┼]/, 'no box drawing');
  t.regex(table.stdout, /^VPC\s+CIDR\s+SUBNETS/m);
  t.regex(table.stdout, /^shop\s+10\.40\.0\.0\/16\s+2\s/m);
  t.deepEqual((await run('list-vpcs', '-q')).stdout.split('\n').filter(Boolean).sort(), ['lab', 'shop']);
  t.deepEqual((await run('list-vpcs', '--no-headers')).stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0]).sort(), ['lab', 'shop']);
  t.deepEqual((await run('list-apps', '-q')).stdout.split('\n').filter(Boolean).sort(), ['shop/db:5432', 'shop/db:5433', 'shop/web:80']);
  t.notRegex((await run('list-apps')).stdout, /COMMAND/);
  t.regex((await run('list-apps', '-o', 'wide')).stdout, /COMMAND/);
  t.regex((await run('show-vpc', '--name', 'shop', '-o', 'wide')).stdout, /NAMESPACE[\s\S]*ns-shop-web/);
  t.deepEqual((await run('show-vpc', '--name', 'shop', '-q')).stdout.split('\n').filter(Boolean).sort(), ['db', 'web']);
  t.deepEqual((await run('show-vpc', 'shop', '-q')).stdout.split('\n').filter(Boolean).sort(), ['db', 'web'], 'show-vpc NAME');
  const noName = await run('show-vpc');
  t.deepEqual([noName.code, noName.stderr], [2, 'vpcctl: show-vpc needs a VPC name: vpcctl show-vpc NAME (or --name NAME)\n']);
  t.is((await run('show-vpc', 'shop', '--name', 'lab')).code, 2, 'two different names');
  const bad = await run('list-vpcs', '-o', 'xml');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^vpcctl: option '-o, --output <format>' argument 'xml' is invalid\. Allowed choices are table, wide, json, yaml\./);
});

test('show-policy shows the rules themselves, with hit counters', async (t) => {
  const policy = join(state, 'web-policy.json');
  writeFileSync(policy, JSON.stringify({ ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }, { port: [22, '8000-8100'], protocol: 'tcp', action: 'deny', cidr: '10.40.2.0/24' }] }));
  t.is((await run('apply-policy', '--vpc', 'shop', '--subnet', 'web', '--policy', policy)).code, 0);
  const n = await native();
  for (let i = 0; i < 3; i++) await n.tcpConnect('ns-shop-db', '10.40.1.2', 22, 200);
  const r = await run('show-policy', '--vpc', 'shop', '--subnet', 'web');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^ingress\s+allow tcp 80 from any\s+\d+\s+\d+$/m);
  const deny = /^ingress\s+deny tcp 22,8000-8100 from 10\.40\.2\.0\/24\s+(\d+)\s+\d+$/m.exec(r.stdout);
  t.truthy(deny, r.stdout);
  t.true(Number(deny![1]) >= 3, 'the blocked SYNs are counted');
  t.notRegex(r.stdout, /ingress\[0\]/, 'not the rule\'s index');
  t.regex((await run('show-policy', '--vpc', 'shop', '--subnet', 'web', '-o', 'wide')).stdout, /allow replies \(established, related\)[\s\S]*ingress\[1\]/);
  const json = JSON.parse((await run('show-policy', '--vpc', 'shop', '--subnet', 'web', '-o', 'json')).stdout);
  t.true(json.rules.some((x: { text: string }) => x.text === 'allow tcp 80 from any'));
});

test('logs: no --port when the subnet has one app, --tail N, --follow until the app exits', async (t) => {
  const one = await run('logs', '--vpc', 'shop', '--subnet', 'web');
  t.is(one.code, 0, one.stderr);
  const several = await run('logs', '--vpc', 'shop', '--subnet', 'db');
  t.is(several.code, 2);
  t.regex(several.stderr, /^vpcctl: subnet "db" of vpc "shop" has 2 apps \(ports 5432, 5433\): say which with --port\n$/);
  t.is((await run('logs', '--vpc', 'shop', '--subnet', 'db', '--port', '5432')).code, 0);
  // An app that listens (deploy-app waits for its port), writes, and after a while writes once more and exits.
  const server = "require('net').createServer().listen(9000, () => { for (let i = 1; i <= 5; i++) console.log('line' + i); });"
    + " setTimeout(() => { console.log('late'); process.exit(0); }, 1500)";
  const cmd = `${process.execPath} -e "${server}"`;
  t.is((await run('create-subnet', '--vpc', 'lab', '--name', 'job', '--cidr', '10.41.1.0/24')).code, 0);
  const started = await run('deploy-app', '--vpc', 'lab', '--subnet', 'job', '--port', '9000', '--command', cmd);
  t.is(started.code, 0, started.stderr);
  const follow = await run('logs', '--vpc', 'lab', '--subnet', 'job', '--follow');
  t.is(follow.code, 0, follow.stderr);
  t.regex(follow.stdout, /line1\n[\s\S]*line5\n[\s\S]*late\n/, 'what came after the start too, then it ended with the app');
  t.is((await run('logs', '--vpc', 'lab', '--subnet', 'job', '--tail', '2')).stdout, 'line5\nlate\n');
  t.is((await run('logs', '--vpc', 'lab', '--subnet', 'job', '--tail', 'x')).code, 2);
});

test('messages: one prefix, root named, exec explains --, required options marked, unknown commands', async (t) => {
  const asNobody = (...args: string[]) => spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', process.execPath, CLI, ...args], {
    encoding: 'utf8', env: { ...process.env, VPCCTL_STATE_DIR: state, NO_COLOR: '1' },
  });
  const notRoot = asNobody('list-vpcs');
  t.not(notRoot.status, 0);
  t.is(notRoot.stderr, 'vpcctl: list-vpcs needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN): run it with sudo\n');
  const doctor = asNobody('doctor');
  t.regex(doctor.stdout, /✘ vpcctl needs root/);
  t.notRegex(doctor.stdout, /libnftables cannot be loaded/, 'not blamed on libnftables');
  t.is(asNobody('completion', 'bash').status, 0, 'completion needs no root');

  const exec = await run('exec', '--vpc', 'shop', '--subnet', 'web', 'ls', '-l');
  t.is(exec.code, 2);
  t.regex(exec.stderr, /unknown option '-l'\n.*after --.*vpcctl exec --vpc VPC --subnet SUBNET -- COMMAND/);
  const works = await run('exec', '--vpc', 'shop', '--subnet', 'web', '--', 'true');
  t.is(works.code, 0);

  t.regex((await run('create-vpc', '--help')).stdout, /--name <name>\s+VPC name \(required\)/);
  for (const args of [['clustr', '--help'], ['clustr'], ['list-vpc', '-h'], ['help', 'clustr']]) {
    const r = await run(...args);
    const name = args.find((a) => a !== 'help');
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, new RegExp(`^vpcctl: unknown command '${name}'\\n\\(Did you mean (cluster|list-vpcs)\\?\\)`), args.join(' '));
    t.is(r.stdout, '', 'no global help');
  }
});

test('shell completion: the bash script from the CLI loads and completes a command name', async (t) => {
  const script = (await run('completion', 'bash')).stdout;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `${script}\nCOMP_WORDS=(vpcctl show-); COMP_CWORD=1; _vpcctl; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  t.is(r.stdout.trim().split(' ').sort().join(' '), 'show-policy show-vpc');
  t.is((await run('completion', 'tcsh')).code, 2);
});

test('shell completion completes VPC and subnet names from the state, without root, lock or write', async (t) => {
  const script = (await run('completion', 'bash')).stdout;
  // As bash runs it on Tab: the words typed, the function, COMPREPLY. vpcctl is found as typed (COMP_WORDS[0]).
  const complete = (words: string[], env: Record<string, string> = { VPCCTL_STATE_DIR: state }, user?: string) => {
    const line = words.map((w) => `'${w}'`).join(' ');
    const body = `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _vpcctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const argv = user ? ['setpriv', `--reuid=${user}`, '--regid=nogroup', '--clear-groups', '--inh-caps=-all', 'bash', '--norc', '--noprofile', '-c', body]
      : ['bash', '--norc', '--noprofile', '-c', body];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
    t.is(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).sort();
  };
  t.deepEqual(complete([CLI, 'show-vpc', '--name', '']), ['lab', 'shop']);
  t.deepEqual(complete([CLI, 'show-vpc', '--name', 'sh']), ['shop']);
  t.deepEqual(complete([CLI, 'show-vpc', '']), ['lab', 'shop'], 'show-vpc <TAB>: the VPC as an argument');
  t.true(complete([CLI, 'show-vpc', '--']).includes('--name'), 'options still complete after show-vpc');
  t.deepEqual(complete([CLI, 'show-policy', '--vpc', 'shop', '--subnet', '']), ['db', 'web'], "the subnets of --vpc's VPC");
  t.deepEqual(complete([CLI, 'logs', '--subnet', 'w']), ['web'], 'without --vpc: any subnet');
  t.deepEqual(complete([CLI, 'test-connectivity', '--vpc', 'lab', '--to-vpc', 'shop', '--to-subnet', '']), ['db', 'web']);
  // --state-dir on the line picks the state, over the environment.
  t.deepEqual(complete([CLI, '--state-dir', state, 'delete-vpc', '--name', ''], { VPCCTL_STATE_DIR: '/nonexistent' }), ['lab', 'shop']);
  // A new name is not completed from existing ones.
  t.false(complete([CLI, 'create-vpc', '--name', '']).includes('shop'));

  // No root needed to read a readable state; the state dir and its files stay as they were (no lock file made, nothing written).
  const readable = freshStateDir();
  const copy = spawnSync('cp', ['-p', join(state, 'state.json'), join(readable, 'state.json')]);
  t.is(copy.status, 0);
  spawnSync('chmod', ['755', readable]);
  spawnSync('chmod', ['644', join(readable, 'state.json')]);
  const listing = () => spawnSync('ls', ['-la', '--time-style=full-iso', readable], { encoding: 'utf8' }).stdout;
  const before = listing();
  t.deepEqual(complete([CLI, 'show-vpc', '--name', ''], { VPCCTL_STATE_DIR: readable }, 'nobody'), ['lab', 'shop']);
  t.is(listing(), before);

  // A corrupt, absent or FIFO state: no names, no error output, quickly.
  writeFileSync(join(readable, 'state.json'), '{"vpcs": {"a":');
  const direct = (dir: string) => spawnSync(process.execPath, [CLI, '__complete', 'vpc', '--', 'show-vpc'], { encoding: 'utf8', env: { ...process.env, VPCCTL_STATE_DIR: dir }, timeout: 10_000 });
  for (const dir of [readable, '/nonexistent']) {
    const r = direct(dir);
    t.deepEqual([r.status, r.stdout, r.stderr], [0, '', ''], dir);
  }
  const fifoDir = freshStateDir();
  t.is(spawnSync('mkfifo', [join(fifoDir, 'state.json')]).status, 0);
  const started = Date.now();
  const fifo = direct(fifoDir);
  t.deepEqual([fifo.status, fifo.stdout, fifo.stderr], [0, '', ''], 'a FIFO does not hang the shell');
  t.true(Date.now() - started < 5000);
  t.is(listing().includes('lock'), false, 'no lock file made');
});

test.serial('graph: -o is the format (json too), --output-file the file; -o FILE still works with a deprecation line', async (t) => {
  const mermaid = await run('graph', '-o', 'mermaid');
  t.is(mermaid.code, 0, mermaid.stderr);
  t.is(mermaid.stdout, (await run('graph', '--format', 'mermaid')).stdout, '--format stays a synonym');
  t.regex((await run('graph', '--output', 'dot')).stdout, /graph/);
  const json = await run('graph', '-o', 'json');
  t.is(json.code, 0, json.stderr);
  const view = JSON.parse(json.stdout) as { vpcs: Array<{ name: string }> };
  t.deepEqual(view.vpcs.map((v) => v.name).sort(), ['lab', 'shop']);
  t.regex((await run('graph')).stdout, /^<\?xml[^\n]*\n<svg /, 'svg by default');

  const dir = freshStateDir();
  const file = join(dir, 'topo.svg');
  const written = await run('graph', '--output-file', file);
  t.deepEqual([written.code, written.stdout.trim(), written.stderr], [0, `wrote ${file}`, '']);
  t.regex(readFileSync(file, 'utf8'), /<svg /);
  const both = await run('graph', '-o', 'mermaid', '--output-file', join(dir, 'g.mmd'));
  t.is(both.code, 0, both.stderr);
  t.is(readFileSync(join(dir, 'g.mmd'), 'utf8'), mermaid.stdout);

  const old = await run('graph', '-o', join(dir, 'old.svg'));
  t.is(old.code, 0, old.stderr);
  t.regex(old.stderr, /^warning: graph -o FILE is deprecated: -o is the format now; use --output-file .*old\.svg\n$/);
  t.regex(readFileSync(join(dir, 'old.svg'), 'utf8'), /<svg /);

  const bad = await run('graph', '-o', 'xml');
  t.is(bad.code, 2);
  t.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  t.regex(bad.stderr, /"xml" is no format \(svg, mermaid, dot, json\); to write a file: --output-file xml/);
  t.false(existsSync('xml'));
});

test.serial('graph --output-file as root: never through a symbolic link, never over another user\'s file; under sudo a new file is the user\'s', async (t) => {
  const dir = freshStateDir();
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'keep');
  symlinkSync(victim, join(dir, 'link.svg'));
  const refused = (r: { code: number; stderr: string }, re: RegExp) => {
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, re);
  };
  refused(await run('graph', '--output-file', join(dir, 'link.svg')), /link\.svg is a symbolic link: vpcctl runs as root and does not write through one/);
  t.is(readFileSync(victim, 'utf8'), 'keep', 'the file the link aims at is untouched');

  const bobs = join(dir, 'bob.svg');
  writeFileSync(bobs, "bob's");
  chownSync(bobs, 1234, 1234);
  refused(await run('graph', '--output-file', bobs), /bob\.svg belongs to another user \(uid 1234\)/);
  t.is(readFileSync(bobs, 'utf8'), "bob's", 'not truncated');

  // Under sudo by uid 1234: their own file is overwritten, root's is not, a new one is theirs.
  const sudo = { SUDO_UID: '1234', SUDO_GID: '1234', SUDO_USER: 'bob' };
  const asBob = (...args: string[]) => vpcctl(state, args, sudo);
  t.is((await asBob('graph', '--output-file', bobs)).code, 0);
  t.regex(readFileSync(bobs, 'utf8'), /<svg /);
  refused(await asBob('graph', '--output-file', victim), /victim belongs to another user \(uid 0\)/);
  t.is(readFileSync(victim, 'utf8'), 'keep');
  const fresh = join(dir, 'new.svg');
  t.is((await asBob('graph', '--output-file', fresh)).code, 0);
  t.deepEqual([statSync(fresh).uid, statSync(fresh).gid], [1234, 1234], "a new file is the user's");
  refused(await run('graph', '--output-file', join(dir, 'no', 'such', 'g.svg')), /its directory does not exist/);
  t.is((await run('graph', '--output-file', '/dev/null')).code, 0, 'a device is written as asked');
});

test('on a terminal: colour unless NO_COLOR; `| head -1` ends quietly with exit 0', (t) => {
  const coloured = inPty(`${process.execPath} ${CLI} list-apps`);
  t.regex(coloured.out, /\x1b\[/, 'colour on a terminal');
  const plain = inPty(`${process.execPath} ${CLI} list-apps`, { NO_COLOR: '1' });
  t.notRegex(plain.out, /\x1b\[/);
  t.regex(plain.out, /running/);
  // Output far beyond a pipe's 64 KiB, so vpcctl is still writing when head leaves.
  const r = inPty(`${process.execPath} ${CLI} completion fish | head -1 >/dev/null; ${process.execPath} ${CLI} show-vpc --name shop -o yaml | head -1; ` +
    `bash -c '${process.execPath} ${CLI} completion fish; ${process.execPath} ${CLI} completion fish; ${process.execPath} ${CLI} completion bash' | head -1; echo "rc=\${PIPESTATUS[0]}"`);
  t.regex(r.out, /^rc=0$/m, r.out);
  t.notRegex(r.out, /EPIPE|Error|vpcctl:/, 'quietly');
});
