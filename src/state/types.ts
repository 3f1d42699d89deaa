import type { SubnetPolicy } from '../model/schema.js';

/**
 * The persisted intent. The kernel is the truth about what exists; this is
 * what the user asked for, plus the few facts vpcctl must remember (transit
 * allocations, the host's ip_forward before vpcctl turned it on, apps' pids).
 */
export const STATE_VERSION = 1;

/** public (internet through the gateway) or private. */
export type SubnetType = 'public' | 'private';
/** How a private subnet reaches the internet: `nat` through the VPC's NAT gateway, `none` not at all. */
export type Egress = 'nat' | 'none';
export type PublishProtocol = 'tcp' | 'udp';

/**
 * One published port on a subnet: `address:hostPort` on the host reaches
 * the subnet's host on `port`. The same (protocol, hostPort) on several
 * subnets of a VPC is one load-balanced publish over them.
 */
export interface PublishState {
  port: number;
  hostPort: number;
  protocol: PublishProtocol;
  /** The host address it is reached at (resolved from the uplink when not given). */
  address: string;
}

/** An app as the state keeps it: port, pid, command, user, log. */
export interface AppState {
  port: number;
  pid: number;
  command: string[];
  user: string;
  logFile: string;
  startedAt: string;
}

/** A subnet as the state keeps it. */
export interface SubnetState {
  name: string;
  /** The subnet's IPv4 block; absent: an IPv6-only subnet (dual-stack VPCs only, ipv6Cidr then set). */
  cidr?: string;
  /** The subnet's IPv6 /64 (dual-stack VPCs only; absent: IPv4 only). */
  ipv6Cidr?: string;
  type: SubnetType;
  policy?: SubnetPolicy;
  /** Private subnets only; absent means `none` (the seed's behaviour). */
  egress?: 'nat';
  /** Ports of this subnet's host published on the host; absent means none. */
  publish?: PublishState[];
  apps: AppState[];
  /**
   * The topology whose apply made this object (`file /abs/path`, `dir /abs/path`,
   * `topology NAME`, `api`): `apply --prune` of that topology removes only what
   * it owns. Absent: made by a command, or before vpcctl recorded owners (then
   * never pruned).
   */
  owner?: string;
}

/** A VPC as the state keeps it. */
export interface VpcState {
  name: string;
  cidr: string;
  /**
   * The VPC's IPv6 prefix (/44../60): the VPC is dual-stack and every
   * subnet has a /64 of it. Absent: IPv4 only, with IPv6 off in its router.
   */
  ipv6Cidr?: string;
  /** Host interface the VPC's internet traffic leaves by; null: no internet. */
  uplink: string | null;
  /** The /30 of the transit pool joining the router to the host; null without uplink. */
  transit: string | null;
  subnets: Record<string, SubnetState>;
  /**
   * The topology whose apply made this object (`file /abs/path`, `dir /abs/path`,
   * `topology NAME`, `api`): `apply --prune` of that topology removes only what
   * it owns. Absent: made by a command, or before vpcctl recorded owners (then
   * never pruned).
   */
  owner?: string;
  /** On a cluster host: how this router joins the VPC's routers on other hosts (absent on one host). */
  overlay?: VpcOverlay;
  /**
   * Flow logs on (`flow-logs enable`, topology `flowLogs: true`): every
   * subnet's policy table logs new connections (src/firewall/flow-log.ts).
   * Absent means off, the default: the tables are those without logging.
   */
  flowLogs?: true;
}

/** A remote router of a VPC: where its host is on the underlay, and its tunnel end. */
export interface OverlayPeer {
  host: string;
  underlay: string;
  /** The remote router's overlay address (no prefix). */
  address: string;
  mac: string;
  /** The subnets routed to it: the VPC's own there, and those of peers this VPC carries (cluster/routers.ts). */
  subnets: string[];
}

/**
 * What one router needs to join its VPC's overlay (docs/cluster.md): the
 * cluster agent derives it from the intent (cluster/overlay.ts); the
 * planner turns it into a VXLAN link with static FDB and neighbour entries.
 */
export interface VpcOverlay {
  vni: number;
  /** This host's underlay address and interface (in the machine's namespace). */
  local: string;
  dev: string;
  /** This router's overlay address, with the overlay range's prefix (e.g. 169.254.0.1/16). */
  address: string;
  mac: string;
  /** MTU of the tunnel and of the VPC's subnet links: the underlay's minus the VXLAN overhead. */
  mtu: number;
  peers: OverlayPeer[];
  /** The VPC's subnets on other hosts (name -> CIDR), live or not: their DNS names resolve here too. */
  names?: Record<string, string>;
}

/** A peering as the state keeps it, with its transit link. */
export interface PeeringState {
  vpc1: string;
  vpc2: string;
  /** The /30 of the transit pool addressing the link between the two routers. */
  link: string;
  /**
   * The topology whose apply made this object (`file /abs/path`, `dir /abs/path`,
   * `topology NAME`, `api`): `apply --prune` of that topology removes only what
   * it owns. Absent: made by a command, or before vpcctl recorded owners (then
   * never pruned).
   */
  owner?: string;
}

/** The saved intent: VPCs, peerings and the facts vpcctl must remember. */
export interface State {
  version: typeof STATE_VERSION;
  transitPool: string;
  /** net.ipv4.ip_forward on the host before the first VPC, restored after the last. */
  hostForwardBefore?: string;
  /** net.ipv6.conf.all.forwarding on the host before the first dual-stack VPC with a gateway, restored after the last. */
  hostForward6Before?: string;
  vpcs: Record<string, VpcState>;
  peerings: PeeringState[];
  /** Namespaces a run was changing when it stopped; the next run rebuilds them. */
  pending: string[];
  /** Bumped by every write: tells whether anything changed since a given moment. */
  revision?: number;
  /**
   * The last topology applied, as the fingerprint (fingerprint.ts) of the JSON text of the
   * document given (`digest`), to answer a re-apply of the same document,
   * with nothing written since (`revision`), without re-validating and
   * re-planning it. A digest, not the text: the text was a second copy of
   * every subnet and policy (a quarter of the state at 500 subnets), read and
   * written by every command. Files written before carried `document`
   * instead; without `digest` a re-apply simply takes the normal path once.
   */
  lastApply?: { digest?: string; prune: boolean; revision: number };
  /**
   * What the executor learnt of each namespace's nftables ruleset right after
   * the last plan that changed it there ("" is the host): handed back to
   * `verify`, which then confirms an untouched ruleset without listing it.
   * Optional: without a mark a table is compared by content.
   */
  nftMarks?: NftMarks;
}

/** Opaque to vpcctl: the native ExecuteResult's `nft` entry for a namespace (its nftables generation id). */
export interface NftMark { gen: number; digest?: string }
export type NftMarks = Record<string, NftMark>;

export const DEFAULT_TRANSIT_POOL = '100.64.0.0/16';

export const emptyState = (transitPool = DEFAULT_TRANSIT_POOL): State => ({
  version: STATE_VERSION,
  transitPool,
  vpcs: {},
  peerings: [],
  pending: [],
});
