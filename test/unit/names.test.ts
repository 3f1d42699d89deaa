import test from 'ava';
import { VpcctlError } from '../../src/errors.js';
import {
  HOST_LINK, NFT_TABLE, ROUTER_GATEWAY_LINK, TAG_PREFIX, gatewayRootLink, hostNs, hostTag, linkTag, parseTag, peerLink, routerNs,
  routerTag, subnetLink, validateName, wantedNamespaces,
} from '../../src/model/names.js';
import { parseCidr } from '../../src/model/cidr.js';

test('validateName accepts lowercase names up to 32 chars', (t) => {
  for (const ok of ['a', 'demo', 'web-1', '1st', 'a'.repeat(32), 'x-']) t.is(validateName('vpc', ok), ok);
});

test('validateName refuses bad names with a message naming the value', (t) => {
  const err = t.throws(() => validateName('vpc', 'Bad_Name'), { instanceOf: VpcctlError });
  t.is(err?.code, 'INVALID_NAME');
  t.is(err?.message, `vpc name "Bad_Name" is invalid: use a-z, 0-9 and '-', start with a letter or digit, at most 32 characters`);
  for (const bad of ['', '-a', 'a'.repeat(33), 'a b', 'a/b', 'a~b', 'a:b', 'é']) {
    t.is(t.throws(() => validateName('subnet', bad), { instanceOf: VpcctlError })?.code, 'INVALID_NAME', bad);
  }
  t.regex(t.throws(() => validateName('subnet', 'A'), { instanceOf: VpcctlError })?.message ?? '', /^subnet name "A" is invalid/);
});

test('namespace names', (t) => {
  t.is(hostNs('demo', 'web'), 'ns-demo-web');
  t.is(routerNs('demo'), 'vpcr-demo');
});

test('interface names are short, deterministic and accept a CIDR or its text', (t) => {
  t.is(subnetLink('10.0.1.0/24'), 'sn-0a000100');
  t.is(subnetLink(parseCidr('10.0.1.0/24')), 'sn-0a000100');
  t.is(peerLink('10.1.0.0/16'), 'px-0a010000');
  t.is(gatewayRootLink('100.64.0.4/30'), 'vg-64400004');
  t.is(ROUTER_GATEWAY_LINK, 'igw0');
  t.is(HOST_LINK, 'eth0');
  for (const name of [subnetLink('255.255.255.252/30'), peerLink('0.0.0.0/8'), gatewayRootLink('100.64.255.252/30')]) {
    t.true(name.length <= 15, name);
  }
});

test('tags format and parse back', (t) => {
  t.is(TAG_PREFIX, 'vpcctl:');
  t.is(NFT_TABLE, 'vpcctl');
  t.is(routerTag('demo'), 'vpcctl:router:demo');
  t.is(hostTag('demo', 'web'), 'vpcctl:host:demo/web');
  t.is(linkTag({ kind: 'subnet', vpc: 'demo', subnet: 'web' }), 'vpcctl:subnet:demo/web');
  t.is(linkTag({ kind: 'igw', vpc: 'demo' }), 'vpcctl:igw:demo');
  // Both ends of a peering get the same tag, whichever side is named first.
  t.is(linkTag({ kind: 'peer', vpc1: 'b', vpc2: 'a' }), 'vpcctl:peer:a~b');
  t.is(linkTag({ kind: 'peer', vpc1: 'a', vpc2: 'b' }), 'vpcctl:peer:a~b');

  t.deepEqual(parseTag('vpcctl:router:demo'), { kind: 'router', vpc: 'demo' });
  t.deepEqual(parseTag('vpcctl:host:demo/web-1'), { kind: 'host', vpc: 'demo', subnet: 'web-1' });
  t.deepEqual(parseTag('vpcctl:subnet:demo/web'), { kind: 'subnet', vpc: 'demo', subnet: 'web' });
  t.deepEqual(parseTag('vpcctl:igw:demo'), { kind: 'igw', vpc: 'demo' });
  t.deepEqual(parseTag('vpcctl:peer:z~a'), { kind: 'peer', vpc1: 'a', vpc2: 'z' });
});

test('parseTag returns null for anything not ours', (t) => {
  for (const foreign of ['', 'docker0', 'vpcctl:', 'vpcctl:router:', 'vpcctl:router:Demo', 'vpcctl:host:demo', 'vpcctl:peer:a',
    'vpcctl:other:x', 'xvpcctl:router:demo', 'vpcctl:router:demo ', 'vpcctl:host:a/b/c']) {
    t.is(parseTag(foreign), null, foreign);
  }
});

test('wantedNamespaces: a router per VPC and a host per subnet', (t) => {
  const state = { vpcs: { a: { name: 'a', subnets: { web: { name: 'web' }, db: { name: 'db' } } }, b: { name: 'b', subnets: {} } } };
  t.deepEqual([...wantedNamespaces(state)].sort(), ['ns-a-db', 'ns-a-web', 'vpcr-a', 'vpcr-b']);
});
