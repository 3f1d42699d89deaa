/**
 * Who may talk to `vpcctl ui`: pure checks, no I/O, so they are unit-tested
 * (test/unit/ui-auth.test.ts). The server holds the root-powered library, so
 * every request proves it holds the token printed at start (as Jupyter does),
 * and a state-changing request proves it in a header, which a cross-site form
 * or image cannot set (no CSRF). A Host header naming anything but an address
 * literal or localhost is refused: a DNS-rebinding page reaches us under its
 * own name.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** 32 random bytes, hex: the token of one `vpcctl ui` run. */
export const newToken = (): string => randomBytes(32).toString('hex');

/** Constant-time comparison: the time taken says nothing about how much of a guess was right. */
export function sameToken(given: string | undefined | null, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(token, 'utf8');
  // Compared against itself when the lengths differ, so both paths take a compare.
  return a.length === b.length ? timingSafeEqual(a, b) : (timingSafeEqual(b, b), false);
}

/** The token a request carries in its headers: `Authorization: Bearer T` or `X-Vpcctl-Token: T`. */
export function headerToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = headers['x-vpcctl-token'];
  return typeof x === 'string' ? x : undefined;
}

export interface Verdict {
  ok: boolean;
  status?: 400 | 401 | 403;
  reason?: string;
}

/**
 * May this request go on? GETs carry the token in the query (the printed URL)
 * or a header; any other method only in a header, and is refused (403) in
 * read-only mode. `host` is the request's Host header, `port` the port bound.
 */
export function authorize(req: {
  method: string;
  /** The request's path; the token in the query is taken for '/' only. */
  path?: string;
  host: string | undefined;
  origin?: string | undefined;
  queryToken?: string | null | undefined;
  headerToken?: string | undefined;
}, opts: { token: string; port: number; readOnly: boolean }): Verdict {
  if (!hostAllowed(req.host, opts.port)) return { ok: false, status: 403, reason: 'Host header is not this server\'s address' };
  const read = req.method === 'GET' || req.method === 'HEAD';
  if (!read) {
    if (!sameToken(req.headerToken, opts.token)) return { ok: false, status: 401, reason: 'the token must be sent in the Authorization header' };
    // A browser names the page that sent a request: one of ours names our own address.
    if (req.origin !== undefined && req.origin !== `http://${req.host}`) return { ok: false, status: 403, reason: 'cross-origin request' };
    if (opts.readOnly) return { ok: false, status: 403, reason: 'read-only mode: no change is allowed' };
    return { ok: true };
  }
  // The query counts only for the page itself (the URL printed, which cannot carry a header): the page asks
  // everything else with the header, so a token in an API URL (a log, a history entry) is a leak, not a key.
  if (sameToken(req.headerToken, opts.token) || (req.path === '/' && sameToken(req.queryToken, opts.token))) return { ok: true };
  return { ok: false, status: 401, reason: 'missing or wrong token: use the URL vpcctl ui printed' };
}

/**
 * A Host header we answer to: an IP literal (v4, or v6 in brackets) or
 * `localhost`, with the port we bound. A name is how DNS rebinding reaches a
 * local server from a web page, so names other than localhost are refused.
 * On port 80 a browser leaves the port out of Host (it is the default).
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d+))?$/.exec(host);
  if (!m || (m[2] === undefined ? port !== 80 : Number(m[2]) !== port)) return false;
  const name = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return name.toLowerCase() === 'localhost' || isIP(name) !== 0;
}

/**
 * Why `--address` cannot be served, or undefined when it can: an IP literal or
 * `localhost` only. Anything else would be looked up (a DNS query, from root),
 * and the URL printed with it would name the server in a way the Host check
 * refuses (`127.1` is 127.0.0.1 to the resolver, not an address literal).
 */
export function addressProblem(address: string): string | undefined {
  if (address.trim() === '') return '--address is empty';
  if (address === 'localhost' || isIP(address) !== 0) return undefined;
  return `--address "${address}" is not an IP address (give one of this host's addresses, e.g. 127.0.0.1 or ::1, or localhost)`;
}

/** Loopback addresses: binding anything else is said out loud. */
export const isLoopback = (address: string): boolean =>
  address === 'localhost' || address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address);

/** The URL to print: an IPv6 address goes in brackets, the wildcard becomes loopback (the URL must be openable). */
export function pageUrl(address: string, port: number, token: string): string {
  const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '[::1]' : address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}/?token=${token}`;
}
