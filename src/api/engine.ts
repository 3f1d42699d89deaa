import { VpcctlError } from '../errors.js';
import { kernel, native } from '../native.js';
import { hostNs, parseTag, routerNs } from '../model/names.js';
import { plan as makePlan, type KernelView, type Plan } from '../plan/planner.js';
import { HOST_NS, planJson } from '../plan/ops.js';
import type { State } from '../state/types.js';
import type { StateStore, StateTransaction } from '../state/store.js';
import { stopwatch } from './stopwatch.js';

export interface ChangeOptions {
  /** Plan only: nothing is written to the kernel or the state. */
  dryRun?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface ChangeResult<T = void> {
  /** False when the state and the kernel already matched the request. */
  changed: boolean;
  /** What changed, one line per object ("create subnet demo/web"). */
  changes: string[];
  plan: Plan;
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
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The one path to the kernel: lock, read the state, apply a mutation to a
 * copy (validation throws before anything is touched), plan against the
 * kernel, mark the plan's namespaces pending, run the plan in one native
 * call (which rolls itself back on failure), save. A crash between the
 * pending mark and the save is repaired by the next run.
 */
export class Engine {
  constructor(readonly store: StateStore) {}

  async kernelView(): Promise<KernelView> {
    const n = await native();
    const [namespaces, hostForward] = await Promise.all([
      kernel(n.netnsList()),
      kernel(n.sysctlGet(HOST_NS, 'net/ipv4/ip_forward')),
    ]);
    return { namespaces: new Set(namespaces), hostForward: hostForward.trim() };
  }

  async change<T>(mutate: (draft: Draft) => T | Promise<T>, opts: ChangeOptions = {}): Promise<ChangeResult<T>> {
    return this.store.locked(async () => {
      const elapsed = stopwatch();
      const current = await this.store.read();
      const warnings: string[] = [];
      const saving: Array<(state: State) => void> = [];
      const draft: Draft = { state: structuredClone(current), warn: (m) => warnings.push(m), beforeSave: (fn) => saving.push(fn) };
      const value = await mutate(draft);
      const desired = draft.state;
      desired.pending = [];
      const view = await this.kernelView();
      if (Object.keys(desired.vpcs).length > 0) desired.hostForwardBefore ??= view.hostForward;

      const plan = makePlan(current, desired, view);
      await this.refuseForeign(plan, current, view);
      const result = (changed: boolean): ChangeResult<T> => ({
        changed, changes: plan.changes, plan, dryRun: !!opts.dryRun, warnings, value,
        elapsedMs: elapsed(),
      });
      if (opts.dryRun) return result(plan.ops.length > 0);
      // This command's writes: the first keeps the previous state as the backup, revert() puts it back.
      const saved = this.store.transaction();
      if (plan.ops.length === 0) {
        const changed = !same(current, desired);
        // Bookkeeping (beforeSave) is saved, but is not a change.
        for (const fn of saving) fn(desired);
        if (changed || saving.length > 0) await saved.write(desired);
        return result(changed);
      }

      if (plan.namespaces.length > 0) {
        // hostForwardBefore too: a crash after the plan turned ip_forward on
        // must not make the next run record 1 as the host's own value.
        // If this write fails, nothing has touched the kernel yet.
        await saved.write({
          ...current,
          pending: [...new Set([...current.pending, ...plan.namespaces])],
          hostForwardBefore: current.hostForwardBefore ?? desired.hostForwardBefore,
        });
      }
      try {
        await this.run(plan, opts);
      } catch (e) {
        // The executor has undone what it did: the kernel is as it was, and so is the state.
        if (!saved.revert()) await this.store.write(current, { restore: true });
        throw e;
      }
      if (Object.keys(desired.vpcs).length === 0) delete desired.hostForwardBefore;
      for (const fn of saving) fn(desired);
      try {
        await saved.write(desired);
      } catch (e) {
        throw await this.undoUnsaved(current, desired, saved, e);
      }
      return result(true);
    });
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
      await this.run(makePlan(desired, back, await this.kernelView()));
    } catch (e) {
      return new VpcctlError('STATE', `${why}; undoing this command's kernel changes failed too (${(e as Error).message}): 'vpcctl status' shows what differs, the next command repairs what it can`);
    }
    const reverted = saved.revert();
    return new VpcctlError('STATE', `${why}; this command's kernel changes were undone${reverted ? `, the state is as before` : `; ${await this.store.restoreHint()}`}`);
  }

  async run(plan: Plan, opts: ChangeOptions = {}): Promise<void> {
    const n = await native();
    const faultAt = process.env.VPCCTL_FAULT_AT ? Number(process.env.VPCCTL_FAULT_AT) : undefined;
    await kernel(n.execute(planJson(plan.ops), { faultAt }, opts.onProgress));
  }

  /**
   * A namespace the plan would delete that the state does not know (a crash
   * leftover) must carry vpcctl's tag: a foreign namespace of the same name
   * is never touched.
   */
  private async refuseForeign(plan: Plan, current: State, view: KernelView): Promise<void> {
    // A pending namespace was recorded before it was made: it is ours even
    // if a crash came before its tag.
    const known = new Set<string>(current.pending);
    for (const v of Object.values(current.vpcs)) {
      known.add(routerNs(v.name));
      for (const s of Object.values(v.subnets)) known.add(hostNs(v.name, s.name));
    }
    const n = await native();
    for (const o of plan.ops) {
      if (o.op !== 'netnsDel' || known.has(o.ns) || !view.namespaces.has(o.ns)) continue;
      const tag = await kernel(n.netnsTag(o.ns));
      if (!tag || !parseTag(tag)) {
        throw new VpcctlError('CONFLICT', `network namespace "${o.ns}" exists and is not vpcctl's: remove or rename it first`);
      }
    }
  }
}
