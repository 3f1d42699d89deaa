import { type NativeCode, VpcctlError } from './errors.js';
import { loadAddon, type Native } from './native-load.js';
import { planJson, type Op } from './plan/ops.js';
import type { ExecuteOptions, ExecuteResult, PlanOp, VerifyOptions, Drift, EarlyDrift } from '../index.js';

export type { Native } from './native-load.js';

let cached: Native | undefined;

/**
 * The native module, loaded on first use so `vpcctl --help` and `vpcctl
 * doctor` work (and say why) even where the addon cannot load.
 */
export async function native(): Promise<Native> {
  if (cached) return cached;
  try {
    cached = coded(loadAddon());
  } catch (e) {
    throw new VpcctlError('KERNEL', (e as Error).message);
  }
  return cached;
}

/** `[EXISTS] vethAdd ...`: the binding puts netkit's stable code before the message (crates/vpcctl-node/src/common.rs). */
const CODED = /^\[([A-Z_]+)\] /;

/** A rejection of the native module as a VpcctlError('KERNEL') whose `native` is netkit's code. */
export function fromNative(e: unknown): VpcctlError {
  if (e instanceof VpcctlError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const m = CODED.exec(message);
  return new VpcctlError('KERNEL', m ? message.slice(m[0].length) : message, { cause: e, native: m?.[1] as NativeCode | undefined });
}

/**
 * The module with each function's failures turned into VpcctlErrors
 * (classes such as FileLock are passed through as they are): the one place
 * where the native module's errors meet the library's.
 */
function coded(mod: Native): Native {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value !== 'function' || /^[A-Z]/.test(name)) {
      out[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    out[name] = (...args: unknown[]) => {
      try {
        const r = fn(...args);
        return r instanceof Promise ? r.catch((e: unknown) => { throw fromNative(e); }) : r;
      } catch (e) {
        throw fromNative(e);
      }
    };
  }
  return out as Native;
}

/**
 * The op contract's third spelling, the native module's own `PlanOp`
 * (crates/vpcctl-node/src/plan_op.rs, generated into index.d.ts), is the
 * planner's `Op` (src/plan/ops.ts) kind for kind, field for field, with the
 * same types and optional marks: this alias does not compile otherwise.
 * (netkit's parser is held to the same contract by op-contract.test.ts.)
 */
type Shape<U extends { op: string }> = {
  [K in U['op']]: { [F in keyof Extract<U, { op: K }>]-?: [{} extends Pick<Extract<U, { op: K }>, F> ? 'optional' : 'required', Extract<U, { op: K }>[F]] };
};
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type Holds<T extends true> = T;
export type OpsAreNativePlanOps = Holds<Equals<Shape<Op>, Shape<PlanOp>>>;

/**
 * Runs a plan: the one caller of the native `execute`. The ops go as JSON
 * text, not as the typed objects the native function also takes: measured
 * on a 500-subnet plan (3,764 ops, README "The native module"),
 * JSON.stringify plus serde took ~17 ms, napi's field-by-field conversion
 * ~24 ms, and ~280 ms with the rulesets as objects. planJson also writes a
 * ruleset shared by hundreds of hosts once.
 */
export async function executePlan(
  ops: readonly Op[],
  options?: ExecuteOptions,
  onProgress?: (done: number, total: number) => void,
): Promise<ExecuteResult> {
  return (await native()).execute(planJson(ops), options, onProgress);
}

/**
 * Checks a plan against the kernel: the one caller of the native `verify`.
 * Ops go as JSON (see executePlan); a cached plan's text (api/drift.ts,
 * planJson's output kept on disk) goes as it is, bytes undecoded.
 */
export async function verifyPlan(plan: readonly Op[] | string | Buffer, options?: VerifyOptions): Promise<Drift[]> {
  return (await native()).verify(isOps(plan) ? planJson(plan) : plan, options);
}

const isOps = (plan: readonly Op[] | string | Buffer): plan is readonly Op[] => Array.isArray(plan);

/**
 * The launcher's early read of the state in `stateDir` (cli/early.ts), once
 * it is over: null when none ran for these files or it failed. One-shot.
 */
export async function takeEarlyDrift(planFile: string, stateFile: string): Promise<EarlyDrift | null> {
  return (await native()).verifyEarlyTake(planFile, stateFile);
}

/** Stops the early read, if one runs: the command will not use it. */
export async function cancelEarlyDrift(): Promise<void> {
  (await native()).verifyEarlyCancel();
}
