import test from 'ava';
import { compilePolicy } from '../../src/firewall/policy.js';
import { FLOW_LOG_GROUP, flowLogPrefix, parseFlowLogPrefix } from '../../src/firewall/flow-log.js';
import { Repeats, formatEntry, parseSince, toEntry, type FlowLogEntry } from '../../src/model/flow-logs.js';
import { parsePolicy } from '../../src/model/schema.js';
import { plan } from '../../src/plan/planner.js';
import { policyOp } from '../../src/plan/build.js';
import { emptyState, type State, type VpcState } from '../../src/state/types.js';

type Obj = Record<string, any>;
const POLICY = parsePolicy({
  subnet: '10.0.1.0/24',
  default: 'deny',
  ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }, { port: 22, protocol: 'tcp', action: 'deny' }],
});
const rules = (objs: Obj[], chain: string) => objs.filter((o) => o.rule?.chain === chain).map((o) => o.rule);
const logOf = (r: Obj) => r.expr.find((e: Obj) => 'log' in e)?.log;

test('off: the table is exactly the one without flow logs', (t) => {
  t.deepEqual(compilePolicy(POLICY, { flowLogs: false }), compilePolicy(POLICY));
  t.false(JSON.stringify(compilePolicy(POLICY)).includes('"log"'));
});

test('on: a log rule with the same matches just before each verdict, the default last', (t) => {
  const objs = compilePolicy(POLICY, { flowLogs: true }) as Obj[];
  const ingress = rules(objs, 'ingress');
  t.deepEqual(ingress.map((r) => r.comment ?? logOf(r)?.prefix), [
    'established', 'invalid', 'loopback', 'ingress[0] ACCEPT', 'ingress[0]', 'ingress[1] REJECT', 'ingress[1]', 'default REJECT',
  ]);
  const log80 = ingress[3];
  t.is(log80.comment, undefined, "no comment: show-policy's counters stay one per rule");
  t.deepEqual(log80.expr, [
    { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['new'] } },
    { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 80 } },
    { limit: { rate: 100, per: 'second', burst: 200 } },
    { log: { prefix: 'ingress[0] ACCEPT', group: FLOW_LOG_GROUP } },
  ]);
  // The verdict rule after it is unchanged.
  t.deepEqual(ingress[4].expr.at(-1), { accept: null });
  // Egress has no rules: only the default's log rule, with the chain's verdict (deny).
  const egress = rules(objs, 'egress');
  t.is(logOf(egress.at(-1)).prefix, 'default REJECT');
  t.deepEqual(egress.at(-1).expr.slice(0, 2), [
    { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['new'] } },
    { limit: { rate: 100, per: 'second', burst: 200 } },
  ]);
});

test('prefixes round-trip; anything else is not ours', (t) => {
  t.deepEqual(parseFlowLogPrefix(flowLogPrefix('egress[12]', 'deny')), { rule: 'egress[12]', action: 'REJECT' });
  t.deepEqual(parseFlowLogPrefix('default ACCEPT'), { rule: 'default', action: 'ACCEPT' });
  for (const p of ['', 'default', 'ingress[x] ACCEPT', 'DROP: ', 'default DROP']) t.is(parseFlowLogPrefix(p), null, p);
});

const vpc = (flowLogs: boolean, policy = true): VpcState => ({
  name: 'v', cidr: '10.0.0.0/16', uplink: null, transit: null, ...(flowLogs ? { flowLogs: true as const } : {}),
  subnets: {
    web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', apps: [], ...(policy ? { policy: POLICY } : {}) },
    db: { name: 'db', cidr: '10.0.2.0/24', type: 'private', apps: [] },
  },
});
const stateOf = (v: VpcState): State => ({ ...emptyState(), vpcs: { v } });
const kernel = { namespaces: new Set(['vpcr-v', 'ns-v-web', 'ns-v-db']), hostForward: '1' };

test('policyOp: a subnet without a policy has a table only while its VPC logs', (t) => {
  t.is(policyOp(vpc(false), vpc(false).subnets.db!), null);
  const op = policyOp(vpc(true), vpc(true).subnets.db!) as Obj;
  t.is(op.ns, 'ns-v-db');
  t.true(JSON.stringify(op.ruleset).includes('"default ACCEPT"'));
});

test('the planner switches flow logs in place: one table per subnet replaced, nothing rebuilt', (t) => {
  const on = plan(stateOf(vpc(false)), stateOf(vpc(true)), kernel);
  t.deepEqual(on.ops.map((o) => `${o.op} ${(o as Obj).ns}`), ['nftApply ns-v-web', 'nftApply ns-v-db']);
  t.deepEqual(on.changes, ['enable flow logs of vpc v']);
  t.deepEqual(on.namespaces, []);
  const off = plan(stateOf(vpc(true)), stateOf(vpc(false)), kernel);
  t.deepEqual(off.ops.map((o) => `${o.op} ${(o as Obj).ns}`), ['nftApply ns-v-web', 'nftDelete ns-v-db']);
  t.deepEqual(off.changes, ['disable flow logs of vpc v']);
  t.deepEqual(plan(stateOf(vpc(true)), stateOf(vpc(true)), kernel).ops, []);
  // remove-policy while logging: the table stays, as allow-all with logs.
  const removed = plan(stateOf(vpc(true)), stateOf(vpc(true, false)), kernel);
  t.deepEqual(removed.ops.map((o) => o.op), ['nftApply']);
  t.true(JSON.stringify(removed.ops[0]).includes('"default ACCEPT"'));
});

const raw = { time: Date.UTC(2026, 11, 1, 3, 40, 0, 123), ns: 'ns-v-web', src: '10.0.2.2', dst: '10.0.1.2', sport: 43210, dport: 22, proto: 6, prefix: 'ingress[1] REJECT' };

test('a record becomes an entry and one line, as AWS flow logs name things', (t) => {
  const e = toEntry(raw, 'v', 'web')!;
  t.deepEqual(e, {
    time: '2026-12-01T03:40:00.123Z', vpc: 'v', subnet: 'web', src: '10.0.2.2', srcPort: 43210, dst: '10.0.1.2', dstPort: 22,
    protocol: 'tcp', action: 'REJECT', rule: 'ingress[1]',
  });
  t.is(formatEntry(e), '2026-12-01T03:40:00.123Z web 10.0.2.2:43210 -> 10.0.1.2:22 tcp REJECT ingress[1]');
  const icmp = toEntry({ ...raw, sport: undefined, dport: undefined, proto: 1, prefix: 'default ACCEPT' }, 'v', 'web')!;
  t.is(formatEntry(icmp), '2026-12-01T03:40:00.123Z web 10.0.2.2 -> 10.0.1.2 icmp ACCEPT default');
  t.is(toEntry({ ...raw, proto: 47 }, 'v', 'web')!.protocol, '47');
  const v6 = toEntry({ ...raw, src: 'fd00:b::2', dst: 'fd00:b:0:1::2' }, 'v', 'web')!;
  t.is(formatEntry(v6), '2026-12-01T03:40:00.123Z web [fd00:b::2]:43210 -> [fd00:b:0:1::2]:22 tcp REJECT ingress[1]');
  const icmp6 = toEntry({ ...raw, src: 'fd00:b::2', dst: 'fd00:b:0:1::2', sport: null, dport: null, proto: 58 }, 'v', 'web')!;
  t.is(formatEntry(icmp6), '2026-12-01T03:40:00.123Z web fd00:b::2 -> fd00:b:0:1::2 icmpv6 REJECT ingress[1]');
  t.is(toEntry({ ...raw, prefix: 'someone else' }, 'v', 'web'), null);
});

test('--since: durations and ISO times; anything else is bad input', (t) => {
  const now = 1_000_000_000_000;
  t.is(parseSince('5m', now), now - 300_000);
  t.is(parseSince('30s', now), now - 30_000);
  t.is(parseSince('2h', now), now - 7_200_000);
  t.is(parseSince('1d', now), now - 86_400_000);
  t.is(parseSince('2026-12-01T03:40:00Z', now), Date.UTC(2026, 11, 1, 3, 40));
  for (const bad of ['', '5', 'm', '5y', 'yesterday', '-5m', '12:00']) {
    t.throws(() => parseSince(bad, now), { message: /--since/ }, bad);
  }
});

test('repeats of one decision within the window are one entry (retransmitted SYNs), one per window after', (t) => {
  const r = new Repeats(10_000);
  const e = toEntry(raw, 'v', 'web') as FlowLogEntry;
  t.true(r.fresh(e, 0));
  t.false(r.fresh(e, 1000));
  t.false(r.fresh(e, 3000));
  t.true(r.fresh({ ...e, srcPort: 43211 }, 3000), 'another connection');
  t.true(r.fresh({ ...e, subnet: 'db' }, 3000), 'another subnet');
  t.true(r.fresh(e, 10_001), 'the next window');
});

/** A state dir with an empty ring dir, and the ring API (imported on use, as the tests above need none of it). */
async function ringFixture() {
  const fs = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const api = await import('../../src/api/flow-logs.js');
  const dir = fs.mkdtempSync(join(tmpdir(), 'vpcctl-ring-'));
  fs.mkdirSync(api.ringDir(dir));
  return { fs, join, dir, state: stateOf(vpc(true)), ...api };
}

test('a ring keeps the last N entries of a subnet, rewritten once per N/4; readRings merges subnets by time and skips a torn line', async (t) => {
  const { fs: { readFileSync, appendFileSync }, join, dir, state, Ring, readRings, ringDir } = await ringFixture();
  const entry = (i: number, subnet = 'web'): FlowLogEntry => ({ ...toEntry({ ...raw, time: raw.time + i * 1000, sport: 40000 + i }, 'v', subnet)! });
  const web = new Ring(join(ringDir(dir), 'ns-v-web.jsonl'), 4);
  const lines = () => readFileSync(join(ringDir(dir), 'ns-v-web.jsonl'), 'utf8').trim().split('\n').length;
  let most = 0;
  for (let i = 0; i < 12; i++) { web.add([entry(i)]); most = Math.max(most, lines()); }
  t.true(most <= 5, `at most N + N/4 lines, saw ${most}`);
  new Ring(join(ringDir(dir), 'ns-v-db.jsonl'), 4).add([entry(9.5, 'db')]);
  appendFileSync(join(ringDir(dir), 'ns-v-db.jsonl'), '{"time":"2026-12-01T0'); // a writer killed mid-line
  process.env.VPCCTL_FLOW_LOG_RING = '4';
  try {
    const all = readRings(state, dir, { vpc: 'v' });
    t.deepEqual(all.map((e) => `${e.subnet}:${e.srcPort}`), ['web:40008', 'web:40009', 'db:40009.5', 'web:40010', 'web:40011'], 'the last 4 of web and db\'s one, by time');
    t.deepEqual(readRings(state, dir, { vpc: 'v', subnet: 'db' }).length, 1);
    t.deepEqual(readRings(state, dir, { vpc: 'v', since: raw.time + 10_000 }).map((e) => e.srcPort), [40010, 40011]);
    t.throws(() => readRings(state, dir, { vpc: 'v', subnet: 'nope' }), { message: /subnet "nope" does not exist/ });
  } finally {
    delete process.env.VPCCTL_FLOW_LOG_RING;
  }
});

test('a ring is read and written as a regular file only: a FIFO or a link in its place is refused, never waited on or followed', async (t) => {
  const { fs: { readFileSync, symlinkSync, writeFileSync }, join, dir, state, Ring, readRings, ringDir } = await ringFixture();
  const { execFileSync } = await import('node:child_process');
  const file = join(ringDir(dir), 'ns-v-web.jsonl');
  execFileSync('mkfifo', [file]);
  t.throws(() => readRings(state, dir, { vpc: 'v', subnet: 'web' }), { message: /^flow log ring .*ns-v-web\.jsonl is a FIFO: not a ring vpcctl wrote; remove it$/ });
  t.throws(() => new Ring(file, 4), { message: /is a FIFO/ });

  // A link planted after the ring was opened: the next append neither follows it nor writes the target.
  const target = join(dir, 'elsewhere');
  writeFileSync(target, 'not yours\n');
  const other = join(ringDir(dir), 'ns-v-db.jsonl');
  const ring = new Ring(other, 4);
  symlinkSync(target, `${other}.link`);
  execFileSync('mv', ['-f', `${other}.link`, other]);
  t.throws(() => ring.add([toEntry({ ...raw }, 'v', 'db')!]), { message: /ns-v-db\.jsonl is a symbolic link: not a ring vpcctl wrote; remove it$/ });
  t.is(readFileSync(target, 'utf8'), 'not yours\n');
  t.throws(() => readRings(state, dir, { vpc: 'v', subnet: 'db' }), { message: /ns-v-db\.jsonl is a symbolic link: not a ring vpcctl wrote/ });

  // A hard link (another name of the state, say) in its place: not written to either.
  execFileSync('rm', ['-f', other]);
  execFileSync('ln', [target, other]);
  t.throws(() => ring.add([toEntry({ ...raw }, 'v', 'db')!]), { message: /is a file with 2 names \(a hard link\): not a ring vpcctl wrote/ });
  t.is(readFileSync(target, 'utf8'), 'not yours\n');
  // A FIFO swapped in after the ring was opened: refused at once (ENXIO), not waited on.
  execFileSync('rm', ['-f', other]);
  execFileSync('mkfifo', [other]);
  t.throws(() => ring.add([toEntry({ ...raw }, 'v', 'db')!]), { message: /ns-v-db\.jsonl is a FIFO: not a ring/ });
});

test('the rings\' directory must be a directory of its own, not a link to one elsewhere', async (t) => {
  const { fs: { mkdtempSync, rmSync, symlinkSync }, join, dir, state, readRings, ringDir } = await ringFixture();
  const elsewhere = mkdtempSync(join(dir, 'elsewhere-'));
  rmSync(ringDir(dir), { recursive: true });
  symlinkSync(elsewhere, ringDir(dir));
  t.throws(() => readRings(state, dir, { vpc: 'v' }), { message: /^flow log directory .*flow-logs is a symbolic link: not vpcctl's; remove it$/ });
});
