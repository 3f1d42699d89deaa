/**
 * Address ranges no VPC or subnet may use, whatever the host has: packets
 * to or from them are never forwarded as unicast (RFC 6890), so a subnet
 * there would half work at best, and the kernel refuses some of it late
 * (exit 1 from the executor) where validation should say so first (exit 2).
 */
import { VpcctlError } from '../errors.js';
import { type Cidr, formatCidr, overlaps, parseCidr } from './cidr.js';

export interface SpecialRange {
  cidr: Cidr;
  /** What it is, as the message says it. */
  name: string;
}

export const SPECIAL_RANGES: readonly SpecialRange[] = [
  { cidr: parseCidr('0.0.0.0/8'), name: '"this network" 0.0.0.0/8' },
  { cidr: parseCidr('127.0.0.0/8'), name: 'loopback 127.0.0.0/8' },
  { cidr: parseCidr('169.254.0.0/16'), name: 'link-local 169.254.0.0/16' },
  { cidr: parseCidr('224.0.0.0/4'), name: 'multicast 224.0.0.0/4' },
  // Includes the limited broadcast address 255.255.255.255.
  { cidr: parseCidr('240.0.0.0/4'), name: 'reserved (class E and broadcast) 240.0.0.0/4' },
];

/** The special range `cidr` overlaps, if any. */
export function specialRangeOf(cidr: Cidr): SpecialRange | undefined {
  return SPECIAL_RANGES.find((r) => overlaps(r.cidr, cidr));
}

/** Refuse a CIDR in a special range; `what` names the object ("vpc", "subnet"). */
export function checkNotSpecial(cidr: Cidr, what: string): void {
  const r = specialRangeOf(cidr);
  if (r) {
    throw new VpcctlError('INVALID_CIDR', `${what} ${formatCidr(cidr)} overlaps the ${r.name} range, which is not routable: choose another CIDR`);
  }
}
