/**
 * What the CLI's cluster commands do: join, status, leave, and the intent
 * writes that replace the local ones when a cluster is configured. Each
 * opens one etcd client and closes it before returning.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { VpcctlError } from '../errors.js';
import type { Topology } from '../model/schema.js';
import {
  checkUnderlay, detectUnderlay, parseEndpoints, readClusterConfig, validateHostName, writeClusterConfig,
  type ClusterConfig,
} from './config.js';
import type { Intent } from './keys.js';
import * as m from './mutations.js';
import { hostShare, shareDigest } from './share.js';
import { ClusterStore } from './store.js';

/** Seconds a host stays "live" after its last keep-alive (the agent renews every third of it). */
export const LEASE_TTL = Number(process.env.VPCCTL_LEASE_TTL ?? 10);

async function withStore<T>(endpoints: string[], fn: (s: ClusterStore) => Promise<T>): Promise<T> {
  const store = ClusterStore.open(endpoints);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

export interface JoinInput { etcd: string; host: string; underlay?: string; stateDir?: string }

/**
 * Register this host (membership + a lease its agent keeps alive) and write the cluster file.
 * Refused (exit 2, nothing written) where the agent would take what is not the cluster's: a
 * cluster file naming another cluster or host, or VPCs this host made on its own (the agent
 * applies its share with prune, so it would delete them).
 */
export async function join(path: string, input: JoinInput): Promise<ClusterConfig> {
  const etcd = parseEndpoints(input.etcd);
  const host = validateHostName(input.host);
  const underlay = input.underlay !== undefined ? checkUnderlay(input.underlay) : detectUnderlay(etcd);
  const before = existsSync(path) ? readClusterConfig(path) : null;
  if (before && (before.host !== host || before.etcd.join(',') !== etcd.join(','))) {
    throw new VpcctlError('CONFLICT', `${path} already joins this machine to ${before.etcd.join(',')} as host "${before.host}": 'vpcctl cluster leave --host ${before.host}' first`);
  }
  if (!before) {
    const { Vpcctl } = await import('../api/vpcctl.js');
    const local = (await new Vpcctl({ stateDir: input.stateDir }).list()).map((v) => v.name);
    if (local.length > 0) {
      throw new VpcctlError('CONFLICT', `this host has ${local.length === 1 ? 'a VPC' : `${local.length} VPCs`} made outside a cluster (${local.join(', ')}); the agent would delete ${local.length === 1 ? 'it' : 'them'}: delete ${local.length === 1 ? 'it' : 'them'} first and create them through the cluster`);
    }
  }
  await withStore(etcd, async (store) => {
    await store.transact((intent) => {
      const prev = intent.hosts[host];
      if (prev && prev.underlay !== underlay) {
        throw new VpcctlError('CONFLICT', `host "${host}" has already joined with underlay ${prev.underlay} ('cluster leave --host ${host}' first)`);
      }
      if (!prev) intent.hosts[host] = { name: host, underlay, joinedAt: new Date().toISOString(), index: freeIndex(intent, host) };
    });
    // Live for one TTL: the agent then keeps the host live with a lease of its own.
    await store.heartbeat(host, LEASE_TTL, false);
  });
  const cfg = { etcd, host, underlay };
  writeClusterConfig(path, cfg);
  return cfg;
}

/** The smallest host index no member holds (two joins racing conflict on the transaction and retry). */
function freeIndex(intent: Intent, host: string): number {
  let i = 1;
  while (intent.hostIndexes[i] !== undefined) i++;
  intent.hostIndexes[i] = host;
  return i;
}

export interface HostStatus {
  name: string;
  underlay: string;
  live: boolean;
  /** Subnets the intent places on the host. */
  subnets: number;
  /** What its agent last reported; absent: it never ran. */
  applied?: AgentReport;
  /**
   * The agent's last apply is the host's current share of the intent, made
   * with the hosts live now: a host that comes back (or goes) changes the
   * tunnels and routes to it on every other host, and until each agent has
   * applied that, traffic to it is still dropped there.
   */
  inSync: boolean;
}

/** The agent's report, at status/<host>/agent. */
export interface AgentReport {
  ok: boolean;
  revision: number;
  digest: string;
  subnets: number;
  vpcs: number;
  /** The hosts live when it applied (sorted): its overlays reach those. Older agents do not say. */
  liveHosts?: string[];
  at: string;
  elapsedMs?: number;
  error?: string;
}

export interface ClusterStatus { revision: number; vpcs: number; subnets: number; hosts: HostStatus[] }

export async function clusterStatus(cfg: ClusterConfig): Promise<ClusterStatus> {
  return withStore(cfg.etcd, async (store) => {
    const snap = await store.snapshot();
    const [live, statuses] = await Promise.all([store.liveHosts(), store.statuses()]);
    const hosts = Object.values(snap.intent.hosts).sort((a, b) => (a.name < b.name ? -1 : 1)).map((h) => {
      const applied = statuses[h.name]?.agent as AgentReport | undefined;
      const share = hostShare(snap.intent, h.name);
      const subnets = share.vpcs.reduce((n, v) => n + (v.subnets?.length ?? 0), 0);
      return {
        name: h.name, underlay: h.underlay, live: live.has(h.name), subnets, ...(applied ? { applied } : {}),
        inSync: !!applied?.ok && applied.digest === shareDigest(share) && sameHosts(applied.liveHosts, live),
      };
    });
    const subnets = Object.values(snap.intent.subnets).reduce((n, s) => n + Object.keys(s).length, 0);
    return { revision: snap.revision, vpcs: Object.keys(snap.intent.vpcs).length, subnets, hosts };
  });
}

/** A report from an agent that does not list them is judged by its share alone. */
const sameHosts = (seen: string[] | undefined, live: ReadonlySet<string>): boolean =>
  !seen || (seen.length === live.size && seen.every((h) => live.has(h)));

/**
 * Remove a host from the cluster. Its subnets must go first: with `drain`
 * they move to the other live hosts in the same transaction that removes
 * the host; without, a host that still runs subnets is refused (exit 2).
 */
export async function leave(path: string, cfg: ClusterConfig, host: string, drain: boolean): Promise<{ moved: number }> {
  validateHostName(host);
  const moved = await withStore(cfg.etcd, async (store) => {
    const live = await store.liveHosts();
    live.delete(host);
    const { value } = await store.transact((intent) => {
      if (!intent.hosts[host]) throw new VpcctlError('NOT_FOUND', `host "${host}" is not in the cluster`);
      const on = m.subnetsOn(intent, host);
      if (on.length > 0 && !drain) {
        throw new VpcctlError('IN_USE', `host "${host}" still runs ${on.length} subnets (${on.slice(0, 3).map((s) => `${s.vpc}/${s.subnet}`).join(', ')}${on.length > 3 ? ', ...' : ''}): 'cluster leave --drain' moves them`);
      }
      const n = drain ? m.drainHost(intent, host, live) : 0;
      const index = intent.hosts[host]!.index;
      if (index !== undefined && intent.hostIndexes[index] === host) delete intent.hostIndexes[index];
      delete intent.hosts[host];
      return n;
    });
    await store.forgetHost(host);
    return value;
  });
  if (host === cfg.host && existsSync(path)) unlinkSync(path);
  return { moved };
}

/** Run a mutation of the intent in one guarded transaction (with the live hosts, for placement). */
export async function write<T>(cfg: ClusterConfig, mutate: (intent: Intent, live: Set<string>) => T): Promise<{ value: T; revision: number; changed: boolean }> {
  return withStore(cfg.etcd, async (store) => {
    const live = await store.liveHosts();
    return store.transact((intent) => mutate(intent, live));
  });
}

/** The cluster's intent as one consistent snapshot (list-vpcs, show-vpc on a cluster host). */
export const readIntent = (cfg: ClusterConfig): Promise<Intent> => withStore(cfg.etcd, async (store) => (await store.snapshot()).intent);

export const applyTopology = (cfg: ClusterConfig, topo: Topology, prune: boolean) =>
  write(cfg, (intent, live) => m.mergeTopologyIntent(intent, topo, { prune, live }));

export { readClusterConfig };
