import test from 'ava';
import { diffLines, diffStates, ruleText } from '../../src/plan/diff.js';
import { policyMeaning, storedPolicy } from '../../src/model/policy-meaning.js';
import { emptyState, type State, type SubnetState } from '../../src/state/types.js';
import { parseSubnetPolicy } from '../../src/model/schema.js';
import { validateTopology } from '../../src/model/validate.js';
import { parseTopology } from '../../src/model/schema.js';
import { VpcctlError } from '../../src/errors.js';

const subnet = (name: string, cidr: string, extra: Partial<SubnetState> = {}): SubnetState => ({ name, cidr, type: 'private', apps: [], ...extra });
const state = (subnets: SubnetState[], peered = false): State => ({
  ...emptyState(),
  vpcs: {
    shop: { name: 'shop', cidr: '10.0.0.0/16', uplink: 'eth0', transit: '100.64.0.0/30', subnets: Object.fromEntries(subnets.map((s) => [s.name, s])) },
    db: { name: 'db', cidr: '10.1.0.0/16', uplink: null, transit: null, subnets: {} },
  },
  peerings: peered ? [{ vpc1: 'shop', vpc2: 'db', link: '100.64.0.4/30' }] : [],
});

test('diff: creates, changes with before -> after, deletes, peerings, apps of what goes, the summary', (t) => {
  const policy = parseSubnetPolicy({ ingress: [{ port: 80, action: 'allow' }], default: 'deny' });
  const before = state([subnet('web', '10.0.1.0/24'), subnet('old', '10.0.9.0/24', { apps: [{ port: 80, pid: 1, command: [], user: 'nobody', logFile: '', startedAt: '' }] })]);
  const after = state([subnet('web', '10.0.1.0/24', { type: 'public', policy }), subnet('new', '10.0.2.0/24', { egress: 'nat' })], true);
  const d = diffStates(before, after);
  t.deepEqual(diffLines(d), [
    '~ subnet shop/web: type private -> public, policy (none) -> set',
    '    + ingress allow tcp 80 from any',
    '    + default deny',
    '+ subnet shop/new',
    '- subnet shop/old',
    '+ peering shop <-> db',
    '- app shop/old:80 (stop)',
    '2 to add, 1 to change, 1 to delete',
  ]);
  t.deepEqual(d.summary, { add: 2, change: 1, delete: 1 });
  t.deepEqual(diffStates(after, after).items, [], 'no change, no items');
  const gone = diffStates(after, { ...after, vpcs: { db: after.vpcs.db! }, peerings: [] });
  t.deepEqual(gone.items.map((i) => `${i.action} ${i.kind} ${i.name}`), ['delete vpc shop', 'delete subnet shop/web', 'delete subnet shop/new', 'delete peering shop <-> db']);
});

test('a policy means its rules: the subnet key and key order are not a change; a stored policy is reused when it means the same', (t) => {
  const fromFile = parseSubnetPolicy({ subnet: '10.0.1.0/24', ingress: [{ port: [80, 443], action: 'allow', cidr: '10.0.0.0/8' }] });
  const fromTopology = parseSubnetPolicy({ ingress: [{ action: 'allow', port: [80, 443], cidr: '10.0.0.0/8' }] });
  t.is(policyMeaning(fromFile), policyMeaning(fromTopology));
  t.not(policyMeaning(fromFile), policyMeaning(parseSubnetPolicy({ ingress: [{ port: 80, action: 'allow' }] })));
  t.is(storedPolicy(fromTopology, '10.0.1.0/24', fromFile), fromFile, 'the kept object itself');
  t.deepEqual(Object.keys(storedPolicy(fromTopology, '10.0.1.0/24', undefined)), ['subnet', 'ingress', 'egress', 'default']);
  t.is(ruleText('ingress', fromFile.ingress[0]!), 'ingress allow tcp 80,443 from 10.0.0.0/8');
  t.is(ruleText('egress', parseSubnetPolicy({ egress: [{ action: 'deny', protocol: 'icmp' }] }).egress[0]!), 'egress deny icmp to any');
});

test('validation collects every problem of a topology, each with its path, not only the first', (t) => {
  const topo = parseTopology({ vpcs: [
    { name: 'a', cidr: '10.0.0.0/16', subnets: [{ name: 'x', cidr: '10.9.1.0/24', type: 'private' }, { name: 'x', cidr: '10.0.2.0/24', type: 'public', egress: 'none' }] },
    { name: 'b', cidr: '12.0.0.0/7' },
  ], peerings: [{ vpc1: 'a', vpc2: 'b' }, { vpc1: 'a', vpc2: 'a' }] });
  const e = t.throws(() => validateTopology(topo)) as VpcctlError;
  t.true(e instanceof VpcctlError);
  t.deepEqual(e.issues?.map((i) => i.split(':')[0]), ['vpcs[0].subnets[0]', 'vpcs[0].subnets[1].name', 'vpcs[0].subnets[1].egress', 'vpcs[1].cidr', 'peerings[1]']);
  t.is(e.message.split('\n').length, 5);
  t.is(e.exitCode, 2);
  const shape = t.throws(() => parseTopology({ vpcs: [{ name: 'A', cidr: 1 }, { cidr: '10.0.0.0/8' }] })) as VpcctlError;
  t.deepEqual(shape.issues?.map((i) => i.split(':')[0]), ['vpcs[0].name', 'vpcs[0].cidr', 'vpcs[1].name']);
});
