/**
 * Where each VPC has a router in a cluster, and which overlay carries the
 * traffic of a peering between hosts (pure, unit-tested).
 *
 * A VPC has a router on every host that holds one of its subnets, and on
 * every host that holds a subnet of a VPC it is peered with: so wherever
 * either side of a peering runs, both routers and the peering link between
 * them are there, as on one host.
 *
 * Between hosts a peering's traffic crosses in ONE of the two overlays, the
 * one of the VPC whose name sorts first (the carrier): its routers route the
 * peer's remote subnets over its own VXLAN link, and the peer's routers send
 * everything for the carrier over the local peering link. Both directions
 * of a connection then take the same links, so the routers' strict
 * reverse-path filter holds (a reply that came back by the other VPC's
 * overlay would arrive on a link the route back does not point to).
 */
import { pairOrder } from '../model/peering.js';
import type { Intent } from './keys.js';

/** Hosts holding a subnet of each VPC. */
export function subnetHosts(intent: Intent): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const name of Object.keys(intent.vpcs)) {
    out.set(name, new Set(Object.values(intent.subnets[name] ?? {}).map((s) => s.host)));
  }
  return out;
}

/** Hosts where each VPC has a router: its own subnets' and its peers' subnets' hosts. */
export function routerHosts(intent: Intent): Map<string, Set<string>> {
  const own = subnetHosts(intent);
  const out = new Map([...own].map(([vpc, hosts]) => [vpc, new Set(hosts)]));
  for (const p of Object.values(intent.peerings)) {
    for (const [a, b] of [[p.vpc1, p.vpc2], [p.vpc2, p.vpc1]] as const) {
      for (const h of own.get(b) ?? []) out.get(a)?.add(h);
    }
  }
  return out;
}

/** The peers whose subnets on other hosts `vpc`'s routers route over `vpc`'s own overlay. */
export function carriedPeers(intent: Intent, vpc: string): string[] {
  return Object.values(intent.peerings)
    .filter((p) => p.vpc1 === vpc || p.vpc2 === vpc)
    .map((p) => pairOrder(p.vpc1, p.vpc2))
    .filter(([first]) => first === vpc)
    .map(([, second]) => second)
    .filter((peer) => intent.vpcs[peer]);
}
