/**
 * The dashboard's JSON API: each route is one call of the library (the same
 * calls the CLI makes, so one path to the kernel), its errors returned with
 * the CLI's message. GET reads; POST changes (refused in read-only mode by
 * the server before it gets here).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { VpcctlError } from '../errors.js';
import type { Vpcctl } from '../api/vpcctl.js';
import type { MatrixResult } from '../api/connectivity.js';
import type { PolicyInput } from '../model/schema.js';
import { blockOf, gatewayIp6, gatewayOf, hostIp6, hostOf } from '../model/addresses.js';
import { hostNs, routerNs } from '../model/names.js';
import { parseJsonText } from '../cli/document.js';
import { findSubnet } from '../api/lookup.js';
import { POLICY_MAX_BYTES } from '../api/files.js';
import { checkPort, parsePort, PORTS_TEXT } from '../model/ports.js';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code = 'INVALID_INPUT') {
    super(message);
  }
}

/** The HTTP status of a library error: bad input 400, unknown object 404, taken 409, anything else 500. */
export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (!(e instanceof VpcctlError)) return 500;
  if (e.code === 'NOT_FOUND') return 404;
  if (e.code === 'IN_USE' || e.code === 'CONFLICT') return 409;
  return e.exitCode === 2 ? 400 : 500;
}

const LOG_TAIL_BYTES = 4096;
const LOG_LINES = 8;

/** The last lines of an app's log, read from its end only (a log may be large). */
export function logTail(file: string, lines = LOG_LINES): string[] {
  let fd: number | undefined;
  try {
    // A regular file only, never through a link: a FIFO in its place would hang the request.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile()) return [];
    const size = st.size;
    const len = Math.min(size, LOG_TAIL_BYTES);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const all = buf.toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    // A cut first line is partial: dropped unless the whole file was read.
    if (len < size) all.shift();
    return all.slice(-lines);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A pasted policy: JSON errors worded as the CLI words a file's (line and column). */
export function parsePolicyText(text: unknown): unknown {
  if (typeof text !== 'string') throw new HttpError(400, 'policy: paste the policy as JSON text');
  // The CLI's limit for a policy file holds for a pasted one (the body may be 2 MiB): refused before any parsing,
  // whose error search re-parses prefixes (seconds of a blocked server on a megabyte of '[').
  if (Buffer.byteLength(text, 'utf8') > POLICY_MAX_BYTES) {
    throw new VpcctlError('INVALID_INPUT', `policy (pasted) is larger than ${POLICY_MAX_BYTES / 2 ** 20} MiB, the most vpcctl reads for a policy`);
  }
  return parseJsonText(text, 'policy (pasted)');
}

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `${what} is missing`);
  return v;
};
/** A port from the page: text read as the CLI reads --port (digits only: not "0x50", "8e3" or " 80"), with its errors. */
export const portOf = (v: unknown): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return parsePort(v);
  if (typeof v === 'number') return checkPort(v);
  throw new VpcctlError('INVALID_INPUT', `port ${JSON.stringify(v)} is invalid: use ${PORTS_TEXT}`);
};

type Body = Record<string, unknown>;

/** The matrix as the page draws it: one string per source ('1' reached, '0' not, '-' itself), and the pairs that differ from the prediction. */
export interface CompactMatrix {
  subnets: string[];
  rows: string[];
  differ: Array<{ from: string; to: string; found: boolean; error?: string; reason?: string }>;
  elapsedMs: number;
}

/** At 500 subnets the library's matrix is 250,000 cells of objects (megabytes of JSON): the page needs a character per cell. */
export function compactMatrix(m: MatrixResult): CompactMatrix {
  const differ: CompactMatrix['differ'] = [];
  const rows = m.cells.map((row, i) => row.map((c, j) => {
    if (!c) return '-';
    const e = m.expected[i]![j];
    if (e && e.reachable !== c.ok) {
      differ.push({ from: m.subnets[i]!, to: m.subnets[j]!, found: c.ok, ...(c.error ? { error: c.error } : {}), ...(e.reason ? { reason: e.reason } : {}) });
    }
    return c.ok ? '1' : '0';
  }).join(''));
  return { subnets: m.subnets, rows, differ, elapsedMs: m.elapsedMs };
}

/** GET /api/subnet?vpc=&subnet=: the subnet panel (addresses, policy with counters, apps with their last log lines). */
export async function subnetPanel(api: Vpcctl, q: URLSearchParams) {
  const vpc = str(q.get('vpc'), 'vpc');
  const subnet = str(q.get('subnet'), 'subnet');
  const state = await api.state();
  const s = findSubnet(state, vpc, subnet);
  const [policy, apps] = await Promise.all([api.showPolicy({ vpc, subnet }), api.listApps({ vpc })]);
  return {
    // An IPv6-only subnet: its /64, and IPv6 addresses.
    vpc, subnet, cidr: blockOf(s), type: s.type, egress: s.egress ?? null,
    addresses: { host: hostOf(s), gateway: gatewayOf(s), namespace: hostNs(vpc, subnet), router: routerNs(vpc) },
    // A dual-stack subnet: its IPv6 side as well.
    ipv6: s.cidr !== undefined && s.ipv6Cidr ? { cidr: s.ipv6Cidr, host: hostIp6(s.ipv6Cidr), gateway: gatewayIp6(s.ipv6Cidr) } : null,
    publish: s.publish ?? [],
    policy,
    apps: apps.filter((a) => a.subnet === subnet).map((a) => ({
      port: a.port, pid: a.pid, user: a.user, running: a.running, startedAt: a.startedAt, command: a.command, log: logTail(a.logFile),
    })),
  };
}

/** The POST routes: each one library call. `changed` tells the live view to look again at once. */
export function actions(api: Vpcctl): Record<string, (b: Body) => Promise<unknown>> {
  // One matrix at a time: a request made while one runs gets that run's answer. At 500 subnets a run is
  // 250,000 probes; a page (or a script) asking in a loop must not stack them up.
  let matrix: Promise<CompactMatrix> | undefined;
  return {
    '/api/connectivity': (b) => api.testConnectivity({
      vpc: str(b.vpc, 'vpc'), fromSubnet: str(b.fromSubnet, 'fromSubnet'), toSubnet: str(b.toSubnet, 'toSubnet'),
      ...(b.toVpc ? { toVpc: str(b.toVpc, 'toVpc') } : {}),
      ...(portOf(b.port) !== undefined ? { port: portOf(b.port)! } : {}),
    }),
    '/api/matrix': () => (matrix ??= api.connectivityMatrix().then(compactMatrix).finally(() => { matrix = undefined; })),
    // Starting from the page runs vpcctl's built-in server, or restarts a recorded app exactly as it was
    // recorded (its command and user): the page never runs a command line typed into it.
    '/api/apps/start': async (b) => {
      const vpc = str(b.vpc, 'vpc');
      const subnet = str(b.subnet, 'subnet');
      const port = portOf(b.port);
      if (port === undefined) throw new HttpError(400, 'port is missing');
      // A running one is refused by deployApp itself (IN_USE), as the CLI's deploy-app is.
      const known = (await api.listApps({ vpc })).find((a) => a.subnet === subnet && a.port === port);
      return api.deployApp({ vpc, subnet, port, ...(known ? { command: known.command, user: known.user } : {}) });
    },
    '/api/apps/stop': (b) => api.stopApp({ vpc: str(b.vpc, 'vpc'), subnet: str(b.subnet, 'subnet'), ...(portOf(b.port) !== undefined ? { port: portOf(b.port)! } : {}) }),
    '/api/policy': async (b) => {
      const policy = parsePolicyText(b.policy) as PolicyInput;
      const r = await api.applyPolicy({ vpc: str(b.vpc, 'vpc'), subnet: str(b.subnet, 'subnet'), policy });
      return { changed: r.changed, warnings: r.warnings, subnet: r.value };
    },
  };
}
