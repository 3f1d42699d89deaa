import { native } from '../native.js';
import { hostNs } from '../model/names.js';
import type { State } from '../state/types.js';
import { hostIp, hostIp6 } from '../model/addresses.js';
import { VpcctlError } from '../errors.js';
import { checkPort } from '../model/ports.js';
import { findSubnet } from './lookup.js';
import { pairFamily, predictor, type Prediction } from './predict.js';

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
  /**
   * The address family probed: 4, 6, or both (dual-stack subnets). Default:
   * 4, or 6 when either subnet is IPv6-only. With `both`, a pair where
   * either side is IPv6-only is probed over IPv6 alone.
   */
  family?: 4 | 6 | 'both';
}

/** What a probe found: ICMP, and TCP when a port was given. */
export interface ConnectivityResult {
  from: { vpc: string; subnet: string; address: string };
  to: { vpc: string; subnet: string; address: string };
  icmp: ProbeResult;
  tcp?: ProbeResult & { port: number };
  /** With `family: 'both'`: the same probes over IPv6 (the fields above are IPv4's). */
  ipv6?: { from: string; to: string; icmp: ProbeResult; tcp?: ProbeResult & { port: number } };
  /** ICMP answered and, when a port was given, the TCP connect succeeded (in every family probed). */
  reachable: boolean;
}

/** Probe from inside the source subnet's namespace, in-process: ICMP echo (ICMPv6 over IPv6), then a TCP connect. */
export async function testConnectivity(state: State, input: ConnectivityInput): Promise<ConnectivityResult> {
  const from = findSubnet(state, input.vpc, input.fromSubnet);
  const toVpc = input.toVpc ?? input.vpc;
  const to = findSubnet(state, toVpc, input.toSubnet);
  if (input.port !== undefined) checkPort(input.port);
  const sides = [[input.vpc, from], [toVpc, to]] as const;
  const v6only = sides.find(([, s]) => s.cidr === undefined);
  const asked = input.family ?? (v6only ? 6 : 4);
  if (asked !== 4 && asked !== 6 && asked !== 'both') throw new VpcctlError('INVALID_INPUT', `family ${String(asked)} is invalid: use 4, 6 or both`);
  if (asked === 4 && v6only) {
    throw new VpcctlError('INVALID_INPUT', `subnet ${v6only[0]}/${v6only[1].name} is IPv6-only: it has no IPv4 address (probe with family 6)`);
  }
  // `both` where a side has no IPv4: IPv6 is all there is to probe.
  const family = asked === 'both' && v6only ? 6 : asked;
  if (family !== 4) {
    for (const [vpc, s] of sides) {
      if (!s.ipv6Cidr) throw new VpcctlError('INVALID_INPUT', `subnet ${vpc}/${s.name} has no IPv6 address: its vpc is not dual-stack`);
    }
  }
  const n = await native();
  const ns = hostNs(input.vpc, from.name);
  const timeout = input.timeoutMs ?? 1000;
  const probe = async (dst: string) => {
    const icmp = await n.ping(ns, dst, timeout);
    const tcp = input.port === undefined ? undefined : { ...(await n.tcpConnect(ns, dst, input.port, timeout)), port: input.port };
    return { icmp, tcp, ok: icmp.ok && (tcp === undefined || tcp.ok) };
  };
  const v6 = family === 4 ? undefined : { from: hostIp6(from.ipv6Cidr!), to: hostIp6(to.ipv6Cidr!), ...(await probe(hostIp6(to.ipv6Cidr!))) };
  const v4 = family === 6 ? undefined : await probe(hostIp(to.cidr!));
  const main = v4 ?? v6!;
  const fromAddress = v4 ? hostIp(from.cidr!) : v6!.from;
  const toAddress = v4 ? hostIp(to.cidr!) : v6!.to;
  return {
    from: { vpc: input.vpc, subnet: from.name, address: fromAddress },
    to: { vpc: toVpc, subnet: to.name, address: toAddress },
    icmp: main.icmp, tcp: main.tcp,
    ...(v4 && v6 ? { ipv6: { from: v6.from, to: v6.to, icmp: v6.icmp, ...(v6.tcp ? { tcp: v6.tcp } : {}) } } : {}),
    reachable: (v4?.ok ?? true) && (v6?.ok ?? true),
  };
}

/** Every subnet probed against every other (ICMP; ICMPv6 for a pair where a side is IPv6-only). */
export interface MatrixResult {
  /** Row/column labels, "vpc/subnet". */
  subnets: string[];
  /** cells[i][j]: ICMP from subnets[i] to subnets[j]; null on the diagonal. */
  cells: (ProbeResult | null)[][];
  /** expected[i][j]: what the state's routes, peerings and policies predict (api/predict.ts); null on the diagonal. */
  expected: (Prediction | null)[][];
  /** How long the probes took, all of them at once. */
  elapsedMs: number;
}

const SOURCES_PER_BATCH = 256;
/** IPv6 echoes of the matrix in flight at once (the native batch is IPv4 only). */
const ECHOES6_AT_ONCE = 64;

/**
 * Every subnet against every subnet, across VPCs, in one native call (per 256 sources): all
 * echoes go out at once and share one deadline (crates/netkit/src/pingmany.rs),
 * so 150 subnets (22,350 pairs) take about one timeout, not one per
 * unanswered pair.
 */
export async function connectivityMatrix(state: State, timeoutMs = 300): Promise<MatrixResult> {
  const all = Object.values(state.vpcs).flatMap((v) => Object.values(v.subnets).map((s) => ({ vpc: v.name, s })));
  const n = await native();
  const pairs = all.flatMap((a, i) => all.map((b, j) => ({ a, b, i, j }))).filter(({ i, j }) => i !== j);
  const started = performance.now();
  // One raw socket per source namespace is open during a batch: batches of
  // at most SOURCES_PER_BATCH sources keep the descriptors bounded (and
  // under libnftables' 1024) at any size; 150 subnets are one batch.
  // Pairs with IPv4 on both sides go in the native batch; a pair where a side is IPv6-only is
  // probed over ICMPv6, ECHOES6_AT_ONCE echoes at a time; a pair with no family in common is not probed.
  const families = pairs.map(({ a, b }) => pairFamily(a.s, b.s));
  const results: ProbeResult[] = new Array<ProbeResult>(pairs.length);
  const indexed = pairs.map((p, k) => ({ ...p, k }));
  const v4 = indexed.filter(({ k }) => families[k] === 4);
  for (let first = 0; first < all.length; first += SOURCES_PER_BATCH) {
    const batch = v4.filter(({ i }) => i >= first && i < first + SOURCES_PER_BATCH);
    if (batch.length === 0) continue;
    const got = await n.pingMany(batch.map(({ a, b }) => ({ ns: hostNs(a.vpc, a.s.name), dst: hostIp(b.s.cidr!) })), timeoutMs);
    batch.forEach(({ k }, x) => { results[k] = got[x]!; });
  }
  const v6 = indexed.filter(({ k }) => families[k] === 6);
  for (let first = 0; first < v6.length; first += ECHOES6_AT_ONCE) {
    await Promise.all(v6.slice(first, first + ECHOES6_AT_ONCE).map(async ({ a, b, k }) => {
      results[k] = await n.ping(hostNs(a.vpc, a.s.name), hostIp6(b.s.ipv6Cidr!), timeoutMs);
    }));
  }
  families.forEach((f, k) => { if (f === null) results[k] = { ok: false, error: 'no address family in common' }; });
  const elapsedMs = performance.now() - started;
  const cells: (ProbeResult | null)[][] = all.map(() => all.map(() => null));
  const expected: (Prediction | null)[][] = all.map(() => all.map(() => null));
  const predict = predictor(state);
  pairs.forEach(({ a, b, i, j }, k) => {
    const r = results[k]!;
    cells[i]![j] = { ok: r.ok, ...(r.rttMs != null ? { rttMs: r.rttMs } : {}), ...(r.error != null ? { error: r.error } : {}) };
    expected[i]![j] = predict({ vpc: a.vpc, subnet: a.s.name }, { vpc: b.vpc, subnet: b.s.name });
  });
  return { subnets: all.map(({ vpc, s }) => `${vpc}/${s.name}`), cells, expected, elapsedMs };
}
