/**
 * The one definition of vpcctl's input documents (topology file and security
 * policy): the TypeScript types, runtime validation and the published JSON
 * Schema all come from these zod schemas. Only shape and per-value checks live
 * here; cross-object rules (overlaps, uniqueness, references) are in validate.ts.
 */
import { z } from 'zod';
import { VpcctlError, issuesError, type ErrorCode } from '../errors.js';
import { parseCidr } from './cidr.js';
import { isV6Text, parseCidr6 } from './cidr6.js';
import { NAME_RE, validateName, type NameKind } from './names.js';
import { PORTS, PORTS_TEXT, parsePortRange } from './ports.js';

import type { PortSpec } from './ports.js';

export type { PortSpec } from './ports.js';
export { portRangesOf } from './ports.js';

const messageOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};

// --- Leaf values --------------------------------------------------------------

/** A CIDR string, checked by cidr.ts so messages match the CLI's. */
const CidrString = z
  .string()
  .superRefine((text, ctx) => {
    const message = messageOf(() => parseCidr(text));
    if (message) ctx.addIssue({ code: 'custom', message, input: text });
  })
  .meta({ description: 'IPv4 CIDR block, host bits clear', examples: ['10.0.1.0/24'], pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$' });

/** An IPv6 CIDR string in canonical form, checked by cidr6.ts. */
const Cidr6String = z
  .string()
  .superRefine((text, ctx) => {
    const message = messageOf(() => parseCidr6(text));
    if (message) ctx.addIssue({ code: 'custom', message, input: text });
  })
  .meta({ description: 'IPv6 CIDR block in canonical form (RFC 5952), host bits clear', examples: ['fd00:10::/56', 'fd00:10::/64'] });

/** A policy rule's peer range: either family. */
const AnyCidrString = z
  .string()
  .superRefine((text, ctx) => {
    const message = messageOf(() => (isV6Text(text) ? parseCidr6(text) : parseCidr(text)));
    if (message) ctx.addIssue({ code: 'custom', message, input: text });
  })
  .meta({ description: 'IPv4 or IPv6 CIDR block, host bits clear', examples: ['10.0.1.0/24', 'fd00:10::/56'] });

/** A policy's subnet: its IPv4 CIDR, or the /64 of an IPv6-only subnet. */
const SubnetBlockString = AnyCidrString.meta({
  description: "the subnet's IPv4 CIDR (an IPv6-only subnet's: its IPv6 /64)", examples: ['10.0.1.0/24', 'fd00:10::/64'],
});

const nameString = (kind: NameKind) =>
  z.string().regex(NAME_RE, { error: (iss) => messageOf(() => validateName(kind, String(iss.input))) });

const portError = (iss: { input?: unknown }) => `${String(iss.input)} is not a port (use ${PORTS_TEXT})`;
const PortNumber = z.number().int({ error: portError }).min(PORTS.min, { error: portError }).max(PORTS.max, { error: portError });

const PortRangeString = z
  .string()
  .superRefine((text, ctx) => {
    if (!parsePortRange(text)) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a port range (use "lo-hi" within ${PORTS_TEXT}, lo <= hi)`, input: text });
    }
  })
  .meta({ pattern: '^\\d{1,5}(-\\d{1,5})?$', examples: ['8000-8100'] });

const PortItem = z.union([PortNumber, PortRangeString]);
const PortSpecSchema = z.union([PortItem, z.array(PortItem).min(1)]).meta({
  description: 'a port, a range "lo-hi", or a list of those',
  examples: [80, '8000-8100', [80, 443]],
});


// --- Policy -----------------------------------------------------------------

export const PROTOCOLS = ['tcp', 'udp', 'icmp', 'all'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

const RuleSchema = z
  .strictObject({
    port: PortSpecSchema.optional(),
    protocol: z.enum(PROTOCOLS).optional().meta({ description: 'default: tcp when a port is given, else all' }),
    action: z.enum(['allow', 'deny']),
    cidr: z
      .union([AnyCidrString, z.array(AnyCidrString).min(1)])
      .optional()
      .meta({ description: 'peer range(s): source for ingress, destination for egress' }),
  })
  .superRefine((rule, ctx) => {
    if (rule.port !== undefined && (rule.protocol === 'icmp' || rule.protocol === 'all')) {
      ctx.addIssue({
        code: 'custom',
        path: ['port'],
        message: `a port needs protocol tcp or udp, not ${rule.protocol}`,
        input: rule.port,
      });
    }
  })
  // Filling the protocol here means every consumer sees the effective one.
  .transform((rule) => ({ ...rule, protocol: rule.protocol ?? (rule.port !== undefined ? 'tcp' : 'all') }) as PolicyRule);

/** A policy rule once checked: `protocol` filled in. */
export interface PolicyRule {
  port?: PortSpec;
  protocol: Protocol;
  action: 'allow' | 'deny';
  cidr?: string | string[];
}

const policyFields = {
  ingress: z.array(RuleSchema).default([]),
  egress: z.array(RuleSchema).default([]),
  default: z.enum(['allow', 'deny']).default('allow').meta({ description: 'verdict when no rule matches' }),
};

/** A policy document for apply-policy: names its subnet by CIDR. */
export const PolicySchema = z.strictObject({ subnet: SubnetBlockString, ...policyFields });
/** A policy inside a topology subnet: the subnet is implied. */
export const SubnetPolicySchema = z.strictObject({ subnet: SubnetBlockString.optional(), ...policyFields });

export type Policy = z.output<typeof PolicySchema>;
/** A policy once checked, as the state keeps it (`subnet` optional). */
export type SubnetPolicy = z.output<typeof SubnetPolicySchema>;

// --- Topology -----------------------------------------------------------------

const AppSchema = z.strictObject({
  port: PortNumber,
  command: z
    .union([z.array(z.string()).min(1), z.string().min(1)])
    .optional()
    .meta({ description: 'argv, or a command line run by /bin/sh; default: a tiny HTTP server' }),
  user: z.string().min(1).optional(),
});

const PublishSchema = z.strictObject({
  port: PortNumber.meta({ description: "the port of the subnet's host" }),
  hostPort: PortNumber.meta({ description: 'the port on the host; the same hostPort on several subnets of a VPC spreads connections over them' }),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
  address: z.ipv4({ error: (iss) => `${JSON.stringify(iss.input)} is not an IPv4 address` }).optional()
    .meta({ description: "the host address it is reached at; default: the uplink's address" }),
});

const SubnetSchema = z.strictObject({
  name: nameString('subnet'),
  cidr: CidrString.optional()
    .meta({ description: "the subnet's IPv4 block inside the vpc's cidr; omitted in a dual-stack vpc: an IPv6-only subnet" }),
  ipv6Cidr: Cidr6String.optional()
    .meta({ description: "the subnet's IPv6 /64 inside the vpc's ipv6Cidr; default in a dual-stack vpc: the next free /64" }),
  type: z.enum(['public', 'private']),
  egress: z.enum(['nat', 'none']).optional()
    .meta({ description: 'private subnets: nat reaches the internet through the VPC\'s NAT gateway (outbound only); default none' }),
  policy: SubnetPolicySchema.optional(),
  publish: z.array(PublishSchema).optional(),
  apps: z.array(AppSchema).default([]),
  host: z
    .string()
    .regex(NAME_RE, { error: (iss) => `${JSON.stringify(iss.input)} is not a host name (a-z, 0-9, '-')` })
    .optional()
    .meta({ description: 'cluster host that runs the subnet; default: spread over live hosts (ignored without a cluster)' }),
});

const VpcSchema = z.strictObject({
  name: nameString('vpc'),
  cidr: CidrString,
  ipv6Cidr: Cidr6String.optional()
    .meta({ description: 'makes the vpc dual-stack: its IPv6 prefix, /44 to /60. A unique-local one (fd00:10::/56) reaches the internet by NAT66; a global one (2000::/3, a prefix routed to this host) is routed, no NAT66' }),
  ipv6: z.boolean().optional()
    .meta({ description: "dual-stack with a /56 of fd00::/8 derived from the vpc's name (stable); ignored when ipv6Cidr is given" }),
  uplink: z
    .string()
    .regex(/^[^\s/:]{1,15}$/, { error: (iss) => `${JSON.stringify(iss.input)} is not an interface name` })
    .optional()
    .meta({ description: "host interface for internet traffic; default: the default route's" }),
  flowLogs: z.boolean().optional()
    .meta({ description: 'log each new connection every subnet policy decides (vpcctl flow-logs); default false' }),
  subnets: z.array(SubnetSchema).default([]),
});

const PeeringSchema = z.strictObject({ vpc1: nameString('vpc'), vpc2: nameString('vpc') });

export const TopologySchema = z.strictObject({
  $schema: z.string().optional(),
  name: nameString('topology').optional()
    .meta({ description: 'names the topology: what its apply makes is recorded as its own (wherever the file is), and `apply --prune` removes only that; default: the file\'s path' }),
  vpcs: z.array(VpcSchema),
  peerings: z.array(PeeringSchema).default([]),
});

/** A topology document once checked, defaults filled in. */
export type Topology = z.output<typeof TopologySchema>;
/**
 * A topology document as a person or program writes it (defaults may be
 * left out): what `Vpcctl.apply` and `destroy` take, checked at compile
 * time (a misspelt field fails to compile) and again at run time.
 */
export type TopologyInput = z.input<typeof TopologySchema>;
/** A security policy as written: what `Vpcctl.applyPolicy` takes (`subnet` may be left out). */
export type PolicyInput = z.input<typeof SubnetPolicySchema>;
/** One rule of a policy as written (`protocol` defaults to tcp with a port, else all). */
export type PolicyRuleInput = z.input<typeof RuleSchema>;
export type VpcSpec = Topology['vpcs'][number];
export type SubnetSpec = VpcSpec['subnets'][number];
export type AppSpec = SubnetSpec['apps'][number];
export type PublishSpec = NonNullable<SubnetSpec['publish']>[number];
export type PeeringSpec = Topology['peerings'][number];

// --- Issues -> one clear error -------------------------------------------------

type Issue = z.core.$ZodIssue;

/** `vpcs[0].subnets[1].cidr` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/** "null", "array", or the type and value of a scalar: enough to spot the mistake. */
const describeValue = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;

/** An issue meaning "this branch is for another type" (not "right type, bad content"). */
function isTypeMismatch(issue: Issue): boolean {
  if (issue.path.length > 0) return false;
  if (issue.code === 'invalid_type') return issue.expected !== 'int'; // zod reports non-integers as a type
  if (issue.code === 'invalid_union') return issue.errors.every((b) => b.some(isTypeMismatch));
  return false;
}

const expectedTypes = (issue: Issue): string[] =>
  issue.code === 'invalid_type' ? [issue.expected] : issue.code === 'invalid_union' ? issue.errors.flat().flatMap(expectedTypes) : [];

/**
 * A union reports every branch. The interesting one is a branch whose type
 * matched but whose content was wrong; report that instead of "no match".
 */
export function describeIssue(issue: Issue, label: string, prefix: readonly PropertyKey[] = []): string {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union') {
    for (const branch of issue.errors) {
      const deep = branch.find((i) => !isTypeMismatch(i));
      if (deep) return describeIssue(deep, label, path);
    }
  }
  const where = path.length > 0 ? formatPath(path) : label;
  // A missing field shows up as a type or enum mismatch on `undefined`.
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) return `${where}: is required`;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'int') return `${where}: ${issue.message}`;
      return `${where}: expected ${issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_union':
      return `${where}: expected ${[...new Set(expectedTypes(issue))].join(' or ')}, got ${describeValue(issue.input)}`;
    case 'unrecognized_keys':
      return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_value':
      return `${where}: ${JSON.stringify(issue.input)} is not one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'string' ? `${where}: must not be empty` : `${where}: ${issue.message}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, code: ErrorCode, label: string): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  // Every problem, not only the first: a file is fixed in one round.
  const lines = [...new Set(result.error.issues.map((i) => describeIssue(i, label)))];
  throw issuesError(code, lines);
}

/** Shape-check a topology document (already read from JSON/YAML). */
export function parseTopology(value: unknown): Topology {
  return parseWith(TopologySchema, value, 'INVALID_INPUT', 'topology');
}

/** Shape-check an apply-policy document. */
export function parsePolicy(value: unknown): Policy {
  return parseWith(PolicySchema, value, 'INVALID_POLICY', 'policy');
}

/** Shape-check a policy whose subnet is named elsewhere (a flag, the API); `subnet` may be omitted. */
export function parseSubnetPolicy(value: unknown): SubnetPolicy {
  return parseWith(SubnetPolicySchema, value, 'INVALID_POLICY', 'policy');
}

// --- JSON Schema -----------------------------------------------------------------

/** JSON Schema of the topology file as users write it (defaults optional). */
export function topologyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(TopologySchema, { io: 'input', target: 'draft-2020-12' }),
    title: 'vpcctl topology',
  };
}
