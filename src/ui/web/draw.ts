/**
 * The topology as SVG, from the pure layout (../layout.ts) of the same view
 * model `vpcctl graph` uses. Every tile carries data-subnet="vpc/subnet" and
 * every VPC data-vpc="name": the page's clicks and the tests find them so.
 */
import { appsLabel, cidrLabel, typeLabel, vpcLabel } from '../../graph/view.js';
import { igwPath, type Layout } from '../layout.js';
import type { Snapshot } from '../live.js';
import { s } from './dom.js';

const C = {
  vpcFill: '#f7f9fc', vpcStroke: '#3d5a80', pubFill: '#e6f4ea', pubStroke: '#2e7d32',
  privFill: '#e8eef7', privStroke: '#52729c', igwFill: '#fff4d6', igwStroke: '#b7860b', peer: '#8e44ad', ink: '#1f2933', muted: '#5f6b7a',
};

export interface Marks {
  selected?: string | undefined;
  filter?: string | undefined;
  /** The last pair test: its line and colours. */
  pair?: { from: string; to: string; reachable: boolean } | undefined;
}

const text = (x: number, y: number, t: string, a: Record<string, string | number> = {}) =>
  s('text', { x, y, 'font-size': 12, fill: C.ink, ...a }, t);

export function drawTopology(L: Layout, snap: Snapshot, marks: Marks): SVGElement {
  const root = s('g', { id: 'topology' });
  const drift = snap.drift ?? {};
  // The internet, and a line to each gateway.
  const net = L.internet;
  root.append(s('g', { class: 'internet' },
    s('rect', { x: net.x, y: net.y, width: net.w, height: net.h, rx: 22, fill: '#fff', stroke: C.igwStroke }),
    text(net.x + net.w / 2, net.y + 27, 'internet', { 'text-anchor': 'middle', 'font-size': 14 })));
  for (const v of L.vpcs) {
    const d = igwPath(L, v);
    if (d) root.append(s('path', { d, stroke: C.igwStroke, fill: 'none', 'stroke-width': 1.5 }));
  }
  for (const p of L.peerings) {
    root.append(s('path', { d: p.d, stroke: C.peer, fill: 'none', 'stroke-width': 2, 'stroke-dasharray': '6 4', 'data-peering': `${p.vpc1}~${p.vpc2}` },
      s('title', {}, `peering ${p.vpc1} <-> ${p.vpc2}`)));
  }
  const centers = new Map<string, [number, number]>();
  for (const v of L.vpcs) {
    const name = v.vpc.name;
    const g = s('g', { class: `vpc${drift[name] ? ' drift' : ''}`, 'data-vpc': name });
    g.append(s('rect', { x: v.x, y: v.y, width: v.w, height: v.h, rx: 8, fill: C.vpcFill, stroke: C.vpcStroke, 'stroke-width': 1.5 }));
    g.append(text(v.x + 14, v.y + 22, `VPC ${name}`, { 'font-size': 15, 'font-weight': 'bold' }));
    const total = v.counts.public + v.counts.private;
    const nat = v.vpc.subnets.some((x) => x.nat) ? ' · NAT gateway' : '';
    g.append(text(v.x + 14, v.y + 40, `${vpcLabel(v.vpc)} · ${total} subnet${total === 1 ? '' : 's'} (${v.counts.public} public, ${v.counts.private} private)${nat}`, { 'font-size': 11, fill: C.muted }));
    if (drift[name]) g.append(text(v.x + v.w - 12, v.y + 22, '⚠ drift', { 'text-anchor': 'end', fill: '#c0392b', 'font-weight': 'bold' }));
    if (v.igw) {
      g.append(s('rect', { x: v.igw.x, y: v.igw.y, width: v.igw.w, height: v.igw.h, rx: 5, fill: C.igwFill, stroke: C.igwStroke }));
      g.append(text(v.igw.x + v.igw.w / 2, v.igw.y + 18, `IGW · ${v.vpc.uplink}`, { 'text-anchor': 'middle', 'font-size': 11 }));
    }
    for (const t of v.tiles) {
      if (t.kind === 'more') {
        g.append(s('g', { class: 'more', 'data-more': t.vpc },
          s('rect', { x: t.x, y: t.y, width: t.w, height: t.h, rx: 5, fill: '#fff', stroke: C.muted, 'stroke-dasharray': '4 3' }),
          text(t.x + t.w / 2, t.y + t.h / 2 + 4, `+${t.hidden} more`, { 'text-anchor': 'middle', fill: C.muted })));
        continue;
      }
      const key = `${name}/${t.subnet.name}`;
      centers.set(key, [t.x + t.w / 2, t.y + t.h / 2]);
      const pub = t.subnet.type === 'public';
      const apps = snap.apps[key];
      const cls = ['tile'];
      if (marks.selected === key) cls.push('sel');
      if (drift[key]) cls.push('drift');
      if (marks.filter && !key.includes(marks.filter)) cls.push('hidden-by-filter');
      let stroke = pub ? C.pubStroke : C.privStroke;
      if (marks.pair && (marks.pair.to === key || marks.pair.from === key)) {
        cls.push('hit');
        if (marks.pair.to === key) stroke = marks.pair.reachable ? '#2e7d32' : '#c0392b';
        else stroke = '#1565c0';
      }
      const tile = s('g', { class: cls.join(' '), 'data-subnet': key, 'data-type': t.subnet.type },
        s('title', {}, `${key} ${cidrLabel(t.subnet)} ${typeLabel(t.subnet)}${drift[key] ? `\ndrift: ${drift[key]!.join('; ')}` : ''}`),
        s('rect', { x: t.x, y: t.y, width: t.w, height: t.h, rx: 5, fill: pub ? C.pubFill : C.privFill, stroke }));
      if (v.compact) {
        tile.append(text(t.x + 8, t.y + 19, t.subnet.name, { 'font-size': 11 }));
      } else {
        tile.append(text(t.x + 8, t.y + 17, t.subnet.name, { 'font-weight': 'bold' }));
        tile.append(text(t.x + t.w - 8, t.y + 17, typeLabel(t.subnet), { 'text-anchor': 'end', 'font-size': 10, fill: C.muted }));
        tile.append(text(t.x + 8, t.y + 33, t.subnet.cidr ?? t.subnet.ipv6Cidr!, { 'font-size': 11, 'font-family': 'Menlo, Consolas, monospace' }));
        const label = appsLabel(t.subnet);
        if (label) tile.append(text(t.x + 8, t.y + 49, label, { 'font-size': 10, fill: C.muted }));
      }
      if (apps) {
        tile.append(s('circle', { cx: t.x + t.w - 10, cy: t.y + t.h - 10, r: 5, fill: apps.running === apps.total ? '#2ecc71' : '#c0392b' },
          s('title', {}, `${apps.running} of ${apps.total} app(s) running`)));
      }
      g.append(tile);
    }
    root.append(g);
  }
  const a = marks.pair && centers.get(marks.pair.from);
  const b = marks.pair && centers.get(marks.pair.to);
  if (marks.pair && a && b) {
    root.append(s('path', { id: 'pair-line', d: `M ${a[0]} ${a[1]} L ${b[0]} ${b[1]}`, stroke: marks.pair.reachable ? '#2e7d32' : '#c0392b', 'stroke-width': 3, fill: 'none', 'marker-end': 'url(#arrow)', 'pointer-events': 'none' }));
  }
  return root;
}
