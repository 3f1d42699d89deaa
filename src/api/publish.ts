/**
 * Published ports (issue 16 §2): a host address and port reach an app in a
 * subnet, or spread over several subnets of a VPC (a load balancer). The
 * state keeps them on the target subnets; the host's table DNATs to the
 * VPC router's transit address and the router DNATs to the targets
 * (src/firewall/root.ts, router.ts). Validation here: what a publish takes
 * on the host (an address and port) must be the host's to give.
 */
import { VpcctlError } from '../errors.js';
import { native } from '../native.js';
import { isOwnLink, type RootNet } from '../model/root-routes.js';
import { ROOT_NS } from '../model/names.js';
import { checkPort } from '../model/ports.js';
import {
  checkPublishable, type Publish, allPublishes, checkPublishes, describePublish, policyWarnings, publishKey, publishesOf,
} from '../model/publish.js';
import type { PublishProtocol, State, VpcState } from '../state/types.js';
import { findSubnet, findVpc } from './lookup.js';
import type { RootView } from './network.js';

/** A port of one or several subnets to publish on the host. */
export interface PublishInput {
  vpc: string;
  /** One target subnet, or `targets` for several. */
  subnet?: string;
  targets?: string[];
  port: number;
  hostPort: number;
  protocol?: PublishProtocol;
  /** A host address; default: the address of the VPC's uplink. */
  address?: string;
}

/** A published port to take away, or some of its targets. */
export interface UnpublishInput {
  vpc: string;
  hostPort: number;
  protocol?: PublishProtocol;
  /** Only take these subnets out of the publish (the others keep it); default: all. */
  targets?: string[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function checkProtocol(protocol: unknown): PublishProtocol {
  if (protocol === undefined) return 'tcp';
  if (protocol !== 'tcp' && protocol !== 'udp') throw new VpcctlError('INVALID_INPUT', `protocol "${String(protocol)}" is invalid: use tcp or udp`);
  return protocol;
}

/** The subnets named by --subnet or --targets, deduplicated, in the order given. */
function targetsOf(input: { subnet?: string; targets?: string[] }): string[] {
  const list = input.targets ?? (input.subnet !== undefined ? [input.subnet] : []);
  if (input.targets && input.subnet !== undefined) throw new VpcctlError('INVALID_INPUT', 'give --subnet or --targets, not both');
  const out = [...new Set(list.map((s) => s.trim()))];
  if (out.length === 0 || out.some((s) => s === '')) throw new VpcctlError('INVALID_INPUT', 'name the subnet to publish: --subnet S or --targets S1,S2');
  return out;
}

/**
 * The host address a publish is reached at: one the host holds, on a link
 * that is neither loopback nor vpcctl's own (its gateway links), so the
 * publish is a door from the host's network, not from a VPC or from itself.
 */
export function hostAddress(net: RootNet, vpc: VpcState, address: string | undefined): string {
  const ownOrLoop = new Set(net.links.filter((l) => l.loopback || isOwnLink(l)).map((l) => l.name));
  const usable = net.addrs.filter((a) => !ownOrLoop.has(a.dev));
  if (address !== undefined) {
    if (!IPV4.test(address)) throw new VpcctlError('INVALID_INPUT', `address "${address}" is not an IPv4 address`);
    if (!usable.some((a) => a.cidr.split('/')[0] === address)) {
      throw new VpcctlError('INVALID_INPUT', `address ${address} is not an address of this host's network links (loopback and vpcctl's gateway links do not count): pass one of ${usable.map((a) => a.cidr.split('/')[0]).join(', ') || '(none)'}`);
    }
    return address;
  }
  const own = vpc.uplink ? usable.find((a) => a.dev === vpc.uplink) : undefined;
  if (!own) throw new VpcctlError('CONFLICT', `vpc "${vpc.name}" has no uplink address to publish on: pass --address`);
  return own.cidr.split('/')[0]!;
}

/**
 * Refuses a host port that a process on the host already listens on (TCP)
 * or holds (UDP), at this address or at any: the DNAT would take its
 * traffic away. Asked of the kernel over sock_diag, holders named.
 */
export async function refuseHostPort(p: Pick<Publish, 'address' | 'hostPort' | 'protocol'>): Promise<void> {
  const n = await native();
  const held = await (p.protocol === 'tcp' ? n.tcpListeners(ROOT_NS, p.hostPort) : n.udpSockets(ROOT_NS, p.hostPort));
  const wild = new Set(['0.0.0.0', '::', p.address, `::ffff:${p.address}`]);
  const hit = held.filter((l) => wild.has(l.addr));
  if (hit.length === 0) return;
  const pids = [...new Set(hit.flatMap((l) => l.pids))];
  const who = pids.length ? `pid ${pids.join(', pid ')}` : `a socket of uid ${hit[0]!.uid}`;
  throw new VpcctlError('IN_USE', `host port ${describePublish(p)} is already in use on the host (${who} on ${hit[0]!.addr}): choose another --host-port`);
}

/** Key of a publish on the host: address, protocol and port. */
const hostKey = (p: Pick<Publish, 'address' | 'hostPort' | 'protocol'>) => `${p.address} ${publishKey(p)}`;

/**
 * The draft-state side of `publish`: sets the publish's entries on exactly
 * its targets (re-publishing the same host port replaces the targets), then
 * checks it against every other publish. Returns the publish and what to
 * warn. The host-port check (a kernel read) is the caller's, and only for a
 * host port not already published.
 */
export async function setPublish(state: State, input: PublishInput, root: RootView): Promise<{ publish: Publish; fresh: boolean; warnings: string[] }> {
  const protocol = checkProtocol(input.protocol);
  checkPort(input.port);
  checkPort(input.hostPort);
  const targets = targetsOf(input);
  const vpc = findVpc(state, input.vpc);
  for (const t of targets) checkPublishable(findSubnet(state, input.vpc, t), vpc.name);
  if (!vpc.transit) throw new VpcctlError('CONFLICT', `vpc "${vpc.name}" has no internet gateway (no uplink): it cannot publish ports`);
  const address = hostAddress(await root(), vpc, input.address);
  const key = publishKey({ protocol, hostPort: input.hostPort });
  const before = new Set(allPublishes(state).map(hostKey));
  for (const s of Object.values(vpc.subnets)) {
    const kept = (s.publish ?? []).filter((e) => publishKey(e) !== key);
    if (targets.includes(s.name)) kept.push({ port: input.port, hostPort: input.hostPort, protocol, address });
    kept.sort((a, b) => a.hostPort - b.hostPort || (a.protocol < b.protocol ? -1 : 1));
    if (kept.length) s.publish = kept;
    else delete s.publish;
  }
  checkPublishes(state);
  const publish = publishesOf(vpc).find((p) => publishKey(p) === key)!;
  return { publish, fresh: !before.has(hostKey(publish)), warnings: policyWarnings(vpc, publish) };
}

/** The draft-state side of `unpublish`: false when nothing was published there. */
export function removePublish(state: State, input: UnpublishInput): boolean {
  const protocol = checkProtocol(input.protocol);
  checkPort(input.hostPort);
  const vpc = findVpc(state, input.vpc);
  const key = publishKey({ protocol, hostPort: input.hostPort });
  const only = input.targets ? new Set(input.targets) : null;
  if (only) for (const t of only) findSubnet(state, input.vpc, t);
  let removed = false;
  for (const s of Object.values(vpc.subnets)) {
    if (only && !only.has(s.name)) continue;
    const kept = (s.publish ?? []).filter((e) => publishKey(e) !== key);
    if (kept.length === (s.publish ?? []).length) continue;
    removed = true;
    if (kept.length) s.publish = kept;
    else delete s.publish;
  }
  return removed;
}
