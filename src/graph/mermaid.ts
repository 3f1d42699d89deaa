/**
 * Mermaid flowchart: pastes into GitHub/GitLab markdown and renders there.
 * Node ids are positional (v0, v0s1) because names may contain '-', which
 * Mermaid ids do not reliably accept; names appear only in quoted labels.
 */
import { hostNs, routerNs } from '../model/names.js';
import { dnsName } from '../model/dns.js';
import { type TopologyView, appsLabel, cidrLabel, typeLabel, vpcLabel } from './view.js';

/** Mermaid labels are HTML-ish: entity-escape what would end the string or open a tag. */
const label = (text: string): string =>
  text.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

export function renderMermaid(view: TopologyView): string {
  const out: string[] = ['flowchart TB'];
  const hasInternet = view.vpcs.some((v) => v.uplink !== null);
  if (hasInternet) out.push('  internet(("internet"))');
  const routerOf = new Map<string, string>();

  view.vpcs.forEach((vpc, i) => {
    const v = `v${i}`;
    routerOf.set(vpc.name, `${v}r`);
    out.push(`  subgraph ${v}["${label(`VPC ${vpc.name} · ${vpcLabel(vpc)}`)}"]`, '    direction TB');
    out.push(`    ${v}r{{"${label(`router ${routerNs(vpc.name)}`)}"}}`);
    if (vpc.uplink !== null) {
      const transit = vpc.transit ? `<br/>transit ${label(vpc.transit)}` : '';
      out.push(`    ${v}igw[/"internet gateway<br/>uplink ${label(vpc.uplink)}${transit}"\\]`);
    }
    vpc.subnets.forEach((s, j) => {
      const apps = appsLabel(s) ? `<br/>apps ${label(appsLabel(s))}` : '';
      out.push(`    ${v}s${j}["<b>${label(s.name)}</b><br/>${label(cidrLabel(s))}<br/>${typeLabel(s)}<br/>${label(dnsName(vpc.name, s.name))}${apps}"]:::${s.type}`);
    });
    out.push('  end');
    if (vpc.uplink !== null) out.push(`  internet --- ${v}igw`, `  ${v}igw --- ${v}r`);
    // Only public subnets reach the gateway; private ones hang off the router alone.
    vpc.subnets.forEach((s, j) => out.push(`  ${v}r ${s.type === 'public' ? '===' : '---'} ${v}s${j}`));
  });

  for (const p of view.peerings) {
    const a = routerOf.get(p.vpc1);
    const b = routerOf.get(p.vpc2);
    if (a && b) out.push(`  ${a} -. peering .- ${b}`);
  }
  out.push(
    '  classDef public fill:#e6f4ea,stroke:#2e7d32,color:#1b3d1f',
    '  classDef private fill:#e8eef7,stroke:#3d5a80,color:#1c2b3f',
  );
  return out.join('\n') + '\n';
}
