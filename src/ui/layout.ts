/**
 * Where the dashboard draws each thing: a pure function of the same view
 * model `vpcctl graph` draws from (src/graph/view.ts), run in the browser
 * (bundled into the page) and in unit tests. Unlike graph's SVG, which stacks
 * every subnet in one column, subnets are tiles in a grid per VPC, public
 * ones first, and a VPC with more than `collapseAt` subnets shows that many
 * tiles with a "+N more" tile that expands it: 500 subnets fit a screen.
 */
import type { SubnetView, TopologyView, VpcView } from '../graph/view.js';

export interface Box { x: number; y: number; w: number; h: number }
export type Tile =
  | (Box & { kind: 'subnet'; vpc: string; subnet: SubnetView })
  | (Box & { kind: 'more'; vpc: string; hidden: number });
export interface VpcLayout extends Box {
  vpc: VpcView;
  /** The internet gateway's badge on the VPC's top edge; absent without an uplink. */
  igw?: Box;
  tiles: Tile[];
  counts: { public: number; private: number };
  /** Some subnets are behind the "+N more" tile. */
  collapsed: boolean;
  /** Small tiles (name only): the VPC has many subnets. */
  compact: boolean;
}
export interface Layout {
  width: number;
  height: number;
  internet: Box;
  vpcs: VpcLayout[];
  /** SVG path data per peering, an arc under the two VPCs' boxes. */
  peerings: Array<{ vpc1: string; vpc2: string; d: string }>;
}

export interface LayoutOptions {
  /** Subnets shown before a VPC collapses the rest into "+N more" (default 48). */
  collapseAt?: number;
  /** VPCs shown whole whatever their size. */
  expanded?: ReadonlySet<string>;
  /** Width before VPCs wrap to a new row (default 1400). */
  maxWidth?: number;
}

const MARGIN = 24;
const PAD = 14;
const HEADER = 58;
const GAP = 8;
const VPC_GAP = 40;
const TOP = 120;
const TILE = { w: 176, h: 58 };
const SMALL = { w: 124, h: 30 };
/** From this many subnets on, tiles carry only the subnet's name. */
const COMPACT_FROM = 13;

/** Public subnets first, then private: each group keeps the state's order. */
export function grouped(subnets: SubnetView[]): SubnetView[] {
  return [...subnets.filter((s) => s.type === 'public'), ...subnets.filter((s) => s.type !== 'public')];
}

/** Columns of a VPC's tile grid: roughly square, wider when tiles are small. */
export function columnsFor(count: number, compact: boolean): number {
  const max = compact ? 8 : 3;
  return Math.max(1, Math.min(max, count, Math.ceil(Math.sqrt(count * (compact ? 2 : 1)))));
}

function layoutVpc(vpc: VpcView, x: number, y: number, opts: Required<Omit<LayoutOptions, 'maxWidth'>>): VpcLayout {
  const subnets = grouped(vpc.subnets);
  const compact = subnets.length >= COMPACT_FROM;
  const collapsed = subnets.length > opts.collapseAt && !opts.expanded.has(vpc.name);
  // Collapsed: the last shown slot is the "+N more" tile.
  const shown = collapsed ? subnets.slice(0, opts.collapseAt - 1) : subnets;
  const slots = shown.length + (collapsed ? 1 : 0);
  const size = compact ? SMALL : TILE;
  const cols = columnsFor(slots, compact);
  const rows = Math.ceil(slots / cols);
  const innerW = Math.max(cols * size.w + (cols - 1) * GAP, 200);
  const w = innerW + 2 * PAD;
  const h = HEADER + Math.max(rows, 0) * (size.h + GAP) + PAD;
  const tile = (i: number): Box => ({
    x: x + PAD + (i % cols) * (size.w + GAP),
    y: y + HEADER + Math.floor(i / cols) * (size.h + GAP),
    w: size.w,
    h: size.h,
  });
  const tiles: Tile[] = shown.map((s, i) => ({ kind: 'subnet', vpc: vpc.name, subnet: s, ...tile(i) }));
  if (collapsed) tiles.push({ kind: 'more', vpc: vpc.name, hidden: subnets.length - shown.length, ...tile(shown.length) });
  const pub = subnets.filter((s) => s.type === 'public').length;
  return {
    vpc, x, y, w, h, tiles, collapsed, compact,
    counts: { public: pub, private: subnets.length - pub },
    ...(vpc.uplink !== null ? { igw: { x: x + w / 2 - 70, y: y - 16, w: 140, h: 28 } } : {}),
  };
}

export function layout(view: TopologyView, options: LayoutOptions = {}): Layout {
  const opts = { collapseAt: Math.max(2, options.collapseAt ?? 48), expanded: options.expanded ?? new Set<string>() };
  const maxWidth = options.maxWidth ?? 1400;
  const vpcs: VpcLayout[] = [];
  let x = MARGIN;
  let y = TOP;
  let rowBottom = y;
  for (const v of view.vpcs) {
    let box = layoutVpc(v, x, y, opts);
    // Wrap to a new row when this VPC would pass the width (never for a row's first).
    if (x > MARGIN && x + box.w > maxWidth) {
      x = MARGIN;
      y = rowBottom + VPC_GAP + 30;
      box = layoutVpc(v, x, y, opts);
    }
    vpcs.push(box);
    x += box.w + VPC_GAP;
    rowBottom = Math.max(rowBottom, y + box.h);
  }
  const right = Math.max(MARGIN + 240, ...vpcs.map((v) => v.x + v.w));
  const byName = new Map(vpcs.map((v) => [v.vpc.name, v]));
  const rowOf = (v: VpcLayout) => v.y;
  const lastRow = vpcs.length ? Math.max(...vpcs.map(rowOf)) : TOP;
  // Peerings never cross a box: in one row, an arc under both (deeper for VPCs further apart); across
  // rows, a curve out on the right of both; under the last row, an arc there.
  let side = 0;
  const peerings = view.peerings.flatMap((p, i) => {
    const a = byName.get(p.vpc1);
    const b = byName.get(p.vpc2);
    if (!a || !b) return [];
    if (a.y === b.y && a.y === lastRow) {
      const ax = a.x + a.w / 2;
      const bx = b.x + b.w / 2;
      const depth = Math.max(a.y + a.h, b.y + b.h) + 24 + 14 * (i % 4);
      return [{ vpc1: p.vpc1, vpc2: p.vpc2, d: `M ${ax} ${a.y + a.h} C ${ax} ${depth + 20}, ${bx} ${depth + 20}, ${bx} ${b.y + b.h}` }];
    }
    const out = right + 30 + 16 * (side++ % 4);
    const ay = a.y + a.h / 2 + (i % 3) * 12;
    const by = b.y + b.h / 2 + (i % 3) * 12;
    return [{ vpc1: p.vpc1, vpc2: p.vpc2, d: `M ${a.x + a.w} ${ay} C ${out} ${ay}, ${out} ${by}, ${b.x + b.w} ${by}` }];
  });
  const under = peerings.length > side;
  const height = rowBottom + (under ? 90 : 0) + MARGIN;
  const width = right + MARGIN + (side ? 90 : 0);
  return { width, height, internet: { x: width / 2 - 90, y: 24, w: 180, h: 44 }, vpcs, peerings };
}

/**
 * The line from the internet to a VPC's gateway: straight down to the first
 * row; to a lower row's, along the left margin, so it crosses no box.
 */
export function igwPath(L: Layout, v: VpcLayout): string | null {
  if (!v.igw) return null;
  const nx = L.internet.x + L.internet.w / 2;
  const ny = L.internet.y + L.internet.h;
  const gx = v.igw.x + v.igw.w / 2;
  const firstRow = Math.min(...L.vpcs.map((x) => x.y));
  if (v.y === firstRow) return `M ${nx} ${ny} L ${gx} ${v.igw.y}`;
  const lane = MARGIN / 2;
  const top = v.y - 30;
  return `M ${nx} ${ny} L ${nx} ${ny + 14} L ${lane} ${ny + 14} L ${lane} ${top} L ${gx} ${top} L ${gx} ${v.igw.y}`;
}

/** Every subnet of the view as "vpc/subnet": what the page lists and the tests look for. */
export const subnetKeys = (view: TopologyView): string[] =>
  view.vpcs.flatMap((v) => v.subnets.map((s) => `${v.name}/${s.name}`));
