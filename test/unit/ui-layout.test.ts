import test from 'ava';
import type { SubnetView, TopologyView } from '../../src/graph/view.js';
import { columnsFor, grouped, igwPath, layout, subnetKeys, type Box } from '../../src/ui/layout.js';
import { driftByObject } from '../../src/ui/live.js';
import { compactMatrix, logTail, parsePolicyText, statusOf } from '../../src/ui/routes.js';
import { VpcctlError } from '../../src/errors.js';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyState } from '../../src/state/types.js';

const subnet = (i: number, type: 'public' | 'private' = i % 2 ? 'private' : 'public'): SubnetView =>
  ({ name: `s${i}`, cidr: `10.${i >> 8}.${i & 255}.0/24`, type, apps: [] });

const view = (sizes: number[]): TopologyView => ({
  vpcs: sizes.map((n, v) => ({ name: `v${v}`, cidr: `10.${v}.0.0/16`, uplink: v === 0 ? 'eth0' : null, transit: null, subnets: Array.from({ length: n }, (_, i) => subnet(i)) })),
  peerings: sizes.length > 1 ? [{ vpc1: 'v0', vpc2: 'v1' }] : [],
});

const inside = (a: Box, b: Box) => a.x >= b.x && a.y >= b.y && a.x + a.w <= b.x + b.w && a.y + a.h <= b.y + b.h;
const overlap = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

test('subnets are grouped public first, each group in the state\'s order', (t) => {
  const g = grouped([subnet(0, 'private'), subnet(1, 'public'), subnet(2, 'private'), subnet(3, 'public')]);
  t.deepEqual(g.map((s) => s.name), ['s1', 's3', 's0', 's2']);
});

test('a small topology: every subnet a tile inside its VPC, no two boxes overlap, gateway only with an uplink', (t) => {
  const L = layout(view([3, 2]));
  t.is(L.vpcs.length, 2);
  t.deepEqual(L.vpcs.flatMap((v) => v.tiles.map((x) => (x.kind === 'subnet' ? `${x.vpc}/${x.subnet.name}` : 'more'))).sort(), subnetKeys(view([3, 2])).sort());
  for (const v of L.vpcs) {
    t.false(v.collapsed);
    for (const tile of v.tiles) t.true(inside(tile, v), `${tile.kind} inside ${v.vpc.name}`);
    v.tiles.forEach((a, i) => v.tiles.slice(i + 1).forEach((b) => t.false(overlap(a, b))));
    t.true(inside(v, { x: 0, y: 0, w: L.width, h: L.height }));
  }
  t.false(overlap(L.vpcs[0]!, L.vpcs[1]!));
  t.truthy(L.vpcs[0]!.igw);
  t.is(L.vpcs[1]!.igw, undefined);
  t.is(L.peerings.length, 1);
  t.deepEqual(L.vpcs[0]!.counts, { public: 2, private: 1 });
});

test('500 subnets in one VPC: collapsed to 48 slots with "+453 more", compact tiles, a screen-sized drawing', (t) => {
  const L = layout(view([500]));
  const v = L.vpcs[0]!;
  t.true(v.collapsed);
  t.true(v.compact);
  t.is(v.tiles.length, 48);
  const more = v.tiles.at(-1)!;
  t.is(more.kind, 'more');
  t.is(more.kind === 'more' ? more.hidden : 0, 453);
  t.true(L.height < 1200, `height ${L.height}`);
  t.true(L.width < 1400, `width ${L.width}`);
  t.deepEqual(v.counts, { public: 250, private: 250 });
});

test('an expanded VPC shows every subnet; still a grid, not a column', (t) => {
  const L = layout(view([500]), { expanded: new Set(['v0']) });
  const v = L.vpcs[0]!;
  t.false(v.collapsed);
  t.is(v.tiles.length, 500);
  t.true(v.tiles.every((x) => x.kind === 'subnet'));
  t.is(columnsFor(500, true), 8);
  t.true(L.height < 500 / 8 * 40 + 300, `height ${L.height}`);
});

test('many VPCs wrap into rows within the width', (t) => {
  const L = layout(view(Array.from({ length: 20 }, () => 25)));
  t.true(L.width <= 1400 + 48);
  const rows = new Set(L.vpcs.map((v) => v.y));
  t.true(rows.size > 1);
  L.vpcs.forEach((a, i) => L.vpcs.slice(i + 1).forEach((b) => t.false(overlap(a, b), `${a.vpc.name} ${b.vpc.name}`)));
  t.is(L.vpcs.reduce((n, v) => n + v.tiles.filter((x) => x.kind === 'subnet').length, 0), 20 * 25);
});

test('an empty state lays out (the internet alone)', (t) => {
  const L = layout({ vpcs: [], peerings: [] });
  t.is(L.vpcs.length, 0);
  t.true(L.width > 0 && L.height > 0);
});

test('status findings are keyed by what the page draws', (t) => {
  const state = emptyState();
  state.vpcs.a = { name: 'a', cidr: '10.0.0.0/16', uplink: null, transit: null, subnets: { web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', apps: [] } } } as never;
  const d = driftByObject(state, {
    ok: false, missing: ['ns-a-web'], orphaned: ['ns-x-y'], pending: [], ignored: [],
    drift: [{ object: 'vpc a', kind: 'differs', detail: 'route gone' }, { object: 'subnet a/web', kind: 'missing', detail: 'link gone' }, { object: 'host', kind: 'missing', detail: 'table gone' }],
  });
  t.deepEqual(d['a/web'], ['netns ns-a-web is missing', 'link gone']);
  t.deepEqual(d.a, ['route gone']);
  t.deepEqual(d[''], ['netns ns-x-y is orphaned', 'table gone']);
});

test('status during another command: the dashboard says a change is in progress, and pending namespaces are being changed, not left by a crash', (t) => {
  const state = emptyState();
  state.vpcs.a = { name: 'a', cidr: '10.0.0.0/16', subnets: { web: { name: 'web', cidr: '10.0.1.0/24', type: 'public', apps: [] } } } as never;
  const report = { ok: false, missing: [], orphaned: [], pending: ['ns-a-web'], ignored: [], drift: [] };
  t.deepEqual(driftByObject(state, report)['a/web'], ['netns ns-a-web: a run stopped mid-change']);
  const busy = driftByObject(state, { ...report, inProgress: { pid: 42 } });
  t.deepEqual(busy['a/web'], ['netns ns-a-web: being changed']);
  t.regex(busy['']![0]!, /^a change is in progress/);
});

test('a pasted policy: JSON errors name line and column as the CLI does', (t) => {
  t.deepEqual(parsePolicyText('{"ingress": []}'), { ingress: [] });
  const e = t.throws(() => parsePolicyText('{\n  "ingress": [,]\n}'));
  t.regex(e!.message, /^policy \(pasted\): invalid JSON at line 2, column 15/);
  t.is(statusOf(e), 400);
  t.is(statusOf(t.throws(() => parsePolicyText(42))), 400);
  t.is(statusOf(new VpcctlError('NOT_FOUND', 'x')), 404);
  t.is(statusOf(new VpcctlError('IN_USE', 'x')), 409);
  t.is(statusOf(new VpcctlError('KERNEL', 'x')), 500);
});

test('logTail: the last lines, a cut first line dropped', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ui-log-'));
  const small = join(dir, 'a.log');
  writeFileSync(small, 'one\ntwo\nthree\n');
  t.deepEqual(logTail(small, 2), ['two', 'three']);
  const big = join(dir, 'b.log');
  writeFileSync(big, Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n') + '\n');
  t.deepEqual(logTail(big, 3), ['line 1997', 'line 1998', 'line 1999']);
  t.deepEqual(logTail(join(dir, 'none.log')), []);
  // A FIFO in a log's place is not waited on (it would hang the request), a link not followed.
  const fifo = join(dir, 'fifo.log');
  execFileSync('mkfifo', [fifo]);
  t.deepEqual(logTail(fifo), []);
  symlinkSync(small, join(dir, 'link.log'));
  t.deepEqual(logTail(join(dir, 'link.log')), []);
});

test('lines cross no box: peerings across rows go round the right, gateways of lower rows along the left margin', (t) => {
  const v = view([60, 60, 60]);
  v.vpcs.forEach((x) => { x.uplink = 'eth0'; });
  const L = layout(v);
  t.true(new Set(L.vpcs.map((x) => x.y)).size > 1, 'several rows');
  const right = Math.max(...L.vpcs.map((x) => x.x + x.w));
  const xs = (d: string) => [...d.matchAll(/C ([\d.]+) /g)].map((m) => Number(m[1]));
  for (const p of L.peerings) for (const x of xs(p.d)) t.true(x > right, p.d);
  t.true(L.width > right + 30);
  t.regex(igwPath(L, L.vpcs[0]!)!, /^M [\d.]+ [\d.]+ L [\d.]+ [\d.]+$/);
  const lower = igwPath(L, L.vpcs[2]!)!;
  const pts = [...lower.matchAll(/[ML] ([\d.]+) ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
  // Every horizontal run lies between rows or above the first, every vertical run left of every box.
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1]!;
    const [x1, y1] = pts[i]!;
    const seg = { x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0) || 0.1, h: Math.abs(y1 - y0) || 0.1 };
    for (const b of L.vpcs) t.false(overlap(seg, { x: b.x, y: b.y + 1, w: b.w, h: b.h - 1 }), `${lower} crosses ${b.vpc.name}`);
  }
});

test('the matrix for the page: a character per cell, and only the pairs that differ from the prediction in full', (t) => {
  const m = compactMatrix({
    subnets: ['a/x', 'a/y', 'b/z'],
    cells: [[null, { ok: true, rttMs: 0.1 }, { ok: false, error: 'timed out' }], [{ ok: true }, null, { ok: true }], [{ ok: false }, { ok: false }, null]],
    expected: [[null, { reachable: true }, { reachable: false, reason: 'not peered' }], [{ reachable: true }, null, { reachable: false, reason: 'not peered' }], [{ reachable: false }, { reachable: false }, null]],
    elapsedMs: 12,
  });
  t.deepEqual(m.rows, ['-10', '1-1', '00-']);
  t.deepEqual(m.differ, [{ from: 'a/y', to: 'b/z', found: true, reason: 'not peered' }]);
  t.is(m.elapsedMs, 12);
});
