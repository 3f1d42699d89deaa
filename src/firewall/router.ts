import { PEER_LINK_PREFIX, ROUTER_GATEWAY_LINK, linksNamed } from '../model/names.js';
import { transitEnds } from '../model/addresses.js';
import type { VpcState } from '../state/types.js';
import { type NftObject, chain, counter, daddr, drop, iif, ipv4Set, oif, rule, saddr, snat } from './nft.js';

/** Every peering link of a router namespace. */
const PEER_LINKS = linksNamed(PEER_LINK_PREFIX);
const IGW = ROUTER_GATEWAY_LINK;

/**
 * The VPC router's table: what AWS enforces in its route tables and gateways.
 * Subnets sit in two interval sets, so per-packet cost does not grow with
 * the number of subnets; re-applying the table replaces it in one transaction.
 */
export function routerRuleset(vpc: VpcState): NftObject[] {
  const subnets = Object.values(vpc.subnets);
  const of = (type: string) => subnets.filter((s) => s.type === type).map((s) => s.cidr);
  const objects: NftObject[] = [
    ipv4Set('public', of('public')),
    ipv4Set('private', of('private')),
    chain('forward', 'forward', 'filter', 0),
    // Peering is not transitive, and a peer never uses this VPC's gateway.
    rule('forward', [iif(PEER_LINKS), oif(PEER_LINKS), counter, drop], 'peering is not transitive'),
    rule('forward', [iif(PEER_LINKS), oif(IGW), counter, drop], 'no edge-to-edge routing'),
    rule('forward', [iif(IGW), oif(PEER_LINKS), counter, drop], 'no edge-to-edge routing'),
    // Private subnets neither reach the internet gateway nor are reached from it,
    // even when a host adds a default route by hand.
    rule('forward', [saddr('@private'), oif(IGW), counter, drop], 'private subnets have no internet'),
    rule('forward', [iif(IGW), daddr('@private'), counter, drop], 'private subnets are not reachable from outside'),
  ];
  if (vpc.transit) {
    const routerSide = transitEnds(vpc.transit).farIp;
    objects.push(
      chain('postrouting', 'postrouting', 'nat', 100),
      rule('postrouting', [oif(IGW), saddr('@public'), snat(routerSide)], 'public subnets leave by the gateway'),
    );
  }
  return objects;
}
