import { VpcctlError } from '../errors.js';
import { readText } from './files.js';
import type { GraphFormat } from '../graph/index.js';
import { kernel, native } from '../native.js';
import { formatCidr, parseCidr } from '../model/cidr.js';
import { NFT_FAMILY, NFT_TABLE, hostNs, validateName } from '../model/names.js';
import type { SubnetPolicy } from '../model/schema.js';
import { checkHostNsFree, checkPeering, checkSubnetCidr, checkVpcCidr } from '../model/validate.js';
import { wantedNamespaces } from '../plan/planner.js';
import { StateStore, stateDirFrom } from '../state/store.js';
import type { PeeringState, State, SubnetState, SubnetType, VpcState } from '../state/types.js';
import { alive, appStatus, checkPort, startApp, stopProcess, type AppInfo, type DeployAppInput } from './apps.js';
import { cleanupAll, type CleanupReport } from './cleanup.js';
import { connectivityMatrix, testConnectivity, type ConnectivityInput, type ConnectivityResult, type MatrixResult } from './connectivity.js';
import { Engine, type ChangeOptions, type ChangeResult, type Draft } from './engine.js';
import { detail, status, summarize, type StatusReport, type VpcDetail, type VpcSummary } from './inspect.js';
import { findSubnet, findVpc, hostAddressOf } from './lookup.js';
import { allocateLink, checkUplink, defaultUplink, guardHostRoutes, hostFootprint, hostView, type HostView } from './network.js';
import type { Claim } from '../model/host-routes.js';
import { ruleCounters, type PolicyReport } from './policy-report.js';
import { stopwatch } from './stopwatch.js';
import { cacheDirOf, findDrift, planText } from './drift.js';
import { policyOp } from '../plan/build.js';
import { planJson } from '../plan/ops.js';

export interface VpcctlOptions {
  /** Where the state lives (default: $VPCCTL_STATE_DIR or /var/lib/vpcctl). */
  stateDir?: string;
  /** Host interface for internet traffic of new VPCs (default: the default route's). */
  uplink?: string;
}

export interface CreateVpcInput { name: string; cidr: string; uplink?: string }
export interface CreateSubnetInput { vpc: string; name: string; cidr: string; type: SubnetType }
export interface SubnetRef { vpc: string; subnet: string }
export interface ApplyOptions extends ChangeOptions {
  /** Also remove what the state has and the topology does not name. */
  prune?: boolean;
}
export interface ApplyResult extends ChangeResult { appsStarted: AppInfo[] }

/**
 * vpcctl's engine as a library: the CLI is a thin layer over this class.
 * Every method validates first (throwing a VpcctlError with a stable code and
 * leaving state and kernel untouched), then changes the kernel through the
 * planner and the native batch executor, which undoes its work on failure.
 */
export class Vpcctl {
  readonly store: StateStore;
  readonly engine: Engine;
  private readonly uplink?: string;

  constructor(options: VpcctlOptions = {}) {
    this.store = new StateStore(stateDirFrom(options.stateDir));
    this.engine = new Engine(this.store);
    this.uplink = options.uplink;
  }

  /** The current intent, as saved. */
  state(): Promise<State> {
    return this.store.read();
  }

  /**
   * Apply any mutation of the desired state through the one path to the
   * kernel. What the mutation newly claims on the host (a VPC, a public
   * subnet) is checked against the host's routes before anything is
   * planned; `host` reads the host's network once for the whole command,
   * and `at` names where a claim came from (a topology path).
   */
  change<T>(
    mutate: (draft: Draft, host: HostView) => T | Promise<T>,
    opts?: ChangeOptions,
    at?: (claim: Claim) => string | undefined,
  ): Promise<ChangeResult<T>> {
    return this.engine.change(async (draft) => {
      const host = hostView();
      const before = hostFootprint(draft.state);
      const value = await mutate(draft, host);
      await guardHostRoutes(before, draft.state, host, at);
      return value;
    }, opts);
  }

  async createVpc(input: CreateVpcInput, opts?: ChangeOptions): Promise<ChangeResult> {
    validateName('vpc', input.name);
    const cidr = formatCidr(checkVpcCidr(input.cidr));
    return this.change(async ({ state, warn, touch }, host) => {
      touch(input.name);
      const existing = state.vpcs[input.name];
      const uplinkAsked = input.uplink ?? this.uplink;
      if (existing) {
        if (existing.cidr === cidr && (uplinkAsked === undefined || uplinkAsked === existing.uplink)) return;
        throw new VpcctlError('CONFLICT', `vpc "${input.name}" already exists with cidr ${existing.cidr}${existing.uplink ? ` and uplink ${existing.uplink}` : ''}`);
      }
      if (uplinkAsked) await checkUplink(uplinkAsked, host);
      const uplink = uplinkAsked ?? (await defaultUplink(host));
      if (!uplink) warn(`the host has no default route: vpc "${input.name}" has no internet gateway (pass --uplink IFACE)`);
      const vpc: VpcState = { name: input.name, cidr, uplink, transit: null, subnets: {} };
      if (uplink) vpc.transit = await allocateLink(state, host);
      state.vpcs[input.name] = vpc;
    }, opts);
  }

  async deleteVpc(name: string, opts?: ChangeOptions): Promise<ChangeResult> {
    return this.change(({ state }) => {
      findVpc(state, name);
      delete state.vpcs[name];
      state.peerings = state.peerings.filter((p) => p.vpc1 !== name && p.vpc2 !== name);
    }, opts);
  }

  async createSubnet(input: CreateSubnetInput, opts?: ChangeOptions): Promise<ChangeResult> {
    validateName('subnet', input.name);
    if (input.type !== 'public' && input.type !== 'private') {
      throw new VpcctlError('INVALID_INPUT', `subnet type "${String(input.type)}" is invalid: use public or private`);
    }
    const cidr = formatCidr(parseCidr(input.cidr, { what: 'subnet' }));
    return this.change(({ state, touch }) => {
      const vpc = findVpc(state, input.vpc);
      touch(vpc.name);
      const existing = vpc.subnets[input.name];
      if (existing) {
        if (existing.cidr === cidr && existing.type === input.type) return;
        throw new VpcctlError('CONFLICT', `subnet "${input.name}" already exists in vpc "${input.vpc}" as ${existing.cidr} (${existing.type})`);
      }
      checkSubnetCidr(vpc.cidr, cidr, Object.values(vpc.subnets));
      const all = Object.values(state.vpcs).flatMap((v) => Object.values(v.subnets).map((s) => ({ vpc: v.name, subnet: s.name })));
      checkHostNsFree(input.vpc, input.name, all);
      vpc.subnets[input.name] = { name: input.name, cidr, type: input.type, apps: [] };
    }, opts);
  }

  async deleteSubnet(ref: SubnetRef, opts?: ChangeOptions): Promise<ChangeResult> {
    return this.change(({ state, touch }) => {
      findSubnet(state, ref.vpc, ref.subnet);
      touch(ref.vpc);
      delete state.vpcs[ref.vpc]!.subnets[ref.subnet];
    }, opts);
  }

  async peer(vpc1: string, vpc2: string, opts?: ChangeOptions): Promise<ChangeResult> {
    return this.change(async ({ state, touch }, host) => {
      touch(findVpc(state, vpc1).name);
      touch(findVpc(state, vpc2).name);
      if (state.peerings.some((p) => (p.vpc1 === vpc1 && p.vpc2 === vpc2) || (p.vpc1 === vpc2 && p.vpc2 === vpc1))) return;
      checkPeering(Object.values(state.vpcs), { vpc1, vpc2 }, state.peerings);
      state.peerings.push({ vpc1, vpc2, link: await allocateLink(state, host) });
    }, opts);
  }

  async unpeer(vpc1: string, vpc2: string, opts?: ChangeOptions): Promise<ChangeResult> {
    return this.change(({ state, touch }) => {
      touch(findVpc(state, vpc1).name);
      touch(findVpc(state, vpc2).name);
      state.peerings = state.peerings.filter((p) => !((p.vpc1 === vpc1 && p.vpc2 === vpc2) || (p.vpc1 === vpc2 && p.vpc2 === vpc1)));
    }, opts);
  }

  /**
   * Replace a subnet's security policy atomically. `subnet` may be left out
   * when the policy's own `subnet` names the subnet's CIDR.
   */
  async applyPolicy(input: { vpc: string; subnet?: string; policy: unknown }, opts?: ChangeOptions): Promise<ChangeResult<string>> {
    // zod loads only for the commands that read documents: it costs more than the rest of a start-up.
    const { parseSubnetPolicy } = await import('../model/schema.js');
    const policy: SubnetPolicy = parseSubnetPolicy(input.policy);
    return this.change(({ state, touch }) => {
      const vpc = findVpc(state, input.vpc);
      touch(vpc.name);
      let subnet: SubnetState | undefined;
      if (input.subnet) {
        subnet = findSubnet(state, input.vpc, input.subnet);
        if (policy.subnet && formatCidr(parseCidr(policy.subnet)) !== subnet.cidr) {
          throw new VpcctlError('INVALID_POLICY', `policy is for subnet ${policy.subnet}, but subnet "${subnet.name}" is ${subnet.cidr}`);
        }
      } else {
        if (!policy.subnet) throw new VpcctlError('INVALID_POLICY', 'policy names no subnet: pass --subnet or set "subnet" in the policy');
        const cidr = formatCidr(parseCidr(policy.subnet));
        subnet = Object.values(vpc.subnets).find((s) => s.cidr === cidr);
        if (!subnet) throw new VpcctlError('NOT_FOUND', `vpc "${vpc.name}" has no subnet ${cidr}`);
      }
      subnet.policy = policy;
      return subnet.name;
    }, opts);
  }

  async removePolicy(ref: SubnetRef, opts?: ChangeOptions): Promise<ChangeResult> {
    return this.change(({ state, touch }) => {
      delete findSubnet(state, ref.vpc, ref.subnet).policy;
      touch(ref.vpc);
    }, opts);
  }

  /** The policy of a subnet with the kernel's per-rule packet counters. */
  async showPolicy(ref: SubnetRef): Promise<PolicyReport> {
    const state = await this.state();
    const subnet = findSubnet(state, ref.vpc, ref.subnet);
    const n = await native();
    const ns = hostNs(ref.vpc, ref.subnet);
    const op = policyOp(findVpc(state, ref.vpc), subnet);
    const [json, drift] = await Promise.all([
      kernel(n.nftListTable(ns, NFT_FAMILY, NFT_TABLE)),
      op ? kernel(n.verify(planJson([op]), { nft: state.nftMarks ?? {} })) : [],
    ]);
    return { policy: subnet.policy ?? null, rules: json ? ruleCounters(json) : [], drift: drift.map((d) => d.detail) };
  }

  // --- apps ---------------------------------------------------------------

  async deployApp(input: DeployAppInput): Promise<AppInfo> {
    checkPort(input.port);
    return this.store.locked(async () => {
      const state = await this.store.read();
      const subnet = findSubnet(state, input.vpc, input.subnet);
      const app = await startApp(this.store.dir, hostAddressOf(subnet), input, subnet);
      subnet.apps = [...subnet.apps.filter((a) => a.port !== app.port), app];
      try {
        await this.store.write(state);
      } catch (e) {
        // An app the state does not know would run untracked: stop it.
        await stopProcess(app.pid, hostNs(input.vpc, input.subnet));
        throw e;
      }
      return appStatus(input.vpc, input.subnet, app);
    });
  }

  /** Stop a subnet's apps (or the one on `port`); returns what was stopped. */
  async stopApp(ref: SubnetRef & { port?: number }): Promise<AppInfo[]> {
    return this.store.locked(async () => {
      const state = await this.store.read();
      const subnet = findSubnet(state, ref.vpc, ref.subnet);
      const stopping = subnet.apps.filter((a) => ref.port === undefined || a.port === ref.port);
      if (ref.port !== undefined && stopping.length === 0) {
        throw new VpcctlError('NOT_FOUND', `no app on port ${ref.port} in subnet "${ref.subnet}" of vpc "${ref.vpc}"`);
      }
      await Promise.all(stopping.map((a) => stopProcess(a.pid, hostNs(ref.vpc, ref.subnet))));
      subnet.apps = subnet.apps.filter((a) => !stopping.includes(a));
      await this.store.write(state);
      return stopping.map((a) => appStatus(ref.vpc, ref.subnet, a));
    });
  }

  async listApps(vpc?: string): Promise<AppInfo[]> {
    const state = await this.state();
    if (vpc) findVpc(state, vpc);
    return Object.values(state.vpcs)
      .filter((v) => !vpc || v.name === vpc)
      .flatMap((v) => Object.values(v.subnets).flatMap((s) => s.apps.map((a) => appStatus(v.name, s.name, a))));
  }

  async appLog(ref: SubnetRef & { port: number }): Promise<string> {
    const subnet = findSubnet(await this.state(), ref.vpc, ref.subnet);
    const app = subnet.apps.find((a) => a.port === ref.port);
    if (!app) throw new VpcctlError('NOT_FOUND', `no app on port ${ref.port} in subnet "${ref.subnet}" of vpc "${ref.vpc}"`);
    return readText(app.logFile);
  }

  // --- connectivity -------------------------------------------------------

  async testConnectivity(input: ConnectivityInput): Promise<ConnectivityResult> {
    return testConnectivity(await this.state(), input);
  }

  async connectivityMatrix(timeoutMs?: number): Promise<MatrixResult> {
    return connectivityMatrix(await this.state(), timeoutMs);
  }

  // --- topology files -----------------------------------------------------

  /**
   * Converge on a topology: what it names is created or changed to match;
   * what the state has beyond it is removed only with `prune`. Apps it names
   * are started when not running. Re-applying the same file changes nothing.
   */
  async apply(topology: unknown, opts: ApplyOptions = {}): Promise<ApplyResult> {
    const prune = !!opts.prune;
    const document = JSON.stringify(topology);
    const unchanged = opts.dryRun ? null : await this.unchangedSince(document, prune);
    if (unchanged) return unchanged;
    const { claimPath, mergeTopology, readTopology } = await import('./topology.js');
    const topo = readTopology(topology);
    // Saved with the change itself: the write gives the state revision + 1.
    const remember = (state: State) => { state.lastApply = { document, prune, revision: (state.revision ?? 0) + 1 }; };
    const result = await this.change((d, host) => {
      d.beforeSave(remember);
      // The next re-apply verifies this state's full plan: build its text now, not in that no-op call.
      d.beforeSave((state) => planText(state, cacheDirOf(this.store.dir)));
      return mergeTopology(d.state, topo, { prune: opts.prune, uplink: this.uplink, host });
    }, { ...opts, verifyAll: true }, (claim) => claimPath(topo, claim));
    const started: AppInfo[] = [];
    const wantApps = topo.vpcs.some((v) => v.subnets.some((s) => s.apps.length > 0));
    if (!opts.dryRun && wantApps) {
      const state = await this.state();
      for (const v of topo.vpcs) {
        for (const s of v.subnets) {
          for (const app of s.apps) {
            const running = state.vpcs[v.name]!.subnets[s.name]!.apps.some((a) => a.port === app.port && alive(a.pid));
            if (!running) started.push(await this.deployApp({ vpc: v.name, subnet: s.name, ...app }));
          }
        }
      }
    }
    // Starting apps wrote the state after the change: remember the document again.
    if (started.length > 0) {
      await this.store.locked(async () => {
        const state = await this.store.read();
        remember(state);
        await this.store.write(state);
      });
    }
    return { ...result, appsStarted: started, changed: result.changed || started.length > 0 };
  }

  /**
   * The same document applied again, with nothing written to the state
   * since and the kernel still holding every namespace, its apps running,
   * forwarding on and no drift (verify, with the nft marks): the plan would
   * be empty, so say so without parsing, validating and diffing hundreds of
   * subnets again. Any drift falls through to the normal path, which repairs.
   */
  private async unchangedSince(document: string, prune: boolean): Promise<ApplyResult | null> {
    const elapsed = stopwatch();
    const state = await this.state();
    const last = state.lastApply;
    if (!last || last.prune !== prune || last.revision !== state.revision || state.pending.length > 0) return null;
    if (last.document !== document) return null;
    // Deep drift too: an unchanged file repairs whatever changed behind
    // vpcctl's back. Started first: the native threads read the namespaces
    // while this one does the cheaper checks below.
    const drift = findDrift(state, undefined, this.store.dir);
    drift.catch(() => {}); // awaited below unless a cheaper check already failed
    const view = await this.engine.kernelView();
    if (Object.keys(state.vpcs).length > 0 && view.hostForward !== '1') return null;
    for (const ns of wantedNamespaces(state)) if (!view.namespaces.has(ns)) return null;
    const apps = Object.values(state.vpcs).flatMap((v) => Object.values(v.subnets).flatMap((s) => s.apps));
    if (!apps.every((a) => alive(a.pid))) return null;
    if ((await drift).length > 0) return null;
    return {
      changed: false, changes: [], plan: { ops: [], changes: [], namespaces: [] }, dryRun: false,
      elapsedMs: elapsed(), warnings: [], value: undefined, appsStarted: [],
    };
  }

  /** Remove the VPCs a topology names, with their subnets, apps and peerings. */
  async destroy(topology: unknown, opts?: ChangeOptions): Promise<ChangeResult<string[]>> {
    const { readTopology, removeTopology } = await import('./topology.js');
    const topo = readTopology(topology);
    return this.change((d) => removeTopology(d.state, topo), opts);
  }

  // --- inspection ---------------------------------------------------------

  async list(): Promise<VpcSummary[]> {
    const state = await this.state();
    return Object.values(state.vpcs).map((v) => summarize(state, v));
  }

  async show(name: string): Promise<VpcDetail> {
    const state = await this.state();
    return detail(state, findVpc(state, name));
  }

  async peerings(): Promise<PeeringState[]> {
    return (await this.state()).peerings;
  }

  /** Drift between the state and the kernel. */
  async status(): Promise<StatusReport> {
    return status(await this.state(), this.store.dir);
  }

  /** Remove everything vpcctl made, found by its tags even without a state file. */
  async cleanupAll(): Promise<CleanupReport> {
    return this.store.locked(() => cleanupAll(this.store, this.engine));
  }

  async graph(format: GraphFormat = 'svg'): Promise<string> {
    const { renderGraph, viewFromState } = await import('../graph/index.js');
    return renderGraph(viewFromState(await this.state()), format);
  }
}
