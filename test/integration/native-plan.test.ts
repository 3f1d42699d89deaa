import test from 'ava';
import * as native from '../../index.js';
import type { PlanOp } from '../../index.js';
import { VpcctlError } from '../../src/index.js';
import { executePlan, verifyPlan } from '../../src/native.js';
import { ip, netnsList, nft } from '../helpers/sandbox.js';

/**
 * Issue 19, the Node API: the native module's `execute` and `verify` take a
 * typed plan (`PlanOp[]`, index.d.ts) as well as its JSON, through the same
 * parser: the same kernel result, the same errors. vpcctl itself sends JSON
 * (src/native.ts: faster for big plans), which keeps working.
 */

const TAG = 'vpcctl-test';
const ruleset = (table: string) => [
  { chain: { family: 'inet', table, name: 'in', type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
  { rule: { family: 'inet', table, chain: 'in', expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { counter: null }, { accept: null }] } },
];

/** A small plan of every common kind: two namespaces, a veth, addresses, a route, a sysctl, a table. */
const plan = (a: string, b: string): PlanOp[] => [
  { op: 'netnsAdd', ns: a, tag: TAG },
  { op: 'netnsAdd', ns: b, tag: TAG },
  { op: 'vethAdd', ns: a, name: 'x0', alias: 'typed', peerNs: b, peerName: 'eth0', peerAlias: 'typed', mtu: 1400 },
  { op: 'addrAdd', ns: a, dev: 'x0', cidr: '192.0.2.1/24' },
  { op: 'addrAdd', ns: b, dev: 'eth0', cidr: '192.0.2.2/24' },
  { op: 'routeAdd', ns: b, dst: '198.51.100.0/24', via: '192.0.2.1', dev: 'eth0' },
  { op: 'sysctlSet', ns: a, key: 'net/ipv4/ip_forward', value: '1' },
  { op: 'nftApply', ns: b, family: 'inet', table: 'typed', ruleset: ruleset('typed') },
];

test.serial('execute and verify take typed ops: the kernel gets what the ops say; verify finds what is lost', async (t) => {
  const ops = plan('typed-a', 'typed-b');
  const r = await native.execute(ops, {});
  t.is(r.ops, ops.length);
  try {
    // iproute2 and nft as witnesses.
    t.deepEqual(netnsList().filter((n) => n.startsWith('typed-')), ['typed-a', 'typed-b']);
    t.regex(ip(['-o', 'link', 'show', 'x0'], 'typed-a'), /mtu 1400 .*alias typed/);
    t.regex(ip(['-o', 'addr', 'show', 'dev', 'eth0'], 'typed-b'), /inet 192\.0\.2\.2\/24/);
    t.regex(ip(['route', 'show', '198.51.100.0/24'], 'typed-b'), /via 192\.0\.2\.1 dev eth0/);
    t.regex(nft(['list', 'table', 'inet', 'typed'], 'typed-b'), /meta l4proto tcp counter packets \d+ bytes \d+ accept/);
    t.deepEqual(await native.verify(ops, { nft: r.nft }), [], 'typed verify: all holds');
    t.deepEqual(await native.verify(JSON.stringify(ops), { nft: r.nft }), [], 'the JSON of the same ops: all holds');
    ip(['route', 'del', '198.51.100.0/24'], 'typed-b');
    const typed = await native.verify(ops, { nft: r.nft });
    t.deepEqual(typed.map((d) => [d.index, d.kind]), [[5, 'missing']]);
    t.deepEqual(await native.verify(Buffer.from(JSON.stringify(ops)), { nft: r.nft }), typed, 'bytes: the same drift');
    // The library's typed wrappers (the only callers in vpcctl) send JSON and find the same.
    t.deepEqual(await verifyPlan(ops as never, { nft: r.nft }), typed);
  } finally {
    await native.netnsDel('typed-a');
    await native.netnsDel('typed-b');
  }
});

test.serial('a bad typed op is refused as its JSON is, before anything is made', async (t) => {
  const before = netnsList();
  const bad: PlanOp[] = [
    { op: 'netnsAdd', ns: 'typed-c', tag: TAG },
    // A ruleset naming another table than its op's: netkit's parser refuses it.
    { op: 'nftApply', ns: 'typed-c', family: 'inet', table: 'mine', ruleset: ruleset('theirs') },
  ];
  const typed = await t.throwsAsync(native.execute(bad));
  const json = await t.throwsAsync(native.execute(JSON.stringify(bad)));
  t.is(typed!.message, json!.message, 'one parser, one message');
  t.regex(typed!.message, /^\[INVALID\] /);
  t.deepEqual(netnsList(), before, 'nothing made');
  // A kind that does not exist, or a field missing or of the wrong type (what the compiler stops in TypeScript):
  // refused while the ops are read, naming the op, with netkit's INVALID code.
  const refused = async (ops: unknown) => (await t.throwsAsync(async () => native.execute(ops as PlanOp[])))!.message;
  t.regex(await refused([{ op: 'netnsAdd', ns: 'typed-d', tag: TAG }, { op: 'netnsMake', ns: 'typed-d' }]), /^\[INVALID\] invalid plan: op 2: .*netnsMake/);
  t.regex(await refused([{ op: 'netnsAdd', ns: 7, tag: TAG }]), /^\[INVALID\] invalid plan: op 1: .*ns/);
  t.regex(await refused([{ op: 'netnsAdd', ns: 'typed-d' }]), /^\[INVALID\] invalid plan: op 1: .*tag/);
  t.regex(await refused(42), /^\[INVALID\] invalid plan: expected an array of ops, or their JSON as a string or bytes/);
  t.deepEqual(netnsList(), before, 'nothing made');
  // Through the library: a VpcctlError with netkit's code.
  const lib = await t.throwsAsync(executePlan(bad as never));
  t.true(lib instanceof VpcctlError);
  t.like(lib, { code: 'KERNEL', native: 'INVALID' });
});

test.serial('executePlan (JSON inside) and a typed execute make the same kernel objects', async (t) => {
  const r = await executePlan(plan('typed-e', 'typed-f') as never);
  try {
    t.is(r.ops, 8);
    t.deepEqual(await native.verify(plan('typed-e', 'typed-f'), { nft: r.nft }), []);
    t.regex(ip(['-o', 'link', 'show', 'x0'], 'typed-e'), /mtu 1400 .*alias typed/);
  } finally {
    await native.netnsDel('typed-e');
    await native.netnsDel('typed-f');
  }
});
