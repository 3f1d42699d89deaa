/**
 * A self-contained SVG picture of the topology, laid out by hand so it needs
 * no browser, network or layout engine: the internet on top, VPCs side by
 * side with their gateway on the top edge and subnets stacked inside, peerings
 * as dashed arcs under the VPCs (so they never cross a box), a legend below.
 * Text widths are estimated from character counts; boxes grow to fit.
 */
import { peersOf } from '../model/peering.js';
import { hostNs, routerNs } from '../model/names.js';
import { dnsName } from '../model/dns.js';
import { type SubnetView, type TopologyView, type VpcView, appsLabel, cidrLabel, typeLabel, vpcLabel } from './view.js';

const SANS = "'Segoe UI', Helvetica, Arial, sans-serif";
const MONO = "Menlo, Consolas, 'DejaVu Sans Mono', monospace";
const C = {
  ink: '#1f2933',
  muted: '#5f6b7a',
  vpcFill: '#f7f9fc',
  vpcStroke: '#3d5a80',
  pubFill: '#e6f4ea',
  pubStroke: '#2e7d32',
  privFill: '#e8eef7',
  privStroke: '#52729c',
  igwFill: '#fff4d6',
  igwStroke: '#b7860b',
  peer: '#8e44ad',
};

const MARGIN = 24;
const VPC_TOP = 172;
const VPC_GAP = 56;
const PAD = 16;
const SUBNET_GAP = 10;

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

const n = (v: number): string => String(Math.round(v * 10) / 10);
/** Rough advance width: enough to size boxes so text never spills. */
const textWidth = (s: string, size: number, mono = false): number => s.length * size * (mono ? 0.62 : 0.58);

type Attrs = Record<string, string | number>;
const attrs = (a: Attrs): string =>
  Object.entries(a)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? n(v) : escapeXml(v)}"`)
    .join('');
const rect = (x: number, y: number, w: number, h: number, a: Attrs = {}): string =>
  `<rect${attrs({ x, y, width: w, height: h, ...a })}/>`;
const text = (x: number, y: number, s: string, a: Attrs = {}): string =>
  `<text${attrs({ x, y, 'font-family': SANS, 'font-size': 12, fill: C.ink, ...a })}>${escapeXml(s)}</text>`;
const path = (d: string, a: Attrs): string => `<path${attrs({ d, fill: 'none', ...a })}/>`;

interface SubnetBox {
  subnet: SubnetView;
  vpc: string;
  height: number;
}
interface VpcBox {
  vpc: VpcView;
  x: number;
  width: number;
  height: number;
  headerTop: number;
  subnets: SubnetBox[];
  igwLines: [string, string];
  igwWidth: number;
}

const subnetHeight = (s: SubnetView): number => (appsLabel(s) ? 70 : 52);

function measureVpc(vpc: VpcView, x: number): VpcBox {
  const igwLines: [string, string] = ['internet gateway', `uplink ${vpc.uplink ?? ''}${vpc.transit ? ` · ${vpc.transit}` : ''}`];
  const igwWidth = vpc.uplink === null ? 0 : Math.max(textWidth(igwLines[0], 11) + 20, textWidth(igwLines[1], 10) + 20);
  const widths = [
    220,
    textWidth(`VPC ${vpc.name}`, 15) + 2 * PAD,
    textWidth(`router ${routerNs(vpc.name)}`, 11) + 2 * PAD,
    igwWidth + 2 * PAD,
    ...vpc.subnets.flatMap((s) => [
      textWidth(s.name, 13) + 4 * PAD,
      textWidth(cidrLabel(s), 12, true) + 70 + 4 * PAD, // CIDR plus the type pill
      textWidth(`apps ${appsLabel(s)}`, 11) + 4 * PAD,
    ]),
  ];
  const subnets = vpc.subnets.map((s) => ({ subnet: s, vpc: vpc.name, height: subnetHeight(s) }));
  const headerTop = VPC_TOP + (vpc.uplink === null ? 10 : 30);
  const body = subnets.length ? subnets.reduce((h, s) => h + s.height + SUBNET_GAP, 0) - SUBNET_GAP : 20;
  const height = headerTop - VPC_TOP + 60 + body + PAD;
  return { vpc, x, width: Math.ceil(Math.max(...widths)), height, headerTop, subnets, igwLines, igwWidth };
}

function drawSubnet(s: SubnetBox, x: number, y: number, width: number): string[] {
  const pub = s.subnet.type === 'public';
  const [fill, stroke] = pub ? [C.pubFill, C.pubStroke] : [C.privFill, C.privStroke];
  const pillW = pub ? 50 : s.subnet.nat ? 78 : 56;
  const out = [
    `<g class="subnet ${s.subnet.type}">`,
    `<title>${escapeXml(`subnet ${s.subnet.name} (${s.subnet.type}) · host namespace ${hostNs(s.vpc, s.subnet.name)} · ${dnsName(s.vpc, s.subnet.name)}`)}</title>`,
    rect(x, y, width, s.height, { rx: 6, fill, stroke, 'stroke-width': 1.2 }),
    rect(x, y, 5, s.height, { rx: 2, fill: stroke }),
    text(x + PAD, y + 20, s.subnet.name, { 'font-size': 13, 'font-weight': 'bold' }),
    text(x + PAD, y + 38, cidrLabel(s.subnet), { 'font-family': MONO, 'font-size': 12, fill: C.muted }),
    rect(x + width - pillW - 10, y + 8, pillW, 16, { rx: 8, fill: stroke }),
    text(x + width - pillW / 2 - 10, y + 20, typeLabel(s.subnet), { 'font-size': 10, fill: '#ffffff', 'text-anchor': 'middle' }),
  ];
  if (appsLabel(s.subnet)) out.push(text(x + PAD, y + 57, `apps ${appsLabel(s.subnet)}`, { 'font-size': 11, fill: C.muted }));
  out.push('</g>');
  return out;
}

function drawVpc(b: VpcBox): string[] {
  const out = [
    `<g class="vpc">`,
    `<title>${escapeXml(`VPC ${b.vpc.name} ${b.vpc.cidr} · router namespace ${routerNs(b.vpc.name)}`)}</title>`,
    rect(b.x, VPC_TOP, b.width, b.height, { rx: 10, fill: C.vpcFill, stroke: C.vpcStroke, 'stroke-width': 1.5 }),
    text(b.x + PAD, b.headerTop + 20, `VPC ${b.vpc.name}`, { 'font-size': 15, 'font-weight': 'bold' }),
    text(b.x + PAD, b.headerTop + 38, vpcLabel(b.vpc), { 'font-family': MONO, 'font-size': 12, fill: C.muted }),
    text(b.x + PAD, b.headerTop + 53, `router ${routerNs(b.vpc.name)}`, { 'font-size': 11, fill: C.muted }),
  ];
  let y = b.headerTop + 64;
  if (b.subnets.length === 0) out.push(text(b.x + PAD, y + 14, 'no subnets', { 'font-size': 11, fill: C.muted, 'font-style': 'italic' }));
  for (const s of b.subnets) {
    out.push(...drawSubnet(s, b.x + PAD, y, b.width - 2 * PAD));
    y += s.height + SUBNET_GAP;
  }
  if (b.vpc.uplink !== null) {
    // The gateway straddles the VPC's top edge: half inside, half toward the internet.
    const gx = b.x + (b.width - b.igwWidth) / 2;
    out.push(
      `<g class="igw">`,
      rect(gx, VPC_TOP - 20, b.igwWidth, 40, { rx: 6, fill: C.igwFill, stroke: C.igwStroke, 'stroke-width': 1.2 }),
      text(gx + b.igwWidth / 2, VPC_TOP - 4, b.igwLines[0], { 'font-size': 11, 'font-weight': 'bold', 'text-anchor': 'middle' }),
      text(gx + b.igwWidth / 2, VPC_TOP + 11, b.igwLines[1], { 'font-size': 10, fill: C.muted, 'text-anchor': 'middle' }),
      '</g>',
    );
  }
  out.push('</g>');
  return out;
}

/** Legend items flow left to right and wrap at maxWidth, so a narrow picture stays narrow. */
function drawLegend(x: number, y: number, maxWidth: number): { svg: string[]; width: number; height: number } {
  const items: Array<[string, string]> = [
    ['public', 'public subnet (default route via the gateway)'],
    ['private', 'private subnet (no internet route)'],
    ['igw', 'internet gateway (NAT to the uplink)'],
    ['peer', 'VPC peering'],
  ];
  const out = [`<g class="legend">`];
  let [cx, cy, width] = [x, y, 0];
  for (const [kind, label] of items) {
    const itemWidth = 34 + textWidth(label, 11);
    if (cx > x && cx + itemWidth > x + maxWidth) [cx, cy] = [x, cy + 22];
    if (kind === 'peer') out.push(path(`M${n(cx)},${n(cy + 7)} h26`, { stroke: C.peer, 'stroke-width': 2, 'stroke-dasharray': '6 4' }));
    else {
      const [fill, stroke] = kind === 'public' ? [C.pubFill, C.pubStroke] : kind === 'private' ? [C.privFill, C.privStroke] : [C.igwFill, C.igwStroke];
      out.push(rect(cx, cy, 26, 14, { rx: 3, fill, stroke }));
    }
    out.push(text(cx + 34, cy + 11, label, { 'font-size': 11, fill: C.muted }));
    width = Math.max(width, cx + itemWidth - x);
    cx += itemWidth + 24;
  }
  out.push('</g>');
  return { svg: out, width, height: cy - y + 14 };
}

export function renderSvg(view: TopologyView): string {
  let x = MARGIN;
  const boxes = view.vpcs.map((v) => {
    const b = measureVpc(v, x);
    x += b.width + VPC_GAP;
    return b;
  });
  const contentRight = boxes.length ? x - VPC_GAP : MARGIN + 200;
  const byName = new Map(boxes.map((b) => [b.vpc.name, b]));
  const bottom = Math.max(VPC_TOP + 40, ...boxes.map((b) => VPC_TOP + b.height));

  // Peerings: dashed arcs below the boxes. Shorter spans are shallower, and each
  // VPC orders its anchors far-left ... far-right so arcs nest instead of crossing.
  const peerings = view.peerings.filter((p) => byName.has(p.vpc1) && byName.has(p.vpc2) && p.vpc1 !== p.vpc2);
  const cx = (name: string): number => byName.get(name)!.x;
  const span = (p: { vpc1: string; vpc2: string }): number => Math.abs(cx(p.vpc1) - cx(p.vpc2));
  const anchors = new Map<string, number>(); // "vpc>peer" -> x on the vpc's bottom edge
  for (const b of boxes) {
    const peers = peersOf(peerings, b.vpc.name);
    const left = peers.filter((q) => cx(q) < b.x).sort((q, r) => cx(q) - cx(r));
    const right = peers.filter((q) => cx(q) > b.x).sort((q, r) => cx(r) - cx(q));
    [...left, ...right].forEach((q, k, all) => anchors.set(`${b.vpc.name}>${q}`, b.x + (b.width * (k + 1)) / (all.length + 1)));
  }
  const arcs: string[] = [];
  let arcsBottom = bottom;
  [...peerings].sort((p, q) => span(p) - span(q)).forEach((p, level) => {
    const [x1, y1] = [anchors.get(`${p.vpc1}>${p.vpc2}`)!, VPC_TOP + byName.get(p.vpc1)!.height];
    const [x2, y2] = [anchors.get(`${p.vpc2}>${p.vpc1}`)!, VPC_TOP + byName.get(p.vpc2)!.height];
    const yb = bottom + 40 + 26 * level;
    const midX = (x1 + x2) / 2;
    const midY = (y1 + 6 * yb + y2) / 8; // the curve's point at t = 1/2
    arcsBottom = Math.max(arcsBottom, midY + 8);
    const label = `peering ${p.vpc1} ↔ ${p.vpc2}`;
    const lw = textWidth(label, 10) + 12;
    arcs.push(
      `<g class="peering">`,
      path(`M${n(x1)},${n(y1)} C${n(x1)},${n(yb)} ${n(x2)},${n(yb)} ${n(x2)},${n(y2)}`, {
        stroke: C.peer,
        'stroke-width': 2,
        'stroke-dasharray': '6 4',
      }),
      rect(midX - lw / 2, midY - 8, lw, 16, { rx: 8, fill: '#ffffff', stroke: C.peer, 'stroke-width': 0.8 }),
      text(midX, midY + 4, label, { 'font-size': 10, fill: C.peer, 'text-anchor': 'middle' }),
      '</g>',
    );
  });

  const legendY = arcsBottom + 32;
  const legend = drawLegend(MARGIN, legendY, Math.max(contentRight - MARGIN, 420));
  const subnetCount = view.vpcs.reduce((k, v) => k + v.subnets.length, 0);
  const summary = `${view.vpcs.length} VPC${view.vpcs.length === 1 ? '' : 's'} · ${subnetCount} subnet${subnetCount === 1 ? '' : 's'} · ${peerings.length} peering${peerings.length === 1 ? '' : 's'}`;
  const width = Math.ceil(Math.max(contentRight, MARGIN + legend.width, MARGIN + 360) + MARGIN);
  const height = Math.ceil(legendY + legend.height + MARGIN);

  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg"${attrs({ width, height, viewBox: `0 0 ${width} ${height}` })}>`,
    `<title>vpcctl topology: ${escapeXml(summary)}</title>`,
    rect(0, 0, width, height, { fill: '#ffffff' }),
    text(MARGIN, 30, 'vpcctl topology', { 'font-size': 18, 'font-weight': 'bold' }),
    text(MARGIN, 48, summary, { 'font-size': 12, fill: C.muted }),
  ];

  const gateways = boxes.filter((b) => b.vpc.uplink !== null);
  if (gateways.length) {
    const ix = (MARGIN + contentRight) / 2;
    const iy = 104;
    for (const b of gateways) {
      const gx = b.x + b.width / 2;
      out.push(path(`M${n(ix)},${n(iy)} C${n(ix)},${n(iy + 30)} ${n(gx)},${n(VPC_TOP - 50)} ${n(gx)},${n(VPC_TOP - 20)}`, { stroke: C.igwStroke, 'stroke-width': 1.5 }));
    }
    out.push(
      `<g class="internet">`,
      `<ellipse${attrs({ cx: ix, cy: iy - 18, rx: 70, ry: 20, fill: C.igwFill, stroke: C.igwStroke, 'stroke-width': 1.5 })}/>`,
      text(ix, iy - 13, 'internet', { 'font-size': 14, 'font-weight': 'bold', 'text-anchor': 'middle' }),
      '</g>',
    );
  }
  for (const b of boxes) out.push(...drawVpc(b));
  out.push(...arcs, ...legend.svg, '</svg>');
  return out.join('\n') + '\n';
}
