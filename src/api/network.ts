import { VpcctlError } from '../errors.js';
import { native } from '../native.js';
import { formatCidr, nthSubnet, overlaps, parseCidr, size, type Cidr } from '../model/cidr.js';
import {
  checkClaims, checkClaims6, checkUplinkLink, constrainingRoutes, defaultRouteDev, footprint, raDefaultsAtRisk, rootConstraints, rootConstraints6,
  newClaims, routes6InPool,
  type Claim, type Footprint, type RootAddr, type RootNet, type RootRoute,
} from '../model/root-routes.js';
import { IP6_FORWARD, ROOT_NS, gatewayRootLink } from '../model/names.js';
import { TRANSIT6_POOL } from '../model/addresses.js';
import type { State } from '../state/types.js';
import type { ChangeOptions, ChangeResult, Draft, Engine } from './engine.js';

/** Facts about the machine's own (root namespace) network that choices in the model depend on. */

/** The machine's network, read once per command on first use (one native call). */
export type RootView = () => Promise<RootNet>;

function rootView(): RootView {
  let view: Promise<RootNet> | undefined;
  return () => (view ??= native().then((n) => n.netView(ROOT_NS)));
}

/** The interface of the host's default route, or null (no internet for public subnets). */
export async function defaultUplink(root: RootView): Promise<string | null> {
  return defaultRouteDev(await root());
}

/** `--uplink`: a real, up, non-loopback link with an address (exit 2 otherwise). */
export async function checkUplink(name: string, root: RootView): Promise<void> {
  checkUplinkLink(await root(), name);
}

/**
 * The lowest free /30 of the transit pool: not used by another VPC or
 * peering, not overlapping any route the host already has (other than
 * vpcctl's own), so transit addresses never shadow a real network, and
 * not one whose gateway link name (vg-<hex>) a foreign link already holds.
 */
export async function allocateLink(state: State, root: RootView): Promise<string> {
  const pool = parseCidr(state.transitPool, { what: 'transit pool' });
  const used = new Set<string>([
    ...Object.values(state.vpcs).flatMap((v) => (v.transit ? [v.transit] : [])),
    ...state.peerings.map((p) => p.link),
  ]);
  const net = await root();
  const routes = constrainingRoutes(net).map((r) => parseCidr(r.dst));
  const names = new Set(net.links.map((l) => l.name));
  const count = size(pool) / 4;
  for (let i = 0; i < count; i++) {
    const c: Cidr = nthSubnet(pool, 30, i);
    const text = formatCidr(c);
    if (used.has(text) || names.has(gatewayRootLink(c)) || routes.some((r) => overlaps(r, c))) continue;
    return text;
  }
  throw new VpcctlError('CONFLICT', `transit pool ${state.transitPool} is exhausted or shadowed by host routes; set VPCCTL_TRANSIT_POOL`);
}

/** What the state held before a change: the guard checks only what the change adds. */
const rootFootprint = (state: State): Footprint => footprint(state.vpcs);

/**
 * The host-route guard: refuses (OVERLAP, exit 2, before any change) a new
 * VPC or public subnet of `after` that overlaps a route vpcctl does not
 * own, an uplink's network or the transit pool, and a newly routed IPv6
 * prefix that overlaps a host IPv6 route or address or another VPC's
 * routed prefix. Reads the host only when the change claims something.
 */
async function guardRootRoutes(
  before: Footprint,
  after: State,
  root: RootView,
  at?: (c: Claim) => string | undefined,
): Promise<void> {
  const claims = newClaims(before, after.vpcs);
  if (claims.length === 0) return;
  const net = await root();
  const uplinks = claims.flatMap((c) => (c.uplink ? [c.uplink] : []));
  const dflt = defaultRouteDev(net);
  if (dflt) uplinks.push(dflt);
  checkClaims(claims, rootConstraints(net, { transitPool: after.transitPool, uplinks }), at);
  if (claims.some((c) => c.ipv6)) {
    const { routes6, addrs6 } = await hostIpv6();
    checkClaims6(claims, rootConstraints6(net, routes6, addrs6, after.vpcs), at);
  }
}

/** The machine's IPv6 routes (every table) and global addresses; none where the host has no IPv6. */
export async function hostIpv6(): Promise<{ routes6: RootRoute[]; addrs6: RootAddr[] }> {
  const n = await native();
  const [routes6, addrs6] = await Promise.all([n.routeListAll6(ROOT_NS).catch(() => []), n.addrList6(ROOT_NS).catch(() => [])]);
  return { routes6, addrs6 };
}

/**
 * A change through the engine's one path to the kernel, with the
 * root-route guard: what the mutation newly claims on the machine (a VPC,
 * a public subnet) is checked against its routes before anything is
 * planned. `root` reads the machine's network once for the whole command;
 * `at` names where a claim came from (a topology path).
 */
export function guardedChange<T>(
  engine: Engine,
  mutate: (draft: Draft, root: RootView) => T | Promise<T>,
  opts?: ChangeOptions,
  at?: (claim: Claim) => string | undefined,
): Promise<ChangeResult<T>> {
  return engine.change(async (draft) => {
    const root = rootView();
    const before = rootFootprint(draft.state);
    const gateways6 = ipv6Gateways(draft.state);
    const value = await mutate(draft, root);
    await guardRootRoutes(before, draft.state, root, at);
    if (ipv6Gateways(draft.state).some((v) => !gateways6.includes(v))) await guardGateway6(gateways6.length > 0);
    return value;
  }, opts);
}

/** The dual-stack VPCs with an internet gateway: each has an IPv6 gateway link on the host. */
const ipv6Gateways = (state: State): string[] => Object.values(state.vpcs).filter((v) => v.ipv6Cidr && v.transit).map((v) => v.name);

/**
 * Before a dual-stack VPC gets an internet gateway (CONFLICT, exit 2,
 * nothing changed):
 * - its gateway link's /126 comes from TRANSIT6_POOL, whose connected
 *   route would shadow part of any host IPv6 route into that range;
 * - the first one turns the host's IPv6 forwarding on, and with it on the
 *   kernel ignores router advertisements on interfaces with accept_ra=1:
 *   a default route learnt from them would lapse and the host lose IPv6.
 *   accept_ra=2 (take them even when forwarding) is the owner's call.
 */
async function guardGateway6(forwardingOurs: boolean): Promise<void> {
  const n = await native();
  const routes = await n.routeListAll6(ROOT_NS).catch(() => []); // no IPv6 on the host: nothing to shadow
  const taken = routes6InPool(routes, TRANSIT6_POOL);
  if (taken.length > 0) {
    const r = taken[0]!;
    throw new VpcctlError('CONFLICT', `the host has an IPv6 route to ${r.dst}${r.dev ? ` on ${r.dev}` : ''}, inside ${TRANSIT6_POOL}, the range vpcctl's IPv6 gateway links take their addresses from: refusing to shadow it`);
  }
  if (forwardingOurs || (await n.sysctlGet(ROOT_NS, IP6_FORWARD).catch(() => '')).trim() !== '0') return; // on already, or no IPv6
  const acceptRa = new Map<string, string>();
  for (const dev of new Set(routes.flatMap((r) => (r.dev ? [r.dev] : [])))) {
    acceptRa.set(dev, await n.sysctlGet(ROOT_NS, `net/ipv6/conf/${dev}/accept_ra`).catch(() => ''));
  }
  const devs = raDefaultsAtRisk(routes, (d) => acceptRa.get(d));
  if (devs.length === 0) return;
  const set = devs.map((d) => `net.ipv6.conf.${d}.accept_ra=2`).join(', ');
  throw new VpcctlError('CONFLICT', `IPv6 internet needs the host's IPv6 forwarding on, and with it on the host stops taking router advertisements on ${devs.join(', ')} (accept_ra=1), where its IPv6 default route comes from: it would lose IPv6. Set ${set} first, or make the VPC without IPv6`);
}

/**
 * The machine's link that holds `address` (a cluster host's underlay) and
 * its MTU: the VXLAN links of this host's routers are made over it.
 */
export async function underlayLink(address: string): Promise<{ dev: string; mtu: number }> {
  const n = await native();
  const held = (await n.addrList(ROOT_NS)).find((a) => a.cidr.split('/')[0] === address);
  const link = held ? await n.linkGet(ROOT_NS, held.dev) : null;
  if (!link) throw new VpcctlError('NOT_FOUND', `underlay ${address}: no link of this host has that address (see 'vpcctl cluster join --underlay')`);
  return { dev: link.name, mtu: link.mtu };
}
