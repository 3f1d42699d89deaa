import test from 'ava';
import type { ErrorCode } from '../../src/errors.js';
import { parseTopology } from '../../src/model/schema.js';
import { checkAppPort, checkHostNsFree, checkPeering, checkSubnetCidr, checkVpcCidr, validateTopology } from '../../src/model/validate.js';
import { errorOf } from '../helpers/error-of.js';


const subnet = (name: string, cidr: string, extra: Record<string, unknown> = {}) => ({ name, cidr, type: 'private', ...extra });
const vpc = (name: string, cidr: string, subnets: unknown[] = []) => ({ name, cidr, subnets });
const check = (doc: unknown) => validateTopology(parseTopology(doc));

test('a valid topology passes unchanged', (t) => {
  const doc = {
    vpcs: [
      vpc('demo', '10.0.0.0/16', [subnet('web', '10.0.1.0/24', { type: 'public', apps: [{ port: 80 }, { port: 443 }] }), subnet('db', '10.0.2.0/30')]),
      vpc('other', '10.1.0.0/16', [subnet('web', '10.1.1.0/24', { policy: { subnet: '10.1.1.0/24', ingress: [] } })]),
      // Unpeered VPCs may overlap each other, as in AWS.
      vpc('lab', '10.0.0.0/16', [subnet('web', '10.0.1.0/24')]),
    ],
    peerings: [{ vpc1: 'demo', vpc2: 'other' }],
  };
  const parsed = parseTopology(doc);
  t.is(validateTopology(parsed), parsed);
});

test('topology violations name the path and the values', (t) => {
  const cases: Array<[unknown, ErrorCode, string]> = [
    [{ vpcs: [vpc('demo', '10.0.0.0/16', [subnet('web', '10.0.1.0/24'), subnet('db', '10.0.1.128/25')])] },
      'OVERLAP', 'vpcs[0].subnets[1]: 10.0.1.128/25 overlaps subnet "web" (10.0.1.0/24)'],
    [{ vpcs: [vpc('demo', '10.0.0.0/7')] }, 'INVALID_CIDR', 'vpcs[0].cidr: vpc 10.0.0.0/7 has prefix /7; it must be between /8 and /28'],
    [{ vpcs: [vpc('demo', '10.0.0.0/29')] }, 'INVALID_CIDR', 'vpcs[0].cidr: vpc 10.0.0.0/29 has prefix /29; it must be between /8 and /28'],
    [{ vpcs: [vpc('demo', '10.0.0.0/16', [subnet('p2p', '10.0.0.0/31')])] },
      'INVALID_CIDR', 'vpcs[0].subnets[0]: subnet 10.0.0.0/31 has prefix /31; it must be between /8 and /30'],
    [{ vpcs: [vpc('demo', '10.0.0.0/16', [subnet('one', '10.0.0.7/32')])] },
      'INVALID_CIDR', 'vpcs[0].subnets[0]: subnet 10.0.0.7/32 has prefix /32; it must be between /8 and /30'],
    [{ vpcs: [vpc('demo', '10.0.0.0/16', [subnet('web', '10.1.0.0/24')])] },
      'INVALID_CIDR', "vpcs[0].subnets[0]: 10.1.0.0/24 is not inside the vpc's CIDR 10.0.0.0/16"],
    [{ vpcs: [vpc('demo', '10.0.0.0/16'), vpc('demo', '10.1.0.0/16')] }, 'CONFLICT', 'vpcs[1].name: vpc "demo" is also defined at vpcs[0]'],
    [{ vpcs: [vpc('demo', '10.0.0.0/16', [subnet('web', '10.0.1.0/24'), subnet('web', '10.0.2.0/24')])] },
      'CONFLICT', 'vpcs[0].subnets[1].name: subnet "web" is also defined at vpcs[0].subnets[0]'],
    [{ vpcs: [vpc('a-b', '10.0.0.0/16', [subnet('c', '10.0.1.0/24')]), vpc('a', '10.1.0.0/16', [subnet('b-c', '10.1.1.0/24')])] },
      'CONFLICT', 'vpcs[1].subnets[0]: subnet "b-c" of vpc "a" would use namespace "ns-a-b-c", already used by subnet "c" of vpc "a-b"'],
    [{ vpcs: [vpc('demo', '10.0.0.0/16', [subnet('web', '10.0.1.0/24', { apps: [{ port: 80 }, { port: 80, command: 'true' }] })])] },
      'IN_USE', 'vpcs[0].subnets[0].apps[1].port: port 80 is already used by another app in this subnet'],
    [{ vpcs: [vpc('demo', '10.0.0.0/16', [subnet('web', '10.0.1.0/24', { policy: { subnet: '10.0.2.0/24' } })])] },
      'INVALID_POLICY', "vpcs[0].subnets[0].policy.subnet: 10.0.2.0/24 is not this subnet's CIDR (10.0.1.0/24)"],
    [{ vpcs: [vpc('a', '10.0.0.0/16')], peerings: [{ vpc1: 'a', vpc2: 'b' }] }, 'NOT_FOUND', 'peerings[0]: vpc "b" does not exist'],
    [{ vpcs: [vpc('a', '10.0.0.0/16')], peerings: [{ vpc1: 'a', vpc2: 'a' }] }, 'CONFLICT', 'peerings[0]: vpc "a" cannot peer with itself'],
    [{ vpcs: [vpc('a', '10.0.0.0/16'), vpc('b', '10.1.0.0/16')], peerings: [{ vpc1: 'a', vpc2: 'b' }, { vpc1: 'b', vpc2: 'a' }] },
      'CONFLICT', 'peerings[1]: vpcs "b" and "a" are already peered'],
    [{ vpcs: [vpc('a', '10.0.0.0/16'), vpc('b', '10.0.0.0/8')], peerings: [{ vpc1: 'a', vpc2: 'b' }] },
      'OVERLAP', 'peerings[0]: vpc "a" (10.0.0.0/16) overlaps vpc "b" (10.0.0.0/8); peered vpcs need disjoint CIDRs'],
    [{ vpcs: [vpc('hub', '10.0.0.0/16'), vpc('x', '10.1.0.0/16'), vpc('y', '10.1.0.0/16')],
      peerings: [{ vpc1: 'hub', vpc2: 'x' }, { vpc1: 'y', vpc2: 'hub' }] },
      'OVERLAP', 'peerings[1]: vpc "hub" is already peered with "x" (10.1.0.0/16), which overlaps "y" (10.1.0.0/16): routes in "hub" would be ambiguous'],
  ];
  for (const [doc, code, message] of cases) {
    const err = errorOf(() => check(doc));
    t.is(err.message, message);
    t.is(err.code, code, message);
  }
});

test('checkers work without a path for single-object commands', (t) => {
  t.deepEqual(checkVpcCidr('10.0.0.0/16'), { network: 0x0a000000, prefix: 16 });
  t.is(errorOf(() => checkVpcCidr('10.0.0.1/16')).message, 'vpc 10.0.0.1/16 has host bits set (did you mean 10.0.0.0/16?)');
  t.is(errorOf(() => checkVpcCidr('10.0.0.0/99')).code, 'INVALID_CIDR');

  const siblings = [{ name: 'web', cidr: '10.0.1.0/24' }];
  t.deepEqual(checkSubnetCidr('10.0.0.0/16', '10.0.2.0/24', siblings), { network: 0x0a000200, prefix: 24 });
  const overlap = errorOf(() => checkSubnetCidr('10.0.0.0/16', '10.0.0.0/20', siblings));
  t.is(overlap.code, 'OVERLAP');
  t.is(overlap.message, '10.0.0.0/20 overlaps subnet "web" (10.0.1.0/24)');
  t.is(errorOf(() => checkSubnetCidr('10.0.0.0/16', '10.0.1.0/24', siblings, 'subnet "db"')).message,
    'subnet "db": 10.0.1.0/24 overlaps subnet "web" (10.0.1.0/24)');

  t.notThrows(() => checkHostNsFree('a', 'b', [{ vpc: 'a', subnet: 'b' }]), 'the same subnet does not collide with itself');
  t.is(errorOf(() => checkHostNsFree('a', 'b-c', [{ vpc: 'a-b', subnet: 'c' }])).code, 'CONFLICT');

  t.notThrows(() => checkAppPort(81, [80]));
  t.is(errorOf(() => checkAppPort(80, [80])).code, 'IN_USE');
});

test('checkPeering: disjoint peers are fine, and each side is checked against its own peers', (t) => {
  const vpcs = [
    { name: 'a', cidr: '10.0.0.0/16' },
    { name: 'b', cidr: '10.1.0.0/16' },
    { name: 'c', cidr: '10.2.0.0/16' },
    { name: 'd', cidr: '10.1.0.0/24' },
  ];
  t.notThrows(() => checkPeering(vpcs, { vpc1: 'a', vpc2: 'b' }, []));
  t.notThrows(() => checkPeering(vpcs, { vpc1: 'a', vpc2: 'c' }, [{ vpc1: 'a', vpc2: 'b' }]));
  // d overlaps b; c is peered with b, so c may not also peer with d.
  const err = errorOf(() => checkPeering(vpcs, { vpc1: 'd', vpc2: 'c' }, [{ vpc1: 'b', vpc2: 'c' }]));
  t.is(err.code, 'OVERLAP');
  t.is(err.message, 'vpc "c" is already peered with "b" (10.1.0.0/16), which overlaps "d" (10.1.0.0/24): routes in "c" would be ambiguous');
  // Only each side's own peers matter: an existing b~d does not concern a~c.
  t.notThrows(() => checkPeering(vpcs, { vpc1: 'a', vpc2: 'c' }, [{ vpc1: 'b', vpc2: 'd' }]));
  t.is(errorOf(() => checkPeering(vpcs, { vpc1: 'a', vpc2: 'zz' }, [])).code, 'NOT_FOUND');
});
