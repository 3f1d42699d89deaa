import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { CLI, FETCH, ROOT, freshStateDir, inNs, ip, netnsList, nft, vpcctl } from '../helpers/sandbox.js';
import { native } from '../../src/native.js';
import { Vpcctl } from '../../src/index.js';

// Issue 7: declarative topology files (`apply -f`, `--dry-run`, `--prune`, `destroy -f`), checked
// against the kernel. One state for the whole file, so `status` judges everything the file made.
const state = freshStateDir();
const dir = mkdtempSync('/run/vpcctl/topo-');
const run = (...args: string[]) => vpcctl(state, args);
const stateFile = join(state, 'state.json');
const stateText = () => (existsSync(stateFile) ? readFileSync(stateFile, 'utf8') : null);
const readState = () => JSON.parse(readFileSync(stateFile, 'utf8'));
const ping = async (ns: string, dst: string) => (await (await native()).ping(ns, dst, 500)).ok;
const tcp = async (ns: string, dst: string, port: number) => (await (await native()).tcpConnect(ns, dst, port, 500)).ok;
const get = (ns: string, url: string) => inNs(ns, [process.execPath, FETCH, url]);
/** The identity of a namespace (nsfs inode behind its /run/netns bind mount): unchanged means not rebuilt. */
const nsId = (ns: string) => statSync(`/run/netns/${ns}`).ino;
const ours = () => netnsList().filter((n) => /^(ns|vpcr)-/.test(n));
const vgLinks = () => ip(['-o', 'link']).split('\n').filter((l) => / vg-[0-9a-f]{8}@/.test(l)).length;
/**
 * The kernel frees a deleted namespace's links (the peers of its veths) asynchronously, after
 * vpcctl has returned: wait for a condition about them, up to 20 s, instead of timing it.
 */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}
const write = (name: string, body: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  return path;
};

const EXAMPLE = join(ROOT, 'examples', 'topology.yaml');
const EXAMPLE_NS = ['ns-analytics-jobs', 'ns-analytics-store', 'ns-shop-db', 'ns-shop-web', 'vpcr-analytics', 'vpcr-shop'];

// A host uplink with a default route (nothing answers behind it): VPCs get internet gateways
// (vg-* links, the host's masquerade table), so cleanup has host objects to find.
let forwardBefore = '';
test.before(async () => {
  forwardBefore = (await (await native()).sysctlGet('', 'net/ipv4/ip_forward')).trim();
  ip(['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0p']);
  ip(['link', 'set', 'up0p', 'up']);
  ip(['link', 'set', 'up0', 'up']);
  ip(['addr', 'add', '203.0.113.1/24', 'dev', 'up0']);
  ip(['route', 'add', 'default', 'via', '203.0.113.254', 'dev', 'up0']);
});

// --- the example file (YAML) -------------------------------------------------------

test.serial('apply --dry-run prints the plan and changes nothing', async (t) => {
  const r = await run('apply', '-f', EXAMPLE, '--dry-run');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^plan \(dry run, nothing changed; \d+ kernel operations\):$/m);
  t.deepEqual(r.stdout.split('\n').slice(1, -1), ['+ vpc shop', '+ subnet shop/web', '+ subnet shop/db', '+ vpc analytics',
    '+ subnet analytics/jobs', '+ subnet analytics/store', '+ peering shop <-> analytics', '+ app shop/web:80 (start)',
    '7 to add, 0 to change, 0 to delete']);
  t.deepEqual(ours(), [], 'no namespace');
  t.is(stateText(), null, 'no state written');
  t.notRegex(nft(['list', 'ruleset']), /table inet vpcctl/);
  t.notRegex(ip(['link']), /vg-/);
});

test.serial('apply -f examples/topology.yaml creates what it names: namespaces, gateways, policy, app, peering', async (t) => {
  const r = await run('apply', '-f', EXAMPLE);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^7 changes, \d+ kernel operations in \d+ ms, 1 app started$/m);
  t.deepEqual(ours(), EXAMPLE_NS);
  t.regex(ip(['link', 'show', 'lo'], 'vpcr-shop'), /alias vpcctl:router:shop/);
  t.regex(ip(['-4', 'addr', 'show', 'eth0'], 'ns-shop-web'), /inet 10\.10\.1\.2\/24/);
  t.regex(ip(['route', 'show', 'default'], 'ns-shop-web'), /default via 10\.10\.1\.1 dev eth0/, 'public: default route');
  t.notRegex(ip(['route'], 'ns-shop-db'), /default/, 'private: no default route');

  // Host namespace: vpcctl's table and one internet gateway link per VPC.
  t.regex(nft(['list', 'table', 'inet', 'vpcctl']), /masquerade/);
  t.is(vgLinks(), 2);

  // The policy: a table in the subnet's host namespace, rules in the file's order.
  const policy = nft(['list', 'table', 'inet', 'vpcctl'], 'ns-shop-web');
  t.regex(policy, /tcp dport 80 .*accept comment "ingress\[0\]"/);
  t.regex(policy, /tcp dport 22 .*drop comment "ingress\[1\]"/);
  t.throws(() => nft(['list', 'table', 'inet', 'vpcctl'], 'ns-shop-db'), undefined, 'no policy where the file names none');

  // The app answers, inside its VPC and across the peering.
  const res = get('ns-shop-db', 'http://10.10.1.2/');
  t.is(res.status, 0, res.stderr);
  t.like(JSON.parse(res.stdout), { vpc: 'shop', subnet: 'web', address: '10.10.1.2', port: 80, client: '10.10.2.2' });
  t.like(JSON.parse(get('ns-analytics-store', 'http://10.10.1.2/').stdout), { subnet: 'web', client: '10.20.2.2' });

  // The peering: routes in every host of both VPCs, traffic both ways, private subnets too.
  t.regex(ip(['route'], 'ns-shop-db'), /10\.20\.0\.0\/16 via 10\.10\.2\.1 dev eth0/);
  t.regex(ip(['route'], 'ns-analytics-store'), /10\.10\.0\.0\/16 via 10\.20\.2\.1 dev eth0/);
  t.true(await ping('ns-shop-db', '10.20.2.2'));
  t.true(await ping('ns-analytics-jobs', '10.10.2.2'));
  t.is((await run('status')).code, 0);
});

test.serial('re-applying the same file (as YAML, then as JSON) does nothing and says "0 changes"', async (t) => {
  const before = { state: stateText(), ids: EXAMPLE_NS.map(nsId), pid: readState().vpcs.shop.subnets.web.apps[0].pid };
  const again = await run('apply', '-f', EXAMPLE);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, '0 changes\n');
  t.is(again.stderr, '');
  const asJson = write('example.json', YAML.parse(readFileSync(EXAMPLE, 'utf8')));
  const json = await run('apply', '-f', asJson);
  t.is(json.code, 0, json.stderr);
  t.is(json.stdout, '0 changes\n', 'the same topology in JSON is the same topology');
  t.is(stateText(), before.state, 'state byte for byte');
  t.deepEqual(EXAMPLE_NS.map(nsId), before.ids, 'no namespace rebuilt');
  t.is(readState().vpcs.shop.subnets.web.apps[0].pid, before.pid, 'app not restarted');
});

// --- a JSON file, and destroy -f -------------------------------------------------------

const BLUE_GREEN = {
  vpcs: [
    {
      name: 'blue', cidr: '10.40.0.0/16',
      subnets: [{
        name: 'api', cidr: '10.40.1.0/24', type: 'public', apps: [{ port: 8080 }],
        policy: { default: 'deny', ingress: [{ port: 8080, protocol: 'tcp', action: 'allow' }] },
      }],
    },
    { name: 'green', cidr: '10.50.0.0/16', subnets: [{ name: 'db', cidr: '10.50.1.0/24', type: 'private' }] },
  ],
  peerings: [{ vpc1: 'green', vpc2: 'blue' }],
};

test.serial('apply -f FILE.json: a deny-by-default policy and an app, enforced by the kernel', async (t) => {
  const r = await run('apply', '-f', write('blue-green.json', BLUE_GREEN));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^5 changes, \d+ kernel operations in \d+ ms, 1 app started$/m);
  for (const ns of ['vpcr-blue', 'ns-blue-api', 'vpcr-green', 'ns-green-db']) t.true(netnsList().includes(ns), ns);
  t.regex(nft(['list', 'table', 'inet', 'vpcctl'], 'ns-blue-api'), /hook input priority filter; policy drop;/);
  t.regex(ip(['route'], 'ns-green-db'), /10\.40\.0\.0\/16 via 10\.50\.1\.1/);
  t.true(await tcp('ns-green-db', '10.40.1.2', 8080), 'allowed port, across the peering');
  t.false(await ping('ns-green-db', '10.40.1.2'), 'icmp falls to the default deny');
  t.false(await ping('ns-blue-api', '10.50.1.2'), 'egress also defaults to deny');
  t.false(await ping('ns-green-db', '10.10.1.2'), 'green is not peered with shop');
  t.is((await run('status')).code, 0);
});

test.serial('destroy -f removes what the file names and nothing else', async (t) => {
  const before = { ids: EXAMPLE_NS.map(nsId), shop: readState().vpcs.shop, peerings: readState().peerings.length };
  const r = await run('destroy', '-f', join(dir, 'blue-green.json'));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^removed blue, green \(\d+ kernel operations, \d+ ms\)$/m);
  t.deepEqual(ours(), EXAMPLE_NS);
  t.deepEqual(EXAMPLE_NS.map(nsId), before.ids, 'the example is untouched');
  t.deepEqual(readState().vpcs.shop, before.shop);
  t.deepEqual(Object.keys(readState().vpcs).sort(), ['analytics', 'shop']);
  t.is(readState().peerings.length, before.peerings - 1);
  t.true(await eventually(() => vgLinks() === 2), "only the example's gateways left");
  t.true(await ping('ns-shop-db', '10.20.2.2'), 'the other peering still works');
  t.is((await run('status')).code, 0);
  const again = await run('destroy', '-f', join(dir, 'blue-green.json'));
  t.is(again.code, 0);
  t.is(again.stdout, '0 changes\n');
});

// --- validation -------------------------------------------------------------------------

// Each file would also create something if it were not refused (vpc "new" at the least).
const bad: Array<[string, string, string, string | RegExp]> = [
  ['bad CIDR', 'bad-cidr.yaml', `
vpcs:
  - name: new
    cidr: 10.20.0.0/16
    subnets:
      - { name: web, cidr: 10.20.1.0/24, type: public }
      - { name: db, cidr: 10.20.2.0/99, type: private }
`, 'vpcs[0].subnets[1].cidr: 10.20.2.0/99 is not a CIDR'],
  ['overlap within a VPC', 'overlap.json', JSON.stringify({
    vpcs: [{ name: 'new', cidr: '10.60.0.0/16', subnets: [
      { name: 'web', cidr: '10.60.1.0/24', type: 'public' },
      { name: 'db', cidr: '10.60.1.128/25', type: 'private' },
    ] }],
  }), 'vpcs[0].subnets[1]: 10.60.1.128/25 overlaps subnet "web" (10.60.1.0/24)'],
  ['unknown peering VPC', 'peer.yaml', `
vpcs:
  - { name: new, cidr: 10.60.0.0/16, subnets: [{ name: web, cidr: 10.60.1.0/24, type: public }] }
peerings:
  - { vpc1: new, vpc2: ghost }
`, 'peerings[0]: vpc "ghost" does not exist'],
  ['unknown field', 'unknown-field.yaml', `
vpcs:
  - name: new
    cidr: 10.60.0.0/16
    subnets:
      - { name: web, cidr: 10.60.1.0/24, type: public, colour: blue }
`, 'vpcs[0].subnets[0]: unknown field "colour"'],
  ['bad YAML', 'broken.yaml', `
vpcs:
  - name: new
    cidr: [10.60.0.0/16
  subnets: {
`, /^topology \/run\/vpcctl\/topo-\w+\/broken\.yaml: invalid YAML: .*line 5, column 3/],
  ['bad JSON', 'broken.json', '{"vpcs": [{"name": "new", }]}', /^topology \/run\/vpcctl\/topo-\w+\/broken\.json: invalid JSON at line 1, column 27: /],
  ['subnet outside its VPC', 'outside.yaml', `
vpcs:
  - { name: new, cidr: 10.60.0.0/16, subnets: [{ name: web, cidr: 10.61.1.0/24, type: public }] }
`, "vpcs[0].subnets[0]: 10.61.1.0/24 is not inside the vpc's CIDR 10.60.0.0/16"],
  ['VPC named twice', 'twice.yaml', `
vpcs:
  - { name: new, cidr: 10.60.0.0/16 }
  - { name: new, cidr: 10.61.0.0/16 }
`, 'vpcs[1].name: vpc "new" is also defined at vpcs[0]'],
  ['missing type', 'no-type.yaml', `
vpcs:
  - { name: new, cidr: 10.60.0.0/16, subnets: [{ name: web, cidr: 10.60.1.0/24 }] }
`, 'vpcs[0].subnets[0].type: is required'],
];

test.serial('bad files: the error names the path, exit 2, state and kernel exactly as they were', async (t) => {
  const snapshot = () => ({
    state: stateText(), ns: netnsList(), ids: EXAMPLE_NS.map(nsId),
    host: nft(['-s', 'list', 'ruleset']), links: ip(['-o', 'link']),
    policy: nft(['-s', 'list', 'ruleset'], 'ns-shop-web'),
  });
  const before = snapshot();
  for (const [what, name, body, message] of bad) {
    const file = write(name, body);
    for (const args of [['apply', '-f', file], ['apply', '-f', file, '--dry-run'], ['apply', '-f', file, '--prune'], ['destroy', '-f', file]]) {
      const r = await run(...args);
      t.is(r.code, 2, `${what} (${args.join(' ')}): ${r.stderr}`);
      t.is(r.stdout, '', what);
      const lines = r.stderr.split('\n').filter(Boolean);
      t.is(lines.length, 1, `${what}: one line: ${r.stderr}`);
      if (typeof message === 'string') t.is(lines[0], `vpcctl: ${message}`, what);
      else t.regex(lines[0]!.replace(/^vpcctl: /, ''), message, what);
    }
  }
  t.deepEqual(snapshot(), before);
});

test.serial('a file that is valid alone but clashes with what is kept is refused before the kernel is touched', async (t) => {
  // shop/db (10.10.2.0/24) is kept without --prune; the new subnet overlaps it.
  const clash = write('clash.yaml', `
vpcs:
  - name: shop
    cidr: 10.10.0.0/16
    subnets:
      - { name: web, cidr: 10.10.1.0/24, type: public, apps: [{ port: 80 }],
          policy: { ingress: [{ port: 80, protocol: tcp, action: allow }, { port: 22, protocol: tcp, action: deny }] } }
      - { name: cache, cidr: 10.10.2.128/25, type: private }
`);
  const before = { state: stateText(), ns: netnsList(), host: nft(['-s', 'list', 'ruleset']) };
  const r = await run('apply', '-f', clash);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /^vpcctl: with what vpcctl already has: .*10\.10\.2\.128\/25 overlaps subnet "db" \(10\.10\.2\.0\/24\)\n$/);
  t.deepEqual({ state: stateText(), ns: netnsList(), host: nft(['-s', 'list', 'ruleset']) }, before);
});

// --- --prune ----------------------------------------------------------------------------

test.serial('what the file does not name is kept without --prune and removed with it', async (t) => {
  t.is((await run('create-vpc', '--name', 'extra', '--cidr', '10.90.0.0/16')).code, 0);
  t.is((await run('create-subnet', '--vpc', 'extra', '--name', 'x', '--cidr', '10.90.1.0/24', '--type', 'private')).code, 0);
  const doc = YAML.parse(readFileSync(EXAMPLE, 'utf8'));
  doc.vpcs[0].subnets = doc.vpcs[0].subnets.filter((s: { name: string }) => s.name !== 'db');
  const smaller = write('without-db.yaml', YAML.stringify(doc));
  const kept = EXAMPLE_NS.filter((n) => n !== 'ns-shop-db');
  const ids = kept.map(nsId);
  const pid = readState().vpcs.shop.subnets.web.apps[0].pid;

  const plain = await run('apply', '-f', smaller);
  t.is(plain.code, 0, plain.stderr);
  t.is(plain.stdout, '0 changes\n');
  t.true(netnsList().includes('ns-shop-db'), 'subnet not in the file: kept');
  t.true(netnsList().includes('vpcr-extra') && netnsList().includes('ns-extra-x'), 'vpc not in the file: kept');
  t.truthy(readState().vpcs.shop.subnets.db);

  // Another file owns nothing here: its prune removes nothing, and says what it keeps and why.
  const beforeDry = stateText();
  const dry = await run('apply', '-f', smaller, '--prune', '--dry-run');
  t.is(dry.code, 0, dry.stderr);
  const dryLines = dry.stdout.split('\n');
  t.true(dryLines.includes(`  kept subnet shop/db: made by file ${realpathSync(EXAMPLE)}`), dry.stdout);
  t.true(dryLines.includes('  kept vpc extra: not made by an apply of this topology (made by a command, or before vpcctl recorded owners)'), dry.stdout);
  t.true(dryLines.includes('0 to add, 0 to change, 0 to delete'), dry.stdout);
  t.is(stateText(), beforeDry);
  t.true(netnsList().includes('ns-shop-db'));

  // The same topology (the example's owner) without db: its prune removes shop/db, and keeps the hand-made vpc.
  const api = new Vpcctl({ stateDir: state });
  const pruned = await api.apply(doc, { prune: true, owner: `file ${realpathSync(EXAMPLE)}` });
  t.deepEqual(pruned.diff.items.map((i) => `${i.action} ${i.kind} ${i.name}`), ['delete subnet shop/db']);
  t.deepEqual(pruned.diff.kept.map((k) => `${k.kind} ${k.name}`), ['vpc extra']);
  t.is((await run('delete-vpc', '--name', 'extra')).code, 0, 'no terminal: no question');
  t.deepEqual(ours(), kept, 'shop/db and vpc extra are gone, nothing else');
  t.deepEqual(kept.map(nsId), ids, 'what the file names was not rebuilt');
  t.falsy(readState().vpcs.shop.subnets.db);
  t.falsy(readState().vpcs.extra);
  t.is(readState().vpcs.shop.subnets.web.apps[0].pid, pid, 'the app kept running');
  t.true(await eventually(() => !/10\.10\.2\./.test(ip(['route'], 'vpcr-shop'))), 'no route left to the pruned subnet');
  t.is((await run('status')).code, 0);
  t.false((await api.apply(doc, { prune: true, owner: `file ${realpathSync(EXAMPLE)}` })).changed);

  const back = await run('apply', '-f', EXAMPLE);
  t.is(back.code, 0, back.stderr);
  t.regex(back.stdout, /^1 change, .*\n {2}create subnet shop\/db$/m);
  t.deepEqual(ours(), EXAMPLE_NS);
  t.true(await ping('ns-analytics-store', '10.10.2.2'), 'the recreated subnet has its peering routes');
});

// --- output when piped ------------------------------------------------------------------

/** 150 subnets over two peered VPCs (over 1000 kernel operations: a progress bar on a terminal). */
function bigTopology(): string {
  const vpcs = [['big1', 100, 120], ['big2', 101, 30]].map(([name, octet, count]) => ({
    name, cidr: `10.${octet}.0.0/16`,
    subnets: Array.from({ length: count as number }, (_, i) => ({ name: `s${i}`, cidr: `10.${octet}.${i}.0/24`, type: i % 2 ? 'private' : 'public' })),
  }));
  return write('big.json', { vpcs, peerings: [{ vpc1: 'big1', vpc2: 'big2' }] });
}
const BIG = bigTopology();
const BIG_NS = [
  'vpcr-big1', 'vpcr-big2',
  ...Array.from({ length: 120 }, (_, i) => `ns-big1-s${i}`),
  ...Array.from({ length: 30 }, (_, i) => `ns-big2-s${i}`),
];
const missingOf = (names: string[]) => {
  const present = new Set(netnsList());
  return names.filter((n) => !present.has(n));
};

/** Colours on unless the output says otherwise: no NO_COLOR, a capable TERM, no CI/FORCE_COLOR. */
const colourEnv = () => {
  const env: Record<string, string | undefined> = { ...process.env, VPCCTL_STATE_DIR: state, TERM: 'xterm-256color' };
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'CI']) delete env[k];
  return env as Record<string, string>;
};
const ESCAPE = /\x1b|\r|\x08/;

test.serial('piped: no progress bar, no escape codes, even for a plan of a thousand operations', async (t) => {
  const env = colourEnv();
  const piped = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  const r = piped('apply', '-f', BIG);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^153 changes, \d{4} kernel operations in \d+ ms$/m);
  t.regex(r.stdout, /^ {2}\.\.\. and 133 more$/m);
  t.is(r.stderr, '', 'nothing on stderr: no bar');
  t.notRegex(r.stdout, ESCAPE);
  t.deepEqual(missingOf(BIG_NS), []);
  for (const args of [['list-vpcs'], ['show-vpc', '--name', 'shop'], ['status'], ['apply', '-f', BIG], ['apply', '-f', BIG, '--dry-run']]) {
    const o = piped(...args);
    t.is(o.status, 0, `${args.join(' ')}: ${o.stderr}`);
    t.notRegex(o.stdout + o.stderr, ESCAPE, args.join(' '));
  }

  // The same command on a terminal does draw (so the checks above can fail).
  if (existsSync('/usr/bin/script')) {
    t.is((await run('destroy', '-f', BIG)).code, 0);
    const tty = spawnSync('/usr/bin/script', ['-qec', `${process.execPath} ${CLI} apply -f ${BIG}`, '/dev/null'], { env, encoding: 'utf8' });
    t.is(tty.status, 0, tty.stdout);
    t.regex(tty.stdout, /\x1b\[/, 'colours and the bar on a terminal');
  }
  const d = await run('destroy', '-f', BIG);
  t.is(d.code, 0, d.stderr);
  t.regex(d.stdout, /^removed big1, big2 /);
  t.deepEqual(ours(), EXAMPLE_NS);
});

// --- crashes ----------------------------------------------------------------------------

interface KillResult { killed: boolean; code: number | null; pendingAtKill: number }

/**
 * Start vpcctl, wait until it has marked its plan pending in the state file (the kernel
 * work starts right after), wait `delayMs` more, then SIGKILL it. Returns whether the
 * kill landed (the process had not exited on its own).
 */
async function killDuring(args: string[], delayMs: number): Promise<KillResult> {
  const before = existsSync(stateFile) ? statSync(stateFile).ino : -1;
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, VPCCTL_STATE_DIR: state, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.resume();
  child.stderr.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => { done = true; });
  let pendingAtKill = 0;
  // The run may first wait for a lock left by the previous kill: poll for up to 2 minutes.
  const deadline = Date.now() + 120_000;
  while (!done && Date.now() < deadline) {
    if (existsSync(stateFile) && statSync(stateFile).ino !== before) {
      const pending = (JSON.parse(readFileSync(stateFile, 'utf8')).pending ?? []) as string[];
      if (pending.length > 0) { pendingAtKill = pending.length; break; }
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  if (!done && delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  if (!done) child.kill('SIGKILL');
  const { code, signal } = await exited;
  return { killed: signal === 'SIGKILL', code, pendingAtKill };
}

/** After a crash and a converging apply: no drift, nothing pending, the file's namespaces all there. */
async function assertConverged(t: import('ava').ExecutionContext, expectNs: string[]) {
  const s = await run('status');
  t.is(s.code, 0, `status after recovery: ${s.stdout}`);
  t.deepEqual(readState().pending, []);
  t.deepEqual(missingOf(expectNs), []);
  t.deepEqual(ours(), [...new Set([...EXAMPLE_NS, ...expectNs])].sort(), 'no leftover namespace');
}

test.serial('kill -9 in the middle of an apply of 150 subnets loses nothing: apply again converges', async (t) => {
  t.timeout(600_000);
  let landed: (KillResult & { delay: number; present: number }) | undefined;
  for (const delay of [150, 60, 300, 20, 450, 100, 5]) {
    const k = await killDuring(['apply', '-f', BIG], delay);
    const present = BIG_NS.length - missingOf(BIG_NS).length;
    t.log(`delay ${delay} ms: ${k.killed ? 'killed' : `exited ${k.code}`}, ${k.pendingAtKill} pending, ${present}/${BIG_NS.length} namespaces`);
    if (!k.killed) {
      // It finished first: start over from nothing, without the lock of a killed run in the way.
      t.is(k.code, 0);
      t.is((await run('destroy', '-f', BIG)).code, 0);
      continue;
    }
    t.true(k.pendingAtKill > 0);
    const mid = readState().pending.length > 0 && present > 0 && present < BIG_NS.length;
    if (mid) { landed = { ...k, delay, present }; break; }
  }
  if (!landed) return t.fail('no kill landed in the middle of the kernel work');
  const st = await run('status');
  t.is(st.code, 1, 'the crash shows as drift');
  t.regex(st.stdout, /pending\s+netns /);

  const r = await run('apply', '-f', BIG);
  t.is(r.code, 0, r.stderr);
  await assertConverged(t, BIG_NS);
  t.true(await ping('ns-big1-s0', '10.100.119.2'), 'inside a VPC');
  t.true(await ping('ns-big1-s119', '10.101.29.2'), 'across the peering');
  t.true(await ping('ns-big2-s1', '10.100.60.2'), 'across the peering, back');
  t.is((await run('apply', '-f', BIG)).stdout, '0 changes\n');
  t.is((await run('apply', '-f', EXAMPLE)).stdout, '0 changes\n', 'the example was not disturbed');
});

test.serial('kill -9 in the middle of delete-vpc loses nothing: apply restores, delete-vpc finishes', async (t) => {
  t.timeout(600_000);
  const big1 = BIG_NS.filter((n) => n.includes('big1'));
  const pre = await run('apply', '-f', BIG);
  if (pre.code !== 0 || (await run('status')).code !== 0) return t.fail(`precondition (the previous test's recovery): ${pre.stderr}`);
  let landed = false;
  for (const delay of [4, 8, 2, 12, 1, 16, 0, 6]) {
    const k = await killDuring(['delete-vpc', '--name', 'big1'], delay);
    const left = big1.length - missingOf(big1).length;
    t.log(`delay ${delay} ms: ${k.killed ? 'killed' : `exited ${k.code}`}, ${k.pendingAtKill} pending, ${left}/${big1.length} of big1 left`);
    if (k.killed && readState().pending.length > 0 && left > 0 && left < big1.length) { landed = true; break; }
    // Not mid-run: put big1 back whole and try another delay.
    const back = await run('apply', '-f', BIG);
    if (back.code !== 0) return t.fail(`cannot restore the topology to try again: ${back.stderr}`);
    t.is((await run('status')).code, 0);
  }
  if (!landed) return t.fail('no kill landed in the middle of delete-vpc');
  t.is((await run('status')).code, 1, 'the crash shows as drift');

  // Converging on the file brings big1 back whole.
  const r = await run('apply', '-f', BIG);
  t.is(r.code, 0, r.stderr);
  await assertConverged(t, BIG_NS);
  t.true(await ping('ns-big2-s0', '10.100.119.2'), 'the peering is back too');

  // Or: a crashed delete-vpc, then delete-vpc again, finishes the deletion.
  let again: KillResult = { killed: false, code: null, pendingAtKill: 0 };
  for (const delay of [4, 1, 8, 0]) {
    again = await killDuring(['delete-vpc', '--name', 'big1'], delay);
    if (again.killed) break;
    t.is((await run('apply', '-f', BIG)).code, 0);
  }
  t.true(again.killed, 'a delete-vpc was killed');
  const d = await run('delete-vpc', '--name', 'big1');
  t.is(d.code, 0, d.stderr);
  const big2 = BIG_NS.filter((n) => n.includes('big2'));
  await assertConverged(t, big2);
  t.deepEqual(big1.filter((n) => netnsList().includes(n)), [], 'big1 is gone');
  t.true(await eventually(() => !/10\.100\.0\.0\/16/.test(ip(['route'], 'ns-big2-s0'))), 'no route left to the deleted peer');
  t.deepEqual(readState().peerings.map((p: { vpc1: string; vpc2: string }) => [p.vpc1, p.vpc2]), [['shop', 'analytics']]);
});

test.serial('cleanup-all still removes everything after the crashes', async (t) => {
  // One more crash, not repaired: cleanup must find half-made objects too.
  const k = await killDuring(['apply', '-f', BIG], 100);
  t.log(`last kill: ${k.killed ? 'killed' : `exited ${k.code}`}, ${k.pendingAtKill} pending`);
  const r = await run('cleanup-all');
  t.is(r.code, 0, r.stderr);
  t.deepEqual(ours(), [], 'no ns-/vpcr- namespace');
  t.notRegex(ip(['link']), /vg-/);
  t.notRegex(nft(['list', 'ruleset']), /table inet vpcctl/);
  t.is((await (await native()).sysctlGet('', 'net/ipv4/ip_forward')).trim(), forwardBefore, "the host's ip_forward as it was");
  t.is(stateText(), null);
  t.is((await run('status')).code, 0);
});
