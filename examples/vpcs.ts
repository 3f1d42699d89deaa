// VPCs, subnets and peerings through the library, one call per CLI command
// (create-vpc, create-subnet, set-egress, peer-vpcs, unpeer-vpcs, delete-subnet, delete-vpc).
// Run as root: sudo npx tsx examples/vpcs.ts
import { Vpcctl, type ChangeResult } from 'vpcctl';

const v = new Vpcctl({ stateDir: process.env.VPCCTL_STATE_DIR ?? '/tmp/vpcctl-example' });
const said = (what: string, r: ChangeResult) => console.log(`${what}: ${r.changed ? `${r.plan.ops.length} kernel operations` : 'nothing to do'}`);

said('create-vpc', await v.createVpc({ name: 'shop', cidr: '10.10.0.0/16' }));
said('create-vpc', await v.createVpc({ name: 'analytics', cidr: '10.20.0.0/16' }));
said('create-subnet', await v.createSubnet({ vpc: 'shop', name: 'web', cidr: '10.10.1.0/24', type: 'public' }));
said('create-subnet', await v.createSubnet({ vpc: 'shop', name: 'db', cidr: '10.10.2.0/24', type: 'private' }));
said('set-egress', await v.setEgress({ vpc: 'shop', subnet: 'db', egress: 'nat' }));
// A dual-stack VPC; a subnet without a cidr there is IPv6-only (its /64 the next free one).
said('create-vpc', await v.createVpc({ name: 'six', cidr: '10.30.0.0/16', ipv6Cidr: 'fd00:30::/56' }));
said('create-subnet', await v.createSubnet({ vpc: 'six', name: 'api', type: 'public' }));
said('peer-vpcs', await v.peer({ vpc1: 'shop', vpc2: 'analytics' }));
said('unpeer-vpcs', await v.unpeer({ vpc1: 'shop', vpc2: 'analytics' }));
said('delete-subnet', await v.deleteSubnet({ vpc: 'shop', subnet: 'db' }));
// A dry run plans and changes nothing: its diff says what would go.
const dry = await v.deleteVpc({ name: 'shop' }, { dryRun: true });
console.log(dry.diff.items.map((i) => `${i.action} ${i.kind} ${i.name}`).join('\n'));
said('delete-vpc', await v.deleteVpc({ name: 'shop' }));
said('delete-vpc', await v.deleteVpc({ name: 'analytics' }));
said('delete-vpc', await v.deleteVpc({ name: 'six' }));
