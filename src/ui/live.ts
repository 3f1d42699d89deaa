/**
 * What the dashboard shows live, and who is watching: the state file is
 * watched (fs.watch on its directory, since the store replaces it by rename,
 * plus a 250 ms stat as a safety net where inotify says nothing), and every
 * change is pushed to the open event streams within a second of the CLI
 * command that made it, from another process or this one. Drift (`status`)
 * is recomputed after each change and every few seconds while someone
 * watches. Flow-log records stream while the VPC has flow logs on.
 */
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { Vpcctl } from '../api/vpcctl.js';
import type { StatusReport } from '../api/inspect.js';
import { viewFromState, type TopologyView } from '../graph/view.js';
import { hostNs, routerNs } from '../model/names.js';
import { alive } from '../pids.js';
import type { State } from '../state/types.js';

/** What the page draws: the view model plus health per object ("vpc" or "vpc/subnet"). */
export interface Snapshot {
  view: TopologyView;
  /** Problems `status` found, by object: drift highlighted in place. Absent until the first status ran. */
  drift?: Record<string, string[]>;
  /** The whole-host problems status found (orphaned namespaces, the host table). */
  hostDrift?: string[];
  /** Per "vpc/subnet": apps recorded and how many run. */
  apps: Record<string, { total: number; running: number }>;
  readOnly: boolean;
}

/** Status findings keyed by what the page draws; anything else goes under "" (the host). */
export function driftByObject(state: State, s: StatusReport): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (key: string, what: string) => (out[key] ??= []).push(what);
  const byNs = new Map<string, string>();
  for (const v of Object.values(state.vpcs)) {
    byNs.set(routerNs(v.name), v.name);
    for (const sub of Object.values(v.subnets)) byNs.set(hostNs(v.name, sub.name), `${v.name}/${sub.name}`);
  }
  for (const ns of s.missing) add(byNs.get(ns) ?? '', `netns ${ns} is missing`);
  if (s.inProgress) add('', 'a change is in progress (another vpcctl holds the lock): what it makes or deletes shows here until it ends');
  for (const ns of s.pending) add(byNs.get(ns) ?? '', `netns ${ns}: ${s.inProgress ? 'being changed' : 'a run stopped mid-change'}`);
  for (const ns of s.orphaned) add('', `netns ${ns} is orphaned`);
  for (const d of s.drift) {
    const m = /^(vpc|subnet) (\S+)$/.exec(d.object);
    add(m ? m[2]! : '', d.detail);
  }
  return out;
}

const STATUS_EVERY_MS = 5000;
const POLL_MS = 250;
/** How long flow-log followers outlive the last event stream (a page reloading comes back within it). */
export const FOLLOW_GRACE_MS = 3000;
/** Event streams open at once: a few tabs is the use; more is a loop or an attack, and each holds a socket and its buffer. */
export const MAX_STREAMS = 32;
/**
 * Bytes queued to a stream that does not read: past this it is cut (a page
 * reconnects and gets the current snapshot). Without it a reader that stops
 * reading grows this root process's memory by every snapshot and flow record.
 */
export const STALL_BYTES = 8 * 1024 * 1024;

export class Live {
  private readonly clients = new Set<ServerResponse>();
  private snapshot?: Snapshot;
  private sent = '';
  private state?: State;
  private watcher?: FSWatcher | undefined;
  private timers: NodeJS.Timeout[] = [];
  private fileId = '';
  private statusRunning = false;
  private statusMs = 0;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private readonly followers = new Map<string, { key: string; stop: AbortController }>();
  /** Followers subscribed, by VPC: a page that connects later is told too. */
  private readonly ready = new Map<string, string[]>();
  private closed = false;

  constructor(private readonly api: Vpcctl, private readonly stateDir: string, private readonly readOnly: boolean) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timers.push(setInterval(() => this.poll(), POLL_MS));
    for (const t of this.timers) t.unref();
    void this.checkStatus();
    this.scheduleStatus();
  }

  /** No room for another event stream (MAX_STREAMS): the server answers 503. */
  get full(): boolean {
    return this.clients.size >= MAX_STREAMS;
  }

  /** A new event stream: it gets the current snapshot at once. */
  attach(res: ServerResponse): void {
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size) return;
      // The last page gone: its followers stay FOLLOW_GRACE_MS. A reload closes the stream and opens another at
      // once; a follower just aborted still holds the kernel's one reader per subnet (until its read returns, up
      // to a second), so a new one found them all taken and followed nothing ("left to it" on the page).
      const t = setTimeout(() => {
        this.timers = this.timers.filter((x) => x !== t);
        this.syncFollowers();
      }, FOLLOW_GRACE_MS);
      t.unref();
      this.timers.push(t);
    });
    if (this.snapshot) this.send(res, 'snapshot', this.snapshot);
    for (const [vpc, subnets] of this.ready) this.send(res, 'flow-ready', { vpc, subnets });
    this.syncFollowers();
  }

  /** One event to one stream; a stream that stopped reading (STALL_BYTES queued) is cut instead. */
  private send(res: ServerResponse, event: string, data: unknown): void {
    if (res.writableLength > STALL_BYTES) {
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  get current(): Snapshot | undefined {
    return this.snapshot;
  }

  /** Read the state again and push it when it changed (called after the page's own actions too). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          this.state = await this.api.state();
          this.publish({ ...this.snapshot, view: viewFromState(this.state), apps: appCounts(this.state), readOnly: this.readOnly });
        } catch (e) {
          this.broadcast('problem', { message: (e as Error).message });
        }
      } while (this.again && !this.closed);
      this.refreshing = undefined;
    })();
    const done = this.refreshing;
    void done.then(() => this.checkStatus());
    return done;
  }

  private publish(next: Snapshot): void {
    const text = JSON.stringify(next);
    this.snapshot = next;
    if (text === this.sent) return;
    this.sent = text;
    this.broadcast('snapshot', next);
    this.syncFollowers();
  }

  broadcast(event: string, data: unknown): void {
    for (const res of [...this.clients]) this.send(res, event, data);
  }

  /** The state file's identity: a rename gives it a new inode, a write a new mtime. */
  private poll(): void {
    if (!this.watcher && existsSync(this.stateDir)) {
      try {
        this.watcher = watch(this.stateDir, () => this.poll());
        this.watcher.on('error', () => { this.watcher?.close(); this.watcher = undefined; });
      } catch { /* the poll still notices changes */ }
    }
    let id = '';
    try {
      const st = statSync(join(this.stateDir, 'state.json'));
      id = `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch { /* no state yet */ }
    if (id !== this.fileId) {
      this.fileId = id;
      void this.refresh();
    }
  }

  /**
   * Drift the state file does not show (the kernel changed behind vpcctl's back): status again every 5 s
   * while someone watches, or 20 times as long as the last one took, so a big topology costs at most ~5% of a core.
   */
  private scheduleStatus(): void {
    if (this.closed) return;
    const t = setTimeout(async () => {
      this.timers = this.timers.filter((x) => x !== t);
      if (this.clients.size) await this.checkStatus();
      this.scheduleStatus();
    }, Math.max(STATUS_EVERY_MS, 20 * this.statusMs));
    t.unref();
    this.timers.push(t);
  }

  private async checkStatus(): Promise<void> {
    if (this.statusRunning || this.closed || !this.state) return;
    this.statusRunning = true;
    try {
      const state = this.state;
      const started = performance.now();
      const report = await this.api.status();
      this.statusMs = performance.now() - started;
      const all = driftByObject(state, report);
      const { ['']: host, ...drift } = all;
      if (this.snapshot) this.publish({ ...this.snapshot, drift, hostDrift: host ?? [], apps: appCounts(state) });
    } catch (e) {
      this.broadcast('problem', { message: `status: ${(e as Error).message}` });
    } finally {
      this.statusRunning = false;
    }
  }

  /** One flow-log follower per VPC with flow logs on, while anyone watches; restarted when its subnets change. */
  private syncFollowers(): void {
    const want = new Map<string, string>();
    if (this.clients.size && !this.closed && this.state) {
      for (const v of Object.values(this.state.vpcs)) {
        if (v.flowLogs) want.set(v.name, Object.keys(v.subnets).sort().join(','));
      }
    }
    for (const [vpc, f] of this.followers) {
      if (want.get(vpc) !== f.key) {
        f.stop.abort();
        this.followers.delete(vpc);
        this.ready.delete(vpc);
      }
    }
    for (const [vpc, key] of want) {
      if (this.followers.has(vpc)) continue;
      const stop = new AbortController();
      this.followers.set(vpc, { key, stop });
      this.api.followFlowLogs({ vpc }, (e) => this.broadcast('flow', e), {
        signal: stop.signal,
        warn: (message) => this.broadcast('problem', { message }),
        onReady: (subnets) => {
          this.ready.set(vpc, subnets);
          this.broadcast('flow-ready', { vpc, subnets });
        },
      }).catch((e) => this.broadcast('problem', { message: `flow logs of ${vpc}: ${(e as Error).message}` }));
    }
  }

  /** Ends every event stream and follower: the server can then close. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.watcher?.close();
    for (const f of this.followers.values()) f.stop.abort();
    this.followers.clear();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}

function appCounts(state: State): Snapshot['apps'] {
  const out: Snapshot['apps'] = {};
  for (const v of Object.values(state.vpcs)) {
    for (const s of Object.values(v.subnets)) {
      if (s.apps.length) out[`${v.name}/${s.name}`] = { total: s.apps.length, running: s.apps.filter((a) => alive(a.pid)).length };
    }
  }
  return out;
}
