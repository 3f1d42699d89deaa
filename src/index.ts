/**
 * vpcctl as a library: `import { Vpcctl } from 'vpcctl'`. The same engine the
 * CLI uses (planner, state, native executor); the native module itself is
 * `import * as native from 'vpcctl/native'`.
 */
export { Vpcctl } from './api/vpcctl.js';
export type { VpcctlOptions, CreateVpcInput, CreateSubnetInput, SubnetRef, ApplyOptions, ApplyResult, Publish, PublishInput, UnpublishInput } from './api/vpcctl.js';
export type { Egress } from './state/types.js';
export type { ChangeOptions, ChangeResult } from './api/engine.js';
export type { AppInfo, DeployAppInput } from './api/apps.js';
export type { ConnectivityInput, ConnectivityResult, MatrixResult, ProbeResult } from './api/connectivity.js';
export type { VpcSummary, VpcDetail, SubnetDetail, StatusReport } from './api/inspect.js';
export type { CleanupReport } from './api/cleanup.js';
export type { PolicyReport, RuleCounter } from './api/policy-report.js';
export { VpcctlError } from './errors.js';
export type { ErrorCode, NativeCode } from './errors.js';
export type { Topology, TopologyInput, Policy, SubnetPolicy, PolicyRule } from './model/schema.js';
export { topologyJsonSchema } from './model/schema.js';
export type { Plan, KernelView } from './plan/planner.js';
export type { Op } from './plan/ops.js';
export type { NftObject } from './firewall/nft.js';
export type { State, VpcState, SubnetState, PeeringState, AppState, SubnetType } from './state/types.js';
export type { GraphFormat } from './graph/index.js';
