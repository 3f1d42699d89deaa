import { GATEWAY_LINK_PREFIX, linksNamed } from '../model/names.js';
import type { State } from '../state/types.js';
import { type NftObject, accept, chain, counter, ctState, drop, iif, masquerade, oif, prefix, rule, saddr } from './nft.js';

/** The machine's ends of the VPCs' internet gateways. */
const GATEWAY_LINKS = linksNamed(GATEWAY_LINK_PREFIX);

/**
 * vpcctl's only firewall change in the root namespace (the machine's): its own `inet vpcctl` table.
 * It masquerades the transit pool out of each uplink, keeps VPCs from
 * reaching each other through the host, and keeps subnet hosts from opening
 * connections to the host itself. Nobody else's table is read or touched.
 * Returns null when no VPC needs the table any more.
 */
export function rootRuleset(state: State): NftObject[] | null {
  const vpcs = Object.values(state.vpcs);
  if (vpcs.length === 0) return null;
  const uplinks = [...new Set(vpcs.map((v) => v.uplink).filter((u): u is string => u !== null))].sort();
  return [
    chain('forward', 'forward', 'filter', 0),
    rule('forward', [iif(GATEWAY_LINKS), oif(GATEWAY_LINKS), counter, drop], 'VPCs are isolated from each other'),
    chain('input', 'input', 'filter', 0),
    rule('input', [iif(GATEWAY_LINKS), ctState('established', 'related'), accept]),
    rule('input', [iif(GATEWAY_LINKS), counter, drop], 'subnets cannot open connections to the host'),
    chain('postrouting', 'postrouting', 'nat', 100),
    ...uplinks.map((uplink) =>
      rule('postrouting', [saddr(prefix(state.transitPool)), oif(uplink), masquerade], `VPC internet via ${uplink}`)),
  ];
}
