/**
 * What a change does to the objects a person names (VPCs, subnets, peerings,
 * policies, published ports, apps), as opposed to the kernel operations of
 * the plan: `+` create, `-` delete, `~` change with each attribute before
 * and after. Computed from the same two states the planner diffs (the
 * current one and the merge the command produced), so a plan shown by
 * `apply --dry-run` is what `apply` then does. Pure: no I/O.
 */
import type { PolicyRule, SubnetPolicy } from '../model/schema.js';
import { pairKey } from '../model/peering.js';
import { policyMeaning } from '../model/policy-meaning.js';
import type { PeeringState, State, SubnetState, VpcState } from '../state/types.js';

/** One object the change creates, deletes or changes. */
export interface DiffItem {
  /** `create` (`+`), `delete` (`-`) or `change` (`~`). */
  action: 'create' | 'delete' | 'change';
  kind: 'vpc' | 'subnet' | 'peering';
  /** `shop`, `shop/web`, `shop <-> analytics`. */
  name: string;
  /** For a change: each attribute that differs, before and after (absent values as null). */
  attributes?: AttributeChange[];
  /** For a change of a subnet's policy: its rules, as text, added and removed. */
  policy?: { added: string[]; removed: string[] };
}

/** One attribute of a changed object, before and after. */
export interface AttributeChange {
  attribute: string;
  before: string | null;
  after: string | null;
}

/** An object a prune left alone, and why. */
export interface KeptItem {
  kind: 'vpc' | 'subnet' | 'peering';
  name: string;
  reason: string;
}

/** An app the change starts or stops. */
export interface AppChange {
  vpc: string;
  subnet: string;
  port: number;
}

/** A change by object: items (`+`, `-`, `~`), apps to start and stop, what a prune keeps, repairs, and the counts. */
export interface PlanDiff {
  items: DiffItem[];
  apps: { start: AppChange[]; stop: AppChange[] };
  /** Objects `--prune` did not remove because this topology did not make them. */
  kept: KeptItem[];
  /** Kernel drift the change repairs on the way (`repair subnet shop/web`). */
  repairs: string[];
  summary: { add: number; change: number; delete: number };
}

export const emptyDiff = (): PlanDiff => ({ items: [], apps: { start: [], stop: [] }, kept: [], repairs: [], summary: { add: 0, change: 0, delete: 0 } });

/** A rule as a person reads it: `ingress allow tcp 80,443 from 10.0.0.0/8`. */
export function ruleText(direction: 'ingress' | 'egress', r: PolicyRule): string {
  const ports = r.port === undefined ? '' : ` ${(Array.isArray(r.port) ? r.port : [r.port]).join(',')}`;
  const cidrs = r.cidr === undefined ? 'any' : (Array.isArray(r.cidr) ? r.cidr : [r.cidr]).join(',');
  return `${direction} ${r.action} ${r.protocol}${ports} ${direction === 'ingress' ? 'from' : 'to'} ${cidrs}`;
}

const policyLines = (p: SubnetPolicy | undefined): string[] => p
  ? [...p.ingress.map((r) => ruleText('ingress', r)), ...p.egress.map((r) => ruleText('egress', r)), `default ${p.default}`]
  : [];

const publishText = (s: SubnetState) =>
  (s.publish ?? []).map((p) => `${p.address}:${p.hostPort}/${p.protocol}->${p.port}`).sort().join(', ') || null;

function subnetChanges(before: SubnetState, after: SubnetState): Pick<DiffItem, 'attributes' | 'policy'> {
  const attributes: AttributeChange[] = [];
  const attr = (attribute: string, b: string | null, a: string | null) => { if (b !== a) attributes.push({ attribute, before: b, after: a }); };
  attr('cidr', before.cidr ?? null, after.cidr ?? null);
  attr('ipv6Cidr', before.ipv6Cidr ?? null, after.ipv6Cidr ?? null);
  attr('type', before.type, after.type);
  if (before.type === 'private' || after.type === 'private') attr('egress', before.egress ?? 'none', after.egress ?? 'none');
  attr('publish', publishText(before), publishText(after));
  const out: Pick<DiffItem, 'attributes' | 'policy'> = {};
  if (policyMeaning(before.policy) !== policyMeaning(after.policy)) {
    const was = policyLines(before.policy);
    const will = policyLines(after.policy);
    attributes.push({ attribute: 'policy', before: before.policy ? 'set' : null, after: after.policy ? 'set' : null });
    out.policy = { added: will.filter((l) => !was.includes(l)), removed: was.filter((l) => !will.includes(l)) };
  }
  if (attributes.length > 0) out.attributes = attributes;
  return out;
}

const vpcAttributes = (before: VpcState, after: VpcState): AttributeChange[] => {
  const out: AttributeChange[] = [];
  if (before.cidr !== after.cidr) out.push({ attribute: 'cidr', before: before.cidr, after: after.cidr });
  if (before.uplink !== after.uplink) out.push({ attribute: 'uplink', before: before.uplink, after: after.uplink });
  return out;
};

const peeringName = (p: PeeringState) => `${p.vpc1} <-> ${p.vpc2}`;
const appsOf = (vpc: string, s: SubnetState): AppChange[] => s.apps.map((a) => ({ vpc, subnet: s.name, port: a.port }));

/**
 * The object-level difference from `current` to `desired`. Subnets of a VPC
 * that is created or deleted are listed too (each is an object a person
 * made); apps in subnets that go are stopped with them. `start` (apps a
 * topology names that do not run) is the caller's: only it knows.
 */
export function diffStates(current: State, desired: State): PlanDiff {
  const diff = emptyDiff();
  const { items } = diff;
  for (const cur of Object.values(current.vpcs)) {
    if (desired.vpcs[cur.name]) continue;
    items.push({ action: 'delete', kind: 'vpc', name: cur.name });
    for (const s of Object.values(cur.subnets)) {
      items.push({ action: 'delete', kind: 'subnet', name: `${cur.name}/${s.name}` });
      diff.apps.stop.push(...appsOf(cur.name, s));
    }
  }
  for (const des of Object.values(desired.vpcs)) {
    const cur = current.vpcs[des.name];
    if (!cur) {
      items.push({ action: 'create', kind: 'vpc', name: des.name });
      for (const s of Object.values(des.subnets)) items.push({ action: 'create', kind: 'subnet', name: `${des.name}/${s.name}` });
      continue;
    }
    const attributes = vpcAttributes(cur, des);
    if (attributes.length > 0) items.push({ action: 'change', kind: 'vpc', name: des.name, attributes });
    for (const d of Object.values(des.subnets)) {
      const s = cur.subnets[d.name];
      if (!s) { items.push({ action: 'create', kind: 'subnet', name: `${des.name}/${d.name}` }); continue; }
      const change = subnetChanges(s, d);
      if (change.attributes) items.push({ action: 'change', kind: 'subnet', name: `${des.name}/${d.name}`, ...change });
    }
    for (const s of Object.values(cur.subnets)) {
      if (des.subnets[s.name]) continue;
      items.push({ action: 'delete', kind: 'subnet', name: `${des.name}/${s.name}` });
      diff.apps.stop.push(...appsOf(des.name, s));
    }
  }
  const before = new Map(current.peerings.map((p) => [pairKey(p), p]));
  const after = new Map(desired.peerings.map((p) => [pairKey(p), p]));
  for (const [key, p] of before) if (!after.has(key)) items.push({ action: 'delete', kind: 'peering', name: peeringName(p) });
  for (const [key, p] of after) if (!before.has(key)) items.push({ action: 'create', kind: 'peering', name: peeringName(p) });
  return summarize(diff);
}

/** Recount the summary line's numbers from the items. */
export function summarize(diff: PlanDiff): PlanDiff {
  const count = (a: DiffItem['action']) => diff.items.filter((i) => i.action === a).length;
  diff.summary = { add: count('create'), change: count('change'), delete: count('delete') };
  return diff;
}

const SIGN = { create: '+', delete: '-', change: '~' } as const;

/** The plan as lines: `+ vpc shop`, `~ subnet shop/web: type private -> public`, policy rules beneath, the summary last. */
export function diffLines(diff: PlanDiff): string[] {
  const lines: string[] = [];
  for (const i of diff.items) {
    // A policy changed in place is its rules (below); set or removed, it reads like any attribute.
    const attrs = (i.attributes ?? []).map((a) => (a.attribute === 'policy' && a.before && a.after
      ? 'policy' : `${a.attribute} ${a.before ?? '(none)'} -> ${a.after ?? '(none)'}`));
    lines.push(`${SIGN[i.action]} ${i.kind} ${i.name}${attrs.length ? `: ${attrs.join(', ')}` : ''}`);
    for (const r of i.policy?.removed ?? []) lines.push(`    - ${r}`);
    for (const r of i.policy?.added ?? []) lines.push(`    + ${r}`);
  }
  for (const a of diff.apps.start) lines.push(`+ app ${a.vpc}/${a.subnet}:${a.port} (start)`);
  for (const a of diff.apps.stop) lines.push(`- app ${a.vpc}/${a.subnet}:${a.port} (stop)`);
  for (const r of diff.repairs) lines.push(`~ ${r}`);
  for (const k of diff.kept) lines.push(`  kept ${k.kind} ${k.name}: ${k.reason}`);
  const { add, change, delete: del } = diff.summary;
  lines.push(`${add} to add, ${change} to change, ${del} to delete`);
  return lines;
}
