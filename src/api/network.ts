import { VpcctlError } from '../errors.js';
import { kernel, native } from '../native.js';
import { formatCidr, nthSubnet, overlaps, parseCidr, size, type Cidr } from '../model/cidr.js';
import {
  checkClaims, checkUplinkLink, constrainingRoutes, defaultRouteDev, footprint, hostConstraints, newClaims,
  type Claim, type Footprint, type HostNet,
} from '../model/host-routes.js';
import { gatewayHostLink } from '../model/names.js';
import { HOST_NS } from '../plan/ops.js';
import type { State } from '../state/types.js';

/** Facts about the host network that choices in the model depend on. */

/** The host's network, read once per command on first use (one native call). */
export type HostView = () => Promise<HostNet>;

export function hostView(): HostView {
  let view: Promise<HostNet> | undefined;
  return () => (view ??= native().then((n) => kernel(n.netView(HOST_NS))));
}

/** The interface of the host's default route, or null (no internet for public subnets). */
export async function defaultUplink(host: HostView): Promise<string | null> {
  return defaultRouteDev(await host());
}

/** `--uplink`: a real, up, non-loopback link with an address (exit 2 otherwise). */
export async function checkUplink(name: string, host: HostView): Promise<void> {
  checkUplinkLink(await host(), name);
}

/**
 * The lowest free /30 of the transit pool: not used by another VPC or
 * peering, not overlapping any route the host already has (other than
 * vpcctl's own), so transit addresses never shadow a real network, and
 * not one whose gateway link name (vg-<hex>) a foreign link already holds.
 */
export async function allocateLink(state: State, host: HostView): Promise<string> {
  const pool = parseCidr(state.transitPool, { what: 'transit pool' });
  const used = new Set<string>([
    ...Object.values(state.vpcs).flatMap((v) => (v.transit ? [v.transit] : [])),
    ...state.peerings.map((p) => p.link),
  ]);
  const net = await host();
  const routes = constrainingRoutes(net).map((r) => parseCidr(r.dst));
  const names = new Set(net.links.map((l) => l.name));
  const count = size(pool) / 4;
  for (let i = 0; i < count; i++) {
    const c: Cidr = nthSubnet(pool, 30, i);
    const text = formatCidr(c);
    if (used.has(text) || names.has(gatewayHostLink(c)) || routes.some((r) => overlaps(r, c))) continue;
    return text;
  }
  throw new VpcctlError('CONFLICT', `transit pool ${state.transitPool} is exhausted or shadowed by host routes; set VPCCTL_TRANSIT_POOL`);
}

/** What the state held before a change: the guard checks only what the change adds. */
export const hostFootprint = (state: State): Footprint => footprint(state.vpcs);

/**
 * The host-route guard: refuses (OVERLAP, exit 2, before any change) a new
 * VPC or public subnet of `after` that overlaps a route vpcctl does not
 * own, an uplink's network or the transit pool. Reads the host only when
 * the change claims something.
 */
export async function guardHostRoutes(
  before: Footprint,
  after: State,
  host: HostView,
  at?: (c: Claim) => string | undefined,
): Promise<void> {
  const claims = newClaims(before, after.vpcs);
  if (claims.length === 0) return;
  const net = await host();
  const uplinks = claims.flatMap((c) => (c.uplink ? [c.uplink] : []));
  const dflt = defaultRouteDev(net);
  if (dflt) uplinks.push(dflt);
  checkClaims(claims, hostConstraints(net, { transitPool: after.transitPool, uplinks }), at);
}
