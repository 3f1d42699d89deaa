/**
 * The shape of state.json, checked when a state file was not sealed by
 * vpcctl itself (seal.ts): edited by hand, damaged, or written by another
 * version. Objects are loose: a field this version does not know is kept,
 * not refused, so a newer state field never makes an older check fail.
 * What is checked is what the code relies on: types, names usable in
 * namespace names, CIDRs that parse, map keys equal to the names inside.
 */
import { z } from 'zod';
import { parseCidr } from '../model/cidr.js';
import { parseCidr6 } from '../model/cidr6.js';
import { NAME_RE } from '../model/names.js';
import { PORTS } from '../model/ports.js';
import { SubnetPolicySchema, describeIssue } from '../model/schema.js';
import { STATE_VERSION, type State } from './types.js';

const cidr = z.string().refine((text) => {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}, { error: (iss) => `${JSON.stringify(iss.input)} is not a CIDR` });

const cidr6 = z.string().refine((text) => {
  try {
    parseCidr6(text);
    return true;
  } catch {
    return false;
  }
}, { error: (iss) => `${JSON.stringify(iss.input)} is not an IPv6 CIDR` });

const name = z.string().regex(NAME_RE, { error: (iss) => `${JSON.stringify(iss.input)} is not a valid vpcctl name` });
const count = z.number().int().nonnegative();

const AppStateSchema = z.looseObject({
  port: z.number().int().min(PORTS.min).max(PORTS.max),
  pid: z.number().int().positive(),
  command: z.array(z.string()),
  user: z.string(),
  logFile: z.string(),
  startedAt: z.string(),
});

const SubnetStateSchema = z.looseObject({
  name,
  // Absent: an IPv6-only subnet, which has its /64 then (checked below).
  cidr: cidr.optional(),
  ipv6Cidr: cidr6.optional(),
  type: z.enum(['public', 'private']),
  policy: SubnetPolicySchema.optional(),
  egress: z.literal('nat').optional(),
  publish: z.array(z.looseObject({
    port: z.number().int().min(PORTS.min).max(PORTS.max),
    hostPort: z.number().int().min(PORTS.min).max(PORTS.max),
    protocol: z.enum(['tcp', 'udp']),
    address: z.ipv4(),
  })).optional(),
  apps: z.array(AppStateSchema),
  owner: z.string().optional(),
}).superRefine((s, ctx) => {
  if (s.cidr === undefined && s.ipv6Cidr === undefined) ctx.addIssue({ code: 'custom', path: ['cidr'], message: 'is required (or ipv6Cidr, for an IPv6-only subnet)' });
});

/** A record whose keys are the names of its values (the code looks objects up by key, then uses .name). */
const keyedByName = <T extends z.ZodType<{ name: string }>>(value: T) =>
  z.record(z.string(), value).superRefine((map, ctx) => {
    for (const [key, v] of Object.entries(map)) {
      if (v.name !== key) ctx.addIssue({ code: 'custom', path: [key, 'name'], message: `is "${v.name}", but its key is "${key}"` });
    }
  });

const VpcStateSchema = z.looseObject({
  name,
  cidr,
  ipv6Cidr: cidr6.optional(),
  uplink: z.string().nullable(),
  transit: cidr.nullable(),
  subnets: keyedByName(SubnetStateSchema),
  overlay: z.looseObject({
    vni: z.number().int().min(1).max(0xffffff),
    local: z.ipv4(),
    dev: z.string().min(1),
    address: cidr,
    mac: z.string(),
    mtu: z.number().int().min(68).max(65535),
    peers: z.array(z.looseObject({
      host: name, underlay: z.ipv4(), address: z.ipv4(), mac: z.string(), subnets: z.array(cidr),
    })),
  }).optional(),
  owner: z.string().optional(),
  flowLogs: z.literal(true).optional(),
});

export const StateSchema = z.looseObject({
  version: z.literal(STATE_VERSION),
  transitPool: cidr,
  hostForwardBefore: z.string().optional(),
  hostForward6Before: z.string().optional(),
  vpcs: keyedByName(VpcStateSchema),
  peerings: z.array(z.looseObject({ vpc1: name, vpc2: name, link: cidr, owner: z.string().optional() })),
  // Older files may lack it; the store has always read it as empty then.
  pending: z.array(z.string()).default([]),
  revision: count.optional(),
  lastApply: z.looseObject({ digest: z.string().optional(), prune: z.boolean(), revision: count }).optional(),
});

// Compile-time guard: what the schema lets through must be a State. A field
// added to State but not here fails the build instead of going unchecked.
const asState = (s: z.output<typeof StateSchema>): State => s;
void asState;

/** The state in `value`, or a one-line reason why it is not one ("vpcs.a.cidr: expected string, got number"). */
export function checkState(value: unknown): { state: State } | { problem: string } {
  const result = StateSchema.safeParse(value, { reportInput: true });
  if (result.success) return { state: result.data };
  return { problem: describeIssue(result.error.issues[0]!, 'the file') };
}
