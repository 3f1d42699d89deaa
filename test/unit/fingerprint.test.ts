import test from 'ava';
import { fingerprint } from '../../src/fingerprint.js';

test('fingerprint: 16 hex digits, pinned values (a change of the function would unseal every state file once)', (t) => {
  t.is(fingerprint(''), '488bdcb81aee8d83');
  t.is(fingerprint('vpcctl'), '224b0550400ee88a');
  t.is(fingerprint('é'), 'd9fefd8451e926d5');
});

test('fingerprint: one changed, swapped, added or removed character changes it', (t) => {
  const base = JSON.stringify({ vpcs: { demo: { cidr: '10.0.0.0/16', subnets: ['10.0.1.0/24', '10.0.2.0/24'] } } });
  const variants = new Set([base]);
  for (let i = 0; i < base.length; i++) {
    variants.add(base.slice(0, i) + base.slice(i + 1));
    variants.add(base.slice(0, i) + String.fromCharCode(base.charCodeAt(i) ^ 1) + base.slice(i + 1));
    if (i + 1 < base.length) variants.add(base.slice(0, i) + base[i + 1] + base[i] + base.slice(i + 2));
  }
  variants.add(`${base} `);
  const prints = new Set([...variants].map(fingerprint));
  t.is(prints.size, variants.size);
  for (const p of prints) t.regex(p, /^[0-9a-f]{16}$/);
});
