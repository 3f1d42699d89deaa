import { GATEWAY_LINK_PREFIX, linksNamed } from '../model/names.js';
import { TRANSIT6_POOL, routedPrefix6, transitEnds } from '../model/addresses.js';
import { allPublishes } from '../model/publish.js';
import type { State } from '../state/types.js';
import {
  type NftObject, accept, chain, counter, ctState, ctStatus, daddr, dnat, drop, iif, masquerade, neq, oif, prefix, rule, saddr,
} from './nft.js';

/** The machine's ends of the VPCs' internet gateways. */
const GATEWAY_LINKS = linksNamed(GATEWAY_LINK_PREFIX);

/**
 * vpcctl's only firewall change in the root namespace (the machine's): its own `inet vpcctl` table.
 * It masquerades the transit pool out of each uplink, keeps VPCs from
 * reaching each other through the host, keeps subnet hosts from opening
 * connections to the host itself, and lets nothing beyond the host open a
 * connection into a VPC except on a published port (even a neighbour that
 * routes a VPC's CIDR to this host). Published ports are DNATed to the
 * VPC router's transit address (which DNATs again to the subnets: router.ts),
 * for packets that arrive and, in `output`, for the host's own.
 * Nobody else's table is read or touched.
 * Returns null when no VPC needs the table any more.
 */
export function rootRuleset(state: State): NftObject[] | null {
  const vpcs = Object.values(state.vpcs);
  if (vpcs.length === 0) return null;
  const uplinks = [...new Set(vpcs.map((v) => v.uplink).filter((u): u is string => u !== null))].sort();
  const objects: NftObject[] = [
    chain('forward', 'forward', 'filter', 0),
    rule('forward', [iif(GATEWAY_LINKS), oif(GATEWAY_LINKS), counter, drop], 'VPCs are isolated from each other'),
    // Into a VPC the host forwards replies and published ports, nothing else: not a new
    // connection, nor a stray packet (invalid, untracked) that would probe its hosts.
    rule('forward', [oif(GATEWAY_LINKS), ctState('established', 'related'), accept], 'replies'),
    rule('forward', [oif(GATEWAY_LINKS), ctStatus('dnat'), accept], 'published ports'),
    rule('forward', [oif(GATEWAY_LINKS), counter, drop], 'nothing beyond the host opens connections into a VPC'),
    chain('input', 'input', 'filter', 0),
    rule('input', [iif(GATEWAY_LINKS), ctState('established', 'related'), accept]),
    // The routers of dual-stack VPCs resolve the host's end of their gateway link by neighbour discovery (ICMPv6).
    ...(vpcs.some((v) => v.ipv6Cidr && v.transit) ? [rule('input', [iif(GATEWAY_LINKS), {
      match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'type' } }, right: { set: ['nd-neighbor-solicit', 'nd-neighbor-advert'] } },
    }, accept], 'neighbour discovery (IPv6)')] : []),
    rule('input', [iif(GATEWAY_LINKS), counter, drop], 'subnets cannot open connections to the host'),
    chain('postrouting', 'postrouting', 'nat', 100),
    ...uplinks.map((uplink) =>
      rule('postrouting', [saddr(prefix(state.transitPool)), oif(uplink), masquerade], `VPC internet via ${uplink}`)),
    // Dual-stack VPCs with a unique-local prefix leave as their routers' gateway ends (addresses.ts):
    // masqueraded too (NAT66). A global prefix is routed as it is (routedPrefix6): nothing to translate.
    ...[...new Set(vpcs.filter((v) => v.ipv6Cidr && v.uplink && v.transit && !routedPrefix6(v)).map((v) => v.uplink!))].sort().map((uplink) =>
      rule('postrouting', [{ match: { op: '==', left: { payload: { protocol: 'ip6', field: 'saddr' } }, right: prefix(TRANSIT6_POOL) } }, oif(uplink), masquerade],
        `VPC internet via ${uplink} (IPv6)`)),
  ];
  const publishes = allPublishes(state).filter((p) => state.vpcs[p.vpc]!.transit);
  if (publishes.length > 0) {
    objects.push(chain('prerouting', 'prerouting', 'nat', -100), chain('output', 'output', 'nat', -100));
    for (const p of publishes) {
      const router = transitEnds(state.vpcs[p.vpc]!.transit!).farIp;
      const match = [daddr(p.address), { match: { op: '==', left: { payload: { protocol: p.protocol, field: 'dport' } }, right: p.hostPort } }];
      const comment = `publish ${p.address}:${p.hostPort}/${p.protocol} to vpc ${p.vpc}`;
      // Subnets do not come back in through the host to a published port.
      objects.push(rule('prerouting', [neq({ meta: { key: 'iifname' } }, GATEWAY_LINKS), ...match, counter, dnat(router, p.hostPort)], comment));
      objects.push(rule('output', [...match, counter, dnat(router, p.hostPort)], comment));
    }
  }
  return objects;
}
