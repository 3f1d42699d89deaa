import { VpcctlError } from '../errors.js';
import { kernel, native } from '../native.js';
import { formatCidr, nthSubnet, overlaps, parseCidr, size, type Cidr } from '../model/cidr.js';
import { HOST_NS } from '../plan/ops.js';
import type { State } from '../state/types.js';

/** Facts about the host network that choices in the model depend on. */

/** The interface of the host's default route, or null (no internet for public subnets). */
export async function defaultUplink(): Promise<string | null> {
  const routes = await kernel((await native()).routeList(HOST_NS));
  return routes.find((r) => r.dst === 'default' && r.dev)?.dev ?? null;
}

export async function checkUplink(name: string): Promise<void> {
  const link = await kernel((await native()).linkGet(HOST_NS, name));
  if (!link) throw new VpcctlError('INVALID_INPUT', `uplink "${name}" does not exist on this host`);
}

/**
 * The lowest free /30 of the transit pool: not used by another VPC or
 * peering, and not overlapping any route the host already has (other than
 * vpcctl's own), so transit addresses never shadow a real network.
 */
export async function allocateLink(state: State): Promise<string> {
  const pool = parseCidr(state.transitPool, { what: 'transit pool' });
  const used = new Set<string>([
    ...Object.values(state.vpcs).flatMap((v) => (v.transit ? [v.transit] : [])),
    ...state.peerings.map((p) => p.link),
  ]);
  const routes = (await kernel((await native()).routeList(HOST_NS)))
    .filter((r) => r.dst !== 'default' && !(r.dev ?? '').startsWith('vg-'))
    .map((r) => parseCidr(r.dst));
  const count = size(pool) / 4;
  for (let i = 0; i < count; i++) {
    const c: Cidr = nthSubnet(pool, 30, i);
    const text = formatCidr(c);
    if (used.has(text) || routes.some((r) => overlaps(r, c))) continue;
    return text;
  }
  throw new VpcctlError('CONFLICT', `transit pool ${state.transitPool} is exhausted or shadowed by host routes; set VPCCTL_TRANSIT_POOL`);
}
