import { wantedNamespaces } from '../model/names.js';
import type { StateStore } from '../state/store.js';
import type { State, VpcOverlay } from '../state/types.js';
import { alive, deployApp, type AppInfo } from './apps.js';
import { findDrift, planText } from './drift.js';
import { cacheDirOf } from './plan-cache.js';
import { cancelEarlyDrift } from '../native.js';
import { namesPresent } from './dns.js';
import { Engine, type ChangeOptions, type ChangeResult } from './engine.js';
import { guardedChange } from './network.js';
import { stopwatch } from './stopwatch.js';
import { fingerprint } from '../fingerprint.js';
import { emptyDiff } from '../plan/diff.js';

/** Options of `apply`: those of every change, plus prune and the owner. */
export interface ApplyOptions extends ChangeOptions {
  /**
   * Also remove what the state has and the topology does not name, but only
   * what an earlier apply of the same topology made (its `owner`): objects
   * made by a command or another topology are kept, and listed in
   * `diff.kept`.
   */
  prune?: boolean;
  /**
   * Who this topology is, recorded on what its apply makes: the CLI passes
   * `file /abs/path` (or `dir ...`, `stdin`). A topology's own `name` wins
   * (`topology NAME`); default `api`.
   */
  owner?: string;
  /**
   * The cluster agent's: how each VPC of the topology joins its routers on
   * other hosts (cluster/overlay.ts). Given, it replaces every VPC's
   * overlay (a VPC it does not name has none); absent, overlays stay.
   */
  overlays?: Record<string, VpcOverlay>;
  /**
   * The cluster agent's: with `prune`, remove whatever the topology does not
   * name, whoever made it. A cluster host holds only its share of the
   * intent (`cluster join` refuses a host with VPCs of its own).
   */
  pruneAll?: boolean;
}
/** What `apply` did (or, as a dry run, would do), with the apps it started. */
export interface ApplyResult extends ChangeResult { appsStarted: AppInfo[] }

/**
 * Converge on a topology: what it names is created or changed to match;
 * what the state has beyond it is removed only with `prune`. Apps it names
 * are started when not running. Re-applying the same file changes nothing.
 * The change, the apps and the bookkeeping run in one lock session, so no
 * other command sees the topology made but its apps not yet recorded.
 * `uplink` is the facade's default for VPCs that name none.
 */
export async function applyTopology(
  store: StateStore, engine: Engine, uplink: string | undefined, topology: unknown, opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const prune = !!opts.prune;
  // With prune, who applies is part of what was applied: the same text from another file prunes other
  // objects. Without, the same text changes nothing a second time, whoever applies it.
  // A host going down changes the overlays, not the topology: both make the document.
  const text = JSON.stringify(opts.overlays ? [topology, opts.overlays] : topology);
  const digest = fingerprint(prune ? `${text}\0${opts.pruneAll ? '*' : opts.owner ?? ''}` : text);
  const unchanged = opts.dryRun ? null : await unchangedSince(store, engine, digest, prune);
  if (unchanged) return unchanged;
  // zod loads only here, past the fast path: it costs more than the rest of a no-op re-apply.
  const { claimPath, mergeTopology, readTopology } = await import('./topology.js');
  const topo = readTopology(topology);
  const owner = topo.name !== undefined ? `topology ${topo.name}` : opts.owner ?? 'api';
  // Saved with a write: the write gives the state revision + 1.
  const remember = (state: State) => { state.lastApply = { digest, prune, revision: (state.revision ?? 0) + 1 }; };
  // A document with apps is applied once its apps run, not when the network is made: an apply
  // stopped in between (an app that fails to start, a kill) must not let the next one say
  // "0 changes" (unchangedSince) with the apps never started.
  const wantApps = topo.vpcs.some((v) => v.subnets.some((s) => s.apps.length > 0));
  return store.locked(async () => {
    const held = store.held();
    const result = await guardedChange(new Engine(held), (d, root) => {
      if (!wantApps) d.beforeSave(remember);
      // The next re-apply verifies this state's full plan: build its text now, not in that no-op call.
      d.whileRunning((state) => planText(state, cacheDirOf(store.dir)));
      return mergeTopology(d.state, topo, { prune: opts.prune, uplink, root, owner, overlays: opts.overlays, pruneAll: opts.pruneAll });
    }, { ...opts, verifyAll: true }, (claim) => claimPath(topo, claim));
    result.diff.kept = result.value;
    const started: AppInfo[] = [];
    if (wantApps) {
      // After a dry run the state is the one before: an app of a subnet still to be made does not run either.
      const state = await held.read();
      for (const v of topo.vpcs) {
        for (const s of v.subnets) {
          for (const app of s.apps) {
            const running = state.vpcs[v.name]?.subnets[s.name]?.apps.some((a) => a.port === app.port && alive(a.pid)) ?? false;
            if (running) continue;
            if (opts.dryRun) result.diff.apps.start.push({ vpc: v.name, subnet: s.name, port: app.port });
            else started.push(await deployApp(held, { vpc: v.name, subnet: s.name, ...app }));
          }
        }
      }
      if (!opts.dryRun) result.diff.apps.start = started.map((a) => ({ vpc: a.vpc, subnet: a.subnet, port: a.port }));
    }
    // Every app runs: now the document is applied.
    if (wantApps && !opts.dryRun) {
      const state = await held.read();
      remember(state);
      await held.write(state);
    }
    return { ...result, value: undefined, appsStarted: started, changed: result.changed || started.length > 0 || result.diff.apps.start.length > 0 };
  });
}

/**
 * The same document applied again, with nothing written to the state
 * since and the kernel still holding every namespace, its apps running,
 * forwarding on and no drift (verify, with the nft marks): the plan would
 * be empty, so say so without parsing, validating and diffing hundreds of
 * subnets again. Any drift falls through to the normal path, which repairs.
 */
async function unchangedSince(store: StateStore, engine: Engine, digest: string, prune: boolean): Promise<ApplyResult | null> {
  const elapsed = stopwatch();
  const state = await store.read();
  const last = state.lastApply;
  if (!last || last.prune !== prune || last.revision !== state.revision || state.pending.length > 0 || last.digest !== digest) {
    await cancelEarlyDrift(); // the launcher's early read, if it started one: its threads would slow what follows
    return null;
  }
  // Deep drift too: an unchanged file repairs whatever changed behind
  // vpcctl's back. Usually read already (the launcher started it, cli/early.ts),
  // else started now: the native threads read the namespaces while this one
  // does the cheaper checks below.
  const drift = findDrift(state, undefined, store.dir, { early: true });
  drift.catch(() => {}); // awaited below unless a cheaper check already failed
  const view = await engine.kernelView();
  if (Object.keys(state.vpcs).length > 0 && view.hostForward !== '1') return null;
  for (const ns of wantedNamespaces(state)) if (!view.namespaces.has(ns)) return null;
  const apps = Object.values(state.vpcs).flatMap((v) => Object.values(v.subnets).flatMap((s) => s.apps));
  if (!apps.every((a) => alive(a.pid))) return null;
  if (!namesPresent(state)) return null;
  if ((await drift).length > 0) return null;
  return {
    changed: false, changes: [], plan: { ops: [], changes: [], namespaces: [] }, diff: emptyDiff(), dryRun: false,
    elapsedMs: elapsed(), warnings: [], value: undefined, appsStarted: [],
  };
}
