import test from 'ava';
import { POLICY_MAX_BYTES } from '../../src/api/files.js';
import { parsePolicyText, portOf } from '../../src/ui/routes.js';

test('a pasted policy over the CLI\'s 1 MiB is refused before parsing, even when it is valid JSON', (t) => {
  const padded = `{"ingress": []${' '.repeat(POLICY_MAX_BYTES)}}`;
  t.throws(() => parsePolicyText(padded), { message: 'policy (pasted) is larger than 1 MiB, the most vpcctl reads for a policy' });
  // Counted in bytes, as a file is: 600,000 two-byte characters are over.
  t.throws(() => parsePolicyText(`"${'é'.repeat(600_000)}"`), { message: /larger than 1 MiB/ });
  // At the limit it is parsed.
  const atLimit = `{"ingress": []${' '.repeat(POLICY_MAX_BYTES - 15)}}`;
  t.is(Buffer.byteLength(atLimit), POLICY_MAX_BYTES);
  t.deepEqual(parsePolicyText(atLimit), { ingress: [] });
});

test('a pasted policy that is not JSON says where, as the CLI does for a file', (t) => {
  t.throws(() => parsePolicyText('{\n  "ingress": [,]\n}'), { message: /^policy \(pasted\): invalid JSON at line 2, column 15/ });
  t.throws(() => parsePolicyText(42), { message: 'policy: paste the policy as JSON text' });
});

test('a port from the page is read as the CLI reads --port: digits only, 1-65535, the CLI\'s message', (t) => {
  t.is(portOf('8080'), 8080);
  t.is(portOf(8080), 8080);
  t.is(portOf(''), undefined);
  t.is(portOf(undefined), undefined);
  for (const bad of ['0x1f90', '8e3', ' 80', '80 ', '+80', '0', '65536', '1.5']) t.throws(() => portOf(bad), { message: `port ${bad} is invalid: use 1-65535` }, bad);
  for (const bad of [0, -1, 1.5, 65536, Infinity]) t.throws(() => portOf(bad), { message: /is invalid: use 1-65535/ }, String(bad));
  t.throws(() => portOf([80]), { message: 'port [80] is invalid: use 1-65535' });
  t.throws(() => portOf(true), { message: /is invalid/ });
});
