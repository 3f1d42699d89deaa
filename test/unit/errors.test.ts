import { readFileSync } from 'node:fs';
import test from 'ava';
import { NATIVE_CODES, VpcctlError } from '../../src/errors.js';
import { fromNative } from '../../src/native.js';

test("NATIVE_CODES are netkit's Kind codes, in its order", (t) => {
  const rust = readFileSync(new URL('../../crates/netkit/src/error.rs', import.meta.url), 'utf8');
  const codes = [...rust.matchAll(/Kind::\w+ => "([A-Z_]+)",/g)].map((m) => m[1]);
  t.true(codes.length > 5, 'the codes are found in error.rs');
  t.deepEqual([...NATIVE_CODES], codes);
});

test('a coded native message becomes a KERNEL VpcctlError with its native code, the code taken off', (t) => {
  const e = fromNative(new Error('[EXISTS] netns "x": File exists (os error 17)'));
  t.true(e instanceof VpcctlError);
  t.like(e, { code: 'KERNEL', native: 'EXISTS', message: 'netns "x": File exists (os error 17)' });
  t.is(e.exitCode, 1);
  const plain = fromNative(new Error('something else'));
  t.like(plain, { code: 'KERNEL', native: undefined, message: 'something else' });
  const mine = new VpcctlError('STATE', 'x');
  t.is(fromNative(mine), mine, 'a VpcctlError passes through');
});
