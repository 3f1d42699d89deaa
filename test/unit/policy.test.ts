import test from 'ava';
import { compilePolicy, ruleComment } from '../../src/firewall/policy.js';
import { parsePolicy } from '../../src/model/schema.js';

const SEED = {
  subnet: '10.0.1.0/24',
  ingress: [
    { port: 80, protocol: 'tcp', action: 'allow' },
    { port: 22, protocol: 'tcp', action: 'deny' },
  ],
};

type Obj = Record<string, any>;
const compile = (doc: unknown): Obj[] => compilePolicy(parsePolicy(doc)) as Obj[];
const chains = (objs: Obj[]) => objs.filter((o) => o.chain).map((o) => o.chain);
const rules = (objs: Obj[], chain: string) => objs.filter((o) => o.rule?.chain === chain).map((o) => o.rule);
/** The user's rule compiled from `ingress[i]` / `egress[i]`. */
const userRule = (objs: Obj[], comment: string) => objs.find((o) => o.rule?.comment === comment)!.rule;
const tcpDport = (right: unknown) => ({ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right } });

test('every object lives in table inet vpcctl', (t) => {
  const objs = compile(SEED);
  t.true(objs.length > 0);
  for (const o of objs) {
    const body = Object.values(o)[0] as Obj;
    t.is(Object.keys(o).length, 1);
    t.is(body.family, 'inet');
    t.is(body.table, 'vpcctl');
  }
});

test("the seed's policy: two base chains, stateful prelude, rules in order", (t) => {
  const objs = compile(SEED);
  t.deepEqual(chains(objs), [
    { family: 'inet', table: 'vpcctl', name: 'ingress', type: 'filter', hook: 'input', prio: 0, policy: 'accept' },
    { family: 'inet', table: 'vpcctl', name: 'egress', type: 'filter', hook: 'output', prio: 0, policy: 'accept' },
  ]);
  const ingress = rules(objs, 'ingress');
  t.deepEqual(ingress.map((r) => r.comment), ['established', 'invalid', 'loopback', 'ingress[0]', 'ingress[1]']);
  t.deepEqual(ingress[0].expr, [
    { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } },
    { accept: null },
  ]);
  t.deepEqual(ingress[1].expr, [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: ['invalid'] } }, { drop: null }]);
  t.deepEqual(ingress[2].expr, [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'lo' } }, { accept: null }]);
  t.deepEqual(ingress[3].expr, [tcpDport(80), { counter: null }, { accept: null }]);
  t.deepEqual(ingress[4].expr, [tcpDport(22), { counter: null }, { drop: null }]);
  // Egress has the prelude (loopback on oifname) and no user rules.
  const egress = rules(objs, 'egress');
  t.deepEqual(egress.map((r) => r.comment), ['established', 'invalid', 'loopback']);
  t.deepEqual(egress[2].expr[0], { match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'lo' } });
});

test('ranges and port lists become one anonymous set, sorted and merged', (t) => {
  const objs = compile({
    subnet: '10.0.1.0/24',
    ingress: [
      { port: '8000-8100', action: 'allow' },
      { port: [443, 80, '8000-8100', 8050, 81], protocol: 'udp', action: 'allow' },
    ],
  });
  t.deepEqual(userRule(objs, 'ingress[0]').expr[0], tcpDport({ range: [8000, 8100] }));
  t.deepEqual(userRule(objs, 'ingress[1]').expr[0], {
    match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: { set: [{ range: [80, 81] }, 443, { range: [8000, 8100] }] } },
  });
});

test('cidr scoping: ingress matches the source, egress the destination', (t) => {
  const objs = compile({
    subnet: '10.0.1.0/24',
    ingress: [{ port: 5432, action: 'allow', cidr: ['10.0.2.0/24', '10.0.0.0/16', '192.168.1.7/32'] }],
    egress: [{ cidr: '10.9.0.0/16', action: 'deny' }, { cidr: '0.0.0.0/0', protocol: 'udp', action: 'allow' }],
  });
  const ingress = userRule(objs, 'ingress[0]');
  // 10.0.2.0/24 lies inside 10.0.0.0/16 and is dropped (interval sets refuse overlaps).
  t.deepEqual(ingress.expr[0], {
    match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { set: [{ prefix: { addr: '10.0.0.0', len: 16 } }, '192.168.1.7'] } },
  });
  t.deepEqual(ingress.expr[1], tcpDport(5432));
  t.deepEqual(userRule(objs, 'egress[0]').expr, [
    { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '10.9.0.0', len: 16 } } } },
    { counter: null },
    { drop: null },
  ]);
  // 0.0.0.0/0 means any IPv4 peer; protocol without a port is an l4proto match, by number.
  t.deepEqual(userRule(objs, 'egress[1]').expr.slice(0, 2), [
    { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } },
    { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 17 } },
  ]);
});

test('icmp and all: protocol match or none', (t) => {
  const objs = compile({ subnet: '10.0.1.0/24', ingress: [{ protocol: 'icmp', action: 'allow' }, { action: 'deny' }] });
  t.deepEqual(userRule(objs, 'ingress[0]').expr, [
    { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 1 } },
    { counter: null },
    { accept: null },
  ]);
  t.deepEqual(userRule(objs, 'ingress[1]').expr, [{ counter: null }, { drop: null }]);
});

test('default deny sets both chain policies to drop', (t) => {
  const objs = compile({ ...SEED, default: 'deny', egress: [{ port: 53, protocol: 'udp', action: 'allow' }] });
  t.deepEqual(chains(objs).map((c) => [c.name, c.policy]), [['ingress', 'drop'], ['egress', 'drop']]);
  t.deepEqual(userRule(objs, 'egress[0]').expr[0], {
    match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 53 },
  });
});

test('ruleComment keys a rule by its direction and index', (t) => {
  t.is(ruleComment('egress', 3), 'egress[3]');
});
