import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, freshStateDir, ip, netnsList, vpcctl } from '../helpers/sandbox.js';
import { diffStates, type PlanDiff } from '../../src/plan/diff.js';

// Issue 19, "Plans and destructive commands": plans by object, every error of a file, prunes that
// remove only their own, confirmation on a terminal, -f - and -f DIR. Checked through the CLI.
const dir = mkdtempSync('/run/vpcctl/planux-');
const write = (name: string, body: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  return path;
};
const readState = (state: string) => JSON.parse(readFileSync(join(state, 'state.json'), 'utf8'));
const lines = (text: string) => text.split('\n').filter(Boolean);

/**
 * Runs the CLI on a pseudo-terminal (python3's pty module: stdin, stdout and
 * stderr are the terminal), answers `answer` when asked, and returns all it
 * printed and its exit code. `asked` says whether a question came.
 */
function onTerminal(state: string, args: string[], answer: string): { code: number; out: string; asked: boolean } {
  const py = `
import os, pty, select, sys, json
argv = json.loads(sys.argv[1]); answer = sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b''; sent = False
while True:
    r, _, _ = select.select([fd], [], [], 60)
    if not r: break
    try: data = os.read(fd, 4096)
    except OSError: break
    if not data: break
    out += data
    if not sent and b'[y/N]' in out:
        os.write(fd, (answer + '\\n').encode()); sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, JSON.stringify([process.execPath, CLI, ...args]), answer], {
    encoding: 'utf8', env: { ...process.env, VPCCTL_STATE_DIR: state, NO_COLOR: '1' }, timeout: 90_000,
  });
  return { code: r.status ?? -1, out: r.stdout.replace(/\r/g, ''), asked: r.stdout.includes('[y/N]') };
}

const shop = (over: { webType?: string; dbPolicy?: unknown; withCache?: boolean; name?: string } = {}) => ({
  ...(over.name ? { name: over.name } : {}),
  vpcs: [{
    name: 'shop', cidr: '10.70.0.0/16', subnets: [
      { name: 'web', cidr: '10.70.1.0/24', type: over.webType ?? 'private' },
      { name: 'db', cidr: '10.70.2.0/24', type: 'private', ...(over.dbPolicy ? { policy: over.dbPolicy } : {}) },
      ...(over.withCache === false ? [] : [{ name: 'cache', cidr: '10.70.3.0/24', type: 'private' }]),
    ],
  }],
});
const POLICY = { ingress: [{ port: 5432, action: 'allow' }, { port: 22, action: 'deny' }], default: 'deny' };

test.serial('plan: + for what is made, ~ with before -> after and policy rules, - for what goes, a summary line; --json the same as data', async (t) => {
  const state = freshStateDir();
  const file = write('shop.json', shop());
  const created = await vpcctl(state, ['plan', '-f', file]);
  t.is(created.code, 0, created.stderr);
  t.deepEqual(lines(created.stdout).slice(1), ['+ vpc shop', '+ subnet shop/web', '+ subnet shop/db', '+ subnet shop/cache', '4 to add, 0 to change, 0 to delete']);
  const json = JSON.parse((await vpcctl(state, ['apply', '-f', file, '--dry-run', '--json'])).stdout) as PlanDiff & { operations: number };
  t.deepEqual(json.summary, { add: 4, change: 0, delete: 0 });
  t.deepEqual(json.items.map((i) => [i.action, i.kind, i.name]), [['create', 'vpc', 'shop'], ['create', 'subnet', 'shop/web'], ['create', 'subnet', 'shop/db'], ['create', 'subnet', 'shop/cache']]);
  t.true(json.operations > 10);
  t.deepEqual(netnsList(), [], 'a plan makes nothing');
  t.is((await vpcctl(state, ['apply', '-f', file])).code, 0);

  writeFileSync(file, JSON.stringify(shop({ webType: 'public', dbPolicy: POLICY, withCache: false })));
  const changed = await vpcctl(state, ['diff', '-f', file, '--prune']);
  t.is(changed.code, 0, changed.stderr);
  t.deepEqual(lines(changed.stdout).slice(1), [
    '~ subnet shop/web: type private -> public',
    '~ subnet shop/db: policy (none) -> set',
    '    + ingress allow tcp 5432 from any',
    '    + ingress deny tcp 22 from any',
    '    + default deny',
    '- subnet shop/cache',
    '0 to add, 2 to change, 1 to delete',
  ]);
  const data = JSON.parse((await vpcctl(state, ['plan', '-f', file, '--prune', '--json'])).stdout) as PlanDiff;
  t.deepEqual(data.items[0], { action: 'change', kind: 'subnet', name: 'shop/web', attributes: [{ attribute: 'type', before: 'private', after: 'public' }] });
  t.deepEqual(data.items[1]!.policy, { added: ['ingress allow tcp 5432 from any', 'ingress deny tcp 22 from any', 'default deny'], removed: [] });
  t.like(data.items[2], { action: 'delete', kind: 'subnet', name: 'shop/cache' });

  // What the plan said is what apply does: the states before and after differ by exactly the plan's items.
  const before = readState(state);
  t.is((await vpcctl(state, ['apply', '-f', file, '--prune'])).code, 0);
  t.deepEqual(diffStates(before, readState(state)).items, data.items);
  t.false(netnsList().includes('ns-shop-cache'));

  // A policy changed in place: the rules added and removed.
  writeFileSync(file, JSON.stringify(shop({ webType: 'public', withCache: false, dbPolicy: { ...POLICY, ingress: [{ port: 5432, action: 'allow' }, { port: 443, action: 'allow' }] } })));
  const rules = await vpcctl(state, ['plan', '-f', file]);
  t.deepEqual(lines(rules.stdout).slice(1), ['~ subnet shop/db: policy', '    - ingress deny tcp 22 from any', '    + ingress allow tcp 443 from any', '0 to add, 1 to change, 0 to delete']);
  t.is((await vpcctl(state, ['cleanup-all'])).code, 0);
});

test.serial('an identical policy plans as nothing, also from a policy file that carries its subnet', async (t) => {
  const state = freshStateDir();
  const file = write('same-policy.json', shop({ dbPolicy: POLICY }));
  t.is((await vpcctl(state, ['apply', '-f', file])).code, 0);
  const policy = write('db-policy.json', { subnet: '10.70.2.0/24', ...POLICY });
  const again = await vpcctl(state, ['apply-policy', '--vpc', 'shop', '--policy', policy]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /nothing changed/);
  const bare = () => { const { revision: _r, lastApply: _l, checksum: _c, ...rest } = readState(state); return rest; };
  const stateBefore = bare();
  const plan = await vpcctl(state, ['plan', '-f', file, '--json']);
  t.like(JSON.parse(plan.stdout), { items: [], operations: 0, summary: { add: 0, change: 0, delete: 0 } });
  t.is((await vpcctl(state, ['apply', '-f', file])).stdout, '0 changes\n');
  t.deepEqual(bare(), stateBefore, 'nothing changed but bookkeeping');
  t.is((await vpcctl(state, ['cleanup-all'])).code, 0);
});

test.serial('validation reports every error of a file, each with its path, exit 2', async (t) => {
  const state = freshStateDir();
  const shape = write('shape.json', { vpcs: [{ name: 'a', cidr: '10.80.0.0/16', subnets: [
    { name: 'x', cidr: '10.80.1.0/24', type: 'pubic' }, { name: 'y', cidr: '10.80.2.0/24' }, { name: 'z', cidr: '10.80.3.0/24', type: 'private', nmae: 1 },
  ] }] });
  const r = await vpcctl(state, ['apply', '-f', shape]);
  t.is(r.code, 2);
  t.deepEqual(lines(r.stderr), [
    'vpcctl: vpcs[0].subnets[0].type: "pubic" is not one of public, private',
    'vpcctl: vpcs[0].subnets[1].type: is required',
    'vpcctl: vpcs[0].subnets[2]: unknown field "nmae"',
  ]);
  const meaning = write('meaning.json', { vpcs: [
    { name: 'a', cidr: '10.80.0.0/16', subnets: [{ name: 'x', cidr: '10.80.1.0/24', type: 'public', egress: 'nat' }, { name: 'y', cidr: '10.80.1.128/25', type: 'private' }] },
    { name: 'a', cidr: '10.81.0.0/16' },
  ], peerings: [{ vpc1: 'a', vpc2: 'nope' }] });
  const m = await vpcctl(state, ['plan', '-f', meaning]);
  t.is(m.code, 2);
  const got = lines(m.stderr);
  t.is(got.length, 4, m.stderr);
  t.regex(got[0]!, /^vpcctl: vpcs\[0\]\.subnets\[0\]\.egress: egress nat applies to private subnets only/);
  t.regex(got[1]!, /^vpcctl: vpcs\[0\]\.subnets\[1\]: 10\.80\.1\.128\/25 overlaps subnet "x"/);
  t.regex(got[2]!, /^vpcctl: vpcs\[1\]\.name: vpc "a" is also defined at vpcs\[0\]/);
  t.regex(got[3]!, /^vpcctl: peerings\[0\]: vpc "nope" does not exist/);
  t.deepEqual(netnsList(), []);
});

test.serial('--prune removes only what an earlier apply of the same topology made; the rest is listed as kept', async (t) => {
  const state = freshStateDir();
  const a = write('a.json', shop());
  const b = write('b.json', { vpcs: [{ name: 'other', cidr: '10.71.0.0/16', subnets: [{ name: 'x', cidr: '10.71.1.0/24', type: 'private' }] }] });
  for (const f of [a, b]) t.is((await vpcctl(state, ['apply', '-f', f])).code, 0);
  t.is((await vpcctl(state, ['create-vpc', '--name', 'byhand', '--cidr', '10.72.0.0/16'])).code, 0);
  t.is((await vpcctl(state, ['create-subnet', '--vpc', 'shop', '--name', 'manual', '--cidr', '10.70.9.0/24'])).code, 0);
  t.like(readState(state).vpcs.shop, { owner: `file ${a}`, subnets: { web: { owner: `file ${a}` } } });
  t.is(readState(state).vpcs.shop.subnets.manual.owner, undefined);

  // a.json without cache: prune removes cache only; b's VPC, the hand-made VPC and subnet stay, listed as kept.
  writeFileSync(a, JSON.stringify(shop({ withCache: false })));
  const plan = await vpcctl(state, ['plan', '-f', a, '--prune']);
  t.deepEqual(lines(plan.stdout).slice(1), [
    '- subnet shop/cache',
    '  kept vpc other: made by file ' + b,
    '  kept vpc byhand: not made by an apply of this topology (made by a command, or before vpcctl recorded owners)',
    '  kept subnet shop/manual: not made by an apply of this topology (made by a command, or before vpcctl recorded owners)',
    '0 to add, 0 to change, 1 to delete',
  ]);
  const r = await vpcctl(state, ['apply', '-f', a, '--prune']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(netnsList().filter((n) => n.startsWith('ns-')), ['ns-other-x', 'ns-shop-db', 'ns-shop-manual', 'ns-shop-web']);
  t.regex(r.stdout, /kept vpc other: made by file/);

  // A file that drops its VPC: the VPC holds a hand-made subnet, so it stays with that one; its own subnets go.
  writeFileSync(a, JSON.stringify({ vpcs: [] }));
  t.is((await vpcctl(state, ['apply', '-f', a, '--prune'])).code, 0);
  t.deepEqual(Object.keys(readState(state).vpcs.shop.subnets), ['manual']);
  t.true(netnsList().includes('vpcr-other') && netnsList().includes('vpcr-byhand'));

  // A state from before owners were recorded: nothing is owned, nothing is pruned.
  const old = readState(state);
  writeFileSync(b, JSON.stringify({ vpcs: [] }));
  delete old.vpcs.other.owner;
  delete old.vpcs.other.subnets.x.owner;
  delete old.checksum;
  writeFileSync(join(state, 'state.json'), JSON.stringify(old));
  const legacy = await vpcctl(state, ['apply', '-f', b, '--prune']);
  t.is(legacy.code, 0, legacy.stderr);
  t.regex(legacy.stdout, /kept vpc other: not made by an apply of this topology/);
  t.true(netnsList().includes('ns-other-x'));

  // A topology with a name owns what it made wherever its file is.
  const named1 = write('named1.json', { name: 'lab', vpcs: [{ name: 'lab', cidr: '10.73.0.0/16' }] });
  t.is((await vpcctl(state, ['apply', '-f', named1])).code, 0);
  const named2 = write('named2.json', { name: 'lab', vpcs: [] });
  t.is((await vpcctl(state, ['apply', '-f', named2, '--prune'])).code, 0);
  t.false(netnsList().includes('vpcr-lab'));
  t.is((await vpcctl(state, ['cleanup-all'])).code, 0);
});

test.serial('destructive commands ask on a terminal, showing what goes; --yes and no terminal do not ask', async (t) => {
  const state = freshStateDir();
  const file = write('ask.json', shop());
  t.is((await vpcctl(state, ['apply', '-f', file])).code, 0);

  const no = onTerminal(state, ['destroy', '-f', file], 'n');
  t.true(no.asked, no.out);
  t.regex(no.out, /This will delete:\n {2}- vpc shop\n {2}- subnet shop\/web\n/);
  t.regex(no.out, /cancelled: nothing was changed/);
  t.is(no.code, 1);
  t.true(netnsList().includes('vpcr-shop'), 'refused: nothing removed');

  const nod = onTerminal(state, ['delete-vpc', '--name', 'shop'], 'no');
  t.true(nod.asked);
  t.is(nod.code, 1);
  t.true(netnsList().includes('vpcr-shop'));

  writeFileSync(file, JSON.stringify(shop({ withCache: false })));
  const prune = onTerminal(state, ['apply', '-f', file, '--prune'], 'n');
  t.true(prune.asked);
  t.regex(prune.out, /- subnet shop\/cache/);
  t.true(netnsList().includes('ns-shop-cache'));
  const pruneYes = onTerminal(state, ['apply', '-f', file, '--prune'], 'y');
  t.is(pruneYes.code, 0, pruneYes.out);
  t.false(netnsList().includes('ns-shop-cache'));

  const cleanup = onTerminal(state, ['cleanup-all'], '');
  t.true(cleanup.asked);
  t.regex(cleanup.out, /- netns vpcr-shop/);
  t.is(cleanup.code, 1);
  t.true(netnsList().includes('vpcr-shop'));

  const yes = onTerminal(state, ['destroy', '-f', file, '-y'], 'n');
  t.false(yes.asked, '--yes: no question');
  t.is(yes.code, 0, yes.out);
  t.false(netnsList().includes('vpcr-shop'));

  // No terminal (a script): as before, no question.
  t.is((await vpcctl(state, ['apply', '-f', file])).code, 0);
  const script = await vpcctl(state, ['delete-vpc', '--name', 'shop']);
  t.is(script.code, 0, script.stderr);
  t.notRegex(script.stderr, /\[y\/N\]/);
  t.false(netnsList().includes('vpcr-shop'));
  const ok = onTerminal(state, ['cleanup-all'], 'y');
  t.is(ok.code, 0, ok.out);
});

test.serial('-f - reads standard input; -f DIR applies every topology file in it as one; bad inputs get one line, exit 2', async (t) => {
  const state = freshStateDir();
  const stdin = spawnSync(process.execPath, [CLI, 'apply', '-f', '-'], {
    input: 'vpcs:\n  - { name: piped, cidr: 10.74.0.0/16, subnets: [{ name: a, cidr: 10.74.1.0/24, type: private }] }\n',
    encoding: 'utf8', env: { ...process.env, VPCCTL_STATE_DIR: state, NO_COLOR: '1' },
  });
  t.is(stdin.status, 0, stdin.stderr);
  t.true(netnsList().includes('ns-piped-a'));
  t.is(readState(state).vpcs.piped.owner, 'stdin');

  const topo = join(dir, 'topo.d');
  mkdirSync(topo);
  writeFileSync(join(topo, '10-left.yaml'), 'vpcs:\n  - { name: left, cidr: 10.75.0.0/16, subnets: [{ name: a, cidr: 10.75.1.0/24, type: private }] }\n');
  writeFileSync(join(topo, '20-right.json'), JSON.stringify({ vpcs: [{ name: 'right', cidr: '10.76.0.0/16', subnets: [{ name: 'b', cidr: '10.76.1.0/24', type: 'private' }] }], peerings: [{ vpc1: 'left', vpc2: 'right' }] }));
  writeFileSync(join(topo, 'README.txt'), 'not a topology');
  const plan = await vpcctl(state, ['plan', '-f', topo]);
  t.is(plan.code, 0, plan.stderr);
  t.deepEqual(lines(plan.stdout).slice(1), ['+ vpc left', '+ subnet left/a', '+ vpc right', '+ subnet right/b', '+ peering left <-> right', '5 to add, 0 to change, 0 to delete']);
  t.is((await vpcctl(state, ['apply', '-f', topo])).code, 0);
  t.regex(ip(['route'], 'vpcr-left'), /10\.76\.0\.0\/16/, 'the peering across the two files is made');
  t.is(readState(state).vpcs.right.owner, `dir ${topo}`);

  // An error in the second file names that file and its own path.
  writeFileSync(join(topo, '30-bad.yaml'), 'vpcs:\n  - { name: bad, cidr: 10.77.0.0/99 }\n');
  const bad = await vpcctl(state, ['apply', '-f', topo]);
  t.is(bad.code, 2);
  t.deepEqual(lines(bad.stderr), [`vpcctl: ${topo}/30-bad.yaml: vpcs[0].cidr: 10.77.0.0/99 is not a CIDR`]);

  for (const [args, message] of [
    [['apply', '-f', '/dev/zero'], /^vpcctl: topology \/dev\/zero is a character device: give a regular file$/],
    [['apply-policy', '--vpc', 'left', '--policy', topo], /^vpcctl: policy .* is a directory: give a regular file$/],
    [['apply', '-f', join(dir, 'empty.d')], /^vpcctl: topology directory .* holds no \*\.yaml, \*\.yml or \*\.json file$/],
    [['graph', '--output-file', topo], /^vpcctl: .* is a directory: give a file to write to$/],
  ] as const) {
    if (args[2]?.endsWith('empty.d')) mkdirSync(args[2]);
    const r = await vpcctl(state, [...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(lines(r.stderr).length, 1, r.stderr);
    t.regex(r.stderr.trim(), message);
  }
  t.is((await vpcctl(state, ['cleanup-all'])).code, 0);
});
