import test from 'ava';
import { readFileSync } from 'node:fs';
import { plan, type KernelView } from '../../src/plan/planner.js';
import { fullPlan } from '../../src/plan/full.js';
import { planJson, type Op } from '../../src/plan/ops.js';
import { OP_FIELDS, type Presence } from '../../src/plan/op-fields.js';
import { parseSubnetPolicy } from '../../src/model/schema.js';
import { emptyState, type State } from '../../src/state/types.js';
import { checkFixture, netkitFixture } from '../helpers/fixture.js';
import { docOpTable, docSection, opNamesIn } from '../helpers/plan-ops-doc.js';

/**
 * The op contract between the planner and netkit, in one place:
 * crates/netkit/tests/fixtures/ops.json holds, for every op kind, its fields
 * (OP_FIELDS, checked against the Op type by tsc), the distinct shapes of it
 * the planner really makes (run below on a topology that needs every kind),
 * serialised by planJson as the executor receives them, and one example with
 * every field. netkit's tests/ops_contract.rs parses all of it with the real
 * parser; the tests here keep the fixture current and docs/plan-ops.md's op
 * table equal to it.
 */

const policy = (name: string) =>
  parseSubnetPolicy(JSON.parse(readFileSync(new URL(`../../policies/${name}.json`, import.meta.url), 'utf8')));

/** Two VPCs (one with an internet gateway, public and private subnets, policies), peered. */
function topology(): State {
  const s = emptyState();
  s.hostForwardBefore = '0';
  s.vpcs.a = {
    name: 'a', cidr: '10.10.0.0/16', uplink: 'eth9', transit: '100.64.0.0/30',
    subnets: {
      web: { name: 'web', cidr: '10.10.1.0/24', type: 'public', policy: policy('web'), apps: [] },
      db: { name: 'db', cidr: '10.10.2.0/24', type: 'private', policy: policy('locked-down'), apps: [] },
    },
  };
  s.vpcs.b = {
    name: 'b', cidr: '10.20.0.0/16', uplink: null, transit: null,
    subnets: { app: { name: 'app', cidr: '10.20.1.0/24', type: 'private', apps: [] } },
  };
  s.peerings.push({ vpc1: 'a', vpc2: 'b', link: '100.64.0.4/30' });
  return s;
}

const kernelOf = (state: State, extra: Partial<KernelView> = {}): KernelView => {
  const namespaces = new Set<string>();
  for (const v of Object.values(state.vpcs)) {
    namespaces.add(`vpcr-${v.name}`);
    for (const s of Object.values(v.subnets)) namespaces.add(`ns-${v.name}-${s.name}`);
  }
  return { namespaces, hostForward: '1', ...extra };
};

/** Every op the planner makes on the way: create, repair, shrink (unpeer, drop a policy and a subnet), empty. */
function plannedOps(): Op[] {
  const full = topology();
  const shrunk = structuredClone(full);
  shrunk.peerings = [];
  delete shrunk.vpcs.a!.subnets.db!.policy;
  delete shrunk.vpcs.a!.subnets.web;
  // A veth found down is set up again in place (repair.ts).
  const veth = fullPlan(full).ops.find((o) => o.op === 'vethAdd')!;
  const down = { op: veth, object: 'vpc a', kind: 'differs', detail: `link ${'name' in veth ? veth.name : ''} is down` };
  // On a cluster host: VPC a's router joins one on another host, which then goes away.
  const clustered = structuredClone(full);
  clustered.vpcs.a!.overlay = {
    vni: 42, local: '192.0.2.1', dev: 'eth0', address: '169.254.0.1/16', mac: '02:00:00:2a:00:01', mtu: 1450,
    peers: [{ host: 'h2', underlay: '192.0.2.2', address: '169.254.0.2', mac: '02:00:00:2a:00:02', subnets: ['10.10.3.0/24'] }],
  };
  const alone = structuredClone(clustered);
  alone.vpcs.a!.overlay!.peers = [];
  return [
    ...plan(emptyState(), full, { namespaces: new Set(), hostForward: '0' }).ops,
    ...plan(emptyState(), clustered, { namespaces: new Set(), hostForward: '0' }).ops,
    ...plan(clustered, alone, kernelOf(clustered)).ops,
    ...plan(full, full, kernelOf(full, { drift: [down] })).ops,
    ...plan(full, shrunk, kernelOf(full)).ops,
    ...plan(shrunk, emptyState(), kernelOf(shrunk)).ops,
  ];
}

/** Values for fields no planned op of a kind carries (the executor takes them; nothing sends them yet). */
const SAMPLE: Record<string, unknown> = {
  ns: 'ns-demo-web', name: 'eth0', dev: 'eth0', cidr: '10.0.1.2/24', mtu: 1400, via: '10.0.1.1', onlink: true, src: '10.0.1.2',
  dst: '10.0.0.0/16',
};

/** Values a kind takes where SAMPLE's would not do (an underlay address for a VXLAN FDB entry's `dst`). */
const SAMPLE_OF: Record<string, Record<string, unknown>> = {
  vxlanAdd: {
    ns: 'vpcr-demo', name: 'vx-demo', vni: 4242, local: '192.0.2.1', dev: 'eth0', port: 4789, mtu: 1450,
    alias: 'vpcctl:demo', mac: '02:76:78:00:00:01',
  },
  fdbAdd: { ns: 'vpcr-demo', dev: 'vx-demo', mac: '02:76:78:00:00:02', dst: '192.0.2.2' },
  fdbDel: { ns: 'vpcr-demo', dev: 'vx-demo', mac: '02:76:78:00:00:02', dst: '192.0.2.2' },
  neighAdd: { ns: 'vpcr-demo', dev: 'vx-demo', addr: '172.16.0.2', mac: '02:76:78:00:00:02' },
  neighDel: { ns: 'vpcr-demo', dev: 'vx-demo', addr: '172.16.0.2' },
};

/** Kinds the planner never makes: an undo the executor records itself, kept in the contract. */
const NOT_PLANNED = ['addrDel'];

type Obj = Record<string, unknown>;

function contract() {
  // As the executor receives them: through planJson, each example whole
  // (a ruleset given as an earlier op's index is resolved: the examples are
  // parsed one by one).
  const written = JSON.parse(planJson(plannedOps())) as Obj[];
  const ops = written.map((o) => (typeof o.ruleset === 'number' ? { ...o, ruleset: written[o.ruleset]!.ruleset } : o));
  const kinds: Record<string, { fields: Record<string, Presence>; planned: Obj[]; everyField: Obj }> = {};
  for (const [kind, fields] of Object.entries(OP_FIELDS) as [string, Record<string, Presence>][]) {
    const shapes = new Map<string, Obj>();
    for (const o of ops.filter((x) => x.op === kind)) {
      const shape = Object.keys(o).sort().join(',');
      if (!shapes.has(shape)) shapes.set(shape, o);
    }
    const planned = [...shapes.values()];
    const fullest = planned.reduce<Obj>((best, o) => (Object.keys(o).length > Object.keys(best).length ? o : best), { op: kind });
    const everyField: Obj = { op: kind };
    for (const f of Object.keys(fields)) everyField[f] = f in fullest ? fullest[f] : SAMPLE_OF[kind]?.[f] ?? SAMPLE[f];
    kinds[kind] = { fields, planned, everyField };
  }
  return { ops, kinds };
}

test('ops.json is the op contract as the code has it now', (t) => {
  const { kinds } = contract();
  checkFixture(t, netkitFixture('ops.json'), {
    about: 'Generated by test/unit/op-contract.test.ts (UPDATE_FIXTURES=1 rewrites it); read by crates/netkit/tests/ops_contract.rs. '
      + 'Per op kind: its fields (src/plan/op-fields.ts), each distinct shape the planner makes, and an example with every field.',
    ops: kinds,
  });
});

test('the planner makes every op kind, and only the fields its kind has', (t) => {
  const { ops, kinds } = contract();
  const unplanned = Object.entries(kinds).filter(([, k]) => k.planned.length === 0).map(([kind]) => kind);
  t.deepEqual(unplanned, NOT_PLANNED, 'kinds the scenario (or the planner) no longer makes');
  for (const o of ops) {
    const fields = OP_FIELDS[o.op as Op['op']] as Record<string, Presence> | undefined;
    t.truthy(fields, `unknown op ${String(o.op)}`);
    for (const f of Object.keys(o)) if (f !== 'op') t.truthy(fields?.[f], `${String(o.op)} has a field ${f} the Op type lacks`);
    for (const [f, p] of Object.entries(fields ?? {})) if (p === 'required') t.true(f in o, `${String(o.op)} lacks ${f}`);
  }
  for (const [kind, k] of Object.entries(kinds)) {
    for (const f of Object.keys(k.fields)) t.not(k.everyField[f], undefined, `${kind}.${f} has no example value: add one to SAMPLE`);
  }
});

test('the op table of docs/plan-ops.md lists exactly the ops and fields of the contract', (t) => {
  const doc = Object.fromEntries(docOpTable().map((r) => [r.op, r.fields]));
  t.deepEqual(Object.keys(doc), Object.keys(OP_FIELDS), 'op names (and their order) in the table');
  for (const [kind, fields] of Object.entries(OP_FIELDS)) {
    t.deepEqual(doc[kind], fields, `fields of ${kind} in the table (\`f?\` marks an optional one)`);
  }
});

test('docs/plan-ops.md names only real ops, and its verify section covers every kind', (t) => {
  const text = readFileSync(new URL('../../docs/plan-ops.md', import.meta.url), 'utf8');
  const known = new Set(Object.keys(OP_FIELDS));
  t.deepEqual(opNamesIn(text).filter((n) => !known.has(n)), [], 'op names in the doc that are no op');
  // "What is checked: ..." lists the ops verify checks; "Removal ops are ignored" the rest.
  const verify = docSection('Verify (drift)');
  const checked = /What is checked:([\s\S]*?)Removal ops are ignored/.exec(verify);
  t.truthy(checked, 'the verify section says what is checked and that removal ops are ignored');
  const removals = [...known].filter((k) => /Del$|Delete$/.test(k));
  const listed = opNamesIn(checked?.[1] ?? '');
  t.deepEqual([...listed, ...removals].sort(), [...known].sort(), 'every op is either checked by verify or a removal');
});
