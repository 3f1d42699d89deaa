// Reading and housekeeping through the library: list-vpcs, show-vpc, list-peerings, status,
// publish / unpublish / list-published, graph, cleanup-all.
// Run as root: sudo npx tsx examples/inspect.ts
import { Vpcctl, VpcctlError, type StatusReport, type VpcDetail } from 'vpcctl';

const v = new Vpcctl({ stateDir: process.env.VPCCTL_STATE_DIR ?? '/tmp/vpcctl-example' });

for (const s of await v.list()) console.log(`${s.name} ${s.cidr}: ${s.subnets} subnets, peers ${s.peers.join(', ') || '-'}`);
try {
  const shop: VpcDetail = await v.show({ name: 'shop' });
  for (const s of shop.subnetDetails) console.log(`${s.name} ${s.cidr} ${s.type} in ${s.namespace}`);
  const published = await v.publish({ vpc: 'shop', subnet: 'web', port: 80, hostPort: 8080, protocol: 'tcp' });
  console.log(`published on ${published.value.address}:${published.value.hostPort}`);
  for (const p of await v.listPublished({ vpc: 'shop' })) console.log(`${p.address}:${p.hostPort} -> ${p.targets.map((t) => t.subnet).join(', ')}`);
  await v.unpublish({ vpc: 'shop', hostPort: 8080 });
} catch (e) {
  if (!(e instanceof VpcctlError && e.code === 'NOT_FOUND')) throw e;
  console.log('no vpc shop: run examples/vpcs.ts first');
}
console.log((await v.peerings()).map((p) => `${p.vpc1} <-> ${p.vpc2}`).join('\n') || 'no peerings');
const status: StatusReport = await v.status();
console.log(status.ok ? 'in sync' : `drift: ${status.drift.map((d) => d.object).join(', ')}`);
console.log((await v.graph({ format: 'mermaid' })).split('\n')[0]);
const wouldGo = await v.cleanupAll({ dryRun: true });
console.log(`cleanup-all would remove ${wouldGo.namespaces.length} namespaces`);
await v.cleanupAll();
