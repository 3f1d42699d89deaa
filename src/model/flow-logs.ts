/**
 * Flow-log records as vpcctl shows them (issue 16 §4), from what the native
 * reader decodes: pure functions, unit-tested (test/unit/flow-logs.test.ts).
 * One entry is one decision on a new connection, as AWS VPC Flow Logs
 * write it: time, where, the 5-tuple, ACCEPT or REJECT, and the rule.
 */
import { VpcctlError } from '../errors.js';
import { type FlowAction, parseFlowLogPrefix } from '../firewall/flow-log.js';

/** What the native reader gives (index.d.ts FlowLogRecord), without the import. */
export interface RawFlowRecord {
  time: number;
  ns: string;
  src: string;
  dst: string;
  sport?: number | null;
  dport?: number | null;
  proto: number;
  prefix: string;
}

export interface FlowLogEntry {
  /** ISO 8601, UTC, milliseconds. */
  time: string;
  vpc: string;
  subnet: string;
  src: string;
  srcPort: number | null;
  dst: string;
  dstPort: number | null;
  /** tcp, udp, icmp, icmpv6, or the IP protocol number. */
  protocol: string;
  action: FlowAction;
  /** The rule that decided: `ingress[1]`, `egress[0]`, `default`. */
  rule: string;
}

const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

/** An entry from a raw record of subnet `vpc/subnet`; null for a prefix vpcctl did not write. */
export function toEntry(r: RawFlowRecord, vpc: string, subnet: string): FlowLogEntry | null {
  const p = parseFlowLogPrefix(r.prefix);
  if (!p) return null;
  return {
    time: new Date(r.time).toISOString(), vpc, subnet,
    src: r.src, srcPort: r.sport ?? null, dst: r.dst, dstPort: r.dport ?? null,
    protocol: PROTOCOLS[r.proto] ?? String(r.proto), action: p.action, rule: p.rule,
  };
}

/** `10.0.2.2:80`, `[fd00:b::2]:80` (an IPv6 address is bracketed before a port, as in URLs), or the address alone. */
const endpoint = (addr: string, port: number | null) =>
  port === null ? addr : addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;

/**
 * One line per decision: `2026-12-01T03:40:00.123Z web 10.0.2.2:43210 -> 10.0.1.2:80 tcp REJECT ingress[1]`
 * (IPv6: `[fd00:b::2]:43210 -> [fd00:b:0:1::2]:80`).
 */
export const formatEntry = (e: FlowLogEntry): string =>
  `${e.time} ${e.subnet} ${endpoint(e.src, e.srcPort)} -> ${endpoint(e.dst, e.dstPort)} ${e.protocol} ${e.action} ${e.rule}`;

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/** `--since`: `30s`, `5m`, `2h`, `1d` before `now`, or an ISO 8601 time; the epoch ms it means. */
export function parseSince(text: string, now = Date.now()): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (m) return now - Number(m[1]) * UNITS[m[2]!]!;
  const t = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t)) throw new VpcctlError('INVALID_INPUT', `--since "${text}" is invalid: use a duration (30s, 5m, 2h, 1d) or an ISO 8601 time`);
  return t;
}

/**
 * Drops repeats of one decision: a refused TCP connection's SYN is sent
 * again (1 s, 3 s, ...) and each copy is a new connection to conntrack, so
 * logged again; so is each echo request of a refused ping. The same
 * subnet, rule and 5-tuple within `windowMs` is one entry.
 */
export class Repeats {
  private seen = new Map<string, number>();
  constructor(private readonly windowMs = 10_000) {}

  /** True the first time in the window. */
  fresh(e: FlowLogEntry, at: number): boolean {
    const key = `${e.vpc}/${e.subnet} ${e.rule} ${e.protocol} ${e.src}:${e.srcPort} ${e.dst}:${e.dstPort}`;
    const last = this.seen.get(key);
    if (last !== undefined && at - last <= this.windowMs) return false;
    // A repeat that goes on is one entry per window, not one forever.
    this.seen.set(key, at);
    if (this.seen.size > 4096) for (const [k, t] of this.seen) if (at - t > this.windowMs) this.seen.delete(k);
    return true;
  }
}
