import { VpcctlError } from '../errors.js';
import { connect, guard, type Etcd3 } from './etcd.js';
import {
  INTENT_PARTS, PREFIX, decodeIntent, diffEncoded, encodeIntent, key, vpcsOfKey,
  type Intent,
} from './keys.js';

/** The intent as read at one etcd revision, with each key's mod revision (the guards of a write). */
export interface Snapshot {
  revision: number;
  intent: Intent;
  encoded: Map<string, string>;
  mods: Map<string, string>;
}

/** How many times a write re-reads and retries after losing a race to another writer. */
const MAX_ATTEMPTS = 30;

/**
 * The cluster's intent in etcd. Every write is one etcd transaction guarded
 * by the mod revisions of what it read: it commits only if none of the keys
 * it changes, nor the VPCs they belong to, changed since. A writer that
 * loses the race re-reads and re-runs its mutation (which re-validates), so
 * two writers never lose each other's change and never both pass a check
 * (two overlapping sibling subnets) that only one of them may pass. No lock,
 * no election: etcd's own compare-and-swap.
 */
export class ClusterStore {
  constructor(readonly client: Etcd3) {}

  static open(endpoints: string[]): ClusterStore {
    return new ClusterStore(connect(endpoints));
  }

  close(): void {
    this.client.close();
  }

  /** Every intent key at one revision (one range read per part, pinned to the first's revision). */
  async snapshot(): Promise<Snapshot> {
    return guard(async () => {
      const encoded = new Map<string, string>();
      const mods = new Map<string, string>();
      let revision = 0;
      for (const part of INTENT_PARTS) {
        let q = this.client.getAll().prefix(PREFIX + part);
        if (revision) q = q.revision(revision);
        const res = await q.exec();
        if (!revision) revision = Number(res.header.revision);
        for (const kv of res.kvs) {
          const k = kv.key.toString();
          encoded.set(k, kv.value.toString());
          mods.set(k, String(kv.mod_revision));
        }
      }
      return { revision, intent: decodeIntent(encoded), encoded, mods };
    });
  }

  /**
   * Read, mutate, write back in one guarded transaction; retried on
   * conflict. `mutate` may throw a VpcctlError (bad input): nothing is
   * written then. Returns the mutation's value and the revision written.
   */
  async transact<T>(mutate: (intent: Intent, snap: Snapshot) => T | Promise<T>): Promise<{ value: T; revision: number; changed: boolean }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const snap = await this.snapshot();
      const draft = structuredClone(snap.intent);
      const value = await mutate(draft, snap);
      // Each touched VPC that survives gets gen+1: the guard siblings conflict on.
      const first = diffEncoded(snap.encoded, encodeIntent(draft));
      const touched = new Set([...first.puts.keys(), ...first.dels].flatMap(vpcsOfKey));
      if (first.puts.size === 0 && first.dels.length === 0) return { value, revision: snap.revision, changed: false };
      for (const vpc of touched) if (draft.vpcs[vpc]) draft.vpcs[vpc].gen = (snap.intent.vpcs[vpc]?.gen ?? 0) + 1;
      const { puts, dels } = diffEncoded(snap.encoded, encodeIntent(draft));
      const guarded = new Set([...puts.keys(), ...dels, ...[...touched].map(key.vpc)]);
      const ok = await guard(async () => {
        let txn: ReturnType<Etcd3['if']> | undefined;
        for (const k of guarded) {
          const mod = snap.mods.get(k);
          const [column, value] = mod === undefined ? ['Version', 0] as const : ['Mod', Number(mod)] as const;
          txn = txn ? txn.and(k, column, '==', value) : this.client.if(k, column, '==', value);
        }
        const ops = [
          ...[...puts].map(([k, v]) => this.client.put(k).value(v)),
          ...dels.map((k) => this.client.delete().key(k)),
        ];
        const res = await txn!.then(...ops).commit();
        return res.succeeded ? Number(res.header.revision) : 0;
      });
      if (ok) return { value, revision: ok, changed: true };
      // Lost a race: back off a little (jittered, so two losers do not collide again) and re-read.
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
    throw new VpcctlError('CONFLICT', `etcd: gave up after ${MAX_ATTEMPTS} conflicting writes; try again`);
  }

  /** Hosts whose lease is alive (their `live/` key exists). */
  async liveHosts(): Promise<Set<string>> {
    const keys = await guard(() => this.client.getAll().prefix(PREFIX + 'live/').keys());
    return new Set(keys.map((k) => k.slice((PREFIX + 'live/').length)));
  }

  /**
   * Grant a lease and attach the host's liveness key to it. With
   * `keepAlive` the etcd3 Lease renews itself until revoked (the agent);
   * without, the key lives one TTL (`cluster join`: no keep-alive stream is
   * opened, which would also hold a short-lived CLI process open).
   */
  async heartbeat(name: string, ttlSeconds: number, keepAlive = true) {
    const lease = this.client.lease(ttlSeconds, { autoKeepAlive: keepAlive });
    await guard(() => lease.put(key.live(name)).value(JSON.stringify({ name, since: new Date().toISOString() })).exec());
    return lease;
  }

  /** Status keys written by agents, decoded: host -> relative key -> value. */
  async statuses(): Promise<Record<string, Record<string, unknown>>> {
    const res = await guard(() => this.client.getAll().prefix(PREFIX + 'status/').strings());
    const out: Record<string, Record<string, unknown>> = {};
    for (const [k, v] of Object.entries(res)) {
      const [host, ...rest] = k.slice((PREFIX + 'status/').length).split('/');
      (out[host!] ??= {})[rest.join('/')] = JSON.parse(v);
    }
    return out;
  }

  /** One host's status keys (relative to status/<host>/) as written: the `previous` of writeStatus. */
  async statusOf(host: string): Promise<Map<string, string>> {
    const res = await guard(() => this.client.getAll().prefix(key.status(host)).strings());
    return new Map(Object.entries(res).map(([k, v]) => [k.slice(key.status(host).length), v]));
  }

  /** Replace a host's status keys: puts in chunks (etcd bounds a transaction's ops), then removes stale ones. */
  async writeStatus(host: string, entries: Map<string, unknown>, previous: Map<string, string>): Promise<Map<string, string>> {
    const next = new Map([...entries].map(([k, v]) => [k, JSON.stringify(v)]));
    const puts = [...next].filter(([k, v]) => previous.get(k) !== v);
    const dels = [...previous.keys()].filter((k) => !next.has(k));
    await guard(async () => {
      for (let i = 0; i < puts.length; i += 100) {
        await this.client.if(key.host(host), 'Version', '>', 0)
          .then(...puts.slice(i, i + 100).map(([k, v]) => this.client.put(key.status(host) + k).value(v))).commit();
      }
      for (let i = 0; i < dels.length; i += 100) {
        await this.client.if(key.host(host), 'Version', '>', -1)
          .then(...dels.slice(i, i + 100).map((k) => this.client.delete().key(key.status(host) + k))).commit();
      }
    });
    return next;
  }

  /** Remove a host: its membership, liveness and status keys (its subnets are the caller's business). */
  async forgetHost(name: string): Promise<void> {
    await guard(async () => {
      await this.client.delete().key(key.live(name)).exec();
      await this.client.delete().prefix(key.status(name)).exec();
    });
    await this.transact((intent) => { delete intent.hosts[name]; });
  }
}
