/**
 * The overlay facts of a host's routers, derived from the cluster intent
 * (pure, unit-tested): per VPC with a router here (routers.ts), its VNI,
 * this router's overlay address and MAC, and one peer per other LIVE host
 * with a router of the VPC. A host whose lease lapsed drops out of `live`, so the
 * next resync of every other agent removes its FDB and neighbour entries.
 *
 * Addresses: every VPC's overlay uses the same link-local range
 * (169.254.0.0/16, refused as a VPC or subnet CIDR, so it never collides
 * with one); VPCs are separate namespaces, so reuse is safe. A router's
 * address and MAC follow from its host's index (allocated once at join) and
 * the VNI: every host computes every other's without asking.
 */
import type { VpcOverlay } from '../state/types.js';
import { VXLAN_OVERHEAD } from '../plan/overlay.js';
import type { Intent } from './keys.js';
import { carriedPeers, routerHosts } from './routers.js';

export const OVERLAY_PREFIX = 16;

/** Host index 1..65023 -> 169.254.(i>>8).(i&255), skipping .0 and .255 hosts. */
export function overlayAddress(index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > 254 * 256) throw new Error(`host index ${index} out of range`);
  const n = index - 1;
  return `169.254.${Math.floor(n / 254)}.${(n % 254) + 1}`;
}

/** Locally administered unicast MAC: 02 + 24-bit VNI + 16-bit host index. */
export function overlayMac(vni: number, index: number): string {
  const bytes = [0x02, (vni >> 16) & 255, (vni >> 8) & 255, vni & 255, (index >> 8) & 255, index & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function overlaysOf(
  intent: Intent, host: string, live: ReadonlySet<string>, underlay: { dev: string; mtu: number },
): Record<string, VpcOverlay> {
  const me = intent.hosts[host];
  if (!me?.index) return {};
  const routers = routerHosts(intent);
  const out: Record<string, VpcOverlay> = {};
  for (const [name, vpc] of Object.entries(intent.vpcs)) {
    const hosts = routers.get(name);
    if (!hosts?.has(host)) continue;
    // Every other live router of the VPC is a tunnel end; the subnets routed to it are the
    // VPC's own there and those of the peers this VPC carries (routers.ts).
    const remote = new Map<string, string[]>();
    for (const h of hosts) if (h !== host && live.has(h) && intent.hosts[h]?.index) remote.set(h, []);
    for (const v of [name, ...carriedPeers(intent, name)]) {
      for (const s of Object.values(intent.subnets[v] ?? {})) remote.get(s.host)?.push(s.cidr);
    }
    const names = Object.fromEntries(Object.values(intent.subnets[name] ?? {})
      .filter((s) => s.host !== host).sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => [s.name, s.cidr]));
    out[name] = {
      ...(Object.keys(names).length ? { names } : {}),
      vni: vpc.vni, local: me.underlay, dev: underlay.dev,
      address: `${overlayAddress(me.index)}/${OVERLAY_PREFIX}`, mac: overlayMac(vpc.vni, me.index),
      mtu: underlay.mtu - VXLAN_OVERHEAD,
      peers: [...remote.keys()].sort().map((h) => {
        const r = intent.hosts[h]!;
        return { host: h, underlay: r.underlay, address: overlayAddress(r.index!), mac: overlayMac(vpc.vni, r.index!), subnets: remote.get(h)!.sort() };
      }),
    };
  }
  return out;
}
