/**
 * The cluster side of the commands that write intent (create-vpc, create-subnet,
 * delete-*, apply) and of list-vpcs/show-vpc: used instead of the local state
 * when a cluster is configured (the local state holds only this host's share).
 */
import type { Command } from 'commander';
import * as c from '../cluster/commands.js';
import * as m from '../cluster/mutations.js';
import { configOf } from './cluster.js';
import { print } from './stdio.js';
import { clusterVpc, clusterVpcs } from '../cluster/inspect.js';
import { listTable, printData, printList, type OutputOptions } from './format.js';
import { views } from './views.js';

const written = (what: string, r: { changed: boolean; revision: number }) =>
  print(r.changed ? `${what}: written to the cluster (revision ${r.revision}); the hosts' agents apply it` : `${what}: 0 changes`);


export const createVpc = async (cmd: Command, o: { name: string; cidr: string; uplink?: string }) =>
  written(`vpc ${o.name}`, await c.write(configOf(cmd), (intent) => m.createVpc(intent, o)));

export const deleteVpc = async (cmd: Command, name: string) =>
  written(`delete vpc ${name}`, await c.write(configOf(cmd), (intent) => m.deleteVpc(intent, name)));

export async function createSubnet(cmd: Command, o: { vpc: string; name: string; cidr?: string; type: 'public' | 'private'; host?: string; egress?: 'nat' | 'none' }) {
  const r = await c.write(configOf(cmd), (intent, live) => m.createSubnet(intent, o, live));
  written(`subnet ${o.vpc}/${o.name} on host ${r.value}`, r);
}

export const deleteSubnet = async (cmd: Command, vpc: string, subnet: string) =>
  written(`delete subnet ${vpc}/${subnet}`, await c.write(configOf(cmd), (intent) => m.deleteSubnet(intent, vpc, subnet)));

export async function apply(cmd: Command, document: unknown, prune: boolean) {
  const { readTopology } = await import('../api/topology.js');
  const r = await c.applyTopology(configOf(cmd), readTopology(document), prune);
  written('topology', r);
}

export async function applyPolicy(cmd: Command, vpc: string, subnet: string | undefined, document: unknown) {
  const { parseSubnetPolicy } = await import('../model/schema.js');
  const policy = parseSubnetPolicy(document);
  const r = await c.write(configOf(cmd), (intent) => m.setPolicy(intent, vpc, subnet, policy));
  written(`policy on ${vpc}/${r.value}`, r);
}

export const removePolicy = async (cmd: Command, vpc: string, subnet: string) =>
  written(`remove policy ${vpc}/${subnet}`, await c.write(configOf(cmd), (intent) => m.removePolicy(intent, vpc, subnet)));

export const peer = async (cmd: Command, vpc1: string, vpc2: string) =>
  written(`peering ${vpc1} <-> ${vpc2}`, await c.write(configOf(cmd), (intent) => m.peer(intent, vpc1, vpc2)));

export const unpeer = async (cmd: Command, vpc1: string, vpc2: string) =>
  written(`unpeer ${vpc1} <-> ${vpc2}`, await c.write(configOf(cmd), (intent) => m.unpeer(intent, vpc1, vpc2)));

export async function deployApp(cmd: Command, o: { vpc: string; subnet: string; port: number; command?: string; user?: string }) {
  const r = await c.write(configOf(cmd), (intent) => m.deployApp(intent, o));
  written(`app on ${o.vpc}/${o.subnet}:${o.port} (host ${r.value})`, r);
}

export async function stopApp(cmd: Command, o: { vpc: string; subnet: string; port?: number }) {
  const r = await c.write(configOf(cmd), (intent) => m.stopApps(intent, o));
  written(r.value.length ? `stop app on port ${r.value.join(', ')}` : 'no app to stop', r);
}

export async function destroy(cmd: Command, document: unknown) {
  const { readTopology } = await import('../api/topology.js');
  const topo = readTopology(document);
  const r = await c.write(configOf(cmd), (intent) => m.destroyTopology(intent, topo));
  written(r.value.length ? `remove ${r.value.join(', ')}` : 'nothing to remove', r);
}

export const listVpcs = async (cmd: Command, o: OutputOptions) => printList(o, clusterVpcs(await c.readIntent(configOf(cmd))), views.vpcs);

export async function showVpc(cmd: Command, o: OutputOptions & { name: string }) {
  const v = clusterVpc(await c.readIntent(configOf(cmd)), o.name);
  if (printData(o, v)) return;
  if (o.quiet) return v.subnets.forEach((s) => print(s.name));
  print(`VPC ${v.name}  ${v.cidr}  VNI ${v.vni}  on ${v.hosts.length ? v.hosts.join(', ') : 'no host yet'}`);
  print(`internet gateway: ${v.uplink ? `uplink ${v.uplink} on each host` : 'none (no uplink)'}`);
  if (v.peers.length) print(`peered with: ${v.peers.join(', ')}`);
  if (v.subnets.length) print(listTable(o, v.subnets, views.clusterSubnets));
}
