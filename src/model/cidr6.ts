/**
 * IPv6 prefix arithmetic on bigints (128-bit): the IPv6 twin of cidr.ts.
 * Text is accepted only in the canonical form of RFC 5952 (lowercase, no
 * leading zeros, the longest run of zero groups compressed, no embedded
 * IPv4): two spellings of one prefix would otherwise compare unequal in the
 * state and in the kernel's read-back. A different spelling is refused with
 * the canonical one named, as host bits set are in IPv4.
 */
import { createRequire } from 'node:module';
import { VpcctlError } from '../errors.js';

export interface Cidr6 {
  /** Network address (host bits always zero). */
  network: bigint;
  /** Prefix length 0..128. */
  prefix: number;
}

const ALL = (1n << 128n) - 1n;
const maskOf = (prefix: number): bigint => (prefix === 0 ? 0n : (ALL >> BigInt(128 - prefix)) << BigInt(128 - prefix));
const GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Any RFC 4291 text form (without embedded IPv4 or zone) to a bigint, or null. */
function ip6OrNull(text: string): bigint | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): string[] | null => {
    if (s === '') return [];
    const g = s.split(':');
    return g.every((x) => GROUP.test(x)) ? g : null;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const given = head.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return null;
  const all = [...head, ...Array<string>(8 - given).fill('0'), ...tail];
  let v = 0n;
  for (const g of all) v = (v << 16n) | BigInt(parseInt(g, 16));
  return v;
}

/** RFC 5952 text: lowercase, no leading zeros, the first longest run (>= 2) of zero groups as `::`. */
export function ip6ToString(ip: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((ip >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function parseIp6(text: string): bigint {
  const ip = ip6OrNull(text.trim());
  if (ip === null) throw new VpcctlError('INVALID_INPUT', `${text} is not an IPv6 address`);
  return ip;
}

export const formatCidr6 = (c: Cidr6): string => `${ip6ToString(c.network)}/${c.prefix}`;

/** True for text that looks like IPv6 (has a colon): picks the family of a CIDR or address. */
export const isV6Text = (text: string): boolean => text.includes(':');

/**
 * Parse "addr/len" in canonical form with host bits clear; each departure
 * is refused naming what we would use.
 */
/**
 * Prefixes already parsed (valid ones only): the planner derives a subnet's
 * gateway, host and routes from its /64 text several times per plan, and a
 * parse with its canonical check costs ~7 µs (measured).
 */
const parsed = new Map<string, Cidr6>();

export function parseCidr6(text: string, opts: { what?: string } = {}): Cidr6 {
  const known = parsed.get(text);
  if (known) return { ...known };
  const c = parseCidr6Uncached(text, opts);
  if (parsed.size >= 8192) parsed.clear();
  parsed.set(text, c);
  return { ...c };
}

function parseCidr6Uncached(text: string, opts: { what?: string }): Cidr6 {
  const label = opts.what ? `${opts.what} ` : '';
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(text.trim());
  const ip = m ? ip6OrNull(m[1]!) : null;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === null || !(prefix >= 0 && prefix <= 128) || String(prefix) !== m![2]) {
    throw new VpcctlError('INVALID_CIDR', `${label}${text} is not an IPv6 CIDR`);
  }
  const network = ip & maskOf(prefix);
  if (network !== ip) {
    throw new VpcctlError('INVALID_CIDR', `${label}${text} has host bits set (did you mean ${formatCidr6({ network, prefix })}?)`);
  }
  const canonical = formatCidr6({ network, prefix });
  if (canonical !== text.trim()) {
    throw new VpcctlError('INVALID_CIDR', `${label}${text} is not in canonical form (write ${canonical})`);
  }
  return { network, prefix };
}

export const containsIp6 = (c: Cidr6, ip: bigint): boolean => (ip & maskOf(c.prefix)) === c.network;
export const contains6 = (outer: Cidr6, inner: Cidr6): boolean => inner.prefix >= outer.prefix && containsIp6(outer, inner.network);
export const overlaps6 = (a: Cidr6, b: Cidr6): boolean => contains6(a, b) || contains6(b, a);

/** The n-th address of the block: 1 is the gateway (the router's), 2 the first host. */
export function hostAddress6(c: Cidr6, n: number): bigint {
  const size = 1n << BigInt(128 - c.prefix);
  if (n < 0 || BigInt(n) >= size) throw new VpcctlError('INVALID_CIDR', `${formatCidr6(c)} has no address number ${n}`);
  return c.network + BigInt(n);
}

/** The i-th /prefix block inside `pool`. */
export function nthSubnet6(pool: Cidr6, prefix: number, i: number): Cidr6 {
  if (prefix < pool.prefix || prefix > 128) throw new VpcctlError('INVALID_CIDR', `cannot carve /${prefix} blocks out of ${formatCidr6(pool)}`);
  const count = 1n << BigInt(prefix - pool.prefix);
  if (i < 0 || BigInt(i) >= count) throw new VpcctlError('INVALID_CIDR', `${formatCidr6(pool)} has no /${prefix} number ${i}`);
  return { network: pool.network + (BigInt(i) << BigInt(128 - prefix)), prefix };
}

/** Number of /prefix blocks in `pool` (capped: callers scan at most this many). */
export const countOf6 = (pool: Cidr6, prefix: number): number => Number((1n << BigInt(Math.min(prefix - pool.prefix, 52))));

export function checkPrefix6(c: Cidr6, min: number, max: number, what: string): void {
  if (c.prefix < min || c.prefix > max) {
    const range = min === max ? `it must be /${min}` : `it must be between /${min} and /${max}`;
    throw new VpcctlError('INVALID_CIDR', `${what} ${formatCidr6(c)} has prefix /${c.prefix}; ${range}`);
  }
}

/**
 * A VPC's /56 in the unique local range fd00::/8 (RFC 4193), derived from
 * its name: stable across runs and hosts, different VPC names almost never
 * collide (48 bits of SHA-256), and a collision between peered VPCs is
 * refused like any overlap. node:crypto loads here, on first use, not with
 * every CLI call that imports this module (4-6 ms: see fingerprint.ts).
 */
export function ulaFor(name: string): string {
  const { createHash } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  const h = createHash('sha256').update(`vpcctl ula ${name}`).digest();
  let v = 0xfdn;
  for (let i = 0; i < 6; i++) v = (v << 8n) | BigInt(h[i]!);
  return formatCidr6({ network: v << 72n, prefix: 56 });
}

/** Ranges no IPv6 VPC or subnet may use (RFC 6890): never forwarded as global unicast. */
const SPECIAL6: ReadonlyArray<{ cidr: Cidr6; name: string }> = [
  { cidr: { network: 0n, prefix: 128 }, name: 'unspecified ::/128' },
  { cidr: { network: 1n, prefix: 128 }, name: 'loopback ::1/128' },
  { cidr: { network: 0xffffn << 32n, prefix: 96 }, name: 'IPv4-mapped ::ffff:0:0/96' },
  { cidr: { network: 0xfe80n << 112n, prefix: 10 }, name: 'link-local fe80::/10' },
  { cidr: { network: 0xffn << 120n, prefix: 8 }, name: 'multicast ff00::/8' },
];

export function checkNotSpecial6(c: Cidr6, what: string): void {
  const r = SPECIAL6.find((s) => overlaps6(s.cidr, c));
  if (r) throw new VpcctlError('INVALID_CIDR', `${what} ${formatCidr6(c)} overlaps the ${r.name} range, which is not routable: choose another CIDR`);
}
