/**
 * Graphviz DOT: `vpcctl graph --format dot | dot -Tpng`. One cluster per VPC
 * (so VPCs are boxes), peerings as dashed edges between routers.
 */
import { hostNs, routerNs } from '../model/names.js';
import { type TopologyView, appsLabel, cidrLabel, typeLabel, vpcLabel } from './view.js';
import { dnsName } from '../model/dns.js';

/** A DOT double-quoted string. */
const q = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

export function renderDot(view: TopologyView): string {
  const out: string[] = [
    'digraph vpcctl {',
    '  graph [rankdir=TB, compound=true, fontname="Helvetica", fontsize=12, nodesep=0.4, ranksep=0.6];',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fillcolor="#ffffff"];',
    '  edge [dir=none, color="#5f6b7a", fontname="Helvetica", fontsize=10];',
  ];
  if (view.vpcs.some((v) => v.uplink !== null)) {
    out.push('  internet [label="internet", shape=ellipse, fillcolor="#fff4d6", color="#b7860b"];');
  }
  const routerOf = new Map<string, string>();
  view.vpcs.forEach((vpc, i) => {
    const v = `v${i}`;
    routerOf.set(vpc.name, `${v}r`);
    out.push(`  subgraph cluster_${v} {`);
    out.push(`    label=${q(`VPC ${vpc.name}\n${vpcLabel(vpc)}`)}; style="rounded"; color="#3d5a80"; bgcolor="#f7f9fc";`);
    out.push(`    ${v}r [label=${q(`router\n${routerNs(vpc.name)}`)}, shape=hexagon, fillcolor="#eceff4"];`);
    if (vpc.uplink !== null) {
      const transit = vpc.transit ? `\ntransit ${vpc.transit}` : '';
      out.push(`    ${v}igw [label=${q(`internet gateway\nuplink ${vpc.uplink}${transit}`)}, shape=invhouse, fillcolor="#fff4d6"];`);
    }
    vpc.subnets.forEach((s, j) => {
      const apps = appsLabel(s) ? `\napps ${appsLabel(s)}` : '';
      const colour = s.type === 'public' ? 'fillcolor="#e6f4ea", color="#2e7d32"' : 'fillcolor="#e8eef7", color="#3d5a80"';
      out.push(`    ${v}s${j} [label=${q(`${s.name}\n${cidrLabel(s)}\n${typeLabel(s)}\n${dnsName(vpc.name, s.name)}${apps}`)}, ${colour}];`);
    });
    out.push('  }');
    if (vpc.uplink !== null) out.push(`  internet -> ${v}igw;`, `  ${v}igw -> ${v}r;`);
    vpc.subnets.forEach((s, j) => out.push(`  ${v}r -> ${v}s${j}${s.type === 'public' ? ' [penwidth=2]' : ''};`));
  });
  for (const p of view.peerings) {
    const a = routerOf.get(p.vpc1);
    const b = routerOf.get(p.vpc2);
    if (a && b) out.push(`  ${a} -> ${b} [style=dashed, label="peering", constraint=false];`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}
