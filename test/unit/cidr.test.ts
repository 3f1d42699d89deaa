import test from 'ava';
import { VpcctlError } from '../../src/errors.js';
import {
  checkPrefix, contains, containsIp, formatCidr, hexOf, hostAddress, ipToString, nthSubnet, overlaps, parseCidr, parseIp, size,
} from '../../src/model/cidr.js';

const c = (s: string) => parseCidr(s);

test('parseCidr reads network and prefix as uint32', (t) => {
  t.deepEqual(c('10.0.1.0/24'), { network: 0x0a000100, prefix: 24 });
  t.deepEqual(c('255.255.255.255/32'), { network: 0xffffffff, prefix: 32 });
  t.deepEqual(c('0.0.0.0/0'), { network: 0, prefix: 0 });
  t.deepEqual(c(' 192.168.0.0/16 '), { network: 0xc0a80000, prefix: 16 });
});

test('parseCidr refuses malformed input with the exact message', (t) => {
  for (const bad of ['10.20.2.0/99', '10.0.0.0', '10.0.0/8', '10.0.0.256/32', '010.0.0.0/8', '10.0.0.0/-1', '10.0.0.0/8/8', '', 'a.b.c.d/8']) {
    const err = t.throws(() => parseCidr(bad), { instanceOf: VpcctlError }, bad);
    t.is(err?.code, 'INVALID_CIDR');
    t.is(err?.message, `${bad} is not a CIDR`);
  }
  t.is(t.throws(() => parseCidr('10.20.2.0/99', { what: 'subnet' }), { instanceOf: VpcctlError })?.message, 'subnet 10.20.2.0/99 is not a CIDR');
});

test('parseCidr refuses host bits and suggests the network', (t) => {
  const err = t.throws(() => parseCidr('10.0.1.5/24'), { instanceOf: VpcctlError });
  t.is(err?.code, 'INVALID_CIDR');
  t.is(err?.message, '10.0.1.5/24 has host bits set (did you mean 10.0.1.0/24?)');
  t.is(t.throws(() => parseCidr('10.0.0.1/0'), { instanceOf: VpcctlError })?.message, '10.0.0.1/0 has host bits set (did you mean 0.0.0.0/0?)');
});

test('formatCidr, ipToString and parseIp round-trip', (t) => {
  t.is(formatCidr(c('172.16.5.0/24')), '172.16.5.0/24');
  t.is(ipToString(0xc0a80001), '192.168.0.1');
  t.is(ipToString(0xffffffff), '255.255.255.255');
  t.is(parseIp('10.0.1.2'), 0x0a000102);
  t.is(t.throws(() => parseIp('10.0.1'), { instanceOf: VpcctlError })?.message, '10.0.1 is not an IPv4 address');
});

test('contains and overlaps', (t) => {
  t.true(contains(c('10.0.0.0/16'), c('10.0.1.0/24')));
  t.true(contains(c('10.0.0.0/16'), c('10.0.0.0/16')));
  t.false(contains(c('10.0.1.0/24'), c('10.0.0.0/16')));
  t.false(contains(c('10.0.0.0/16'), c('10.1.0.0/24')));
  t.true(contains(c('0.0.0.0/0'), c('255.0.0.0/8')));
  t.true(overlaps(c('10.0.1.0/24'), c('10.0.0.0/16')));
  t.true(overlaps(c('10.0.0.0/16'), c('10.0.1.128/25')));
  t.false(overlaps(c('10.0.1.0/25'), c('10.0.1.128/25')));
  t.true(containsIp(c('10.0.1.0/24'), parseIp('10.0.1.255')));
  t.false(containsIp(c('10.0.1.0/24'), parseIp('10.0.2.0')));
});

test('hostAddress, size and hexOf', (t) => {
  const s = c('10.0.1.0/24');
  t.is(ipToString(hostAddress(s, 1)), '10.0.1.1');
  t.is(ipToString(hostAddress(s, 2)), '10.0.1.2');
  t.is(size(s), 256);
  t.is(size(c('0.0.0.0/0')), 2 ** 32);
  t.is(t.throws(() => hostAddress(c('10.0.0.0/30'), 4), { instanceOf: VpcctlError })?.code, 'INVALID_CIDR');
  t.is(hexOf(s.network), '0a000100');
  t.is(hexOf(c('192.168.255.0/24').network), 'c0a8ff00');
  t.is(hexOf(0), '00000000');
});

test('nthSubnet carves consecutive blocks and refuses past the end', (t) => {
  const pool = c('100.64.0.0/16');
  t.is(formatCidr(nthSubnet(pool, 30, 0)), '100.64.0.0/30');
  t.is(formatCidr(nthSubnet(pool, 30, 1)), '100.64.0.4/30');
  t.is(formatCidr(nthSubnet(pool, 30, 64)), '100.64.1.0/30');
  t.is(formatCidr(nthSubnet(pool, 30, 16383)), '100.64.255.252/30');
  t.is(formatCidr(nthSubnet(c('255.255.255.0/24'), 30, 63)), '255.255.255.252/30');
  const err = t.throws(() => nthSubnet(pool, 30, 16384), { instanceOf: VpcctlError });
  t.is(err?.message, '100.64.0.0/16 has no /30 number 16384 (it holds 16384)');
  t.throws(() => nthSubnet(pool, 8, 0), { instanceOf: VpcctlError });
});

test('checkPrefix names the object and the bounds', (t) => {
  t.notThrows(() => checkPrefix(c('10.0.0.0/30'), 8, 30, 'subnet'));
  const err = t.throws(() => checkPrefix(c('10.0.0.0/31'), 8, 30, 'subnet'), { instanceOf: VpcctlError });
  t.is(err?.code, 'INVALID_CIDR');
  t.is(err?.message, 'subnet 10.0.0.0/31 has prefix /31; it must be between /8 and /30');
});

test('only strict dotted quads are addresses', (t) => {
  for (const ok of ['0.0.0.0', '1.2.3.4', '9.99.199.249', '250.251.252.255', '100.64.0.1']) t.is(ipToString(parseIp(ok)), ok);
  for (const bad of ['01.2.3.4', '1.2.3.04', '256.0.0.1', '1.2.3', '1.2.3.4.5', '0x1.2.3.4', '1..2.3', '1.2.3.4 x', '１.2.3.4', '-1.2.3.4', '1.2.3.260']) {
    t.throws(() => parseIp(bad), { message: /is not an IPv4 address/ }, bad);
  }
});
