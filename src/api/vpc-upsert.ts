import { VpcctlError } from '../errors.js';
import type { State, VpcState } from '../state/types.js';
import { allocateLink, checkUplink, defaultUplink, type RootView } from './network.js';

/** A VPC as a command or a topology file asks for it (`cidr` normalised). */
export interface VpcAsk {
  name: string;
  cidr: string;
  /** The IPv6 prefix asked for (normalised); absent: IPv4 only. */
  ipv6Cidr?: string | undefined;
  /** The uplink asked for; absent: the VPC's own, or for a new one the default route's. */
  uplink?: string;
}

/**
 * Put the VPC `ask` describes into a draft state, for create-vpc and the
 * topology merge alike. The state's VPC of that name is kept as it is when
 * its CIDR is the same and no other uplink is asked for (`made: false`).
 * Otherwise a different one is a CONFLICT, unless `replace` (a topology
 * changing it): then it is made anew, keeping its subnets, with the uplink
 * asked for (checked; `uplinkAt` names where it was given) or the default
 * route's, and a transit link when it has an uplink.
 */
export async function upsertVpc(
  state: State, ask: VpcAsk, root: RootView, opts: { replace?: boolean; uplinkAt?: string } = {},
): Promise<{ vpc: VpcState; made: boolean }> {
  const old = state.vpcs[ask.name];
  if (old && old.cidr === ask.cidr && old.ipv6Cidr === ask.ipv6Cidr && (ask.uplink === undefined || ask.uplink === old.uplink)) return { vpc: old, made: false };
  if (old && !opts.replace) {
    throw new VpcctlError('CONFLICT', `vpc "${ask.name}" already exists with cidr ${old.cidr}${old.ipv6Cidr ? ` and IPv6 cidr ${old.ipv6Cidr}` : ''}${old.uplink ? ` and uplink ${old.uplink}` : ''}`);
  }
  if (ask.uplink) {
    try {
      await checkUplink(ask.uplink, root);
    } catch (e) {
      if (opts.uplinkAt && e instanceof VpcctlError) throw new VpcctlError(e.code, `${opts.uplinkAt}: ${e.message}`);
      throw e;
    }
  }
  const uplink = ask.uplink ?? (await defaultUplink(root));
  // The replaced VPC's transit link is free for its successor (and the new entry goes last, as a new key does).
  delete state.vpcs[ask.name];
  const vpc: VpcState = {
    name: ask.name, cidr: ask.cidr, ...(ask.ipv6Cidr ? { ipv6Cidr: ask.ipv6Cidr } : {}), uplink, transit: null, subnets: old?.subnets ?? {},
  };
  if (uplink) vpc.transit = await allocateLink(state, root);
  state.vpcs[ask.name] = vpc;
  return { vpc, made: true };
}
