/**
 * User-facing names and every kernel name derived from them. All derivations
 * are pure functions of the desired state, so the planner, `status` and
 * `cleanup-all` compute the same names without consulting the state file.
 */
import { VpcctlError } from '../errors.js';
import { type Cidr, hexOf, parseCidr } from './cidr.js';
import { parseCidr6 } from './cidr6.js';
import { pairOrder } from './peering.js';

export type NameKind = 'vpc' | 'subnet' | 'topology';

/** Letters, digits, '-': safe in namespace names, tags ('/', '~', ':' are separators) and files. */
export const NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function validateName(kind: NameKind, name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new VpcctlError(
      'INVALID_NAME',
      `${kind} name ${JSON.stringify(name)} is invalid: use a-z, 0-9 and '-', start with a letter or digit, at most 32 characters`,
    );
  }
  return name;
}

// --- Namespaces -----------------------------------------------------------

/**
 * The namespace vpcctl itself runs in: the machine's own (root) network
 * namespace, `""` to the native module. "Host" in vpcctl's names is a
 * subnet's host (hostNs, HOST_LINK); the machine's side is "root".
 */
export const ROOT_NS = '';

const HOST_NS_PREFIX = 'ns-';
const ROUTER_NS_PREFIX = 'vpcr-';

/** Namespace of a subnet's first host (the seed's tests use this exact name). */
export const hostNs = (vpc: string, subnet: string): string => `${HOST_NS_PREFIX}${vpc}-${subnet}`;
/** Namespace of a VPC's router. */
export const routerNs = (vpc: string): string => `${ROUTER_NS_PREFIX}${vpc}`;

/** The VPCs and subnets of a state, as far as their namespaces go. */
export interface NsLayout { vpcs: Record<string, { name: string; subnets: Record<string, { name: string }> }> }

/** Every namespace a state's kernel realisation has: one router per VPC, one host per subnet. */
export function wantedNamespaces(state: NsLayout): Set<string> {
  const out = new Set<string>();
  for (const v of Object.values(state.vpcs)) {
    out.add(routerNs(v.name));
    for (const s of Object.values(v.subnets)) out.add(hostNs(v.name, s.name));
  }
  return out;
}

// --- Interfaces (IFNAMSIZ: at most 15 chars; "xx-" + 8 hex = 11) -----------

/** "xx-" + the block's network in hex: the caller guarantees the network is unique where the link lives. */
const linkName = (prefix: string, cidr: Cidr | string): string =>
  `${prefix}-${hexOf((typeof cidr === 'string' ? parseCidr(cidr) : cidr).network)}`;

/** Every gateway link's machine end is named `vg-<hex>`; firewall rules match them all by this prefix. */
export const GATEWAY_LINK_PREFIX = 'vg';
/** Every peering link in a router is named `px-<hex>`. */
export const PEER_LINK_PREFIX = 'px';
/** Router end of a subnet's veth; subnets of a VPC never overlap, so the network is unique in the router. */
export const subnetLink = (subnetCidr: Cidr | string): string => linkName('sn', subnetCidr);
/**
 * Router end of an IPv6-only subnet's veth: `s6-` + bits 32..63 of its /64
 * in hex. A VPC's IPv6 prefix is /44 or longer, so its /64s differ only in
 * those bits: unique in the router, and never a `sn-` name.
 */
export const subnetLink6 = (subnetCidr6: string): string =>
  `s6-${((parseCidr6(subnetCidr6).network >> 64n) & 0xffffffffn).toString(16).padStart(8, '0')}`;
/** Router end of a subnet's veth, whichever family names it (IPv4 when it has a block). */
export const subnetLinkOf = (s: { cidr?: string; ipv6Cidr?: string }): string =>
  s.cidr !== undefined ? subnetLink(s.cidr) : subnetLink6(s.ipv6Cidr!);
/** Router end of a peering veth; a VPC's peers never overlap each other, so unique in the router. */
export const peerLink = (peerVpcCidr: Cidr | string): string => linkName(PEER_LINK_PREFIX, peerVpcCidr);
/** Host-namespace end of a VPC's internet gateway; transit blocks are unique in the host. */
export const gatewayRootLink = (transitCidr: Cidr | string): string => linkName(GATEWAY_LINK_PREFIX, transitCidr);
/** nftables' wildcard for every link named with `prefix` (`vg-*`). */
export const linksNamed = (prefix: string): string => `${prefix}-*`;
/** True when `name` is named like a gateway link (whose it is, only its tag says). */
export const isGatewayLinkName = (name: string): boolean => name.startsWith(`${GATEWAY_LINK_PREFIX}-`);
/** Router end of the internet gateway: one per router namespace, so a constant. */
export const ROUTER_GATEWAY_LINK = 'igw0';
/** A router's VXLAN link to the VPC's routers on other hosts (cluster only). */
export const OVERLAY_LINK = 'vx0';
/** The host's end of its subnet link, as on a cloud instance. */
export const HOST_LINK = 'eth0';

// --- Ownership tags (link aliases, alias of `lo` in each namespace) ----------

export const TAG_PREFIX = 'vpcctl:';

/** What a tagged kernel object belongs to. */
export type Owner =
  | { kind: 'router'; vpc: string }
  | { kind: 'host'; vpc: string; subnet: string }
  | { kind: 'subnet'; vpc: string; subnet: string }
  | { kind: 'peer'; vpc1: string; vpc2: string }
  | { kind: 'igw'; vpc: string };

export function formatTag(owner: Owner): string {
  switch (owner.kind) {
    case 'router':
    case 'igw':
      return `${TAG_PREFIX}${owner.kind}:${owner.vpc}`;
    case 'host':
    case 'subnet':
      return `${TAG_PREFIX}${owner.kind}:${owner.vpc}/${owner.subnet}`;
    case 'peer': {
      // Both ends of a peering carry the same tag whichever side created it.
      const [a, b] = pairOrder(owner.vpc1, owner.vpc2);
      return `${TAG_PREFIX}peer:${a}~${b}`;
    }
  }
}

export const routerTag = (vpc: string): string => formatTag({ kind: 'router', vpc });
export const hostTag = (vpc: string, subnet: string): string => formatTag({ kind: 'host', vpc, subnet });

/** Tag of a link: a subnet's veth, a peering's veth or a VPC's gateway veth. */
export function linkTag(owner: Extract<Owner, { kind: 'subnet' | 'peer' | 'igw' }>): string {
  return formatTag(owner);
}

const N = '[a-z0-9][a-z0-9-]{0,31}';
const TAG_RE = new RegExp(
  `^${TAG_PREFIX}(?:(router|igw):(${N})|(host|subnet):(${N})/(${N})|peer:(${N})~(${N}))$`,
);

/** The owner encoded in a tag, or null when the tag is not one of ours (never touch those). */
export function parseTag(tag: string): Owner | null {
  const m = TAG_RE.exec(tag);
  if (!m) return null;
  if (m[1]) return { kind: m[1] as 'router' | 'igw', vpc: m[2]! };
  if (m[3]) return { kind: m[3] as 'host' | 'subnet', vpc: m[4]!, subnet: m[5]! };
  const [vpc1, vpc2] = pairOrder(m[6]!, m[7]!);
  return { kind: 'peer', vpc1, vpc2 };
}

// --- nftables ---------------------------------------------------------------

/** The one table vpcctl owns in every namespace it touches (host included). */
export const NFT_TABLE = 'vpcctl';
export const NFT_FAMILY = 'inet';

// --- sysctls ----------------------------------------------------------------

/** Forwarding, on in every router and on the machine while a VPC exists. */
export const IP_FORWARD = 'net/ipv4/ip_forward';
/** The host's IPv6 forwarding: on while a dual-stack VPC has an internet gateway, then put back as it was. */
export const IP6_FORWARD = 'net/ipv6/conf/all/forwarding';

// --- Which namespaces are vpcctl's (before anything is deleted or killed) ----

/**
 * The objects a namespace name can stand for under vpcctl's naming rule
 * (`vpcr-<vpc>`, `ns-<vpc>-<subnet>`, names per NAME_RE); empty when the
 * name follows no rule (e.g. "foreign", "../../tmp/x"). `ns-a-b-c` is
 * ambiguous (vpc "a-b" or "a"), hence a list.
 */
export function nsOwners(ns: string): Owner[] {
  if (ns.startsWith(ROUTER_NS_PREFIX)) {
    const vpc = ns.slice(ROUTER_NS_PREFIX.length);
    return NAME_RE.test(vpc) ? [{ kind: 'router', vpc }] : [];
  }
  if (!ns.startsWith(HOST_NS_PREFIX)) return [];
  const rest = ns.slice(HOST_NS_PREFIX.length);
  const out: Owner[] = [];
  for (let i = rest.indexOf('-'); i > 0; i = rest.indexOf('-', i + 1)) {
    const [vpc, subnet] = [rest.slice(0, i), rest.slice(i + 1)];
    if (NAME_RE.test(vpc) && NAME_RE.test(subnet)) out.push({ kind: 'host', vpc, subnet });
  }
  return out;
}

export const isVpcctlNsName = (ns: string): boolean => nsOwners(ns).length > 0;

/** True when `tag` is the very tag vpcctl puts on a namespace named `ns`. */
export function tagFitsNs(tag: string, ns: string): boolean {
  const o = parseTag(tag);
  if (o?.kind === 'router') return routerNs(o.vpc) === ns;
  if (o?.kind === 'host') return hostNs(o.vpc, o.subnet) === ns;
  return false;
}

/**
 * Whether vpcctl may delete (and kill the processes of) namespace `ns`,
 * given the alias of its `lo` (null/"" when untagged or absent):
 * - tagged with exactly the tag vpcctl gives that name: ours, whatever the
 *   state says (an orphan of a lost state);
 * - tagged with anything else: someone else's, never touched;
 * - untagged: ours only if the state names it (`recorded`: an object of the
 *   state, or a pending entry, which the engine writes before it makes the
 *   namespace, so a crash between the mount and the tag leaves it untagged)
 *   and the name follows vpcctl's rule. A name merely read from the state
 *   that follows no rule ("foreign", "../../tmp/x") is never ours.
 */
export function ownsNs(ns: string, tag: string | null | undefined, recorded: boolean): boolean {
  if (!isVpcctlNsName(ns)) return false;
  if (tag) return tagFitsNs(tag, ns);
  return recorded;
}
