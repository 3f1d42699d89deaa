/**
 * The dashboard's front end: draws the snapshot the server streams
 * (server-sent events read through fetch, so the token travels in a header
 * and never in another URL), zooms and pans the drawing, and runs the few
 * actions the server offers. Bundled by scripts/bundle-ui.mjs into
 * dist/ui/web.js, inlined in the page.
 */
import { layout, subnetKeys, type Layout } from '../layout.js';
import type { Snapshot } from '../live.js';
import { $, authHeaders, h, postJson, s } from './dom.js';
import { drawTopology, type Marks } from './draw.js';
import { matrixPanel, subnetPanel, type Notice } from './panel.js';

let snap: Snapshot | undefined;
let lastLayout: Layout | undefined;
const expanded = new Set<string>();
const marks: Marks = {};
let viewBox: { x: number; y: number; w: number; h: number } | undefined;
let userMoved = false;
const flows: HTMLElement[] = [];

function shell(): void {
  const app = $('#app');
  const from = h('select', { id: 'from' });
  const to = h('select', { id: 'to' });
  const port = h('input', { id: 'port', class: 'port', placeholder: 'tcp port', type: 'number', min: 1, max: 65535 });
  const test = h('button', { id: 'test' }, 'test');
  const matrix = h('button', { id: 'matrix-run' }, 'matrix');
  const filter = h('input', { id: 'filter', placeholder: 'find subnet' });
  const fit = h('button', { id: 'fit' }, 'fit');
  app.append(
    h('header', {},
      h('h1', {}, 'vpcctl'), h('span', { class: 'dot', id: 'live-dot', title: 'live updates' }),
      h('span', { id: 'counts' }), h('span', { id: 'ro' }), h('span', { id: 'health' }),
      'from', from, 'to', to, port, test, h('span', { id: 'conn-result' }), matrix, filter, fit),
    h('main', {}, h('div', { id: 'canvas' }), h('aside', { id: 'side' }, h('div', { class: 'muted' }, 'click a subnet'))),
    h('div', { id: 'flow' }));
  test.onclick = () => void runPair();
  matrix.onclick = async () => {
    side(h('div', { class: 'muted' }, 'probing every pair...'));
    side(await matrixPanel());
  };
  filter.oninput = () => {
    marks.filter = filter.value.trim() || undefined;
    const hit = marks.filter && snap ? subnetKeys(snap.view).find((k) => k.includes(marks.filter!)) : undefined;
    // A match hidden behind "+N more" shows its VPC whole.
    if (hit) expanded.add(hit.split('/')[0]!);
    render();
  };
  fit.onclick = () => { userMoved = false; viewBox = undefined; render(); };
  zoomAndPan($('#canvas'));
}

function side(el: HTMLElement): void {
  $('#side').replaceChildren(el);
}

async function runPair(): Promise<void> {
  const from = ($('#from') as HTMLSelectElement).value;
  const to = ($('#to') as HTMLSelectElement).value;
  const port = ($('#port') as HTMLInputElement).value;
  const out = $('#conn-result');
  out.removeAttribute('data-reachable');
  out.textContent = 'probing...';
  const [vpc, fromSubnet] = from.split('/');
  const [toVpc, toSubnet] = to.split('/');
  try {
    const r = await postJson<{ reachable: boolean; icmp: { ok: boolean; rttMs?: number; error?: string }; tcp?: { ok: boolean; port: number; error?: string } }>(
      '/api/connectivity', { vpc, fromSubnet, toSubnet, toVpc, ...(port ? { port: Number(port) } : {}) });
    const parts = [`icmp ${r.icmp.ok ? `ok ${r.icmp.rttMs?.toFixed(2)} ms` : `blocked${r.icmp.error ? ` (${r.icmp.error})` : ''}`}`];
    if (r.tcp) parts.push(`tcp ${r.tcp.port} ${r.tcp.ok ? 'ok' : `blocked${r.tcp.error ? ` (${r.tcp.error})` : ''}`}`);
    out.textContent = `${r.reachable ? 'reachable' : 'unreachable'}: ${parts.join(', ')}`;
    out.className = r.reachable ? 'ok' : 'bad';
    out.setAttribute('data-reachable', String(r.reachable));
    marks.pair = { from, to, reachable: r.reachable };
  } catch (e) {
    out.textContent = (e as Error).message;
    out.className = 'bad';
    out.setAttribute('data-reachable', 'error');
  }
  render();
}

function fillSelects(keys: string[]): void {
  for (const id of ['#from', '#to']) {
    const sel = $(id) as HTMLSelectElement;
    const had = sel.value;
    if (sel.options.length === keys.length && [...sel.options].every((o, i) => o.value === keys[i])) continue;
    sel.replaceChildren(...keys.map((k) => h('option', { value: k }, k)));
    if (keys.includes(had)) sel.value = had;
    else if (id === '#to' && keys.length > 1) sel.value = keys[1]!;
  }
}

function render(): void {
  if (!snap) return;
  const keys = subnetKeys(snap.view);
  fillSelects(keys);
  $('#counts').textContent = `${snap.view.vpcs.length} VPCs · ${keys.length} subnets · ${snap.view.peerings.length} peerings`;
  $('#ro').replaceChildren(...(snap.readOnly ? [h('span', { class: 'badge' }, 'read-only')] : []));
  const driftCount = Object.keys(snap.drift ?? {}).length + (snap.hostDrift?.length ? 1 : 0);
  $('#health').replaceChildren(snap.drift === undefined ? h('span', { class: 'muted' }, 'checking...')
    : driftCount ? h('span', { class: 'badge alert', id: 'drift-badge', title: [...Object.entries(snap.drift ?? {}).map(([k, v]) => `${k}: ${v.join('; ')}`), ...(snap.hostDrift ?? [])].join('\n') }, `drift in ${driftCount}`)
      : h('span', { class: 'badge', id: 'in-sync' }, 'in sync'));
  for (const el of document.querySelectorAll('#test, #matrix-run')) (el as HTMLButtonElement).disabled = keys.length < 2;

  lastLayout = layout(snap.view, { expanded });
  const canvas = $('#canvas');
  if (!viewBox || !userMoved) viewBox = fitBox(lastLayout, canvas);
  const svg = s('svg', { id: 'topology-svg', viewBox: `${viewBox.x} ${viewBox.y} ${viewBox.w} ${viewBox.h}` },
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' },
      s('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#1f2933' }))),
    drawTopology(lastLayout, snap, marks));
  canvas.replaceChildren(svg);
  $('#flow').classList.toggle('on', flows.length > 0 || snap.view.vpcs.some((v) => v.flowLogs));
}

/** The whole drawing, scaled to the canvas: a big topology starts small and is zoomed into. */
function fitBox(L: Layout, canvas: HTMLElement) {
  const cw = canvas.clientWidth || 1000;
  const ch = canvas.clientHeight || 700;
  const scale = Math.max(L.width / cw, L.height / ch, 1);
  return { x: 0, y: 0, w: cw * scale, h: ch * scale };
}

function zoomAndPan(canvas: HTMLElement): void {
  let drag: { x: number; y: number; moved: boolean } | undefined;
  canvas.addEventListener('wheel', (e) => {
    if (!viewBox) return;
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const f = e.deltaY > 0 ? 1.15 : 1 / 1.15;
    const px = viewBox.x + ((e.clientX - r.left) / r.width) * viewBox.w;
    const py = viewBox.y + ((e.clientY - r.top) / r.height) * viewBox.h;
    viewBox = { x: px - (px - viewBox.x) * f, y: py - (py - viewBox.y) * f, w: viewBox.w * f, h: viewBox.h * f };
    userMoved = true;
    $('#topology-svg')?.setAttribute('viewBox', `${viewBox.x} ${viewBox.y} ${viewBox.w} ${viewBox.h}`);
  }, { passive: false });
  canvas.addEventListener('mousedown', (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; });
  window.addEventListener('mouseup', () => { setTimeout(() => { drag = undefined; }, 0); });
  canvas.addEventListener('mousemove', (e) => {
    if (!drag || !viewBox || !(e.buttons & 1)) return;
    const r = canvas.getBoundingClientRect();
    const dx = ((e.clientX - drag.x) / r.width) * viewBox.w;
    const dy = ((e.clientY - drag.y) / r.height) * viewBox.h;
    if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) drag.moved = true;
    drag.x = e.clientX;
    drag.y = e.clientY;
    viewBox = { ...viewBox, x: viewBox.x - dx, y: viewBox.y - dy };
    userMoved = true;
    $('#topology-svg')?.setAttribute('viewBox', `${viewBox.x} ${viewBox.y} ${viewBox.w} ${viewBox.h}`);
  });
  canvas.addEventListener('click', (e) => {
    if (drag?.moved) return;
    const target = e.target as Element;
    const more = target.closest('[data-more]');
    if (more) {
      expanded.add(more.getAttribute('data-more')!);
      return render();
    }
    const tile = target.closest('[data-subnet]');
    if (tile) void select(tile.getAttribute('data-subnet')!);
  });
}

async function select(key: string, notice?: Notice): Promise<void> {
  marks.selected = key;
  render();
  const panel = await subnetPanel(key, { readOnly: !!snap?.readOnly, drift: snap?.drift?.[key] ?? [], notice, reload: (n) => void select(key, n) });
  if (marks.selected === key) side(panel);
}

function onEvent(event: string, data: string): void {
  if (event === 'snapshot') {
    snap = JSON.parse(data) as Snapshot;
    render();
  } else if (event === 'flow') {
    const e = JSON.parse(data) as { time: string; vpc: string; subnet: string; src: string; srcPort: number | null; dst: string; dstPort: number | null; protocol: string; action: string; rule: string };
    const line = h('div', { class: e.action, 'data-flow': `${e.vpc}/${e.subnet}` }, `${e.time.slice(11, 23)} ${e.vpc}/${e.subnet} ${e.action.padEnd(6)} ${e.protocol} ${e.src}${e.srcPort ? `:${e.srcPort}` : ''} -> ${e.dst}${e.dstPort ? `:${e.dstPort}` : ''} (${e.rule})`);
    flowLine(line);
  } else if (event === 'flow-ready') {
    const r = JSON.parse(data) as { vpc: string; subnets: string[] };
    flowLine(h('div', { class: 'muted', 'data-flow-ready': r.vpc }, `following flow logs of vpc ${r.vpc} (${r.subnets.join(', ') || 'no subnet'})`));
  } else if (event === 'problem') {
    flowLine(h('div', { class: 'REJECT' }, `! ${(JSON.parse(data) as { message: string }).message}`));
  }
}

/** A line at the bottom (flow records, warnings): the last 200 are kept. */
function flowLine(line: HTMLElement): void {
  flows.push(line);
  if (flows.length > 200) flows.shift()!.remove();
  const box = $('#flow');
  box.classList.add('on');
  box.append(line);
  box.scrollTop = box.scrollHeight;
}

/** Server-sent events over fetch (EventSource cannot send the token in a header); reconnects when cut. */
async function stream(): Promise<void> {
  for (;;) {
    try {
      const res = await fetch('/api/events', { headers: authHeaders() });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      $('#live-dot').classList.add('on');
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(chunk)?.[1];
          const data = chunk.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (event) onEvent(event, data);
        }
      }
    } catch { /* reconnect below */ }
    $('#live-dot').classList.remove('on');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

shell();
window.addEventListener('resize', () => render());
void stream();
