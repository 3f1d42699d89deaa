/**
 * vpcctl as a library: `import { Vpcctl } from 'vpcctl'`. The same engine the
 * CLI uses (planner, state, native executor); the native module itself is
 * `import * as native from 'vpcctl/native'`. Every export below carries its
 * own documentation; examples/ has a typed example per command.
 */

/** The facade: one method per command (create, delete, apply, inspect, probe). */
export { Vpcctl } from './api/vpcctl.js';
/** Inputs of the facade's methods, one object each (`deleteVpc({ name })`, like `createVpc({ ... })`). */
export type {
  VpcctlOptions, CreateVpcInput, CreateSubnetInput, VpcRef, SubnetRef, PeeringRef, ApplyPolicyInput, ApplyOptions, ApplyResult,
  Publish, PublishInput, UnpublishInput,
} from './api/vpcctl.js';
/** How a private subnet reaches the internet: `nat` or `none`. */
export type { Egress } from './state/types.js';
/** Options and result of every change (dry run, progress, the plan and its object-level diff). */
export type { ChangeOptions, ChangeResult } from './api/engine.js';
/** A plan by object: what a change creates, deletes and changes, apps it starts or stops, what a prune keeps. */
export type { PlanDiff, DiffItem, AttributeChange, KeptItem, AppChange } from './plan/diff.js';
/** Apps: what `deployApp` takes and what the app commands return. */
export type { AppInfo, DeployAppInput } from './api/apps.js';
/** Connectivity probes: input and results. */
export type { ConnectivityInput, ConnectivityResult, MatrixResult, ProbeResult } from './api/connectivity.js';
/** What the inspection methods return. */
export type { VpcSummary, VpcDetail, SubnetDetail, StatusReport, DriftEntry } from './api/inspect.js';
/** What `cleanupAll` removed (or, as a dry run, would remove). */
export type { CleanupReport } from './api/cleanup.js';
/** A subnet's policy with the kernel's packet counters. */
export type { PolicyReport, RuleCounter } from './api/policy-report.js';
/** Every failure is a VpcctlError with a stable `code` (and `native` for the kernel's). */
export { VpcctlError } from './errors.js';
/** The stable error codes. */
export type { ErrorCode, NativeCode } from './errors.js';
/**
 * Documents as written: `Topology` is what `apply` and `destroy` take,
 * `Policy` what `applyPolicy` takes (checked at compile time, a misspelt
 * field fails to compile, and again at run time).
 */
export type { TopologyInput as Topology, TopologyInput, PolicyInput as Policy, PolicyRuleInput as PolicyRule } from './model/schema.js';
/** Documents as vpcctl keeps them once checked (defaults filled in). */
export type { Topology as ParsedTopology, SubnetPolicy, PolicyRule as ParsedPolicyRule } from './model/schema.js';
/** The JSON Schema of topology files (also shipped as topology.schema.json). */
export { topologyJsonSchema } from './model/schema.js';
/** The planner's output: kernel operations, in order. */
export type { Plan, KernelView } from './plan/planner.js';
/** One kernel operation of a plan (docs/plan-ops.md). */
export type { Op } from './plan/ops.js';
/** An nftables object of a ruleset (libnftables JSON). */
export type { NftObject } from './firewall/nft.js';
/** The saved intent, as `state()` returns it. */
export type { State, VpcState, SubnetState, PeeringState, AppState, SubnetType } from './state/types.js';
/** Picture formats of `graph`. */
export type { GraphFormat } from './graph/index.js';
