import { native } from '../native.js';
import { APP_SERVER } from '../paths.js';

/**
 * A simulated internet for the demo and the tests: a namespace holding the
 * far end of the host's uplink and a web server on a documentation address.
 * Only ever built inside a sandbox (its own network namespace), so no packet
 * reaches a real network. Made with the native module, like everything else.
 */
export const SIM = {
  ns: 'sim-inet',
  uplink: 'uplink0',
  uplinkAddress: '203.0.113.1',
  upstreamAddress: '203.0.113.254',
  serverAddress: '198.51.100.10',
  serverPort: 80,
  // Its IPv6 side, on the documentation prefix 2001:db8::/32 (tests run their own server there).
  uplinkAddress6: '2001:db8:ffff::1',
  upstreamAddress6: '2001:db8:ffff::fe',
  serverAddress6: '2001:db8:100::10',
  // The prefix the simulated provider routes to the host (as one delegates a prefix to a customer):
  // a VPC given a prefix inside it is routed, its subnets seen by their own addresses (addresses.ts).
  delegated6: '2001:db8:8000::/33',
} as const;

export interface SimInternet { serverPid: number }

export async function buildSimInternet(logFile = '/run/sim-inet.log'): Promise<SimInternet> {
  if (process.env.VPCCTL_SANDBOX !== '1') throw new Error('the simulated internet is only built inside a sandbox (VPCCTL_SANDBOX=1)');
  const n = await native();
  await n.netnsAdd(SIM.ns, 'sim-internet');
  await n.vethAdd({ ns: '', name: SIM.uplink, peerNs: SIM.ns, peerName: 'wan0' });
  await n.addrAdd('', SIM.uplink, `${SIM.uplinkAddress}/24`);
  await n.routeAdd('', { dst: 'default', via: SIM.upstreamAddress, dev: SIM.uplink });
  await n.addrAdd(SIM.ns, 'wan0', `${SIM.upstreamAddress}/24`);
  await n.addrAdd(SIM.ns, 'lo', `${SIM.serverAddress}/32`);
  await n.addrAdd('', SIM.uplink, `${SIM.uplinkAddress6}/64`);
  await n.routeAdd('', { dst: '::/0', via: SIM.upstreamAddress6, dev: SIM.uplink });
  await n.addrAdd(SIM.ns, 'wan0', `${SIM.upstreamAddress6}/64`);
  await n.addrAdd(SIM.ns, 'lo', `${SIM.serverAddress6}/128`);
  await n.routeAdd(SIM.ns, { dst: SIM.delegated6, via: SIM.uplinkAddress6, dev: 'wan0' });
  const serverPid = await n.spawnDetached(SIM.ns, [process.execPath, APP_SERVER, String(SIM.serverPort)], {
    logFile, env: { VPCCTL_APP_VPC: 'internet', VPCCTL_APP_SUBNET: 'web', VPCCTL_APP_ADDRESS: SIM.serverAddress },
  });
  // Reached from the host across the uplink: a new veth carries nothing until the kernel's link
  // watcher (batched, up to a second) has seen its carrier, and a test's first packet must not be lost.
  for (let i = 0; i < 50; i++) {
    // IPv6 answers later still: neighbour discovery over the new link.
    if ((await n.tcpConnect('', SIM.serverAddress, SIM.serverPort, 100)).ok && (await n.ping('', SIM.upstreamAddress6, 100)).ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { serverPid };
}
