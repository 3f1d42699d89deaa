import test from 'ava';
import { hostTag, isVpcctlNsName, nsOwners, ownsNs, routerTag, tagFitsNs } from '../../src/model/names.js';
import { trustPending } from '../../src/api/engine.js';
import { plan } from '../../src/plan/planner.js';
import { emptyState } from '../../src/state/types.js';

test('nsOwners: only names that follow vpcctl\'s rule stand for an object', (t) => {
  t.deepEqual(nsOwners('vpcr-prod'), [{ kind: 'router', vpc: 'prod' }]);
  t.deepEqual(nsOwners('ns-prod-web'), [{ kind: 'host', vpc: 'prod', subnet: 'web' }]);
  // Ambiguous splits are all listed; the tag tells which one it is.
  t.deepEqual(nsOwners('ns-a-b-c'), [{ kind: 'host', vpc: 'a', subnet: 'b-c' }, { kind: 'host', vpc: 'a-b', subnet: 'c' }]);
  for (const bad of ['foreign', '../../tmp/x', 'ns-../../x', 'vpcr-..', 'vpcr-', 'vpcr-A', 'ns-', 'ns-a', 'ns--a', 'ns-a-',
    '', 'vpcr-a/b', 'ns-a-b/../c', `vpcr-${'a'.repeat(33)}`]) {
    t.false(isVpcctlNsName(bad), bad);
  }
});

test('tagFitsNs: the tag must be the one vpcctl gives that very name', (t) => {
  t.true(tagFitsNs(routerTag('prod'), 'vpcr-prod'));
  t.true(tagFitsNs(hostTag('a-b', 'c'), 'ns-a-b-c'));
  t.false(tagFitsNs(routerTag('prod'), 'vpcr-dev'));
  t.false(tagFitsNs(hostTag('prod', 'web'), 'vpcr-prod'));
  t.false(tagFitsNs(routerTag('prod'), 'foreign'));
  t.false(tagFitsNs('vpcctl:subnet:prod/web', 'ns-prod-web'), 'a link tag is not a namespace tag');
  t.false(tagFitsNs('someone-else', 'ns-prod-web'));
});

test('ownsNs: foreign tags never, untagged only when recorded and well named', (t) => {
  // An orphan of a lost state still carries its tag.
  t.true(ownsNs('ns-prod-web', hostTag('prod', 'web'), false));
  // A crash between the mount and the tag: recorded as pending, untagged.
  t.true(ownsNs('ns-prod-web', null, true));
  t.true(ownsNs('vpcr-prod', '', true));
  t.false(ownsNs('ns-prod-web', null, false), 'untagged and unknown: someone else\'s');
  t.false(ownsNs('ns-prod-web', 'docker', true), 'tagged by someone else');
  t.false(ownsNs('ns-prod-web', routerTag('prod'), true), 'our tag of another object');
  t.false(ownsNs('foreign', null, true), 'a name read from the state that follows no rule');
  t.false(ownsNs('../../tmp/x', null, true));
  t.false(ownsNs('foreign', routerTag('foreign'), true));
});

test('trustPending drops and reports pending names that follow no rule', (t) => {
  const warnings: string[] = [];
  const s = { ...emptyState(), pending: ['ns-a-b', 'foreign', '../../tmp/x', 'vpcr-a'] };
  const out = trustPending(s, (m) => warnings.push(m));
  t.deepEqual(out.pending, ['ns-a-b', 'vpcr-a']);
  t.is(warnings.length, 2);
  t.regex(warnings[0]!, /"foreign".*nothing done to it/);
  t.regex(warnings[1]!, /"\.\.\/\.\.\/tmp\/x"/);
  t.is(trustPending({ ...emptyState(), pending: ['vpcr-a'] }, () => t.fail()).pending.length, 1);
});

test('the planner never deletes a pending name that follows no rule, even when the engine is bypassed', (t) => {
  const s = { ...emptyState(), pending: ['foreign', '../../tmp/x', 'ns-gone-web'] };
  const p = plan(s, emptyState(), { namespaces: new Set(['foreign']), hostForward: '0' });
  t.deepEqual(p.ops.filter((o) => o.op === 'netnsDel').map((o) => (o as { ns: string }).ns), ['ns-gone-web']);
  t.deepEqual(p.namespaces, ['ns-gone-web']);
});
