import { VpcctlError } from '../errors.js';
import { executePlan, native } from '../native.js';
import type { ExecuteResult } from '../../index.js';
import { isVpcctlNsName, wantedNamespaces } from '../model/names.js';
import { needsForward6 } from '../plan/full.js';
import { plan as makePlan, type KernelView, type Plan } from '../plan/planner.js';
import type { State } from '../state/types.js';
import type { StateStore, StateTransaction } from '../state/store.js';
import { stopwatch } from './stopwatch.js';
import { readKernelView } from './kernel-view.js';
import { foreignDeletions } from './ownership.js';
import { where } from './drift-fixes.js';
import { findDrift, nextMarks } from './drift.js';
import { afterPartialPlan } from './partial.js';
import { syncNames } from './dns.js';
import { diffStates, type PlanDiff } from '../plan/diff.js';

/** The plan's repairs of drift (and rebuilds no object change explains), for the diff. */
function repairsOf(changes: readonly string[], diff: PlanDiff): string[] {
  const explained = new Set(diff.items.map((i) => `${i.kind} ${i.name}`));
  return changes.filter((c) => c.startsWith('repair ') || (c.startsWith('rebuild ') && !explained.has(c.slice('rebuild '.length))));
}

/** Options of every change: dry run, progress, how much drift to check. */
export interface ChangeOptions {
  /** Plan only: nothing is written to the kernel or the state. */
  dryRun?: boolean;
  onProgress?: (done: number, total: number) => void;
  /**
   * Check every VPC for drift (and repair it), not only the VPCs the change
   * touches: what `apply` does, so that applying an unchanged file repairs.
   */
  verifyAll?: boolean;
}

/** What a change did (or would do): its kernel plan, its diff by object, warnings, a value. */
export interface ChangeResult<T = void> {
  /** False when the state and the kernel already matched the request. */
  changed: boolean;
  /** What changed, one line per object ("create subnet demo/web"). */
  changes: string[];
  plan: Plan;
  /**
   * The same change by object (`+ subnet shop/web`, `~ subnet shop/db: type
   * private -> public`), from the two states the plan was made from: what a
   * dry run shows is what the real run does.
   */
  diff: PlanDiff;
  dryRun: boolean;
  elapsedMs: number;
  warnings: string[];
  value: T;
}

/** Context handed to a mutation: room for warnings, and the kernel as the planner will see it. */
export interface Draft {
  state: State;
  warn(message: string): void;
  /**
   * Runs `fn` on the desired state just before it is saved (not for a dry
   * run, nor when the plan fails), for bookkeeping that is not a change.
   */
  beforeSave(fn: (state: State) => void): void;
  /**
   * Runs `fn` on the desired state while its plan executes (on native
   * threads: Node's thread is idle then), or before saving when there is
   * none; not for a dry run. For work the save does not need, whose result
   * is harmless if the plan then fails: a cache. What it throws is ignored:
   * it must not decide the command (the kernel is changing meanwhile).
   */
  whileRunning(fn: (state: State) => void): void;
  /**
   * Names a VPC the command is about even when it changes nothing there (an
   * idempotent create-subnet, the same policy again): its drift is checked
   * and repaired too.
   */
  touch(vpc: string): void;
}

/** Runs the whileRunning work of a change: what it throws is ignored (Draft.whileRunning). */
function besides(fns: ReadonlyArray<(state: State) => void>, state: State): void {
  for (const fn of fns) {
    try { fn(state); } catch { /* a cache not made: the next reader builds it */ }
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** VPCs a change touches that exist before it: changed ones and both ends of a changed peering. */
function touchedVpcs(current: State, desired: State): Set<string> {
  const out = new Set<string>();
  for (const [name, v] of Object.entries(current.vpcs)) {
    const d = desired.vpcs[name];
    if (d && !same(v, d)) out.add(name);
  }
  const key = (p: State['peerings'][number]) => JSON.stringify(p);
  const before = new Set(current.peerings.map(key));
  const after = new Set(desired.peerings.map(key));
  for (const p of [...current.peerings, ...desired.peerings]) {
    if (before.has(key(p)) !== after.has(key(p))) { out.add(p.vpc1); out.add(p.vpc2); }
  }
  return out;
}

/**
 * The one path to the kernel: lock, read the state, apply a mutation to a
 * copy (validation throws before anything is touched), plan against the
 * kernel, mark the plan's namespaces pending, run the plan in one native
 * call (which rolls itself back on failure), save. A crash between the
 * pending mark and the save is repaired by the next run.
 */
/** Plans this process has run: VPCCTL_FAULT_AT=R:K aims at the R-th. */
let planRuns = 0;

/**
 * Tests make op K fail with VPCCTL_FAULT_AT=K (in every plan), or only in
 * this process's R-th plan with R:K (e.g. the undo that follows a failed
 * save is the second).
 */
function faultFor(run: number): number | undefined {
  const spec = process.env.VPCCTL_FAULT_AT;
  if (!spec) return undefined;
  const [r, k] = spec.includes(':') ? spec.split(':').map(Number) : [run, Number(spec)];
  return r === run ? k : undefined;
}

export class Engine {
  constructor(readonly store: StateStore) {}

  kernelView(): Promise<KernelView> {
    return readKernelView();
  }

  async change<T>(mutate: (draft: Draft) => T | Promise<T>, opts: ChangeOptions = {}): Promise<ChangeResult<T>> {
    return this.store.locked(async () => {
      const elapsed = stopwatch();
      const warnings: string[] = [];
      const read = await this.store.read();
      const current = trustPending(read, (m) => warnings.push(m));
      const saving: Array<(state: State) => void> = [];
      const alongside: Array<(state: State) => void> = [];
      const named = new Set<string>();
      const draft: Draft = {
        state: structuredClone(current), warn: (m) => warnings.push(m), touch: (v) => named.add(v),
        beforeSave: (fn) => saving.push(fn), whileRunning: (fn) => alongside.push(fn),
      };
      const value = await mutate(draft);
      const desired = draft.state;
      desired.pending = [];
      const view = await this.kernelView();
      if (Object.keys(desired.vpcs).length > 0) desired.hostForwardBefore ??= view.hostForward;
      if (needsForward6(desired) && view.hostForward6 !== undefined) desired.hostForward6Before ??= view.hostForward6;
      // Deep drift of what the command touches: the planner repairs it in the same plan.
      const touched = touchedVpcs(current, desired);
      for (const v of named) if (current.vpcs[v]) touched.add(v);
      view.drift = await findDrift(current, opts.verifyAll ? undefined : touched, this.store.dir);

      const plan = makePlan(current, desired, view);
      await this.keepToOwn(plan, current, (m) => warnings.push(m));
      const diff = diffStates(current, desired);
      diff.repairs = repairsOf(plan.changes, diff);
      const result = (changed: boolean): ChangeResult<T> => ({
        changed, changes: plan.changes, plan, diff, dryRun: !!opts.dryRun, warnings, value,
        elapsedMs: elapsed(),
      });
      if (opts.dryRun) {
        // What the executor's preflight would refuse, said by the preview too.
        const inWay = plan.ops.length > 0 ? await (await native()).linksInTheWay(plan.ops) : [];
        for (const l of inWay) warnings.push(`apply would refuse this plan: link ${l.name} ${where(l.ns)} is ${l.what} that vpcctl did not make, in the way ('vpcctl status' says what to do)`);
        return result(plan.ops.length > 0);
      }
      // This command's writes: the first keeps the previous state as the backup, revert() puts it back.
      const saved = this.store.transaction();
      if (plan.ops.length === 0) {
        const changed = !same(current, desired);
        // Bookkeeping (beforeSave) is saved, but is not a change.
        besides(alongside, desired);
        for (const fn of saving) fn(desired);
        // Untrusted pending entries, once reported, are dropped from the file.
        if (changed || saving.length > 0 || read !== current) await saved.write(desired);
        // Names' files that went missing or stale are repaired like kernel drift.
        const repaired = syncNames(current, desired, { also: named, all: opts.verifyAll }, (m) => warnings.push(m));
        plan.changes.push(...repaired.map((f) => `write ${f}`));
        return result(changed || repaired.length > 0);
      }

      if (plan.namespaces.length > 0) {
        // hostForwardBefore too: a crash after the plan turned ip_forward on
        // must not make the next run record 1 as the host's own value.
        // If this write fails, nothing has touched the kernel yet.
        await saved.write({
          ...current,
          pending: [...new Set([...current.pending, ...plan.namespaces])],
          hostForwardBefore: current.hostForwardBefore ?? desired.hostForwardBefore,
          ...((current.hostForward6Before ?? desired.hostForward6Before) !== undefined
            ? { hostForward6Before: current.hostForward6Before ?? desired.hostForward6Before } : {}),
        });
      }
      let learnt;
      try {
        const running = this.run(plan, opts);
        running.catch(() => {}); // awaited below: a failure before that is not unhandled
        // Once the executor has started (after the microtasks that reach its native call).
        await new Promise((r) => setImmediate(r));
        besides(alongside, desired);
        learnt = await running;
      } catch (e) {
        if ((e as VpcctlError).native === 'PARTIAL') throw await this.keepPartial(current, desired, plan, saved, e as Error);
        // The executor has undone what it did: the kernel is as it was, and so is the state.
        if (!saved.revert()) await this.store.write(current, { restore: true });
        throw e;
      }
      if (Object.keys(desired.vpcs).length === 0) delete desired.hostForwardBefore;
      if (!needsForward6(desired)) delete desired.hostForward6Before;
      desired.nftMarks = nextMarks(current.nftMarks, learnt.nft, plan.namespaces, desired);
      if (!desired.nftMarks) delete desired.nftMarks;
      for (const fn of saving) fn(desired);
      try {
        await saved.write(desired);
      } catch (e) {
        throw await this.undoUnsaved(current, desired, saved, e);
      }
      // Only now, with the change saved: a failed plan or save leaves the names' files as they were.
      syncNames(current, desired, { also: named, all: opts.verifyAll }, (m) => warnings.push(m));
      return result(true);
    });
  }

  /**
   * The plan failed after deleting namespaces, which no undo brings back, so
   * the executor left the kernel as far as it got: the state records as
   * deleted what the kernel no longer has (afterPartialPlan), never a router
   * that is gone, and keeps the rest pending for the next command.
   */
  private async keepPartial(current: State, desired: State, plan: Plan, saved: StateTransaction, cause: Error): Promise<Error> {
    try {
      const present = new Set(await (await native()).netnsList());
      const partial = afterPartialPlan(current, desired, plan.namespaces, present);
      await saved.write(partial);
      // The names' files follow what the state now records (those of deleted subnets go).
      syncNames(current, partial, {}, () => {});
      const left = partial.pending.length;
      return new VpcctlError('KERNEL', `${cause.message}; the state records what was deleted${left ? ` and keeps ${left} namespace(s) pending` : ''}: run the command again (or any change) to finish`, { cause });
    } catch (e) {
      // The pending mark written before the plan still makes the next command repair.
      return new VpcctlError('STATE', `${cause.message}; recording what was deleted failed too (${(e as Error).message}): 'vpcctl status' shows what differs`, { cause });
    }
  }

  /**
   * The plan ran but its result could not be saved (a full disk, an I/O
   * error): a kernel the state does not describe is what durable state
   * forbids, so take the kernel back to the saved state through the same
   * planner and executor (from `desired` back to `current`), then put
   * state.json back as it was, byte for byte. If even the undo fails, the
   * pending mark (written before the plan) makes the next command repair.
   */
  private async undoUnsaved(current: State, desired: State, saved: StateTransaction, cause: unknown): Promise<VpcctlError> {
    const why = (cause as Error).message ?? String(cause);
    // ip_forward goes back to what it was before this command, also when this command turned it on first.
    const back: State = { ...current, hostForwardBefore: current.hostForwardBefore ?? desired.hostForwardBefore };
    try {
      const undo = makePlan(desired, back, await this.kernelView());
      await this.keepToOwn(undo, desired, () => {}); // the undo deletes only what is ours, too
      await this.run(undo);
    } catch (e) {
      return new VpcctlError('STATE', `${why}; undoing this command's kernel changes failed too (${(e as Error).message}): 'vpcctl status' shows what differs, the next command repairs what it can`);
    }
    const reverted = saved.revert();
    return new VpcctlError('STATE', `${why}; this command's kernel changes were undone${reverted ? `, the state is as before` : `; ${await this.store.restoreHint()}`}`);
  }

  async run(plan: Plan, opts: ChangeOptions = {}): Promise<ExecuteResult> {
    const faultAt = faultFor(++planRuns);
    // Per-op limit (default 5 s in the executor); tests shrink it to make ops time out.
    const timeoutMs = process.env.VPCCTL_OP_TIMEOUT_MS ? Number(process.env.VPCCTL_OP_TIMEOUT_MS) : undefined;
    return executePlan(plan.ops, { faultAt, timeoutMs }, opts.onProgress);
  }

  /**
   * Every namespace the plan would delete (and whose processes it would
   * kill) is checked against the kernel first (names.ts `ownsNs`): a
   * well-named one the state records may be untagged, anything else must
   * carry vpcctl's tag for that name. One that is not ours is dropped from
   * the plan with a warning, or, when the plan would then create it, the
   * command is refused: a foreign namespace of that name is never touched.
   */
  private async keepToOwn(plan: Plan, current: State, warn: (m: string) => void): Promise<void> {
    const recorded = new Set<string>([...current.pending, ...wantedNamespaces(current)]);
    const foreign = await foreignDeletions(plan.ops, recorded);
    const remade = foreign.find((f) => f.remade);
    if (remade) throw new VpcctlError('CONFLICT', `network namespace "${remade.ns}" exists and is not vpcctl's: remove or rename it first`);
    if (foreign.length === 0) return;
    for (const f of foreign) warn(`network namespace ${JSON.stringify(f.ns)} is not vpcctl's (${f.tag ? `tagged "${f.tag}"` : 'untagged'}): left alone`);
    const names = new Set(foreign.map((f) => f.ns));
    plan.ops = plan.ops.filter((o) => !(o.op === 'netnsDel' && names.has(o.ns)));
    plan.namespaces = plan.namespaces.filter((ns) => !names.has(ns));
  }

}

/**
 * Names in the state's pending list are only a record of what a crashed run
 * was making; the file is no proof of ownership. A name that follows no
 * vpcctl naming rule ("foreign", "../../tmp/x") is reported and dropped
 * before the planner sees it (so nothing is deleted, killed or unlinked by
 * it); well-named ones still pass keepToOwn's tag check before any delete.
 */
export function trustPending(state: State, warn: (m: string) => void): State {
  const bad = state.pending.filter((ns) => typeof ns !== 'string' || !isVpcctlNsName(ns));
  if (bad.length === 0) return state;
  for (const ns of bad) warn(`pending entry ${JSON.stringify(ns)} in the state is not a vpcctl namespace name: ignored, nothing done to it`);
  return { ...state, pending: state.pending.filter((ns) => !bad.includes(ns)) };
}
