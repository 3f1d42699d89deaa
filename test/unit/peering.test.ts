import test from 'ava';
import { joins, pairKey, pairOrder, peerOf, peersOf, samePair } from '../../src/model/peering.js';

test('a peering has no direction: one key and one order for both spellings', (t) => {
  t.deepEqual(pairOrder('b', 'a'), ['a', 'b']);
  t.deepEqual(pairOrder('a', 'b'), ['a', 'b']);
  t.is(pairKey({ vpc1: 'prod', vpc2: 'dev' }), 'dev~prod');
  t.is(pairKey({ vpc1: 'dev', vpc2: 'prod' }), 'dev~prod');
  t.true(samePair({ vpc1: 'b', vpc2: 'a' }, 'a', 'b'));
  t.false(samePair({ vpc1: 'a', vpc2: 'c' }, 'a', 'b'));
});

test('the other end, and the peers of a VPC', (t) => {
  const peerings = [{ vpc1: 'a', vpc2: 'b' }, { vpc1: 'c', vpc2: 'a' }, { vpc1: 'b', vpc2: 'c' }];
  t.is(peerOf(peerings[0]!, 'a'), 'b');
  t.is(peerOf(peerings[1]!, 'a'), 'c');
  t.is(peerOf(peerings[2]!, 'a'), null);
  t.true(joins(peerings[1]!, 'a'));
  t.false(joins(peerings[2]!, 'a'));
  t.deepEqual(peersOf(peerings, 'a'), ['b', 'c']);
  t.deepEqual(peersOf(peerings, 'd'), []);
});
