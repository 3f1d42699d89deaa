import { VpcctlError } from '../errors.js';
import type { GraphFormat } from '../graph/index.js';
import { native } from '../native.js';
import { formatCidr, parseCidr } from '../model/cidr.js';
import { hostNs, validateName } from '../model/names.js';
import { joins, samePair } from '../model/peering.js';
import { checkPort } from '../model/ports.js';
import type { SubnetPolicy, TopologyInput } from '../model/schema.js';
import {
  checkEgress, checkHostNsFree, checkIpv6Only, ipv4Subnets, checkPeering, checkSubnetCidr, checkSubnetCidr6, checkVpcCidr, checkVpcCidr6, nextSubnet6, vpcIpv6,
} from '../model/validate.js';
import { parseCidr6 } from '../model/cidr6.js';
import { blockOf, blockText, normBlock } from '../model/addresses.js';
import { StateStore, stateDirFrom } from '../state/store.js';
import type { Egress, PeeringState, State, SubnetState } from '../state/types.js';
import type { Claim } from '../model/root-routes.js';
import * as apps from './apps.js';
import type { AppInfo, DeployAppInput } from './apps.js';
import { applyTopology, type ApplyOptions, type ApplyResult } from './apply.js';
import { cleanupAll, type CleanupReport } from './cleanup.js';
import { connectivityMatrix, testConnectivity, type ConnectivityInput, type ConnectivityResult, type MatrixResult } from './connectivity.js';
import { Engine, type ChangeOptions, type ChangeResult, type Draft } from './engine.js';
import { detail, status, summarize, type StatusReport, type VpcDetail, type VpcSummary } from './inspect.js';
import { findSubnet, findVpc } from './lookup.js';
import { allocateLink, guardedChange, type RootView } from './network.js';
import { policyReport, type PolicyReport } from './policy-report.js';
import { type PublishInput, type UnpublishInput, refuseHostPort, removePublish, setPublish } from './publish.js';
import { type Publish, allPublishes, policyWarnings, publishesOf } from '../model/publish.js';
import { upsertVpc } from './vpc-upsert.js';
import type { ApplyPolicyInput, CreateSubnetInput, CreateVpcInput, PeeringRef, SubnetRef, VpcRef, VpcctlOptions } from './inputs.js';
import { storedPolicy } from '../model/policy-meaning.js';
import type { FlowLogQuery, FollowOptions } from './flow-logs.js';
import type { FlowLogEntry } from '../model/flow-logs.js';

export type { ApplyOptions, ApplyResult } from './apply.js';
export type { VpcctlOptions, CreateVpcInput, CreateSubnetInput, VpcRef, SubnetRef, PeeringRef, ApplyPolicyInput } from './inputs.js';
export type { PublishInput, UnpublishInput } from './publish.js';
export type { Publish } from '../model/publish.js';
export type { FlowLogQuery, FollowOptions } from './flow-logs.js';
export type { FlowLogEntry } from '../model/flow-logs.js';

/**
 * vpcctl's engine as a library: the CLI is a thin layer over this class.
 * Every method validates first (throwing a VpcctlError with a stable code and
 * leaving state and kernel untouched), then changes the kernel through the
 * planner and the native batch executor, which undoes its work on failure.
 */
export class Vpcctl {
  private readonly store: StateStore;
  private readonly engine: Engine;
  private readonly uplink?: string | undefined;

  /** A handle on the state in `options.stateDir`; nothing is read until a method is called. */
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
   * kernel. What the mutation newly claims on the machine (a VPC, a public
   * subnet) is checked against the machine's routes before anything is
   * planned; `root` reads the machine's network once for the whole command,
   * and `at` names where a claim came from (a topology path).
   */
  private change<T>(
    mutate: (draft: Draft, root: RootView) => T | Promise<T>,
    opts?: ChangeOptions,
    at?: (claim: Claim) => string | undefined,
  ): Promise<ChangeResult<T>> {
    return guardedChange(this.engine, mutate, opts, at);
  }

  /** Create a VPC: its router namespace, firewall table and (with an uplink) internet gateway. Idempotent for the same spec. */
  async createVpc(input: CreateVpcInput, opts?: ChangeOptions): Promise<ChangeResult> {
    validateName('vpc', input.name);
    const cidr = formatCidr(checkVpcCidr(input.cidr));
    const ipv6Cidr = vpcIpv6(input);
    if (ipv6Cidr) checkVpcCidr6(ipv6Cidr);
    return this.change(async ({ state, warn, touch }, root) => {
      touch(input.name);
      const { vpc, made } = await upsertVpc(state, { name: input.name, cidr, ipv6Cidr, uplink: input.uplink ?? this.uplink }, root);
      if (made && !vpc.uplink) warn(`the host has no default route: vpc "${input.name}" has no internet gateway (pass --uplink IFACE)`);
    }, opts);
  }

  /** Delete a VPC with its subnets, apps and peerings. */
  async deleteVpc(ref: VpcRef, opts?: ChangeOptions): Promise<ChangeResult> {
    const { name } = ref;
    return this.change(({ state }) => {
      findVpc(state, name);
      delete state.vpcs[name];
      state.peerings = state.peerings.filter((p) => !joins(p, name));
    }, opts);
  }

  /** Create a subnet: a host namespace routed by its VPC's router. Idempotent for the same spec. */
  async createSubnet(input: CreateSubnetInput, opts?: ChangeOptions): Promise<ChangeResult> {
    validateName('subnet', input.name);
    if (input.type !== 'public' && input.type !== 'private') {
      throw new VpcctlError('INVALID_INPUT', `subnet type "${String(input.type)}" is invalid: use public or private`);
    }
    checkEgress(input.type, input.egress);
    const cidr = input.cidr === undefined ? undefined : formatCidr(parseCidr(input.cidr, { what: 'subnet' }));
    if (input.ipv6Cidr !== undefined) parseCidr6(input.ipv6Cidr, { what: 'subnet' });
    const nat = input.egress === 'nat';
    return this.change(({ state, touch }) => {
      const vpc = findVpc(state, input.vpc);
      touch(vpc.name);
      const existing = vpc.subnets[input.name];
      if (existing) {
        const same6 = input.ipv6Cidr === undefined || input.ipv6Cidr === existing.ipv6Cidr;
        if (existing.cidr === cidr && same6 && existing.type === input.type && (existing.egress === 'nat') === nat) return;
        const egress = existing.type === 'private' ? `, egress ${existing.egress ?? 'none'}` : '';
        throw new VpcctlError('CONFLICT', `subnet "${input.name}" already exists in vpc "${input.vpc}" as ${blockText(existing)} (${existing.type}${egress})`);
      }
      if (cidr === undefined) checkIpv6Only(vpc.name, !!vpc.ipv6Cidr);
      if (nat && !vpc.transit) throw new VpcctlError('CONFLICT', `vpc "${input.vpc}" has no internet gateway (no uplink): a NAT gateway needs one`);
      if (cidr !== undefined) checkSubnetCidr(vpc.cidr, cidr, ipv4Subnets(vpc.subnets));
      let ipv6Cidr: string | undefined;
      if (vpc.ipv6Cidr) {
        const siblings6 = Object.values(vpc.subnets).flatMap((s) => (s.ipv6Cidr ? [{ name: s.name, cidr: s.ipv6Cidr }] : []));
        ipv6Cidr = input.ipv6Cidr ?? nextSubnet6(vpc.ipv6Cidr, siblings6.map((s) => s.cidr));
        checkSubnetCidr6(vpc.ipv6Cidr, ipv6Cidr, siblings6);
      } else if (input.ipv6Cidr !== undefined) {
        throw new VpcctlError('INVALID_INPUT', `vpc "${vpc.name}" has no IPv6 CIDR: create it with --ipv6-cidr or --ipv6 to have IPv6 subnets`);
      }
      const all = Object.values(state.vpcs).flatMap((v) => Object.values(v.subnets).map((s) => ({ vpc: v.name, subnet: s.name })));
      checkHostNsFree(input.vpc, input.name, all);
      vpc.subnets[input.name] = {
        name: input.name, ...(cidr !== undefined ? { cidr } : {}), ...(ipv6Cidr ? { ipv6Cidr } : {}), type: input.type, ...(nat ? { egress: 'nat' as const } : {}), apps: [],
      };
    }, opts);
  }

  /**
   * A private subnet's way out: `nat` through the VPC's NAT gateway
   * (outbound connections and their replies only), `none` no internet.
   * Changed in place: the subnet's host and its apps stay.
   */
  async setEgress(ref: SubnetRef & { egress: Egress }, opts?: ChangeOptions): Promise<ChangeResult> {
    if (ref.egress !== 'nat' && ref.egress !== 'none') {
      throw new VpcctlError('INVALID_INPUT', `egress "${String(ref.egress)}" is invalid: use nat or none`);
    }
    return this.change(({ state, touch }) => {
      const subnet = findSubnet(state, ref.vpc, ref.subnet);
      touch(ref.vpc);
      checkEgress(subnet.type, ref.egress, `subnet "${ref.subnet}" of vpc "${ref.vpc}"`);
      if (ref.egress === 'nat') {
        if (!state.vpcs[ref.vpc]!.transit) {
          throw new VpcctlError('CONFLICT', `vpc "${ref.vpc}" has no internet gateway (no uplink): a NAT gateway needs one`);
        }
        subnet.egress = 'nat';
      } else delete subnet.egress;
    }, opts);
  }

  /** Delete a subnet and its apps. */
  async deleteSubnet(ref: SubnetRef, opts?: ChangeOptions): Promise<ChangeResult> {
    return this.change(({ state, touch }) => {
      findSubnet(state, ref.vpc, ref.subnet);
      touch(ref.vpc);
      delete state.vpcs[ref.vpc]!.subnets[ref.subnet];
    }, opts);
  }

  /** Peer two VPCs (not transitive); refused when their CIDRs overlap. */
  async peer(pair: PeeringRef, opts?: ChangeOptions): Promise<ChangeResult> {
    const { vpc1, vpc2 } = pair;
    return this.change(async ({ state, touch }, root) => {
      touch(findVpc(state, vpc1).name);
      touch(findVpc(state, vpc2).name);
      if (state.peerings.some((p) => samePair(p, vpc1, vpc2))) return;
      checkPeering(Object.values(state.vpcs), { vpc1, vpc2 }, state.peerings);
      state.peerings.push({ vpc1, vpc2, link: await allocateLink(state, root) });
    }, opts);
  }

  /** Remove the peering of two VPCs. */
  async unpeer(pair: PeeringRef, opts?: ChangeOptions): Promise<ChangeResult> {
    const { vpc1, vpc2 } = pair;
    return this.change(({ state, touch }) => {
      touch(findVpc(state, vpc1).name);
      touch(findVpc(state, vpc2).name);
      state.peerings = state.peerings.filter((p) => !samePair(p, vpc1, vpc2));
    }, opts);
  }

  /**
   * Replace a subnet's security policy atomically. `subnet` may be left out
   * when the policy's own `subnet` names the subnet's CIDR.
   */
  async applyPolicy(input: ApplyPolicyInput, opts?: ChangeOptions): Promise<ChangeResult<string>> {
    // zod loads only for the commands that read documents: it costs more than the rest of a start-up.
    const { parseSubnetPolicy } = await import('../model/schema.js');
    const policy: SubnetPolicy = parseSubnetPolicy(input.policy);
    return this.change(({ state, touch, warn }) => {
      const vpc = findVpc(state, input.vpc);
      touch(vpc.name);
      let subnet: SubnetState | undefined;
      if (input.subnet) {
        subnet = findSubnet(state, input.vpc, input.subnet);
        if (policy.subnet && normBlock(policy.subnet) !== blockOf(subnet)) {
          throw new VpcctlError('INVALID_POLICY', `policy is for subnet ${policy.subnet}, but subnet "${subnet.name}" is ${blockText(subnet)}`);
        }
      } else {
        if (!policy.subnet) throw new VpcctlError('INVALID_POLICY', 'policy names no subnet: pass --subnet or set "subnet" in the policy');
        const cidr = normBlock(policy.subnet);
        subnet = Object.values(vpc.subnets).find((s) => blockOf(s) === cidr);
        if (!subnet) throw new VpcctlError('NOT_FOUND', `vpc "${vpc.name}" has no subnet ${cidr}`);
      }
      subnet.policy = storedPolicy(policy, blockOf(subnet), subnet.policy);
      // The policy is applied as asked; a published port it closes is worth a word.
      for (const p of publishesOf(vpc)) {
        if (p.targets.some((t) => t.subnet === subnet!.name)) for (const w of policyWarnings(vpc, { ...p, targets: p.targets.filter((t) => t.subnet === subnet!.name) })) warn(w);
      }
      return subnet.name;
    }, opts);
  }

  // --- published ports ------------------------------------------------------

  /**
   * Publish a port of one subnet's host (`subnet`) or of several
   * (`targets`, new connections spread round robin, each kept on its target
   * for its life) at `address:hostPort` on the host. Publishing the same
   * host port of the VPC again replaces its targets: established
   * connections to the targets that stay are left alone. Refused (exit 2):
   * a host port a host process listens on, or another publish holds.
   * Warns when a target's policy keeps the port closed.
   */
  async publish(input: PublishInput, opts?: ChangeOptions): Promise<ChangeResult<Publish>> {
    return this.change(async ({ state, warn, touch }, root) => {
      touch(input.vpc);
      const { publish, fresh, warnings } = await setPublish(state, input, root);
      if (fresh) await refuseHostPort(publish);
      for (const w of warnings) warn(w);
      return publish;
    }, opts);
  }

  /** Take a publish away, or only some of its targets (the others keep theirs, and their connections). */
  async unpublish(input: UnpublishInput, opts?: ChangeOptions): Promise<ChangeResult> {
    return this.change(({ state, touch }) => {
      touch(input.vpc);
      if (!removePublish(state, input)) {
        const which = input.targets ? ` to ${input.targets.join(', ')}` : '';
        throw new VpcctlError('NOT_FOUND', `vpc "${input.vpc}" publishes no ${input.protocol ?? 'tcp'} host port ${input.hostPort}${which}`);
      }
    }, opts);
  }

  /** Every publish (of one VPC, or all), with its targets. */
  async listPublished(filter: { vpc?: string } = {}): Promise<Publish[]> {
    const { vpc } = filter;
    const state = await this.state();
    return vpc === undefined ? allPublishes(state) : publishesOf(findVpc(state, vpc));
  }

  /** Remove a subnet's policy (everything allowed again). */
  async removePolicy(ref: SubnetRef, opts?: ChangeOptions): Promise<ChangeResult> {
    return this.change(({ state, touch }) => {
      delete findSubnet(state, ref.vpc, ref.subnet).policy;
      touch(ref.vpc);
    }, opts);
  }

  /** The policy of a subnet with the kernel's per-rule packet counters. */
  async showPolicy(ref: SubnetRef): Promise<PolicyReport> {
    return policyReport(await this.state(), ref);
  }

  // --- apps ---------------------------------------------------------------

  /** Start an app in a subnet's host (default: a small HTTP server naming where it runs), detached. */
  async deployApp(input: DeployAppInput): Promise<AppInfo> {
    checkPort(input.port);
    return this.store.locked(() => apps.deployApp(this.store, input));
  }

  /** Stop a subnet's apps (or the one on `port`); returns what was stopped. */
  async stopApp(ref: SubnetRef & { port?: number }): Promise<AppInfo[]> {
    return this.store.locked(() => apps.stopApps(this.store, ref));
  }

  /** Apps (of one VPC, or all) and whether they run. */
  async listApps(filter: { vpc?: string } = {}): Promise<AppInfo[]> {
    return apps.listApps(await this.state(), filter.vpc);
  }

  /** The log of the app on `port`, or of the subnet's only app when `port` is left out. */
  async appLog(ref: SubnetRef & { port?: number }): Promise<string> {
    return apps.appLog(await this.state(), ref);
  }

  /** The app `appLog` reads (its log file, pid and whether it runs): what `logs --follow` watches. */
  async findApp(ref: SubnetRef & { port?: number }): Promise<AppInfo> {
    return apps.findApp(await this.state(), ref);
  }

  // --- connectivity -------------------------------------------------------

  /** Run `command` (argv) inside a subnet's host namespace (stdio inherited); resolves to its exit code. */
  async exec(input: SubnetRef & { command: string[] }): Promise<number> {
    findSubnet(await this.state(), input.vpc, input.subnet);
    return (await native()).runInNetns(hostNs(input.vpc, input.subnet), input.command);
  }

  /** Probe from one subnet to another: ICMP, and TCP when `port` is given. */
  async testConnectivity(input: ConnectivityInput): Promise<ConnectivityResult> {
    return testConnectivity(await this.state(), input);
  }

  /** Every subnet probed against every other. */
  async connectivityMatrix(opts: { timeoutMs?: number } = {}): Promise<MatrixResult> {
    return connectivityMatrix(await this.state(), opts.timeoutMs);
  }

  // --- topology files -----------------------------------------------------

  /**
   * Converge on a topology: what it names is created or changed to match;
   * what the state has beyond it is removed only with `prune`. Apps it names
   * are started when not running. Re-applying the same file changes nothing.
   */
  async apply(topology: TopologyInput, opts: ApplyOptions = {}): Promise<ApplyResult> {
    return applyTopology(this.store, this.engine, this.uplink, topology, opts);
  }

  /** Remove the VPCs a topology names, with their subnets, apps and peerings. */
  async destroy(topology: TopologyInput, opts?: ChangeOptions): Promise<ChangeResult<string[]>> {
    const { readTopology, removeTopology } = await import('./topology.js');
    const topo = readTopology(topology);
    return this.change((d) => removeTopology(d.state, topo), opts);
  }

  // --- flow logs (src/api/flow-logs.ts) -----------------------------------

  /** Flow logs on or off for a VPC: every subnet's policy table logs (or stops logging) new connections. */
  async setFlowLogs(input: { vpc: string; enabled: boolean }, opts?: ChangeOptions): Promise<ChangeResult> {
    if (typeof input.enabled !== 'boolean') throw new VpcctlError('INVALID_INPUT', 'flow logs: say enable or disable');
    const { setFlowLogs } = await import('./flow-logs.js');
    return this.change(({ state, touch }) => {
      touch(input.vpc);
      setFlowLogs(state, input.vpc, input.enabled);
    }, opts);
  }

  /** The recent entries the rings keep (filled while a follower runs), oldest first. */
  async flowLogs(q: FlowLogQuery): Promise<FlowLogEntry[]> {
    const { readRings } = await import('./flow-logs.js');
    return readRings(await this.state(), this.store.dir, q);
  }

  /** Streams new entries to `onEntry` (and keeps them in the rings) until `opts.signal` aborts. */
  async followFlowLogs(q: FlowLogQuery, onEntry: (e: FlowLogEntry) => void, opts?: FollowOptions): Promise<void> {
    const { followFlowLogs } = await import('./flow-logs.js');
    return followFlowLogs(() => this.state(), this.store.dir, q, onEntry, opts);
  }

  // --- inspection ---------------------------------------------------------

  /** Every VPC, in short. */
  async list(): Promise<VpcSummary[]> {
    const state = await this.state();
    return Object.values(state.vpcs).map((v) => summarize(state, v));
  }

  /** One VPC in full: gateway, subnets, peerings, published ports, apps. */
  async show(ref: VpcRef): Promise<VpcDetail> {
    const { name } = ref;
    const state = await this.state();
    return detail(state, findVpc(state, name));
  }

  /** Every peering. */
  async peerings(): Promise<PeeringState[]> {
    return (await this.state()).peerings;
  }

  /** Drift between the state and the kernel. */
  async status(): Promise<StatusReport> {
    const report = await status(await this.state(), this.store.dir);
    // status takes no lock (it reads): a difference may be a change still running. An in-sync report asks nothing more.
    if (!report.ok) {
      const holder = await this.store.holder();
      if (holder) report.inProgress = holder;
    }
    return report;
  }

  /** Remove everything vpcctl made, found by its tags even without a state file. */
  async cleanupAll(opts: { dryRun?: boolean } = {}): Promise<CleanupReport> {
    return this.store.locked(() => cleanupAll(this.store, this.engine, opts));
  }

  /** A picture of the topology (SVG, mermaid or Graphviz dot), or with `json` the view they are drawn from, as data. */
  async graph(opts: { format?: GraphFormat } = {}): Promise<string> {
    const format = opts.format ?? 'svg';
    const { renderGraph, viewFromState } = await import('../graph/index.js');
    return renderGraph(viewFromState(await this.state()), format);
  }
}
