// Build two peered VPCs through the library and check connectivity.
// Run as root: sudo node examples/two-vpcs.mjs   (cleans up after itself)
import { Vpcctl, VpcctlError } from 'vpcctl';

const v = new Vpcctl({ stateDir: process.env.VPCCTL_STATE_DIR ?? '/tmp/vpcctl-example' });
try {
  await v.apply({
    vpcs: [
      { name: 'blue', cidr: '10.60.0.0/16', subnets: [{ name: 'web', cidr: '10.60.1.0/24', type: 'public', apps: [{ port: 80 }] }] },
      { name: 'green', cidr: '10.61.0.0/16', subnets: [{ name: 'db', cidr: '10.61.1.0/24', type: 'private' }] },
    ],
  });
  const before = await v.testConnectivity({ vpc: 'green', fromSubnet: 'db', toSubnet: 'web', toVpc: 'blue', port: 80 });
  await v.peer({ vpc1: 'blue', vpc2: 'green' });
  const after = await v.testConnectivity({ vpc: 'green', fromSubnet: 'db', toSubnet: 'web', toVpc: 'blue', port: 80 });
  console.log(`green/db -> blue/web:80 before peering: ${before.reachable}, after: ${after.reachable} (${after.tcp?.rttMs?.toFixed(2)} ms)`);
  process.exitCode = !before.reachable && after.reachable ? 0 : 1;
} catch (e) {
  console.error(e instanceof VpcctlError ? `${e.code}: ${e.message}` : e);
  process.exitCode = 1;
} finally {
  await v.cleanupAll();
}
