import test from 'ava';
import { readFileSync } from 'node:fs';
import { compilePolicy } from '../../src/firewall/policy.js';
import { routerRuleset } from '../../src/firewall/router.js';
import { rootRuleset } from '../../src/firewall/root.js';
import { parsePolicy } from '../../src/model/schema.js';
import { emptyState, type VpcState } from '../../src/state/types.js';
import { checkFixture, netkitFixture } from '../helpers/fixture.js';

/**
 * crates/netkit/tests/fixtures/nft-rulesets.json holds tables as src/firewall
 * compiles them; netkit's nftcmp tests compare them with the same tables as
 * libnftables listed them (nft-listed.json, scripts/nft-listed.sh), and its
 * verify kernel tests apply them (tests/common). This test makes them again
 * from the compilers: if a compiler changes, this fails until the fixture is
 * rewritten (UPDATE_FIXTURES=1, then scripts/nft-listed.sh), and the Rust
 * tests then run on the new shapes.
 */
const policyFile = (name: string) =>
  parsePolicy(JSON.parse(readFileSync(new URL(`../../policies/${name}.json`, import.meta.url), 'utf8')));

const router: VpcState = {
  name: 'demo', cidr: '10.0.0.0/16', uplink: 'eth9', transit: '100.64.0.0/30',
  subnets: {
    web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', apps: [] },
    db: { name: 'db', cidr: '10.0.2.0/24', type: 'private', apps: [] },
    batch: { name: 'batch', cidr: '10.0.3.0/24', type: 'private', apps: [] },
  },
};

/** A NAT gateway for one private subnet, and a port published on two subnets (a load balancer) and on one. */
const routerNat: VpcState = {
  ...router,
  subnets: {
    web: { ...router.subnets.web!, publish: [{ port: 80, hostPort: 8080, protocol: 'tcp', address: '203.0.113.1' }] },
    db: { ...router.subnets.db!, egress: 'nat', publish: [{ port: 80, hostPort: 8080, protocol: 'tcp', address: '203.0.113.1' }] },
    batch: { ...router.subnets.batch!, publish: [{ port: 53, hostPort: 5353, protocol: 'udp', address: '203.0.113.1' }] },
  },
};

function nftRulesets(): Record<string, unknown> {
  const host = emptyState();
  host.vpcs.demo = router;
  const hostPublish = emptyState();
  hostPublish.vpcs.demo = routerNat;
  return {
    'policy-locked-down': compilePolicy(policyFile('locked-down')),
    'policy-ranges': compilePolicy(policyFile('ranges')),
    'policy-web': compilePolicy(policyFile('web')),
    'policy-cidrs': compilePolicy(parsePolicy({
      subnet: '10.0.1.0/24',
      default: 'deny',
      ingress: [
        { port: 22, protocol: 'tcp', cidr: ['192.0.2.1/32', '10.0.0.0/16'], action: 'allow' },
        { protocol: 'all', cidr: '0.0.0.0/0', action: 'deny' },
      ],
      egress: [{ protocol: 'icmp', cidr: '10.1.0.0/16', action: 'allow' }],
    })),
    // The hosts' policy of netkit's verify kernel tests (tests/common): pings count in egress[0].
    'policy-verify': compilePolicy(parsePolicy({
      subnet: '10.60.0.0/24',
      default: 'deny',
      ingress: [{ port: [80, 443], protocol: 'tcp', action: 'allow' }, { protocol: 'icmp', action: 'allow' }],
      egress: [{ protocol: 'icmp', action: 'allow' }],
    })),
    // Flow logs on (issue 16 §4): a log rule before each verdict and for the default.
    'policy-flow-logs': compilePolicy(policyFile('web'), { flowLogs: true }),
    router: routerRuleset(router),
    'router-empty': routerRuleset({ name: 'empty', cidr: '10.9.0.0/16', uplink: null, transit: null, subnets: {} }),
    host: rootRuleset(host), // the machine's (root namespace) table
    'router-nat-publish': routerRuleset(routerNat),
    'host-publish': rootRuleset(hostPublish),
    // Dual-stack (issue 17): IPv6 anti-spoofing in the router; ranges of both families, ND and ICMPv6 in a policy.
    'router-dual-stack': routerRuleset({ ...router, ipv6Cidr: 'fd00:10::/56' }),
    'policy-dual-stack': compilePolicy(parsePolicy({
      subnet: '10.0.1.0/24',
      default: 'deny',
      ingress: [
        { port: 22, protocol: 'tcp', cidr: ['10.0.0.0/16', 'fd00:10::/56', 'fd00:20::1/128'], action: 'allow' },
        { protocol: 'icmp', action: 'allow' },
        { protocol: 'all', cidr: '::/0', action: 'deny' },
      ],
      egress: [],
    }), { ipv6: true }),
  };
}

test('nft-rulesets.json is what src/firewall compiles now', (t) => {
  checkFixture(t, netkitFixture('nft-rulesets.json'), nftRulesets());
});
