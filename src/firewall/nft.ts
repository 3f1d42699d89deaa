import { NFT_FAMILY, NFT_TABLE } from '../model/names.js';

/**
 * Small builders for libnftables' JSON, so rulesets read like `nft` syntax.
 * Every object lands in vpcctl's own table (`inet vpcctl`) of a namespace.
 */
export type Expr = Record<string, unknown>;

/** One entry of libnftables' JSON `nftables` array (`{ "chain": {...} }`, `{ "rule": {...} }`, ...): what an nftApply op carries. */
export type NftObject = Record<string, unknown>;

const family = NFT_FAMILY;
const table = NFT_TABLE;

export const chain = (name: string, hook: string, type: 'filter' | 'nat', prio: number, policy: 'accept' | 'drop' = 'accept'): NftObject => ({
  chain: { family, table, name, type, hook, prio, policy },
});

export const ipv4Set = (name: string, prefixes: string[]): NftObject => ({
  set: {
    family, table, name, type: 'ipv4_addr', flags: ['interval'],
    ...(prefixes.length ? { elem: prefixes.map(prefix) } : {}),
  },
});

export const rule = (chainName: string, expr: Expr[], comment?: string): NftObject => ({
  rule: { family, table, chain: chainName, expr, ...(comment ? { comment } : {}) },
});

/** `10.0.1.0/24` -> `{ prefix: { addr, len } }`; a bare address stays as it is. */
export function prefix(cidr: string): Expr | string {
  const [addr, len] = cidr.split('/');
  return len === undefined || len === '32' ? addr : { prefix: { addr, len: Number(len) } };
}

const eq = (left: Expr, right: unknown): Expr => ({ match: { op: '==', left, right } });
export const neq = (left: Expr, right: unknown): Expr => ({ match: { op: '!=', left, right } });

export const iif = (name: string) => eq({ meta: { key: 'iifname' } }, name);
export const oif = (name: string) => eq({ meta: { key: 'oifname' } }, name);
export const notOif = (name: string) => neq({ meta: { key: 'oifname' } }, name);
export const saddr = (right: unknown) => eq({ payload: { protocol: 'ip', field: 'saddr' } }, right);
export const daddr = (right: unknown) => eq({ payload: { protocol: 'ip', field: 'daddr' } }, right);
export const ctState = (...states: string[]): Expr => ({ match: { op: 'in', left: { ct: { key: 'state' } }, right: states } });
/** `ct status dnat`: a connection some rule of this namespace DNATed. */
export const ctStatus = (status: string): Expr => ({ match: { op: 'in', left: { ct: { key: 'status' } }, right: status } });

export const counter: Expr = { counter: null };
export const accept: Expr = { accept: null };
export const drop: Expr = { drop: null };
export const masquerade: Expr = { masquerade: null };
export const snat = (addr: string): Expr => ({ snat: { family: 'ip', addr } });
/** `dnat ip to ADDR:PORT`; `addr` may be a map expression (numgen over targets). */
export const dnat = (addr: unknown, port: number): Expr => ({ dnat: { family: 'ip', addr, port } });
