import { createRequire } from 'node:module';
import type { Etcd3, IOptions } from 'etcd3';
import { VpcctlError } from '../errors.js';

// etcd3 (and gRPC under it) loads only on the cluster path, by require: the
// single-host CLI never pays for it, and the CLI bundle runs from V8's code
// cache where import() of a package is not available (bin/compile-cache.cjs).
const require = createRequire(import.meta.url);

/**
 * How long one etcd request may take. Without quorum etcd does not answer
 * a linearizable request at all (the client would wait for ever): a short
 * deadline turns that into a clear error. Long enough for a leader election
 * after one member died (~1-2 s with the election timeouts the lab uses).
 */
export const REQUEST_TIMEOUT_MS = Number(process.env.VPCCTL_ETCD_TIMEOUT_MS ?? 5000);

export type { Etcd3 };

/** A client over the given endpoints; connects lazily on the first request. */
export function connect(endpoints: string[], timeoutMs = REQUEST_TIMEOUT_MS): Etcd3 {
  let Client: typeof import('etcd3').Etcd3;
  try {
    ({ Etcd3: Client } = require('etcd3') as typeof import('etcd3'));
  } catch {
    // An optional peer dependency: one host never needs gRPC's weight.
    throw new VpcctlError('ETCD', "a cluster needs the etcd3 package next to vpcctl: npm install etcd3");
  }
  // The library's own fault handling stays: a circuit breaker per member and
  // a few retries over the others, so one member down is invisible.
  const options: IOptions = {
    hosts: endpoints,
    dialTimeout: Math.min(timeoutMs, 2000),
    defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
  };
  return new Client(options);
}

/**
 * Any failure to reach a working etcd (no member answers, no quorum, a
 * deadline passed) as the one-line error the CLI prints (exit 1).
 */
export function unavailable(e: unknown): VpcctlError {
  if (e instanceof VpcctlError) return e;
  const err = e as { message?: string; details?: string; code?: number };
  let why = (err.details ?? err.message ?? String(e)).split('\n')[0]!.replace(/^\d+ [A-Z_]+: /, '');
  // etcd's own limits, not an outage: say which of its flags the write needs.
  if (/too many operations in txn request|request is too large/i.test(why)) {
    return new VpcctlError('ETCD', `etcd refused the write as too large (${why}): start its members with a higher --max-txn-ops and --max-request-bytes (vpcctl's tests use 20000 and 16777216); nothing was written`, { cause: e });
  }
  if (/deadline|timed out/i.test(why)) why = `no answer within ${REQUEST_TIMEOUT_MS} ms (members down or no quorum)`;
  else if (/No connection established|ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT/.test(why)) {
    why = `no quorum reachable (${why.replace(/^No connection established\. Last error: (Error: )?/, '').replace(/\. Resolution note:.*$/, '')})`;
  }
  return new VpcctlError('ETCD', `etcd unavailable: ${why}`, { cause: e });
}

/** Run an etcd call, mapping its failures to `unavailable`. */
export async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw unavailable(e);
  }
}
