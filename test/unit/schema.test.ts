import test from 'ava';
import { parsePolicy, parseSubnetPolicy, parseTopology, portRangesOf, topologyJsonSchema } from '../../src/model/schema.js';
import { errorOf } from '../helpers/error-of.js';

const SEED_POLICY = {
  subnet: '10.0.1.0/24',
  ingress: [
    { port: 80, protocol: 'tcp', action: 'allow' },
    { port: 22, protocol: 'tcp', action: 'deny' },
  ],
};

const topo = (subnet: Record<string, unknown> = {}) => ({
  vpcs: [{ name: 'demo', cidr: '10.0.0.0/16', subnets: [{ name: 'web', cidr: '10.0.1.0/24', type: 'public', ...subnet }] }],
});


test('the seed policy parses, with defaults filled', (t) => {
  const p = parsePolicy(SEED_POLICY);
  t.deepEqual(p, { ...SEED_POLICY, egress: [], default: 'allow' });
});

test('protocol defaults to tcp with a port and all without', (t) => {
  const p = parsePolicy({ subnet: '10.0.1.0/24', ingress: [{ port: 80, action: 'allow' }, { action: 'deny', cidr: '10.9.0.0/16' }] });
  t.is(p.ingress[0]!.protocol, 'tcp');
  t.is(p.ingress[1]!.protocol, 'all');
});

test('port accepts a number, a range string and a list', (t) => {
  const p = parsePolicy({ subnet: '10.0.1.0/24', ingress: [{ port: [80, '8000-8100', '443'], action: 'allow', protocol: 'udp' }] });
  t.deepEqual(portRangesOf(p.ingress[0]!.port!), [[80, 80], [8000, 8100], [443, 443]]);
  t.deepEqual(portRangesOf(8080), [[8080, 8080]]);
});

test('policy errors name the path and the value', (t) => {
  const cases: Array<[unknown, string]> = [
    [{ ...SEED_POLICY, subnet: '10.0.1.5/24' }, 'subnet: 10.0.1.5/24 has host bits set (did you mean 10.0.1.0/24?)'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: 70000, action: 'allow' }] }, 'ingress[0].port: 70000 is not a port (use 1-65535)'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: [80, 0], action: 'allow' }] }, 'ingress[0].port[1]: 0 is not a port (use 1-65535)'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: 8.5, action: 'allow' }] }, 'ingress[0].port: 8.5 is not a port (use 1-65535)'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: '9000-8000', action: 'allow' }] },
      'ingress[0].port: "9000-8000" is not a port range (use "lo-hi" within 1-65535, lo <= hi)'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: true, action: 'allow' }] }, 'ingress[0].port: expected number or string or array, got boolean true'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: [], action: 'allow' }] }, 'ingress[0].port: must not be empty'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: 53, protocol: 'icmp', action: 'allow' }] }, 'ingress[0].port: a port needs protocol tcp or udp, not icmp'],
    [{ subnet: '10.0.1.0/24', egress: [{ port: 53, protocol: 'all', action: 'allow' }] }, 'egress[0].port: a port needs protocol tcp or udp, not all'],
    [{ subnet: '10.0.1.0/24', ingress: [{ protocol: 'sctp', action: 'allow' }] }, 'ingress[0].protocol: "sctp" is not one of tcp, udp, icmp, all'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: 80 }] }, 'ingress[0].action: is required'],
    [{ subnet: '10.0.1.0/24', ingress: [{ port: 80, action: 'allow', note: 'x' }] }, 'ingress[0]: unknown field "note"'],
    [{ subnet: '10.0.1.0/24', ingress: [{ action: 'allow', cidr: ['10.0.0.0/8', '10.0.0.0/99'] }] }, 'ingress[0].cidr[1]: 10.0.0.0/99 is not a CIDR'],
    [{ ...SEED_POLICY, default: 'reject' }, 'default: "reject" is not one of allow, deny'],
    [{ ingress: [] }, 'subnet: is required'],
    ['nope', 'policy: expected object, got string "nope"'],
  ];
  for (const [value, message] of cases) {
    const err = errorOf(() => parsePolicy(value));
    t.is(err.code, 'INVALID_POLICY');
    t.is(err.message, message);
  }
});

test('parseSubnetPolicy lets the subnet be omitted but still checks it', (t) => {
  t.deepEqual(parseSubnetPolicy({ ingress: [{ port: 80, action: 'allow' }] }), {
    ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }], egress: [], default: 'allow',
  });
  const err = errorOf(() => parseSubnetPolicy({ subnet: '10.0.1.0/33' }));
  t.is(err.code, 'INVALID_POLICY');
  t.is(err.message, 'subnet: 10.0.1.0/33 is not a CIDR');
});

test('a topology parses with defaults', (t) => {
  const parsed = parseTopology(topo({ apps: [{ port: 80, command: ['python3', '-m', 'http.server', '80'] }] }));
  t.deepEqual(parsed.peerings, []);
  t.is(parsed.vpcs[0]!.subnets[0]!.apps[0]!.port, 80);
  t.is(parseTopology({ vpcs: [{ name: 'a', cidr: '10.0.0.0/16' }] }).vpcs[0]!.subnets.length, 0);
  // A topology policy may omit its subnet.
  const withPolicy = parseTopology(topo({ policy: { ingress: [{ port: 80, action: 'allow' }], default: 'deny' } }));
  t.is(withPolicy.vpcs[0]!.subnets[0]!.policy?.default, 'deny');
});

test('topology errors name the path in the documented style', (t) => {
  const twoSubnets = {
    vpcs: [{ name: 'demo', cidr: '10.0.0.0/16', subnets: [
      { name: 'web', cidr: '10.0.1.0/24', type: 'public' },
      { name: 'db', cidr: '10.20.2.0/99', type: 'private' },
    ] }],
  };
  const cases: Array<[unknown, string]> = [
    [twoSubnets, 'vpcs[0].subnets[1].cidr: 10.20.2.0/99 is not a CIDR'],
    [{ vpcs: [{ name: 'Bad_Name', cidr: '10.0.0.0/16' }] },
      `vpcs[0].name: vpc name "Bad_Name" is invalid: use a-z, 0-9 and '-', start with a letter or digit, at most 32 characters`],
    [topo({ type: 'dmz' }), 'vpcs[0].subnets[0].type: "dmz" is not one of public, private'],
    [topo({ apps: [{ port: 0 }] }), 'vpcs[0].subnets[0].apps[0].port: 0 is not a port (use 1-65535)'],
    [topo({ policy: { ingress: [{ port: 80, action: 'maybe' }] } }), 'vpcs[0].subnets[0].policy.ingress[0].action: "maybe" is not one of allow, deny'],
    [{ vpcs: [{ name: 'a', cidr: '10.0.0.0/16', extra: 1, more: 2 }] }, 'vpcs[0]: unknown fields "extra", "more"'],
    [{ vpcs: [{ name: 'a', cidr: '10.0.0.0/16', uplink: 'has space' }] }, 'vpcs[0].uplink: "has space" is not an interface name'],
    [{ vpcs: [], peerings: [{ vpc1: 'a' }] }, 'peerings[0].vpc2: is required'],
    [{}, 'vpcs: is required'],
    [null, 'topology: expected object, got null'],
    [[], 'topology: expected object, got an array'],
  ];
  for (const [value, message] of cases) {
    const err = errorOf(() => parseTopology(value));
    t.is(err.code, 'INVALID_INPUT');
    t.is(err.message, message);
  }
});

test('the JSON Schema describes the topology file', (t) => {
  const schema = topologyJsonSchema() as any;
  t.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.deepEqual(schema.required, ['vpcs']);
  t.false(schema.additionalProperties);
  const subnet = schema.properties.vpcs.items.properties.subnets.items;
  t.deepEqual(subnet.properties.type.enum, ['public', 'private']);
  // cidr is optional: a subnet without one in a dual-stack vpc is IPv6-only (validate.ts).
  t.deepEqual([...subnet.required].sort(), ['name', 'type']);
  t.truthy(subnet.properties.policy.properties.ingress);
});
