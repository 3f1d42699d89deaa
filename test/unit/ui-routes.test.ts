import test from 'ava';
import { POLICY_MAX_BYTES } from '../../src/api/files.js';
import { parsePolicyText } from '../../src/ui/routes.js';

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
