/**
 * Flow logs (issue 16 §4): the switch, the ring files, and following.
 *
 * Nothing runs in the background: NFLOG records reach user space only while
 * a reader listens, and are lost otherwise. A follower (`flow-logs
 * --follow`, or the Node API's followFlowLogs) prints what comes and keeps
 * it in a ring file per subnet under the state dir
 * (`flow-logs/ns-<vpc>-<subnet>.jsonl`, the last N entries); `flow-logs`
 * without --follow prints those rings. The kernel lets one reader listen
 * per subnet, so one follower at a time writes a subnet's ring.
 */
import { closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fromNative, native } from '../native.js';
import { FLOW_LOG_GROUP } from '../firewall/flow-log.js';
import { hostNs } from '../model/names.js';
import { type FlowLogEntry, Repeats, toEntry } from '../model/flow-logs.js';
import { replaceFile } from '../state/durable.js';
import type { State } from '../state/types.js';
import { findSubnet, findVpc } from './lookup.js';
import { NotReadable, readRegular } from '../regular-file.js';
import { VpcctlError } from '../errors.js';

export interface FlowLogQuery {
  vpc: string;
  /** Only this subnet; default: every subnet of the VPC. */
  subnet?: string;
  /** Only entries at or after this time (epoch ms). */
  since?: number;
}

/** Entries a ring keeps per subnet (VPCCTL_FLOW_LOG_RING overrides it, for tests). */
export function ringSize(): number {
  const n = Number(process.env.VPCCTL_FLOW_LOG_RING);
  return Number.isInteger(n) && n > 0 ? n : 10_000;
}

export const ringDir = (stateDir: string) => join(stateDir, 'flow-logs');
const ringFile = (stateDir: string, ns: string) => join(ringDir(stateDir), `${ns}.jsonl`);

/** The switch, on a draft state (the caller's change runs the plan): false when it already was so. */
export function setFlowLogs(state: State, vpcName: string, on: boolean): boolean {
  const vpc = findVpc(state, vpcName);
  if (!!vpc.flowLogs === on) return false;
  if (on) vpc.flowLogs = true;
  else delete vpc.flowLogs;
  return true;
}

/** The subnets a query covers, checked against the state (exit 2 for an unknown name). */
function subnetsOf(state: State, q: FlowLogQuery): string[] {
  const vpc = findVpc(state, q.vpc);
  if (q.subnet !== undefined) return [findSubnet(state, q.vpc, q.subnet).name];
  return Object.keys(vpc.subnets);
}

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** What a ring's open refused (O_NOFOLLOW, O_NONBLOCK on a FIFO without reader), as a message says it. */
const OPEN_REFUSALS: Record<string, string | undefined> = { ELOOP: 'a symbolic link', ENXIO: 'a FIFO', EISDIR: 'a directory' };

/** A ring is a few thousand lines; anything far larger in its place is not one. */
const RING_MAX_BYTES = 64 << 20;

/** A ring's lines: a regular file only, never through a link (a FIFO there would hang `flow-logs` and the dashboard). */
function readLines(file: string): string[] {
  try {
    return readRegular(file, { limit: RING_MAX_BYTES, noFollow: true }).toString('utf8').split('\n').filter((l) => l.length > 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    const what = e instanceof NotReadable ? (e.reason === 'kind' ? e.kind : `larger than ${RING_MAX_BYTES >> 20} MiB`) : OPEN_REFUSALS[(e as NodeJS.ErrnoException).code ?? ''];
    throw what ? notARing(file, what) : e;
  }
}

/** The entries the rings of a query's subnets keep, oldest first. */
export function readRings(state: State, stateDir: string, q: FlowLogQuery): FlowLogEntry[] {
  const out: FlowLogEntry[] = [];
  if (existsSync(ringDir(stateDir))) ringDirChecked(stateDir);
  for (const subnet of subnetsOf(state, q)) {
    for (const line of readLines(ringFile(stateDir, hostNs(q.vpc, subnet))).slice(-ringSize())) {
      try {
        const e = JSON.parse(line) as FlowLogEntry;
        if (q.since === undefined || Date.parse(e.time) >= q.since) out.push(e);
      } catch {
        // A line cut short by a crash of the writer: skipped.
      }
    }
  }
  return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

const notARing = (file: string, what: string) => new VpcctlError('STATE', `flow log ring ${file} is ${what}: not a ring vpcctl wrote; remove it`);

/**
 * A ring opened to append: never through a symbolic link, a FIFO in its
 * place fails (ENXIO) instead of blocking, and a file with another name
 * (a hard link: the state, or anything else) is not written to.
 */
function openRingForAppend(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, APPEND, 0o600);
  } catch (e) {
    const what = OPEN_REFUSALS[(e as NodeJS.ErrnoException).code ?? ''];
    throw what ? notARing(file, what) : e;
  }
  const st = fstatSync(fd);
  if (!st.isFile() || st.nlink !== 1) {
    closeSync(fd);
    throw notARing(file, st.isFile() ? `a file with ${st.nlink} names (a hard link)` : 'not a regular file');
  }
  return fd;
}

/**
 * The rings' directory, made if absent: a real directory, not a link to
 * one elsewhere (the follower, root, would write its rings there).
 */
function ringDirChecked(stateDir: string): string {
  const dir = ringDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new VpcctlError('STATE', `flow log directory ${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}: not vpcctl's; remove it`);
  return dir;
}

/**
 * A subnet's ring: appended to as entries come, and cut back to the last N
 * once it holds a quarter more, so the file stays between N and 1.25 N
 * lines (plus one) and is rewritten once per N/4 entries, not per entry.
 */
export class Ring {
  private lines: number;
  constructor(private readonly file: string, private readonly size: number) {
    this.lines = readLines(file).length;
  }

  add(entries: FlowLogEntry[]): void {
    if (entries.length === 0) return;
    const data = Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    const fd = openRingForAppend(this.file);
    try {
      for (let n = 0; n < data.length;) n += writeSync(fd, data, n);
    } finally {
      closeSync(fd);
    }
    this.lines += entries.length;
    if (this.lines > this.size + Math.floor(this.size / 4)) {
      const kept = readLines(this.file).slice(-this.size);
      replaceFile(this.file, kept.map((l) => `${l}\n`).join(''), { sync: false });
      this.lines = kept.length;
    }
  }
}

export interface FollowOptions {
  /** Stops the follower (it returns within about half a second). */
  signal?: AbortSignal;
  /** Called once every subnet that could be is subscribed: records flow from then on. */
  onReady?: (subnets: string[]) => void;
  /** Called when a subnet made after the start is followed too (without `subnet` in the query). */
  onSubnet?: (subnet: string) => void;
  warn?: (message: string) => void;
}

/** How often a follower looks for subnets made (or re-made) since it started. */
const RESCAN_MS = 1000;

/**
 * Follows the flow logs of a query's subnets until `signal` aborts: each new
 * entry is kept in its subnet's ring and handed to `onEntry`. A subnet
 * another follower listens to (the kernel allows one) is skipped with a
 * warning: its entries go to that follower's output and to the ring.
 * Without `q.subnet`, `readState` is read again about every second: a
 * subnet made meanwhile is followed from then on, one deleted is dropped
 * (made again later, it is followed again; deleted and made again within
 * one scan, it is not noticed).
 */
export async function followFlowLogs(
  readState: () => Promise<State>, stateDir: string, q: FlowLogQuery, onEntry: (e: FlowLogEntry) => void, opts: FollowOptions = {},
): Promise<void> {
  const state = await readState();
  const subnets = subnetsOf(state, q);
  if (!state.vpcs[q.vpc]!.flowLogs) opts.warn?.(`flow logs of vpc "${q.vpc}" are off, nothing is logged: 'vpcctl flow-logs enable --vpc ${q.vpc}'`);
  const n = await native();
  const reader = new n.FlowLogReader(FLOW_LOG_GROUP);
  ringDirChecked(stateDir);
  const bySubnet = new Map<string, { subnet: string; ring: Ring }>();
  /** Subnets left to another follower (warned once) or whose namespace is not there yet. */
  const skipped = new Set<string>();
  const follow = async (subnet: string, first: boolean) => {
    const ns = hostNs(q.vpc, subnet);
    try {
      await reader.subscribe(ns);
    } catch (e) {
      const err = fromNative(e);
      // Made a moment ago, its namespace may come after the state: the next scan tries again.
      if (!first && err.native === 'NOT_FOUND') return;
      if (err.native !== 'BUSY') throw err;
      if (!skipped.has(ns)) opts.warn?.(`subnet ${q.vpc}/${subnet} is followed by another vpcctl flow-logs (one reader per subnet): left to it`);
      skipped.add(ns);
      return;
    }
    skipped.delete(ns);
    bySubnet.set(ns, { subnet, ring: new Ring(ringFile(stateDir, ns), ringSize()) });
    if (!first) opts.onSubnet?.(subnet);
  };
  try {
    for (const subnet of subnets) await follow(subnet, true);
    opts.onReady?.([...bySubnet.values()].map((s) => s.subnet));
    const repeats = new Repeats();
    let scanned = Date.now();
    while (!opts.signal?.aborted) {
      const batch = await reader.read(500, 1000).catch((e: unknown) => { throw fromNative(e); });
      if (batch.lost > 0) opts.warn?.(`the kernel dropped ${batch.lost} batch(es) of flow-log records: the reader fell behind`);
      const fresh = new Map<string, FlowLogEntry[]>();
      for (const r of batch.records) {
        const where = bySubnet.get(r.ns);
        const e = where && toEntry(r, q.vpc, where.subnet);
        if (!e || !repeats.fresh(e, r.time)) continue;
        fresh.set(r.ns, [...(fresh.get(r.ns) ?? []), e]);
      }
      for (const [ns, entries] of fresh) {
        bySubnet.get(ns)!.ring.add(entries);
        for (const e of entries) onEntry(e);
      }
      if (q.subnet !== undefined || Date.now() - scanned < RESCAN_MS) continue;
      scanned = Date.now();
      // A deleted subnet's socket stays bound in a namespace that is gone until the reader closes: nothing comes.
      const now = new Set(Object.keys((await readState()).vpcs[q.vpc]?.subnets ?? {}));
      for (const [ns, { subnet }] of bySubnet) if (!now.has(subnet)) bySubnet.delete(ns);
      for (const ns of skipped) if (![...now].some((s) => hostNs(q.vpc, s) === ns)) skipped.delete(ns);
      for (const subnet of now) if (!bySubnet.has(hostNs(q.vpc, subnet))) await follow(subnet, false);
    }
  } finally {
    reader.close();
  }
}
