import test from 'ava';
import { afterPartialPlan } from '../../src/api/partial.js';
import { plan } from '../../src/plan/planner.js';
import { emptyState, type State } from '../../src/state/types.js';

function stateWith(vpcs: Record<string, string[]>): State {
  const s = emptyState();
  s.hostForwardBefore = '0';
  let i = 0;
  for (const [name, subnets] of Object.entries(vpcs)) {
    i++;
    s.vpcs[name] = { name, cidr: `10.${i}.0.0/16`, uplink: null, transit: null, subnets: {} };
    subnets.forEach((sn, k) => { s.vpcs[name]!.subnets[sn] = { name: sn, cidr: `10.${i}.${k}.0/24`, type: 'private', apps: [] }; });
  }
  return s;
}
const without = (s: State, vpc: string) => { const d = structuredClone(s); delete d.vpcs[vpc]; d.peerings = d.peerings.filter((p) => p.vpc1 !== vpc && p.vpc2 !== vpc); return d; };

test('a deleted VPC whose router is gone is recorded as deleted, with its peerings; its hosts still there stay pending', (t) => {
  const current = stateWith({ keep: ['a'], gone: ['x', 'y', 'z'] });
  current.peerings = [{ vpc1: 'keep', vpc2: 'gone', link: '100.64.0.4/30' }];
  current.nftMarks = { 'vpcr-keep': { gen: 3 }, 'vpcr-gone': { gen: 4 }, '': { gen: 9 } };
  const desired = without(current, 'gone');
  const planNs = ['ns-gone-x', 'ns-gone-y', 'ns-gone-z', 'vpcr-gone'];
  // x and the router went before the failure; y and z are still there.
  const out = afterPartialPlan(current, desired, planNs, new Set(['vpcr-keep', 'ns-keep-a', 'ns-gone-y', 'ns-gone-z']));
  t.deepEqual(Object.keys(out.vpcs), ['keep']);
  t.deepEqual(out.peerings, []);
  t.deepEqual(out.pending.sort(), ['ns-gone-y', 'ns-gone-z']);
  t.is(out.hostForwardBefore, '0');
  t.deepEqual(out.nftMarks, { 'vpcr-keep': { gen: 3 } }, 'marks of the plan\'s namespaces and the host dropped');
  // And the next plan deletes what is left.
  const next = plan(out, structuredClone(out), { namespaces: new Set(['vpcr-keep', 'ns-keep-a', 'ns-gone-y', 'ns-gone-z']), hostForward: '1' });
  t.deepEqual(next.ops.filter((o) => o.op === 'netnsDel').map((o) => o.op === 'netnsDel' && o.ns).sort(), ['ns-gone-y', 'ns-gone-z']);
});

test('a deleted VPC whose router still exists stays, minus the subnets whose namespaces are gone', (t) => {
  const current = stateWith({ gone: ['x', 'y'] });
  const out = afterPartialPlan(current, without(current, 'gone'), ['ns-gone-x', 'ns-gone-y', 'vpcr-gone'], new Set(['vpcr-gone', 'ns-gone-y']));
  t.deepEqual(Object.keys(out.vpcs.gone!.subnets), ['y']);
  t.deepEqual(out.pending.sort(), ['ns-gone-y', 'vpcr-gone']);
});

test('objects the command keeps are never dropped, even when their namespace is absent (a rebuild is not a deletion)', (t) => {
  const current = stateWith({ v: ['a', 'b'] });
  const desired = structuredClone(current);
  delete desired.vpcs.v!.subnets.b;
  const out = afterPartialPlan(current, desired, ['ns-v-a', 'ns-v-b'], new Set(['vpcr-v']));
  t.deepEqual(Object.keys(out.vpcs.v!.subnets), ['a'], 'b was being deleted and is gone; a stays recorded');
  t.deepEqual(out.pending, ['ns-v-a'], 'a is wanted: pending, so the next run rebuilds it');
});

test('no VPC left after a failed teardown: the next plan deletes the host table and restores ip_forward', (t) => {
  const current = stateWith({ gone: ['x'] });
  const out = afterPartialPlan(current, without(current, 'gone'), ['ns-gone-x', 'vpcr-gone'], new Set(['ns-gone-x']));
  t.deepEqual(out.vpcs, {});
  const next = plan(out, structuredClone(out), { namespaces: new Set(['ns-gone-x']), hostForward: '1' });
  t.deepEqual(next.ops.map((o) => o.op), ['sysctlSet', 'netnsDel', 'nftDelete']);
});
