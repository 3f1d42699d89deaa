import { VpcctlError } from '../errors.js';
import type { Intent } from './keys.js';

/** Subnets per member host (0 for a host with none). */
export function hostLoad(intent: Intent): Map<string, number> {
  const load = new Map(Object.keys(intent.hosts).map((h) => [h, 0]));
  for (const subs of Object.values(intent.subnets)) {
    for (const s of Object.values(subs)) load.set(s.host, (load.get(s.host) ?? 0) + 1);
  }
  return load;
}

/**
 * A host for a new subnet that names none: the live member holding the
 * fewest subnets, ties broken by name (so the choice is deterministic and
 * a topology spreads round-robin). `load` is updated, so callers placing
 * many subnets in a row keep spreading.
 */
export function pickHost(load: Map<string, number>, live: Set<string>, exclude?: string): string {
  let best: string | undefined;
  for (const [host, n] of load) {
    if (!live.has(host) || host === exclude) continue;
    if (best === undefined || n < load.get(best)! || (n === load.get(best)! && host < best)) best = host;
  }
  if (best === undefined) {
    throw new VpcctlError('INVALID_INPUT', 'no live host to place the subnet on: run `vpcctl agent` on a joined host, or name one with --host (host: in a file)');
  }
  load.set(best, load.get(best)! + 1);
  return best;
}

/** A host named by --host or `host:` must have joined (it need not be up: its agent applies on start). */
export function checkMember(intent: Intent, host: string, at = '--host'): string {
  if (!intent.hosts[host]) {
    const known = Object.keys(intent.hosts).sort();
    throw new VpcctlError('NOT_FOUND', `${at}: host "${host}" has not joined the cluster (hosts: ${known.join(', ') || 'none'})`);
  }
  return host;
}
