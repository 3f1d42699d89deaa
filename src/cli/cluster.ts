/**
 * The cluster's commands, and the cluster side of the commands that write
 * intent. Loaded only when a cluster command runs or a cluster is
 * configured: the single-host path never loads this file's imports (etcd3
 * and gRPC are required even later, on the first etcd request).
 */
import type { Command } from 'commander';
import { VpcctlError } from '../errors.js';
import { clusterPath, readClusterConfig } from '../cluster/config.js';
import { bad, count, dim, ok, table } from './output.js';
import { printData, withOutput } from './format.js';
import { print } from './stdio.js';

type Globals = { cluster?: string; stateDir?: string };
export const pathOf = (cmd: Command) => clusterPath(cmd.optsWithGlobals<Globals>().cluster);
const commands = () => import('../cluster/commands.js');

export function configOf(cmd: Command) {
  const path = pathOf(cmd);
  try {
    return readClusterConfig(path);
  } catch (e) {
    if ((e as Error).message.includes('ENOENT')) throw new VpcctlError('INVALID_INPUT', `no cluster configured (${path}): run 'vpcctl cluster join' first`);
    throw e;
  }
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('span VPCs over several hosts (intent in etcd, VXLAN between routers)');
  cluster.command('join').description('join this host to a cluster: register it and write the cluster file')
    .requiredOption('--etcd <urls>', 'etcd endpoints, comma-separated (http://HOST:PORT,...)')
    .requiredOption('--host <name>', "this host's name in the cluster")
    .option('--underlay <addr>', "this host's address for VXLAN tunnels (default: detected from the etcd endpoints' network)")
    .action(async (o, cmd) => {
      const cfg = await (await commands()).join(pathOf(cmd), { ...o, stateDir: (cmd as Command).optsWithGlobals<Globals>().stateDir });
      print(`host ${cfg.host} joined (underlay ${cfg.underlay}); wrote ${pathOf(cmd)}; run 'vpcctl agent' to keep it live`);
    });
  withOutput(cluster.command('status').description('hosts, their liveness and what each has applied'))
    .action(async (o, cmd) => {
      const s = await (await commands()).clusterStatus(configOf(cmd));
      if (printData(o, s)) return;
      print(`revision ${s.revision}: ${s.vpcs} vpcs, ${s.subnets} subnets, ${s.hosts.length} hosts`);
      print(table(['HOST', 'UNDERLAY', 'LIVE', 'SUBNETS', 'APPLIED', 'STATE'], s.hosts.map((h) => [
        h.name, h.underlay, h.live ? ok('up') : bad('down'), h.subnets,
        h.applied ? `rev ${h.applied.revision}` : '-',
        h.inSync ? ok('in sync') : h.applied?.error ? bad(`error: ${h.applied.error}`) : dim('pending'),
      ])));
    });
  cluster.command('leave').description('remove a host from the cluster')
    .requiredOption('--host <name>', 'host to remove').option('--drain', "move the host's subnets (and their apps) to the other live hosts")
    .action(async (o, cmd) => {
      const r = await (await commands()).leave(pathOf(cmd), configOf(cmd), o.host, !!o.drain);
      print(`host ${o.host} left the cluster${o.drain ? `; ${count(r.moved, 'subnet')} moved` : ''}`);
    });
  program.command('agent').description("reconcile this host's share of the cluster intent (run by systemd: vpcctl-agent.service)")
    .action(async (_o, cmd) => {
      const { runAgent } = await import('../cluster/agent.js');
      const ac = new AbortController();
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => ac.abort());
      process.exitCode = await runAgent(configOf(cmd), { stateDir: (cmd as Command).optsWithGlobals<Globals>().stateDir, signal: ac.signal });
      // Stopped: the lease is revoked and the client closed. A gRPC handle
      // that lingers must not keep a stopped agent alive (systemd would wait).
      setTimeout(() => process.exit(), 1000).unref();
    });
}

