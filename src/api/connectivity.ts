import { native } from '../native.js';
import { hostNs } from '../model/names.js';
import type { State } from '../state/types.js';
import { hostIp } from '../model/addresses.js';
import { checkPort } from '../model/ports.js';
import { findSubnet } from './lookup.js';

/** One probe: reached or not, its round-trip time or its error. */
export interface ProbeResult { ok: boolean; rttMs?: number; error?: string }

/** A probe from one subnet to another (of the same VPC, or of `toVpc`). */
export interface ConnectivityInput {
  vpc: string;
  fromSubnet: string;
  toSubnet: string;
  /** The target's VPC when it is not `vpc` (a peer, or to show isolation). */
  toVpc?: string;
  /** Also try a TCP connect to this port. */
  port?: number;
  timeoutMs?: number;
}

/** What a probe found: ICMP, and TCP when a port was given. */
export interface ConnectivityResult {
  from: { vpc: string; subnet: string; address: string };
  to: { vpc: string; subnet: string; address: string };
  icmp: ProbeResult;
  tcp?: ProbeResult & { port: number };
  /** ICMP answered and, when a port was given, the TCP connect succeeded. */
  reachable: boolean;
}

/** Probe from inside the source subnet's namespace, in-process: ICMP echo, then a TCP connect. */
export async function testConnectivity(state: State, input: ConnectivityInput): Promise<ConnectivityResult> {
  const from = findSubnet(state, input.vpc, input.fromSubnet);
  const toVpc = input.toVpc ?? input.vpc;
  const to = findSubnet(state, toVpc, input.toSubnet);
  if (input.port !== undefined) checkPort(input.port);
  const n = await native();
  const ns = hostNs(input.vpc, from.name);
  const dst = hostIp(to.cidr);
  const timeout = input.timeoutMs ?? 1000;
  const icmp = await n.ping(ns, dst, timeout);
  const tcp = input.port === undefined ? undefined : { ...(await n.tcpConnect(ns, dst, input.port, timeout)), port: input.port };
  return {
    from: { vpc: input.vpc, subnet: from.name, address: hostIp(from.cidr) },
    to: { vpc: toVpc, subnet: to.name, address: dst },
    icmp, tcp,
    reachable: icmp.ok && (tcp === undefined || tcp.ok),
  };
}

/** Every subnet probed against every other (ICMP). */
export interface MatrixResult {
  /** Row/column labels, "vpc/subnet". */
  subnets: string[];
  /** cells[i][j]: ICMP from subnets[i] to subnets[j]; null on the diagonal. */
  cells: (ProbeResult | null)[][];
}

/** Every subnet against every subnet, across VPCs: a few probes in flight at once. */
export async function connectivityMatrix(state: State, timeoutMs = 300): Promise<MatrixResult> {
  const all = Object.values(state.vpcs).flatMap((v) => Object.values(v.subnets).map((s) => ({ vpc: v.name, s })));
  const n = await native();
  const cells: (ProbeResult | null)[][] = all.map(() => all.map(() => null));
  const jobs = all.flatMap((a, i) => all.map((b, j) => ({ a, b, i, j }))).filter(({ i, j }) => i !== j);
  const worker = async () => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      cells[job.i]![job.j] = await n.ping(hostNs(job.a.vpc, job.a.s.name), hostIp(job.b.s.cidr), timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { subnets: all.map(({ vpc, s }) => `${vpc}/${s.name}`), cells };
}
