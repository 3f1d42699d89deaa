import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, freshStateDir, inNs, netnsList, vpcctl, FETCH } from '../helpers/sandbox.js';
import { APP_SERVER } from '../../src/paths.js';
import { alive } from '../../src/api/apps.js';
import { native } from '../../src/native.js';

const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const get = (ns: string, url: string) => inNs(ns, [process.execPath, FETCH, url]);
const pidsIn = async (ns: string) => (await native()).netnsPids(ns);

test.before(async () => {
  for (const s of [
    ['create-vpc', '--name', 'prod', '--cidr', '10.0.0.0/16'],
    ['create-subnet', '--vpc', 'prod', '--name', 'web', '--cidr', '10.0.1.0/24', '--type', 'public'],
    ['create-subnet', '--vpc', 'prod', '--name', 'db', '--cidr', '10.0.2.0/24', '--type', 'private'],
    ['create-vpc', '--name', 'dev', '--cidr', '10.1.0.0/16'],
    ['create-subnet', '--vpc', 'dev', '--name', 'web', '--cidr', '10.1.1.0/24', '--type', 'public'],
  ]) {
    const r = await run(...s);
    if (r.code !== 0) throw new Error(`${s.join(' ')}: ${r.stderr}`);
  }
});

test.serial('deploy-app: the built-in server answers from the right subnet, as nobody, detached', async (t) => {
  const r = await run('deploy-app', '--vpc', 'prod', '--subnet', 'web', '--port', '80');
  t.is(r.code, 0, r.stderr);
  await run('deploy-app', '--vpc', 'prod', '--subnet', 'web', '--port', '8080');
  await run('deploy-app', '--vpc', 'prod', '--subnet', 'db', '--port', '5432');
  const res = get('ns-prod-db', 'http://10.0.1.2/');
  t.is(res.status, 0, res.stderr);
  t.like(JSON.parse(res.stdout), { vpc: 'prod', subnet: 'web', address: '10.0.1.2', port: 80, client: '10.0.2.2' });
  t.like(JSON.parse(get('ns-prod-web', 'http://10.0.2.2:5432/').stdout), { subnet: 'db', port: 5432 });
  const apps = JSON.parse((await run('list-apps', '--json')).stdout);
  t.is(apps.length, 3);
  for (const a of apps) {
    t.true(a.running);
    t.is(a.user, 'nobody');
    const status = readFileSync(`/proc/${a.pid}/status`, 'utf8');
    t.regex(status, /^Uid:\s+65534/m, 'runs unprivileged');
  }
  t.regex((await run('logs', '--vpc', 'prod', '--subnet', 'web', '--port', '80')).stdout, /listening on 10\.0\.1\.2:80/);
});

test.serial('a port in use in the subnet is a clear error; a custom command runs too', async (t) => {
  const r = await run('deploy-app', '--vpc', 'prod', '--subnet', 'web', '--port', '80');
  t.is(r.code, 2);
  t.regex(r.stderr, /port 80 is already used/);
  const c = await run('deploy-app', '--vpc', 'dev', '--subnet', 'web', '--port', '9000', '--command', `${process.execPath} -e "require('net').createServer(s=>{s.on('error',()=>{});s.end('custom')}).listen(9000)"`);
  t.is(c.code, 0, c.stderr);
  t.true((await (await native()).tcpConnect('ns-dev-web', '10.1.1.2', 9000, 500)).ok);
});

test.serial('test-connectivity exit codes match reality (ICMP and TCP)', async (t) => {
  const ok = await run('test-connectivity', '--vpc', 'prod', '--from-subnet', 'db', '--to-subnet', 'web', '--port', '80');
  t.is(ok.code, 0, ok.stdout);
  t.regex(ok.stdout, /icmp: reachable \([\d.]+ ms\)/);
  t.is((await run('test-connectivity', '--vpc', 'prod', '--from-subnet', 'db', '--to-subnet', 'web', '--port', '81')).code, 1, 'nothing listens on 81');
  const iso = await run('test-connectivity', '--vpc', 'prod', '--from-subnet', 'web', '--to-subnet', 'web', '--to-vpc', 'dev');
  t.is(iso.code, 1);
  t.regex(iso.stdout, /icmp: unreachable/);
  const json = JSON.parse((await run('test-connectivity', '--vpc', 'prod', '--from-subnet', 'web', '--to-subnet', 'db', '--json')).stdout);
  t.true(json.reachable);
});

test.serial('the matrix before and after peering', async (t) => {
  const before = JSON.parse((await run('test-connectivity', '--all', '--json')).stdout);
  const cell = (m: { results: { from: string; to: string; reachable: boolean }[] }, a: string, b: string) =>
    m.results.find((p) => p.from === a && p.to === b)!.reachable;
  t.true(cell(before, 'prod/web', 'prod/db'));
  t.false(cell(before, 'prod/web', 'dev/web'));
  t.false(cell(before, 'dev/web', 'prod/db'));
  await run('peer-vpcs', '--vpc1', 'prod', '--vpc2', 'dev');
  const after = JSON.parse((await run('test-connectivity', '--all', '--json')).stdout);
  t.true(cell(after, 'prod/web', 'dev/web'));
  t.true(cell(after, 'dev/web', 'prod/db'));
  t.regex((await run('test-connectivity', '--all', '--matrix')).stdout, /prod\/web/);
});

test.serial('graph: mermaid, dot and a well-formed SVG naming every subnet', async (t) => {
  const svg = (await run('graph', '--format', 'svg')).stdout;
  t.regex(svg, /^<svg|<\?xml/);
  for (const name of ['web', 'db', '10.0.1.0/24', '10.0.2.0/24', '10.1.1.0/24']) t.true(svg.includes(name), name);
  const open = (svg.match(/<[a-z][^>]*[^/]>/g) ?? []).filter((x) => !x.startsWith('<?')).length;
  const close = (svg.match(/<\/[a-z]+>/g) ?? []).length;
  t.is(open, close, 'tags balance');
  t.regex((await run('graph', '--format', 'mermaid')).stdout, /prod/);
  t.regex((await run('graph', '--format', 'dot')).stdout, /digraph|graph/);
});

test.serial('exec runs a command inside the subnet', async (t) => {
  const r = await run('exec', '--vpc', 'prod', '--subnet', 'db', '--', process.execPath, '-e', "process.exit(require('os').networkInterfaces().eth0[0].address === '10.0.2.2' ? 0 : 3)");
  t.is(r.code, 0, r.stderr);
});

test.serial('stop-app and deletions leave no process behind', async (t) => {
  const apps = JSON.parse((await run('list-apps', '--json')).stdout) as { pid: number; port: number; subnet: string; vpc: string }[];
  const web8080 = apps.find((a) => a.port === 8080)!;
  t.is((await run('stop-app', '--vpc', 'prod', '--subnet', 'web', '--port', '8080')).code, 0);
  t.false(alive(web8080.pid));
  t.is((await run('stop-app', '--vpc', 'prod', '--subnet', 'web', '--port', '8080')).code, 2, 'no such app');
  const db = apps.find((a) => a.subnet === 'db')!;
  t.is((await run('delete-subnet', '--vpc', 'prod', '--name', 'db')).code, 0);
  t.false(alive(db.pid));
  const rest = apps.filter((a) => a.vpc === 'prod' && a.subnet === 'web' && a.port !== 8080);
  t.deepEqual(await pidsIn('ns-prod-web'), rest.map((a) => a.pid));
  t.is((await run('delete-vpc', '--name', 'prod')).code, 0);
  for (const a of rest) t.false(alive(a.pid));
  t.is((await run('cleanup-all')).code, 0);
  const all = JSON.parse((await run('list-apps', '--json')).stdout) as unknown[];
  t.deepEqual(all, []);
  t.false(netnsList().some((n) => n.startsWith('ns-') || n.startsWith('vpcr-')));
  t.false(alive(apps.find((a) => a.vpc === 'dev')!.pid), 'cleanup-all stopped dev\'s apps');
});

test.serial("an apply whose app does not start fails, and so does the next (never '0 changes' with the app not running); the fixed file starts it", async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'vpcctl-apps-')), 'topology.json');
  const doc = (command?: string[]) => JSON.stringify({
    vpcs: [{ name: 'ap', cidr: '10.30.0.0/16', subnets: [
      { name: 'web', cidr: '10.30.1.0/24', type: 'private', apps: [{ port: 8080, ...(command ? { command } : {}) }] }] }],
  });
  writeFileSync(file, doc(['/bin/false']));
  for (let i = 0; i < 2; i++) {
    const r = await run('apply', '-f', file);
    t.is(r.code, 2, `apply ${i + 1}: ${r.stdout}`);
    t.regex(r.stderr, /app exited at once: no output \(log: /);
  }
  writeFileSync(file, doc());
  const ok = await run('apply', '-f', file);
  t.is(ok.code, 0, ok.stderr);
  const apps = JSON.parse((await run('list-apps', '--json')).stdout) as { vpc: string; running: boolean }[];
  t.deepEqual(apps.map((a) => [a.vpc, a.running]), [['ap', true]]);
  t.regex((await run('apply', '-f', file)).stdout, /^0 changes/m);
  t.is((await run('delete-vpc', '--name', 'ap')).code, 0);
});

test.serial('an apply killed while its app starts leaves the app recorded: the next apply adopts it, no untracked process holds the port', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpcctl-apps-'));
  const file = join(dir, 'topology.json');
  // Listens only after 2 s, so the apply is still in its readiness wait when it is killed.
  const command = ['/bin/sh', '-c', 'sleep 2; exec "$@"', 'sh', process.execPath, APP_SERVER, '8080'];
  writeFileSync(file, JSON.stringify({
    vpcs: [{ name: 'ka', cidr: '10.31.0.0/16', subnets: [
      { name: 'web', cidr: '10.31.1.0/24', type: 'private', apps: [{ port: 8080, command }] }] }],
  }));
  const child = spawn(process.execPath, [CLI, 'apply', '-f', file], { env: { ...process.env, VPCCTL_STATE_DIR: state }, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  const log = join(state, 'logs', 'ka-web-8080.log');
  for (let i = 0; i < 200 && !existsSync(log); i++) await new Promise((r) => setTimeout(r, 25));
  t.true(existsSync(log), 'the app was spawned');
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGKILL');
  await exited;
  // The app outlives the killed apply and listens.
  let holders: number[] = [];
  for (let i = 0; i < 60 && holders.length === 0; i++) {
    holders = (await (await native()).tcpListeners('ns-ka-web', 8080)).flatMap((l) => l.pids);
    if (holders.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  t.is(holders.length, 1, 'the app listens');
  const again = await run('apply', '-f', file);
  t.is(again.code, 0, again.stderr);
  const apps = JSON.parse((await run('list-apps', '--vpc', 'ka', '--json')).stdout) as { pid: number; running: boolean }[];
  t.deepEqual(apps.map((a) => [a.pid, a.running]), [[holders[0], true]], 'the app that holds the port is the one the state knows');
  t.is((await run('delete-vpc', '--name', 'ka')).code, 0);
  t.false(alive(holders[0]!), 'delete-vpc stopped it');
});

test.serial("deploy-app stops an untracked leftover of the same app holding the port (a command killed between spawn and record), nothing else", async (t) => {
  t.is((await run('create-vpc', '--name', 'lo1', '--cidr', '10.32.0.0/16')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'lo1', '--name', 'web', '--cidr', '10.32.1.0/24', '--type', 'private')).code, 0);
  const n = await native();
  const dir = mkdtempSync(join(tmpdir(), 'vpcctl-apps-'));
  const start = (port: number, env: Record<string, string>) =>
    n.spawnDetached('ns-lo1-web', [process.execPath, APP_SERVER, String(port)], { logFile: join(dir, `${port}.log`), env });
  const listening = async (port: number) => {
    for (let i = 0; i < 50; i++) {
      const pids = (await n.tcpListeners('ns-lo1-web', port)).flatMap((l) => l.pids);
      if (pids.length) return pids;
      await new Promise((r) => setTimeout(r, 100));
    }
    return [];
  };
  const appEnv = (port: number) => ({ VPCCTL_APP_VPC: 'lo1', VPCCTL_APP_SUBNET: 'web', VPCCTL_APP_ADDRESS: '10.32.1.2', VPCCTL_APP_PORT: String(port) });
  // What a killed deploy-app leaves: the app, with the environment vpcctl gives it, not in the state.
  const left = await start(9100, appEnv(9100));
  t.deepEqual(await listening(9100), [left]);
  const r = await run('deploy-app', '--vpc', 'lo1', '--subnet', 'web', '--port', '9100');
  t.is(r.code, 0, r.stderr);
  t.false(alive(left), 'the leftover was stopped');
  const apps = JSON.parse((await run('list-apps', '--vpc', 'lo1', '--json')).stdout) as { pid: number }[];
  t.deepEqual(await listening(9100), apps.map((a) => a.pid));
  // Anything else on a port is refused and left running: no tag, or another subnet's app.
  for (const [port, env] of [[9101, {}], [9102, { ...appEnv(9102), VPCCTL_APP_SUBNET: 'db' }]] as const) {
    const other = await start(port, env);
    t.deepEqual(await listening(port), [other]);
    const refused = await run('deploy-app', '--vpc', 'lo1', '--subnet', 'web', '--port', String(port));
    t.is(refused.code, 2, refused.stdout);
    t.regex(refused.stderr, new RegExp(`port ${port} is already in use .*held by pid ${other} `));
    t.true(alive(other));
    process.kill(other, 'SIGKILL');
  }
  t.is((await run('delete-vpc', '--name', 'lo1')).code, 0);
});

test.serial("stop-app stops what the app's command line started too (its process group), so the port is free again", async (t) => {
  t.is((await run('create-vpc', '--name', 'pg', '--cidr', '10.33.0.0/16')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'pg', '--name', 'web', '--cidr', '10.33.1.0/24', '--type', 'private')).code, 0);
  const line = `${process.execPath} ${APP_SERVER} 9200; echo done`;
  const r = await run('deploy-app', '--vpc', 'pg', '--subnet', 'web', '--port', '9200', '--command', line);
  t.is(r.code, 0, r.stderr);
  const before = await pidsIn('ns-pg-web');
  t.is(before.length, 2, 'the shell and its server');
  t.is((await run('stop-app', '--vpc', 'pg', '--subnet', 'web', '--port', '9200')).code, 0);
  for (const p of before) t.false(alive(p), `pid ${p} stopped`);
  const again = await run('deploy-app', '--vpc', 'pg', '--subnet', 'web', '--port', '9200');
  t.is(again.code, 0, again.stderr);
  t.is((await run('delete-vpc', '--name', 'pg')).code, 0);
});
