import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FETCH, freshStateDir, inNs, ip, nft, vpcctl } from '../helpers/sandbox.js';
import { SIM, buildSimInternet } from '../../src/sim/internet.js';
import { native } from '../../src/native.js';
import { findDrift } from '../../src/api/drift.js';
import { cacheFileOf } from '../../src/api/plan-cache.js';
import { stateFileOf } from '../../src/state/dir.js';
import { StateStore } from '../../src/state/store.js';

// Issue 13, item 3: deep drift. Objects vpcctl made are broken behind its back (with ip/nft as
// independent tools); `status` must name each (exit 1, --json too), `apply` of the unchanged file
// (or another command touching the VPC) must repair it in place, and then status is in sync, the
// policy is enforced again and no namespace was rebuilt (apps keep running).
const state = freshStateDir();
const dir = mkdtempSync('/run/vpcctl/drift-');
const run = (...args: string[]) => vpcctl(state, args);
const tcp = async (ns: string, dst: string, port: number) => (await (await native()).tcpConnect(ns, dst, port, 500)).ok;
const ping = async (ns: string, dst: string) => (await (await native()).ping(ns, dst, 500)).ok;
const fetchFrom = (ns: string) => inNs(ns, [process.execPath, FETCH, `http://${SIM.serverAddress}/`]);
/** The identity of a namespace (nsfs inode behind its /run/netns bind mount): unchanged means not rebuilt. */
const nsId = (ns: string) => statSync(`/run/netns/${ns}`).ino;
const NAMESPACES = ['vpcr-demo', 'ns-demo-web', 'ns-demo-db', 'ns-demo-api', 'vpcr-other', 'ns-other-app'];
const sysctl = (ns: string, key: string, value: string) => {
  const r = inNs(ns, ['/usr/sbin/sysctl', '-qw', `${key}=${value}`]);
  if (r.status !== 0) throw new Error(`sysctl ${key}=${value} in ${ns}: ${r.stderr}`);
};

// demo 10.0/16: web public with a default-deny policy (only tcp/80 in), db private, api public;
// other 10.1/16: app public; demo and other peered. Apps: web 80 and 8080, db 80, other/app 80.
const topology = {
  vpcs: [
    {
      name: 'demo', cidr: '10.0.0.0/16',
      subnets: [
        { name: 'web', cidr: '10.0.1.0/24', type: 'public', apps: [{ port: 80 }, { port: 8080 }],
          policy: { default: 'deny', ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }] } },
        { name: 'db', cidr: '10.0.2.0/24', type: 'private', apps: [{ port: 80 }] },
        { name: 'api', cidr: '10.0.3.0/24', type: 'public' },
      ],
    },
    { name: 'other', cidr: '10.1.0.0/16', subnets: [{ name: 'app', cidr: '10.1.1.0/24', type: 'public', apps: [{ port: 80 }] }] },
  ],
  peerings: [{ vpc1: 'demo', vpc2: 'other' }],
};
const file = join(dir, 'topology.json');

let ids: Record<string, number> = {};
let pids: number[] = [];
const appPids = async () => {
  const apps = JSON.parse((await run('list-apps', '--json')).stdout) as { pid: number; running: boolean }[];
  return apps.filter((a) => a.running).map((a) => a.pid).sort();
};

test.before(async () => {
  await buildSimInternet();
  writeFileSync(file, JSON.stringify(topology));
  const r = await run('apply', '-f', file);
  if (r.code !== 0) throw new Error(`apply: ${r.stderr}`);
  ids = Object.fromEntries(NAMESPACES.map((ns) => [ns, nsId(ns)]));
  pids = await appPids();
  if (pids.length !== 4) throw new Error(`expected 4 running apps, got ${pids.length}`);
});

/** The whole network works as the file says: reachability, the policy, the peering, the internet. */
async function worksAsDeclared(t: ExecutionContext) {
  t.true(await tcp('ns-demo-db', '10.0.1.2', 80), 'web:80 allowed by the policy');
  t.false(await tcp('ns-demo-db', '10.0.1.2', 8080), 'web:8080 denied by default');
  t.false(await tcp('ns-demo-web', '10.0.2.2', 80), "web's default deny covers its egress too");
  t.true(await tcp('ns-other-app', '10.0.2.2', 80), 'the peer reaches db');
  t.true(await ping('ns-demo-api', '10.0.2.2'), 'api reaches db');
  t.true(await tcp('ns-demo-api', '10.0.2.2', 80));
  t.is(fetchFrom('ns-demo-api').status, 0, 'a public subnet reaches the internet');
}

/**
 * After the kernel was broken: status exits 1 and names it (text and --json), `repair` fixes it
 * through the normal plan, status is in sync again, nothing was rebuilt and every app still runs.
 */
async function detectAndRepair(t: ExecutionContext, expect: { object: string; detail: RegExp }, repair: string[] = ['apply', '-f', file]) {
  const s = await run('status');
  t.is(s.code, 1, `status must see the drift: ${s.stdout}`);
  t.regex(s.stdout, new RegExp(`drift +${expect.object}: `));
  const json = JSON.parse((await run('status', '--json')).stdout) as { ok: boolean; drift: { object: string; detail: string }[] };
  t.false(json.ok);
  t.true(json.drift.some((d) => d.object === expect.object && expect.detail.test(d.detail)), JSON.stringify(json.drift));
  const r = await run(...repair);
  t.is(r.code, 0, r.stderr);
  t.notRegex(r.stdout, /^0 changes|nothing changed/m, `${repair.join(' ')} must repair: ${r.stdout}`);
  t.true(r.stdout.includes(`repair ${expect.object}: `), `the repair is reported: ${r.stdout}`);
  const after = await run('status');
  t.is(after.code, 0, `in sync after the repair: ${after.stdout}`);
  for (const ns of NAMESPACES) t.is(nsId(ns), ids[ns], `${ns} was not rebuilt`);
  t.deepEqual(await appPids(), pids, 'the apps still run');
}

test.serial('in sync after apply; a re-apply changes nothing; the network works as declared', async (t) => {
  const s = await run('status', '--json');
  t.is(s.code, 0, s.stdout);
  t.deepEqual(JSON.parse(s.stdout).drift, []);
  t.regex((await run('apply', '-f', file)).stdout, /^0 changes/m);
  await worksAsDeclared(t);
});

test.serial("a subnet's policy table deleted: named, show-policy says so, apply restores the default deny", async (t) => {
  nft(['delete', 'table', 'inet', 'vpcctl'], 'ns-demo-web');
  t.true(await tcp('ns-demo-db', '10.0.1.2', 8080), 'the policy is gone: 8080 open');
  const show = await run('show-policy', '--vpc', 'demo', '--subnet', 'web');
  t.regex(show.stdout, /NOT ENFORCED.*missing/);
  t.true(JSON.parse((await run('show-policy', '--vpc', 'demo', '--subnet', 'web', '--json')).stdout).drift.length > 0);
  await detectAndRepair(t, { object: 'subnet demo/web', detail: /table.*missing/ });
  t.deepEqual(JSON.parse((await run('show-policy', '--vpc', 'demo', '--subnet', 'web', '--json')).stdout).drift, []);
  await worksAsDeclared(t);
});

test.serial("rules added to a policy table and to the router's table: named as differing, replaced whole", async (t) => {
  nft(['insert', 'rule', 'inet', 'vpcctl', 'ingress', 'tcp', 'dport', '80', 'drop'], 'ns-demo-web');
  t.false(await tcp('ns-demo-db', '10.0.1.2', 80), 'the extra rule drops port 80');
  nft(['insert', 'rule', 'inet', 'vpcctl', 'forward', 'ip', 'daddr', '10.0.2.2', 'drop'], 'vpcr-demo');
  t.false(await tcp('ns-demo-api', '10.0.2.2', 80), "the router's extra rule drops traffic to db");
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; detail: string }[] };
  t.true(json.drift.some((d) => d.object === 'vpc demo' && /table inet vpcctl in vpcr-demo differs/.test(d.detail)), JSON.stringify(json.drift));
  await detectAndRepair(t, { object: 'subnet demo/web', detail: /differ|rule|chain/ });
  await worksAsDeclared(t);
});

test.serial("a router's route to a host deleted: create-subnet in that VPC repairs it", async (t) => {
  ip(['route', 'del', '10.0.2.2/32'], 'vpcr-demo');
  t.false(await ping('ns-demo-api', '10.0.2.2'), 'db is cut off');
  await detectAndRepair(t, { object: 'subnet demo/db', detail: /10\.0\.2\.2\/32/ },
    ['create-subnet', '--vpc', 'demo', '--name', 'extra', '--cidr', '10.0.9.0/24', '--type', 'private']);
  t.is((await run('delete-subnet', '--vpc', 'demo', '--name', 'extra')).code, 0);
  await worksAsDeclared(t);
});

test.serial("a router's end of a subnet's veth renamed: named missing, and one apply makes the pair again with the apps running", async (t) => {
  // The router's ends are read by name, not dumped (verify/by_name.rs).
  ip(['link', 'set', 'sn-0a000200', 'down'], 'vpcr-demo');
  ip(['link', 'set', 'sn-0a000200', 'name', 'renamed0'], 'vpcr-demo');
  t.false(await tcp('ns-demo-api', '10.0.2.2', 80), 'db is cut off');
  await detectAndRepair(t, { object: 'subnet demo/db', detail: /link sn-0a000200 in vpcr-demo is missing/ });
  t.notRegex(ip(['-o', 'link'], 'vpcr-demo'), /renamed0/, 'the renamed end went with its old pair');
  await worksAsDeclared(t);
});

test.serial("a foreign link given a router end's name: named, apply refuses it and changes nothing; once it is gone one apply repairs", async (t) => {
  // The real end renamed away (and down), a bridge in its place: read light, it is no veth end of db's.
  ip(['link', 'set', 'sn-0a000200', 'down'], 'vpcr-demo');
  ip(['link', 'set', 'sn-0a000200', 'name', 'moved0'], 'vpcr-demo');
  ip(['link', 'add', 'sn-0a000200', 'type', 'bridge'], 'vpcr-demo');
  const json = JSON.parse((await run('status', '--json')).stdout) as { ok: boolean; drift: { object: string; detail: string }[] };
  t.false(json.ok);
  t.true(json.drift.some((d) => d.object === 'subnet demo/db' && /link sn-0a000200 in vpcr-demo is not the peer of eth0 in ns-demo-db/.test(d.detail)),
    `named as not the peer, not as a link to set up: ${JSON.stringify(json.drift)}`);
  // status does not promise what apply will refuse: it says what to remove.
  const text = (await run('status')).stdout;
  t.regex(text, /a bridge that vpcctl did not make holds the name sn-0a000200 in vpcr-demo, .*apply refuses while it is there; rename it \('ip -n vpcr-demo link set sn-0a000200 name sn-0a000200-old'\) or remove it \('ip -n vpcr-demo link del sn-0a000200'\), then/);
  t.regex(text, /^repair: after the fixes above, 'vpcctl apply -f FILE'/m);
  for (let i = 0; i < 2; i++) {
    const r = await run('apply', '-f', file);
    t.is(r.code, 1, r.stdout);
    t.regex(r.stderr, /^vpcctl: link sn-0a000200 in netns "vpcr-demo": in the way: a bridge that vpcctl did not make/);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // Nothing was rebuilt, stopped or recorded as pending, and the bridge is as it was (down, no address).
  for (const ns of NAMESPACES) t.is(nsId(ns), ids[ns], `${ns} was not rebuilt`);
  t.deepEqual(await appPids(), pids, 'the apps still run');
  t.notRegex((await run('status')).stdout, /pending/);
  const bridge = ip(['-d', '-o', 'addr', 'show', 'dev', 'sn-0a000200'], 'vpcr-demo') + ip(['-d', '-o', 'link', 'show', 'sn-0a000200'], 'vpcr-demo');
  t.regex(bridge, /bridge/);
  t.notRegex(bridge, /10\.0\.2\.1|[<,]UP[,>]/, bridge);
  ip(['link', 'del', 'sn-0a000200'], 'vpcr-demo');
  await detectAndRepair(t, { object: 'subnet demo/db', detail: /link sn-0a000200 in vpcr-demo is missing/ });
  t.notRegex(ip(['-o', 'link'], 'vpcr-demo'), /moved0/, 'the renamed end went with its old pair');
  await worksAsDeclared(t);
});

test.serial("a bridge at a subnet's eth0 (the real one renamed): named as what it is; apply refuses, keeping the namespace, its apps and the bridge", async (t) => {
  ip(['link', 'set', 'eth0', 'name', 'moved0'], 'ns-demo-db');
  ip(['link', 'add', 'eth0', 'type', 'bridge'], 'ns-demo-db');
  const json = JSON.parse((await run('status', '--json')).stdout) as { ok: boolean; drift: { object: string; detail: string; fix?: string }[] };
  t.true(json.drift.some((d) => d.object === 'subnet demo/db' && d.detail === 'link eth0 in ns-demo-db is a bridge, not a veth'
    && /^a bridge that vpcctl did not make holds the name eth0 in ns-demo-db, /.test(d.fix ?? '')), JSON.stringify(json.drift));
  const r = await run('apply', '-f', file);
  t.is(r.code, 1, r.stdout);
  t.regex(r.stderr, /^vpcctl: link eth0 in netns "ns-demo-db": in the way: a bridge that vpcctl did not make/);
  for (const ns of NAMESPACES) t.is(nsId(ns), ids[ns], `${ns} was not rebuilt`);
  t.deepEqual(await appPids(), pids, 'the apps still run');
  t.regex(ip(['-d', '-o', 'link', 'show', 'eth0'], 'ns-demo-db'), /bridge/);
  // Put back as it was: in sync again, nothing rebuilt.
  ip(['link', 'del', 'eth0'], 'ns-demo-db');
  ip(['link', 'set', 'moved0', 'name', 'eth0'], 'ns-demo-db');
  const s = await run('status');
  t.is(s.code, 0, s.stdout);
  t.deepEqual(await appPids(), pids, 'the apps still run');
  await worksAsDeclared(t);
});

test.serial("a subnet's end replaced by a veth whose peer is elsewhere: named as not the router end's peer", async (t) => {
  // The real eth0 moved to a namespace of the test's; a new eth0 (same alias, address and route) whose
  // peer is in a fresh namespace, where a link's index may well equal the router end's.
  const alias = ip(['-o', 'link', 'show', 'eth0'], 'ns-demo-api').match(/alias (\S+)/)?.[1];
  t.truthy(alias);
  ip(['netns', 'add', 'drift-away']);
  ip(['netns', 'add', 'drift-fresh']);
  try {
    ip(['link', 'set', 'eth0', 'netns', 'drift-away'], 'ns-demo-api');
    ip(['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0', 'netns', 'drift-fresh'], 'ns-demo-api');
    ip(['link', 'set', 'eth0', 'alias', alias!, 'up'], 'ns-demo-api');
    ip(['link', 'set', 'p0', 'up'], 'drift-fresh');
    ip(['addr', 'add', '10.0.3.2/24', 'dev', 'eth0'], 'ns-demo-api');
    ip(['route', 'add', 'default', 'via', '10.0.3.1', 'dev', 'eth0'], 'ns-demo-api');
    t.false(await ping('ns-demo-api', '10.0.2.2'), 'api is cut off');
    const json = JSON.parse((await run('status', '--json')).stdout) as { ok: boolean; drift: { object: string; detail: string }[] };
    t.false(json.ok);
    t.true(json.drift.some((d) => d.object === 'subnet demo/api' && /link sn-0a000300 in vpcr-demo is not the peer of eth0 in ns-demo-api/.test(d.detail)),
      JSON.stringify(json.drift));
    // Not vpcctl's pair as made: the subnet's namespace is rebuilt (no app runs in api).
    const r = await run('apply', '-f', file);
    t.is(r.code, 0, r.stderr);
    t.is((await run('status')).code, 0);
    ids['ns-demo-api'] = nsId('ns-demo-api');
    await worksAsDeclared(t);
  } finally {
    ip(['netns', 'del', 'drift-away']);
    ip(['netns', 'del', 'drift-fresh']);
  }
});

test.serial("someone's veth at a subnet's router end, its peer elsewhere: status gives the fix apply needs, and following it repairs", async (t) => {
  // The executor's preflight refuses a veth that is not vpcctl's and would not go with a namespace
  // the repair deletes; status asks that same check of the repair plan, so it says what to remove.
  ip(['netns', 'add', 'drift-elsewhere']);
  try {
    ip(['link', 'set', 'sn-0a000300', 'name', 'moved0'], 'vpcr-demo');
    ip(['link', 'add', 'sn-0a000300', 'type', 'veth', 'peer', 'name', 'p0', 'netns', 'drift-elsewhere'], 'vpcr-demo');
    const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; detail: string; fix?: string }[] };
    const fix = json.drift.find((d) => d.object === 'subnet demo/api')?.fix ?? '';
    t.regex(fix, /^a veth without vpcctl's tag that vpcctl did not make holds the name sn-0a000300 in vpcr-demo, /, JSON.stringify(json.drift));
    const r = await run('apply', '-f', file);
    t.is(r.code, 1, r.stdout);
    t.regex(r.stderr, /^vpcctl: link sn-0a000300 in netns "vpcr-demo": in the way: a veth without vpcctl's tag/);
    t.regex(ip(['-o', 'link', 'show', 'p0'], 'drift-elsewhere'), /p0@/, "someone's veth is left as it was");
    const [, ns, name] = fix.match(/'ip -n (\S+) link del (\S+)'/)!;
    ip(['link', 'del', name!], ns!);
    const again = await run('apply', '-f', file);
    t.is(again.code, 0, again.stderr);
    t.is((await run('status')).code, 0);
    ids['ns-demo-api'] = nsId('ns-demo-api');
    await worksAsDeclared(t);
  } finally {
    ip(['netns', 'del', 'drift-elsewhere']);
  }
});

/** Every `ip ... link del NAME` or `ip ... link set ...` a status fix prints, run as printed. */
const followFixes = (fix: string, verb: 'del' | 'set') => {
  const re = verb === 'del' ? /'ip -n (\S+) link del (\S+)'/g : /'ip -n (\S+) link set (\S+) name (\S+)'/g;
  const done = [...fix.matchAll(re)].map(([, ns, name, to]) => (to ? ip(['link', 'set', name!, 'name', to], ns!) : ip(['link', 'del', name!], ns!)));
  return done.length;
};

test.serial('two foreign links in the way of one subnet: one status line gives both fixes; following them lets one apply repair', async (t) => {
  // The pair deleted, a bridge at each of its names.
  ip(['link', 'del', 'sn-0a000300'], 'vpcr-demo');
  ip(['link', 'add', 'sn-0a000300', 'type', 'bridge'], 'vpcr-demo');
  ip(['link', 'add', 'eth0', 'type', 'bridge'], 'ns-demo-api');
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  const fixes = json.drift.filter((d) => d.fix);
  t.is(fixes.length, 1, JSON.stringify(json.drift));
  t.is(fixes[0]!.object, 'subnet demo/api');
  // The preview says so too (the executor's check, asked without running).
  const preview = await run('plan', '-f', file);
  t.regex(preview.stdout + preview.stderr, /apply would refuse this plan: link sn-0a000300 in vpcr-demo is a bridge that vpcctl did not make/);
  // The router's bridge may be renamed and kept; the subnet's namespace is made again, so its bridge must move out or go.
  t.regex(fixes[0]!.fix!, /rename it \('ip -n vpcr-demo link set sn-0a000300 name sn-0a000300-old'\)/);
  t.regex(fixes[0]!.fix!, /it would go with ns-demo-api, which the repair makes again: move it out \('ip -n ns-demo-api link set eth0 netns NAMESPACE'\)/);
  t.is(followFixes(fixes[0]!.fix!, 'set'), 1, fixes[0]!.fix);
  ip(['link', 'del', 'eth0'], 'ns-demo-api');
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  t.is((await run('status')).code, 0);
  // The renamed bridge is someone's: left as it is.
  t.regex(ip(['-d', '-o', 'link', 'show', 'sn-0a000300-old'], 'vpcr-demo'), /bridge/);
  ip(['link', 'del', 'sn-0a000300-old'], 'vpcr-demo');
  ids['ns-demo-api'] = nsId('ns-demo-api');
  await worksAsDeclared(t);
});

test.serial("a subnet's namespace deleted and a bridge at its router end's name: status names the bridge beside the missing namespace, with the fix", async (t) => {
  ip(['netns', 'del', 'ns-demo-api']);
  ip(['link', 'add', 'sn-0a000300', 'type', 'bridge'], 'vpcr-demo');
  const s = await run('status', '--json');
  const json = JSON.parse(s.stdout) as { missing: string[]; drift: { object: string; detail: string; fix?: string }[] };
  t.deepEqual(json.missing, ['ns-demo-api']);
  const line = json.drift.find((d) => d.fix);
  t.is(line?.object, 'subnet demo/api', JSON.stringify(json.drift));
  t.is(line?.detail, 'link sn-0a000300 in vpcr-demo is a bridge that vpcctl did not make');
  t.is((await run('apply', '-f', file)).code, 1, 'apply refuses while the bridge is there');
  t.is(followFixes(line!.fix!, 'del'), 1);
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  t.is((await run('status')).code, 0);
  ids['ns-demo-api'] = nsId('ns-demo-api');
  await worksAsDeclared(t);
});

test.serial("a subnet's namespace tagged as someone else's: status says apply will not rebuild it and how to give it back; following that repairs", async (t) => {
  const tag = ip(['-o', 'link', 'show', 'lo'], 'ns-demo-api').match(/alias (\S+)/)![1]!;
  ip(['link', 'set', 'lo', 'alias', 'hijacked'], 'ns-demo-api');
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  const fix = json.drift.find((d) => d.object === 'subnet demo/api' && d.fix)?.fix ?? '';
  t.regex(fix, /^netns ns-demo-api is tagged "hijacked", and vpcctl never deletes or rebuilds a namespace that is not its own/, JSON.stringify(json.drift));
  t.true(fix.includes(`'ip -n ns-demo-api link set lo alias ${tag}'`), fix);
  const refused = await run('apply', '-f', file);
  t.is(refused.code, 2, refused.stdout);
  t.regex(refused.stderr, /"ns-demo-api" exists and is not vpcctl's/);
  ip(['link', 'set', 'lo', 'alias', tag], 'ns-demo-api');
  t.is((await run('apply', '-f', file)).code, 0);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

test.serial("a private subnet's route to its VPC taken by someone's link inside its namespace: status gives the fix, apply refuses, following it repairs", async (t) => {
  ip(['link', 'add', 'br9', 'type', 'bridge'], 'ns-demo-db');
  ip(['link', 'set', 'br9', 'up'], 'ns-demo-db');
  ip(['route', 'replace', '10.0.0.0/16', 'dev', 'br9'], 'ns-demo-db');
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  const fix = json.drift.find((d) => d.object === 'subnet demo/db' && d.fix)?.fix ?? '';
  t.regex(fix, /^a route on br9 holds 10\.0\.0\.0\/16 in ns-demo-db, and vpcctl never replaces a route that is not on its own link: remove it if it is not needed \('ip -n ns-demo-db route del 10\.0\.0\.0\/16'\)/, JSON.stringify(json.drift));
  const r = await run('apply', '-f', file);
  t.is(r.code, 1, r.stdout);
  t.regex(ip(['route', 'show', '10.0.0.0/16'], 'ns-demo-db'), /dev br9/, "someone's route is left as it was");
  ip(['route', 'del', '10.0.0.0/16'], 'ns-demo-db');
  t.is((await run('apply', '-f', file)).code, 0);
  t.is((await run('status')).code, 0);
  t.regex(ip(['link', 'show', 'br9'], 'ns-demo-db'), /br9/, "someone's bridge is left");
  ip(['link', 'del', 'br9'], 'ns-demo-db');
  await worksAsDeclared(t);
});

test.serial("both ends of a subnet's veth renamed: status leaves it to apply, which deletes the old pair (its routes with it) and makes it again, rebuilding nothing", async (t) => {
  const pids = await appPids();
  ip(['link', 'set', 'sn-0a000300', 'name', 'moved0'], 'vpcr-demo');
  ip(['link', 'set', 'eth0', 'name', 'moved1'], 'ns-demo-api');
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  t.true(json.drift.some((d) => d.object === 'subnet demo/api'), JSON.stringify(json.drift));
  t.deepEqual(json.drift.filter((d) => d.fix), [], 'nothing for the owner to do: apply repairs');
  const dry = await run('apply', '-f', file, '--dry-run');
  t.regex(dry.stdout, /its old pair, renamed moved1 in ns-demo-api, is deleted first/, dry.stdout);
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  t.notRegex(ip(['-o', 'link'], 'vpcr-demo'), /moved0/, 'the old pair is gone');
  t.notRegex(ip(['-o', 'link'], 'ns-demo-api'), /moved1/, 'the old pair is gone');
  t.is((await run('status')).code, 0);
  for (const ns of NAMESPACES) t.is(nsId(ns), ids[ns], `${ns} was not rebuilt`);
  t.deepEqual(await appPids(), pids, 'the apps kept running');
  await worksAsDeclared(t);
});

test.serial("two subnets' router ends swapped by name: status leaves it to apply, which makes both pairs again by their own ends, rebuilding nothing", async (t) => {
  const pids = await appPids();
  ip(['link', 'set', 'sn-0a000100', 'name', 'swap0'], 'vpcr-demo');
  ip(['link', 'set', 'sn-0a000200', 'name', 'sn-0a000100'], 'vpcr-demo');
  ip(['link', 'set', 'swap0', 'name', 'sn-0a000200'], 'vpcr-demo');
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  t.true(['subnet demo/web', 'subnet demo/db'].every((o) => json.drift.some((d) => d.object === o)), JSON.stringify(json.drift));
  t.deepEqual(json.drift.filter((d) => d.fix), [], "no route of vpcctl's own for the owner to delete: apply repairs");
  const dry = await run('apply', '-f', file, '--dry-run');
  t.regex(dry.stdout, /its old pair, renamed sn-0a000200 in vpcr-demo, is deleted first/, dry.stdout);
  t.regex(dry.stdout, /its old pair, renamed sn-0a000100 in vpcr-demo, is deleted first/, dry.stdout);
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  t.is((await run('status')).code, 0);
  const alias = (name: string) => /alias (\S+)/.exec(ip(['-d', 'link', 'show', name], 'vpcr-demo'))?.[1];
  t.is(alias('sn-0a000100'), 'vpcctl:subnet:demo/web');
  t.is(alias('sn-0a000200'), 'vpcctl:subnet:demo/db');
  for (const ns of NAMESPACES) t.is(nsId(ns), ids[ns], `${ns} was not rebuilt`);
  t.deepEqual(await appPids(), pids, 'the apps kept running');
  await worksAsDeclared(t);
});

test.serial("a renamed pair's repair runs last: an apply that fails elsewhere first leaves the renamed subnet as it was, working", async (t) => {
  ip(['link', 'set', 'sn-0a000300', 'name', 'moved0'], 'vpcr-demo');
  ip(['link', 'set', 'eth0', 'name', 'moved1'], 'ns-demo-api');
  // db's route to its VPC taken by someone's bridge: that repair is refused.
  ip(['link', 'add', 'br9', 'type', 'bridge'], 'ns-demo-db');
  ip(['link', 'set', 'br9', 'up'], 'ns-demo-db');
  ip(['route', 'replace', '10.0.0.0/16', 'dev', 'br9'], 'ns-demo-db');
  const r = await run('apply', '-f', file);
  t.is(r.code, 1, r.stdout);
  t.notRegex(r.stderr, /not rolled back/, r.stderr);
  t.regex(ip(['-o', 'link'], 'ns-demo-api'), /moved1/, 'the renamed pair was not touched');
  t.true(await tcp('ns-demo-api', '10.0.1.2', 80), 'api still reaches web through it');
  ip(['route', 'del', '10.0.0.0/16'], 'ns-demo-db');
  ip(['link', 'del', 'br9'], 'ns-demo-db');
  t.is((await run('apply', '-f', file)).code, 0);
  t.notRegex(ip(['-o', 'link'], 'ns-demo-api'), /moved1/);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

/** api's router end moved to the host as host0 and made someone's (tagged "mine"): its peer is no longer vpcctl's to delete. */
const apiRouterEndToHost = () => {
  ip(['link', 'set', 'sn-0a000300', 'name', 'host0'], 'vpcr-demo');
  ip(['link', 'set', 'host0', 'netns', '1'], 'vpcr-demo');
  ip(['link', 'set', 'host0', 'alias', 'mine']);
};

test.serial("a renamed pair whose router end was moved to the host and re-tagged: not vpcctl's to delete; status's fix and apply's refusal agree", async (t) => {
  apiRouterEndToHost();
  ip(['link', 'set', 'eth0', 'name', 'moved1'], 'ns-demo-api');
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  t.regex(json.drift.find((d) => d.fix)?.fix ?? '', /^a route on moved1 holds default in ns-demo-api/, JSON.stringify(json.drift));
  const r = await run('apply', '-f', file);
  t.is(r.code, 1, r.stdout);
  t.regex(ip(['-o', 'link', 'show', 'host0']), /host0/, 'the host link is left alone');
  t.regex(ip(['-o', 'link'], 'ns-demo-api'), /moved1/);
  ip(['link', 'del', 'host0']);
  t.is((await run('apply', '-f', file)).code, 0);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

test.serial("two tagged veths in a subnet's namespace, one whose peer went to the host: the repair takes only the pair whose ends name each other", async (t) => {
  // An old end left tagged in ns-demo-api, its partner moved to the host and made someone's...
  apiRouterEndToHost();
  ip(['link', 'set', 'eth0', 'name', 'zz2'], 'ns-demo-api');
  ip(['route', 'del', 'default'], 'ns-demo-api');
  t.is((await run('apply', '-f', file)).code, 0);
  // ...then the new pair renamed at both ends.
  ip(['link', 'set', 'sn-0a000300', 'name', 'yy1'], 'vpcr-demo');
  ip(['link', 'set', 'eth0', 'name', 'yy2'], 'ns-demo-api');
  const dry = await run('apply', '-f', file, '--dry-run');
  t.regex(dry.stdout, /renamed yy2 in ns-demo-api, is deleted first/, dry.stdout);
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  t.regex(ip(['-o', 'link', 'show', 'host0']), /host0/, "the host's link is left alone");
  t.is((await run('status')).code, 0);
  ip(['link', 'del', 'host0']);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

test.serial("a subnet's router end moved to the host and made someone's: the end in place is not deleted with it; status's fix and apply's refusal agree", async (t) => {
  apiRouterEndToHost();
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  t.regex(json.drift.find((d) => d.fix)?.fix ?? '', /^a veth \(its peer moved to the host namespace, not tagged as vpcctl's\) that vpcctl did not make holds the name eth0 in ns-demo-api/, JSON.stringify(json.drift));
  const r = await run('apply', '-f', file);
  t.is(r.code, 1, r.stdout);
  t.regex(r.stderr, /link eth0 in netns "ns-demo-api": in the way: a veth \(its peer moved to the host namespace, not tagged/);
  t.regex(ip(['-o', 'link', 'show', 'host0']), /host0/, "the host's link is left alone");
  ip(['link', 'del', 'host0']);
  t.is((await run('apply', '-f', file)).code, 0);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

test.serial("a router's route moved onto another subnet's veth (vpcctl's, not going): status gives the fix apply needs", async (t) => {
  ip(['route', 'replace', '10.0.1.2/32', 'dev', 'sn-0a000200'], 'vpcr-demo');
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  t.regex(json.drift.find((d) => d.fix)?.fix ?? '', /^a route on sn-0a000200 holds 10\.0\.1\.2\/32 in vpcr-demo, .*'ip -n vpcr-demo route del 10\.0\.1\.2\/32'/, JSON.stringify(json.drift));
  t.is((await run('apply', '-f', file)).code, 1);
  ip(['route', 'del', '10.0.1.2/32'], 'vpcr-demo');
  t.is((await run('apply', '-f', file)).code, 0);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

test.serial("a veth of someone's at a renamed subnet end's place, carrying no tag: not taken for vpcctl's, and apply refuses past the routes on it", async (t) => {
  ip(['link', 'set', 'sn-0a000300', 'name', 'moved0'], 'vpcr-demo');
  ip(['link', 'set', 'eth0', 'name', 'moved1'], 'ns-demo-api');
  ip(['link', 'set', 'moved1', 'alias', 'someone'], 'ns-demo-api');
  ip(['link', 'set', 'moved0', 'alias', 'someone'], 'vpcr-demo');
  const r = await run('apply', '-f', file);
  t.is(r.code, 1, r.stdout);
  t.regex(ip(['-o', 'link'], 'ns-demo-api'), /moved1/, "someone's link is left alone");
  t.regex(ip(['-o', 'link'], 'vpcr-demo'), /moved0/, "someone's link is left alone");
  // Theirs to remove; then vpcctl's pair is made again.
  ip(['link', 'del', 'moved1'], 'ns-demo-api');
  t.is((await run('apply', '-f', file)).code, 0);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

test.serial('a namespace a killed command left pending: status lists it as pending, never as an orphan', async (t) => {
  const store = new StateStore(state);
  const before = await store.read();
  // As a command killed after making the subnet's namespace, before saving it: pending, not yet a subnet.
  const crashed = structuredClone(before);
  delete crashed.vpcs.demo!.subnets.api;
  crashed.pending = ['ns-demo-api'];
  await store.write(crashed);
  try {
    const report = JSON.parse((await run('status', '--json')).stdout) as { pending: string[]; orphaned: string[] };
    t.deepEqual(report.pending, ['ns-demo-api']);
    t.deepEqual(report.orphaned, [], "cleanup-all (the advice for orphans) would remove every VPC's objects");
  } finally {
    await store.write(before);
  }
  t.is((await run('status')).code, 0);
});

test.serial("vpcctl's own gateway veth renamed in the host: no fix is printed for the routes on it (apply makes the pair again, the routes go with the old one)", async (t) => {
  const vg = ip(['-o', 'link']).match(/\d+: (vg-[0-9a-f]+)@/)![1]!;
  ip(['link', 'set', 'dev', vg, 'name', 'zz0']);
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { detail: string; fix?: string }[] };
  t.true(json.drift.some((d) => d.detail.includes('dev zz0')), JSON.stringify(json.drift));
  t.deepEqual(json.drift.filter((d) => d.fix), [], 'nothing for the owner to do: apply repairs');
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

test.serial("a gateway's host end re-tagged: apply refuses it with a fix and rebuilds nothing (the VPC, its subnets and apps stay)", async (t) => {
  const line = ip(['-o', 'link']).split('\n').find((l) => l.includes('alias vpcctl:igw:demo'))!;
  const vg = line.match(/\d+: (vg-[0-9a-f]+)@/)![1]!;
  const pids = await appPids();
  ip(['link', 'set', vg, 'alias', 'other']);
  const json = JSON.parse((await run('status', '--json')).stdout) as { drift: { object: string; fix?: string }[] };
  t.regex(json.drift.find((d) => d.fix)?.fix ?? '', new RegExp(`^a veth tagged "other" that vpcctl did not make holds the name ${vg} in the host namespace`), JSON.stringify(json.drift));
  const r = await run('apply', '-f', file);
  t.is(r.code, 1, r.stdout);
  t.regex(r.stderr, /in the way: a veth tagged "other"/);
  for (const ns of NAMESPACES) t.is(nsId(ns), ids[ns], `${ns} was not rebuilt`);
  t.deepEqual(await appPids(), pids, 'the apps still run');
  ip(['link', 'set', vg, 'alias', 'vpcctl:igw:demo']);
  t.is((await run('status')).code, 0);
  await worksAsDeclared(t);
});

test.serial("an address deleted (a subnet's gateway on the router): apply puts it back", async (t) => {
  ip(['addr', 'del', '10.0.3.1/32', 'dev', 'sn-0a000300'], 'vpcr-demo');
  t.false(await ping('ns-demo-api', '10.0.2.2'), 'api lost its gateway');
  await detectAndRepair(t, { object: 'subnet demo/api', detail: /10\.0\.3\.1/ });
  await worksAsDeclared(t);
});

test.serial('a link set down: an idempotent create-subnet in that VPC sets it up again, the subnet keeps its namespace and apps', async (t) => {
  ip(['link', 'set', 'eth0', 'down'], 'ns-demo-db');
  t.false(await tcp('ns-demo-api', '10.0.2.2', 80), 'db is down');
  await detectAndRepair(t, { object: 'subnet demo/db', detail: /down/ },
    ['create-subnet', '--vpc', 'demo', '--name', 'api', '--cidr', '10.0.3.0/24', '--type', 'public']);
  await worksAsDeclared(t);
});

test.serial('sysctls set back (router forwarding, rp_filter, proxy_arp): named, written again', async (t) => {
  sysctl('vpcr-demo', 'net.ipv4.ip_forward', '0');
  t.false(await tcp('ns-demo-api', '10.0.2.2', 80), 'the router no longer forwards');
  await detectAndRepair(t, { object: 'vpc demo', detail: /forward/ });
  sysctl('vpcr-demo', 'net.ipv4.conf.all.rp_filter', '0');
  await detectAndRepair(t, { object: 'vpc demo', detail: /rp_filter/ });
  // Repaired by any command on the VPC too, not only by apply.
  sysctl('vpcr-demo', 'net.ipv4.conf.all.proxy_arp', '0');
  await detectAndRepair(t, { object: 'vpc demo', detail: /proxy_arp/ },
    ['create-subnet', '--vpc', 'demo', '--name', 'db', '--cidr', '10.0.2.0/24', '--type', 'private']);
  await worksAsDeclared(t);
});

test.serial("the host's vpcctl table deleted: named as the host's, the internet works again", async (t) => {
  nft(['delete', 'table', 'inet', 'vpcctl']);
  t.not(fetchFrom('ns-demo-api').status, 0, 'no masquerade: no internet');
  await detectAndRepair(t, { object: 'host', detail: /table.*missing/ });
  await worksAsDeclared(t);
});

test.serial("a peering's route deleted: apply-policy on the peer VPC repairs it", async (t) => {
  ip(['route', 'del', '10.0.0.0/16'], 'vpcr-other');
  t.false(await tcp('ns-other-app', '10.0.2.2', 80));
  const policy = join(dir, 'open.json');
  writeFileSync(policy, JSON.stringify({ ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }] }));
  await detectAndRepair(t, { object: 'peering demo other', detail: /10\.0\.0\.0\/16/ },
    ['apply-policy', '--vpc', 'other', '--subnet', 'app', '--policy', policy]);
  t.is((await run('remove-policy', '--vpc', 'other', '--subnet', 'app')).code, 0);
  await worksAsDeclared(t);
});

test.serial('no drift from moving counters nor from foreign tables beside ours (subnet and host)', async (t) => {
  nft(['add', 'table', 'inet', 'foreign'], 'ns-demo-web');
  nft(['add', 'chain', 'inet', 'foreign', 'in', '{ type filter hook input priority 10; policy accept; }'], 'ns-demo-web');
  nft(['add', 'table', 'ip', 'othertool']);
  nft(['add', 'chain', 'ip', 'othertool', 'fw', '{ type filter hook forward priority 5; policy accept; }']);
  nft(['add', 'rule', 'ip', 'othertool', 'fw', 'counter', 'accept']);
  await worksAsDeclared(t); // moves the counters of every table on the way
  for (let i = 0; i < 5; i++) await tcp('ns-demo-db', '10.0.1.2', 8080);
  const s = await run('status', '--json');
  t.is(s.code, 0, s.stdout);
  t.deepEqual(JSON.parse(s.stdout).drift, []);
  t.regex((await run('apply', '-f', file)).stdout, /^0 changes/m, 'nothing to repair: the no-op apply stays a no-op');
  t.regex(nft(['list', 'table', 'inet', 'foreign'], 'ns-demo-web'), /chain in/, 'the foreign table is untouched');
  t.regex(nft(['list', 'table', 'ip', 'othertool']), /counter/);
});

test.serial('a state without nft marks (written by an older vpcctl) is verified by content: in sync, and drift still found', async (t) => {
  const file = join(state, 'state.json');
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  t.truthy(saved.nftMarks?.['ns-demo-web'], 'marks are recorded per namespace');
  delete saved.nftMarks;
  writeFileSync(file, JSON.stringify(saved));
  const s = await run('status');
  t.is(s.code, 0, s.stdout);
  nft(['delete', 'table', 'inet', 'vpcctl'], 'ns-demo-web');
  await detectAndRepair(t, { object: 'subnet demo/web', detail: /table.*missing/ });
  t.truthy(JSON.parse(readFileSync(file, 'utf8')).nftMarks?.['ns-demo-web'], 'the repair recorded a mark again');
});

test.serial("the launcher's early read is kept only for the state it was made from", async (t) => {
  // The CLI starts the deep read of apply and status before it loads (cli/early.ts); findDrift
  // keeps that result only when the plan key, revision and nft marks are those of the state it
  // read. Here the early read is given a plan whose route to web is one the kernel never had,
  // and once it is over (its thread gone) the cache gets the true plan back. So the early result
  // (drift) differs from the truth (none), and which one findDrift returns shows whether it was
  // kept.
  const n = await native();
  const planFile = cacheFileOf(state);
  const stateFile = stateFileOf(state);
  t.is((await run('status')).code, 0, 'in sync, and the cache holds the current plan');
  const real = readFileSync(planFile, 'latin1');
  const nl = real.indexOf('\n');
  const ops = JSON.parse(real.slice(nl + 1)) as { op: string; ns: string; dst?: string }[];
  const at = ops.findIndex((o) => o.op === 'routeAdd' && o.ns === 'vpcr-demo' && o.dst === '10.0.1.2/32');
  t.true(at >= 0, "the plan holds the router's route to web");
  ops[at]!.dst = '10.0.99.2/32';
  const tampered = `${real.slice(0, nl)}\n${JSON.stringify(ops)}`;
  const restore = () => writeFileSync(planFile, real, 'latin1');
  /** verifyEarlyStart returns with its thread running under this name; it ends with the read. */
  const earlyRunning = () => readdirSync('/proc/self/task').some((tid) => {
    try { return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8') === 'vpcctl-early\n'; } catch { return false; }
  });
  /** An early read of the tampered plan, over when this returns; the cache holds the true plan again. */
  const startTampered = async (stateFile: string) => {
    writeFileSync(planFile, tampered, 'latin1');
    n.verifyEarlyStart(planFile, stateFile); // may be over already: it reads 6 namespaces
    while (earlyRunning()) await new Promise((r) => setTimeout(r, 2));
    restore();
  };
  const current = await new StateStore(state).read();
  const early = async (s: typeof current) => {
    await startTampered(stateFile);
    return findDrift(s, undefined, state, { early: true });
  };
  try {
    const kept = await early(current);
    t.is(kept.length, 1, 'same state: the early result is kept');
    t.like(kept[0]?.op, { op: 'routeAdd', ns: 'vpcr-demo', dst: '10.0.1.2/32' }, 'its drift names the op at that index');
    t.deepEqual(await early({ ...current, revision: (current.revision ?? 0) + 1 }), [], 'another revision: read again, in sync');
    const marks = { ...current.nftMarks, 'ns-demo-web': { gen: (current.nftMarks?.['ns-demo-web']?.gen ?? 0) + 1 } };
    t.deepEqual(await early({ ...current, nftMarks: marks }), [], 'other nft marks: read again (by content), in sync');
    t.deepEqual(await early({ ...current, vpcs: { ...current.vpcs, demo: { ...current.vpcs.demo!, cidr: '10.0.0.0/15' } } }).then((d) => d.filter((x) => x.op.op === 'routeAdd' && x.op.dst === '10.0.1.2/32')), [],
      'another plan key: not kept');
    t.deepEqual(await findDrift(current, undefined, state, { early: true }), [], 'taken once: nothing started, read now');
    await startTampered(stateFile);
    n.verifyEarlyCancel();
    t.is(await n.verifyEarlyTake(planFile, stateFile), null, 'a cancelled read is not handed out');
    await startTampered(`${stateFile}.other`);
    t.is(await n.verifyEarlyTake(planFile, stateFile), null, 'a read of another state file is not handed out');
  } finally {
    restore();
  }
  t.regex((await run('apply', '-f', file)).stdout, /^0 changes/m, 'the CLI with its own early read: a no-op');
  t.is((await run('status')).code, 0);
});

test.serial('a FIFO in place of the state file: apply and status refuse it at once, the early read included', async (t) => {
  // The early read starts only when the state dir has a cached plan: give this one a copy of the real one.
  const fifoDir = mkdtempSync('/run/vpcctl/drift-fifo-');
  mkdirSync(dirname(cacheFileOf(fifoDir)), { recursive: true });
  copyFileSync(cacheFileOf(state), cacheFileOf(fifoDir));
  execFileSync('mkfifo', [stateFileOf(fifoDir)]);
  const before = Date.now();
  for (const args of [['status'], ['apply', '-f', file]]) {
    const r = await vpcctl(fifoDir, args);
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, /state .*state\.json is a FIFO, not a regular file/);
  }
  t.true(Date.now() - before < 5000, 'nothing blocked on the FIFO');
  t.is((await run('status')).code, 0, 'the real state is untouched and in sync');
});

test.serial('anything but a regular file in place of the cached plan (a FIFO, a link to /dev/zero or to a file) is not read: rebuilt and replaced', async (t) => {
  const planFile = cacheFileOf(state);
  const target = join(dir, 'not-a-plan');
  writeFileSync(target, 'keep me\n');
  const places: Array<[string, () => void]> = [
    ['a FIFO', () => execFileSync('mkfifo', [planFile])],
    ['a link to /dev/zero', () => symlinkSync('/dev/zero', planFile)],
    ['a link to a file', () => symlinkSync(target, planFile)],
  ];
  for (const [what, make] of places) {
    rmSync(planFile, { force: true });
    make();
    const before = Date.now();
    for (const args of [['status'], ['apply', '-f', file]]) {
      const r = await run(...args);
      t.is(r.code, 0, `${what}: ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    t.true(Date.now() - before < 5000, `${what}: nothing blocked`);
    t.true(lstatSync(planFile).isFile(), `${what}: a regular file again`);
  }
  t.is(readFileSync(target, 'utf8'), 'keep me\n', 'nothing written through the link');
});

test.serial("status while another vpcctl holds the state's lock: says a change is in progress and whose; without the lock the same difference reads as before", async (t) => {
  const n = await native();
  // What status sees in the middle of another command's create: a namespace of ours made, not yet in the state.
  const made = 'ns-demo-coming';
  await n.netnsAdd(made, 'vpcctl:host:demo/coming');
  const lock = await n.lockFile(join(state, 'lock'), 1000); // this process writes its pid into the lock file
  try {
    const r = await run('status');
    t.is(r.code, 1);
    t.regex(r.stdout, new RegExp(`busy +a change is in progress \\(vpcctl pid ${process.pid} holds the state's lock\\)`));
    t.regex(r.stdout, new RegExp(`orphaned +netns ${made}`));
    const j = JSON.parse((await run('status', '--json')).stdout) as { inProgress?: unknown; orphaned: string[] };
    t.deepEqual(j.inProgress, { pid: process.pid });
    t.deepEqual(j.orphaned, [made]);
  } finally {
    lock.release();
  }
  const r = await run('status');
  t.is(r.code, 1);
  t.notRegex(r.stdout, /in progress/);
  t.regex(r.stdout, new RegExp(`orphaned +netns ${made} \\(tagged vpcctl's, not in the state\\)`));
  t.false('inProgress' in JSON.parse((await run('status', '--json')).stdout), 'absent once nobody holds the lock');
  await n.netnsDel(made);
  t.is((await run('status')).code, 0, 'in sync again');
});

test.serial("apply leaves the cache holding the saved state's full plan (built while the executor ran); a failed apply's cache is rebuilt by the next reader", async (t) => {
  const planFile = cacheFileOf(state);
  const { planKey } = await import('../../src/api/drift.js');
  const { fullPlan } = await import('../../src/plan/full.js');
  const { planJson } = await import('../../src/plan/ops.js');
  const store = new StateStore(state);
  const cacheOf = () => {
    const text = readFileSync(planFile, 'latin1');
    const nl = text.indexOf('\n');
    return { key: text.slice(0, nl), plan: text.slice(nl + 1) };
  };
  const grown = structuredClone(topology);
  grown.vpcs[0]!.subnets.push({ name: 'extra', cidr: '10.0.9.0/24', type: 'private' } as (typeof grown.vpcs)[0]['subnets'][0]);
  const grownFile = join(dir, 'grown.json');
  writeFileSync(grownFile, JSON.stringify(grown));
  const r = await run('apply', '-f', grownFile);
  t.is(r.code, 0, r.stderr);
  const saved = await store.read();
  t.truthy(saved.vpcs.demo!.subnets.extra);
  t.deepEqual(cacheOf(), { key: planKey(saved), plan: planJson(fullPlan(saved).ops) });

  // One more subnet, its plan failing (a fault injected): state and kernel stay as they were.
  grown.vpcs[0]!.subnets.push({ name: 'extra2', cidr: '10.0.10.0/24', type: 'private' } as (typeof grown.vpcs)[0]['subnets'][0]);
  writeFileSync(grownFile, JSON.stringify(grown));
  const failed = await vpcctl(state, ['apply', '-f', grownFile], { VPCCTL_FAULT_AT: '2' });
  t.not(failed.code, 0);
  const before = await store.read();
  t.true(!!before.vpcs.demo!.subnets.extra && !before.vpcs.demo!.subnets.extra2, 'the state is the one before');
  t.not(cacheOf().key, planKey(before), "the cache was built for the change's state while it ran");
  t.is((await run('status')).code, 0, 'in sync: the cache is only a cache');
  t.is(cacheOf().key, planKey(await store.read()), 'status rebuilt it for the saved state');
  for (const name of ['extra']) t.is((await run('delete-subnet', '--vpc', 'demo', '--name', name)).code, 0);
});
