import test from 'ava';
import { VpcctlError } from '../../src/errors.js';
import { checkPort, isPort, parsePort, parsePortRange } from '../../src/model/ports.js';

test('isPort: whole numbers 1-65535 only', (t) => {
  for (const ok of [1, 80, 65535]) t.true(isPort(ok), String(ok));
  for (const bad of [0, -1, 65536, 8.5, Number.NaN, '80', null]) t.false(isPort(bad), String(bad));
});

test('checkPort and parsePort: INVALID_INPUT naming the value as given', (t) => {
  t.is(checkPort(8080), 8080);
  t.is(parsePort('443'), 443);
  for (const [fn, text] of [[() => checkPort(0), '0'], [() => parsePort('70000'), '70000'], [() => parsePort('8o'), '8o'], [() => parsePort('-1'), '-1']] as const) {
    const err = t.throws(fn, { instanceOf: VpcctlError });
    t.is(err?.code, 'INVALID_INPUT');
    t.is(err?.message, `port ${text} is invalid: use 1-65535`);
  }
});

test('parsePortRange uses the same bounds', (t) => {
  t.deepEqual(parsePortRange('1-65535'), [1, 65535]);
  t.is(parsePortRange('0-80'), null);
  t.is(parsePortRange('80-65536'), null);
  t.is(parsePortRange('90-80'), null);
});
