import type { PolicyInput } from '../model/schema.js';
import type { Egress, SubnetType } from '../state/types.js';

/**
 * What the facade's methods take (api/vpcctl.ts), one object each: the
 * library's public input types, apart from the class that uses them.
 */

/** Options of a Vpcctl: where its state lives, and the default uplink. */
export interface VpcctlOptions {
  /** Where the state lives (default: $VPCCTL_STATE_DIR or /var/lib/vpcctl). */
  stateDir?: string;
  /** Host interface for internet traffic of new VPCs (default: the default route's). */
  uplink?: string;
}

/** A VPC to create; `uplink` defaults to the default route's interface. */
export interface CreateVpcInput {
  name: string; cidr: string; uplink?: string | undefined;
  /**
   * Dual-stack: the VPC's IPv6 prefix (/44 to /60, canonical form). Unique-local (fd00::/8): its
   * internet is NAT66; global (2000::/3, routed to this host by its provider): routed, no NAT66.
   */
  ipv6Cidr?: string | undefined;
  /** Dual-stack with a /56 of fd00::/8 derived from the name (when ipv6Cidr is not given). */
  ipv6?: boolean | undefined;
}
/** A subnet to create; `egress` only for private subnets (`nat`: outbound through the VPC's NAT gateway). */
export interface CreateSubnetInput {
  vpc: string; name: string;
  /** The subnet's IPv4 block. Left out in a dual-stack VPC: an IPv6-only subnet (an error in an IPv4-only one). */
  cidr?: string | undefined;
  type: SubnetType; egress?: Egress | undefined;
  /** The subnet's IPv6 /64 in a dual-stack VPC; default there: the next free /64. */
  ipv6Cidr?: string | undefined;
}
/** Names one VPC. */
export interface VpcRef { name: string }
/** Names one subnet of a VPC. */
export interface SubnetRef { vpc: string; subnet: string }
/** Names two VPCs (in either order). */
export interface PeeringRef { vpc1: string; vpc2: string }
/** A policy for a subnet: `subnet` may be left out when the policy's own `subnet` names the subnet's CIDR. */
export interface ApplyPolicyInput { vpc: string; subnet?: string | undefined; policy: PolicyInput }
