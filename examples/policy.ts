// Security policies through the library: apply-policy, show-policy, remove-policy.
// Run as root after examples/vpcs.ts has made shop/web (or any subnet): sudo npx tsx examples/policy.ts
import { Vpcctl, type Policy } from 'vpcctl';

const v = new Vpcctl({ stateDir: process.env.VPCCTL_STATE_DIR ?? '/tmp/vpcctl-example' });

const policy: Policy = {
  subnet: '10.10.1.0/24', // optional when `subnet` is given to applyPolicy
  ingress: [
    { port: [80, 443], action: 'allow' },
    { port: '8000-8100', protocol: 'tcp', action: 'allow', cidr: '10.0.0.0/8' },
    { protocol: 'icmp', action: 'allow' },
  ],
  egress: [{ port: 25, action: 'deny' }],
  default: 'deny',
};

const applied = await v.applyPolicy({ vpc: 'shop', subnet: 'web', policy });
console.log(`apply-policy: ${applied.changed ? 'applied' : 'already in place'} on ${applied.value}`);
const report = await v.showPolicy({ vpc: 'shop', subnet: 'web' });
for (const r of report.rules) console.log(`${r.chain} ${r.rule}: ${r.packets} packets`);
await v.removePolicy({ vpc: 'shop', subnet: 'web' });
