/**
 * `vpcctl agent`: keeps this host's kernel equal to its share of the
 * cluster intent. A full resync at start, then one on every change under
 * the intent prefix, liveness included (coalesced), on every watch reconnect and every
 * RESYNC_MS (which also repairs drift). A resync reads the intent at one
 * revision, derives the host's share (share.ts) and the overlays that join
 * its routers to the VPCs' routers on other live hosts (overlay.ts), and
 * applies them with prune through Vpcctl.apply -- the same planner, executor and state file as
 * `vpcctl apply -f` -- then writes what it did under status/<host>/.
 * It keeps the host's lease alive: a host whose agent is gone is reported
 * down when the lease lapses.
 *
 * Crash safety comes from the path it reuses: a run killed mid-apply
 * leaves its namespaces `pending` in the local state, and the next run
 * (the restarted agent's first resync) rebuilds them.
 */
import { Vpcctl } from '../api/vpcctl.js';
import { underlayLink } from '../api/network.js';
import type { ClusterConfig } from './config.js';
import { LEASE_TTL, type AgentReport } from './commands.js';
import { PREFIX } from './keys.js';
import { overlaysOf } from './overlay.js';
import { hostShare, shareDigest } from './share.js';
import { ClusterStore } from './store.js';

const RESYNC_MS = Number(process.env.VPCCTL_AGENT_RESYNC_MS ?? 30_000);
/** Events closer than this are one resync (a topology apply is one transaction, but commands come in bursts). */
const DEBOUNCE_MS = 30;
const RETRY_MS = 1000;

export interface AgentOptions {
  stateDir?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** Runs until `signal` aborts, or the host is removed from the cluster (then with its share emptied). */
export async function runAgent(cfg: ClusterConfig, opts: AgentOptions = {}): Promise<number> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
  const api = new Vpcctl({ stateDir: opts.stateDir });
  const store = ClusterStore.open(cfg.etcd);
  let statusPrev = new Map<string, string>();
  let stopped = false;
  /** Seen in the intent during this run: only then does its absence mean `cluster leave` (empty the host). */
  let wasMember = false;
  let watcher: Awaited<ReturnType<ReturnType<ClusterStore['client']['watch']>['create']>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finished!: (code: number) => void;
  const done = new Promise<number>((r) => { finished = r; });

  // Liveness: a lease kept alive by the client library; granted again if lost (etcd down longer than the TTL).
  let lease: Awaited<ReturnType<ClusterStore['heartbeat']>> | undefined;
  const keepAlive = async (): Promise<void> => {
    while (!stopped) {
      try {
        lease = await store.heartbeat(cfg.host, LEASE_TTL);
        lease.on('lost', () => { if (!stopped) { log('lease lost: granting a new one'); void keepAlive(); } });
        return;
      } catch (e) {
        log(`${(e as Error).message}; retrying`);
        await sleep(RETRY_MS);
      }
    }
  };

  let dirty = false;
  let running = false;
  const kick = () => {
    dirty = true;
    if (running || stopped) return;
    running = true;
    void (async () => {
      while (dirty && !stopped) {
        dirty = false;
        await sleep(DEBOUNCE_MS);
        const again = await resync().catch((e) => { log(`resync failed: ${(e as Error).message}`); return true; });
        if (again && !stopped) { await sleep(RETRY_MS); dirty = true; }
      }
      running = false;
    })();
  };

  /** One full pass; true when it should be retried (etcd unreachable). */
  const resync = async (): Promise<boolean> => {
    const snap = await store.snapshot();
    const member = !!snap.intent.hosts[cfg.host];
    if (!member && !wasMember) {
      // Never a member in this run (wrong etcd, a typo in the file): touch nothing.
      log(`host ${cfg.host} is not in the cluster at ${cfg.etcd.join(',')}: run 'vpcctl cluster join' first; stopping`);
      stop(1);
      return false;
    }
    wasMember = member;
    const share = hostShare(snap.intent, cfg.host);
    const digest = shareDigest(share);
    const subnets = share.vpcs.reduce((n, v) => n + (v.subnets?.length ?? 0), 0);
    let report: AgentReport;
    try {
      // Peers are the live hosts: a host whose lease lapsed loses its FDB and neighbour entries here.
      const live = await store.liveHosts();
      const overlays = overlaysOf(snap.intent, cfg.host, live, await underlayLink(cfg.underlay));
      const r = await api.apply(share, { prune: true, pruneAll: true, overlays });
      await stopUnwantedApps(api, share);
      report = {
        ok: true, revision: snap.revision, digest, subnets, vpcs: share.vpcs.length, liveHosts: [...live].sort(),
        at: new Date().toISOString(), elapsedMs: Math.round(r.elapsedMs),
      };
      if (r.changed) log(`revision ${snap.revision}: ${share.vpcs.length} vpcs, ${subnets} subnets here; ${r.changes.length} changes in ${r.elapsedMs.toFixed(0)} ms`);
    } catch (e) {
      report = { ok: false, revision: snap.revision, digest, subnets, vpcs: share.vpcs.length, at: new Date().toISOString(), error: (e as Error).message };
      log(`revision ${snap.revision}: apply failed: ${report.error}`);
    }
    if (!member) {
      // Removed by `cluster leave`: the prune above emptied this host; nothing to report, stop.
      log(`host ${cfg.host} is no longer in the cluster: its share is removed; stopping`);
      stop(0);
      return false;
    }
    const entries = new Map<string, unknown>([['agent', report]]);
    for (const v of share.vpcs) {
      for (const s of v.subnets ?? []) entries.set(`subnets/${v.name}/${s.name}`, { ok: report.ok, revision: snap.revision });
    }
    statusPrev = await store.writeStatus(cfg.host, entries, statusPrev);
    return false;
  };

  const stop = (code: number) => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    void (async () => {
      await watcher?.cancel().catch(() => {});
      // A clean stop says so at once: the host is down now, not after the TTL.
      await lease?.revoke().catch(() => {});
      store.close();
      finished(code);
    })();
  };
  opts.signal?.addEventListener('abort', () => stop(0), { once: true });

  await keepAlive();
  // What an earlier run reported: keys it no longer applies are removed by the first write.
  statusPrev = await store.statusOf(cfg.host).catch(() => new Map<string, string>());
  watcher = await store.client.watch().prefix(PREFIX).create().catch((e) => { log(`watch: ${(e as Error).message}`); return undefined; });
  // Liveness counts too: a host going down or up changes the peers of this host's routers (overlay.ts).
  const relevant = (k: string) => !k.startsWith(`${PREFIX}status/`);
  watcher?.on('put', (kv) => { if (relevant(kv.key.toString())) kick(); });
  watcher?.on('delete', (kv) => { if (relevant(kv.key.toString())) kick(); });
  watcher?.on('connected', () => kick());
  timer = setInterval(kick, RESYNC_MS);
  log(`agent for host ${cfg.host} (underlay ${cfg.underlay}) on ${cfg.etcd.join(',')}`);
  kick();
  return done;
}

/**
 * Apps the share no longer names (stop-app on another host) are stopped:
 * apply starts what a topology names but, like on one host, leaves other
 * running apps alone.
 */
async function stopUnwantedApps(api: Vpcctl, share: ReturnType<typeof hostShare>): Promise<void> {
  const wanted = new Set(share.vpcs.flatMap((v) => (v.subnets ?? []).flatMap((s) => (s.apps ?? []).map((a) => `${v.name}/${s.name}/${a.port}`))));
  for (const a of await api.listApps()) {
    if (!wanted.has(`${a.vpc}/${a.subnet}/${a.port}`)) await api.stopApp({ vpc: a.vpc, subnet: a.subnet, port: a.port });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
