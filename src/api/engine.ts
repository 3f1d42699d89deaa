import { VpcctlError } from '../errors.js';
import { kernel, native } from '../native.js';
import type { ExecuteResult } from '../../index.js';
import { hostNs, parseTag, routerNs } from '../model/names.js';
import { plan as makePlan, type KernelView, type Plan } from '../plan/planner.js';
import { HOST_NS, planJson } from '../plan/ops.js';
import type { State } from '../state/types.js';
import type { StateStore } from '../state/store.js';
import { stopwatch } from './stopwatch.js';
import { findDrift, nextMarks } from './drift.js';

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
  /**
   * Names a VPC the command is about even when it changes nothing there (an
   * idempotent create-subnet, the same policy again): its drift is checked
   * and repaired too.
   */
  touch(vpc: string): void;
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
      const named = new Set<string>();
      const draft: Draft = {
        state: structuredClone(current), warn: (m) => warnings.push(m), beforeSave: (fn) => saving.push(fn), touch: (v) => named.add(v),
      };
      const value = await mutate(draft);
      const desired = draft.state;
      desired.pending = [];
      const view = await this.kernelView();
      if (Object.keys(desired.vpcs).length > 0) desired.hostForwardBefore ??= view.hostForward;
      // Deep drift of what the command touches: the planner repairs it in the same plan.
      const touched = touchedVpcs(current, desired);
      for (const v of named) if (current.vpcs[v]) touched.add(v);
      view.drift = await findDrift(current, opts.verifyAll ? undefined : touched, this.store.dir);

      const plan = makePlan(current, desired, view);
      await this.refuseForeign(plan, current, view);
      const result = (changed: boolean): ChangeResult<T> => ({
        changed, changes: plan.changes, plan, dryRun: !!opts.dryRun, warnings, value,
        elapsedMs: elapsed(),
      });
      if (opts.dryRun) return result(plan.ops.length > 0);
      if (plan.ops.length === 0) {
        const changed = !same(current, desired);
        // Bookkeeping (beforeSave) is saved, but is not a change.
        for (const fn of saving) fn(desired);
        if (changed || saving.length > 0) await this.store.write(desired);
        return result(changed);
      }

      if (plan.namespaces.length > 0) {
        // hostForwardBefore too: a crash after the plan turned ip_forward on
        // must not make the next run record 1 as the host's own value.
        await this.store.write({
          ...current,
          pending: [...new Set([...current.pending, ...plan.namespaces])],
          hostForwardBefore: current.hostForwardBefore ?? desired.hostForwardBefore,
        });
      }
      let learnt;
      try {
        learnt = await this.run(plan, opts);
      } catch (e) {
        // The executor has undone what it did: the kernel is as it was, and so is the state.
        await this.store.write(current, { restore: true });
        throw e;
      }
      if (Object.keys(desired.vpcs).length === 0) delete desired.hostForwardBefore;
      desired.nftMarks = nextMarks(current.nftMarks, learnt.nft, plan.namespaces, desired);
      if (!desired.nftMarks) delete desired.nftMarks;
      for (const fn of saving) fn(desired);
      await this.store.write(desired);
      return result(true);
    });
  }

  async run(plan: Plan, opts: ChangeOptions = {}): Promise<ExecuteResult> {
    const n = await native();
    const faultAt = process.env.VPCCTL_FAULT_AT ? Number(process.env.VPCCTL_FAULT_AT) : undefined;
    return kernel(n.execute(planJson(plan.ops), { faultAt }, opts.onProgress));
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
