/**
 * The side panel: one subnet in full (addresses, policy rules with their
 * hit counters, apps with status and last log lines, drift), with the
 * actions the page offers on it; and the connectivity matrix.
 */
import { h, getJson, postJson } from './dom.js';
import type { CompactMatrix } from '../routes.js';

interface Panel {
  vpc: string; subnet: string; cidr: string; type: string; egress: string | null;
  addresses: { host: string; gateway: string; namespace: string; router: string };
  /** A dual-stack subnet's IPv6 side (an IPv6-only one has it in `cidr` and `addresses`). */
  ipv6: { cidr: string; host: string; gateway: string } | null;
  publish: Array<{ hostPort: number; port: number; protocol: string }>;
  policy: { policy: unknown; rules: Array<{ rule: string; text: string; packets: number; bytes: number; chain: string }>; drift: string[] };
  apps: Array<{ port: number; pid: number; user: string; running: boolean; startedAt: string; log: string[] }>;
}

export interface Notice { policy?: string[] }

export interface PanelContext {
  readOnly: boolean;
  drift: string[];
  /** Called after an action changed something: the live stream redraws, the panel reloads, showing `notice`. */
  reload: (notice?: Notice) => void;
  /** What the last action said, shown again in the reloaded panel. */
  notice?: Notice | undefined;
}

const error = (e: unknown) => h('div', { class: 'error', 'data-error': '' }, (e as Error).message);

export async function subnetPanel(key: string, ctx: PanelContext): Promise<HTMLElement> {
  const [vpc, subnet] = key.split('/') as [string, string];
  const box = h('div', { id: 'subnet-panel', 'data-subnet': key });
  let p: Panel;
  try {
    p = await getJson<Panel>(`/api/subnet?vpc=${encodeURIComponent(vpc)}&subnet=${encodeURIComponent(subnet)}`);
  } catch (e) {
    box.append(h('h2', {}, key), error(e));
    return box;
  }
  box.append(h('h2', {}, `subnet ${key}`));
  for (const d of ctx.drift) box.append(h('div', { class: 'drift' }, `drift: ${d}`));
  box.append(h('table', {},
    row('CIDR', p.cidr), row('type', `${p.type}${p.egress === 'nat' ? ' (egress via NAT gateway)' : ''}`),
    row('host address', p.addresses.host), row('gateway', p.addresses.gateway),
    ...(p.ipv6 ? [row('IPv6 CIDR', p.ipv6.cidr), row('IPv6 host', p.ipv6.host), row('IPv6 gateway', p.ipv6.gateway)] : []),
    row('namespace', p.addresses.namespace), row('router', p.addresses.router),
    ...p.publish.map((x) => row('published', `host :${x.hostPort} -> ${x.port}/${x.protocol}`))));

  box.append(h('h3', {}, 'policy'));
  for (const d of p.policy.drift) box.append(h('div', { class: 'drift' }, `NOT ENFORCED: ${d}`));
  if (!p.policy.policy) box.append(h('div', { class: 'muted' }, 'no policy: everything allowed'));
  else {
    const rules = p.policy.rules.filter((r) => r.rule.includes('['));
    box.append(h('table', { id: 'policy-rules' }, h('tr', {}, h('th', {}, 'rule'), h('th', {}, ''), h('th', {}, 'packets'), h('th', {}, 'bytes')),
      ...rules.map((r) => h('tr', {}, h('td', { class: 'mono' }, r.rule), h('td', {}, r.text), h('td', {}, String(r.packets)), h('td', {}, String(r.bytes))))));
  }
  if (!ctx.readOnly) {
    const ta = h('textarea', { id: 'policy-text', spellcheck: 'false', placeholder: '{"ingress": [{"port": 80, "protocol": "tcp", "action": "allow"}]}' });
    if (p.policy.policy) ta.value = JSON.stringify(p.policy.policy, null, 2);
    const out = h('div', { id: 'policy-result' }, ...(ctx.notice?.policy ?? []).map((line, i) => h('div', { class: i ? 'muted' : 'ok' }, line)));
    const btn = h('button', { id: 'policy-apply' }, 'apply policy');
    btn.onclick = async () => {
      out.replaceChildren();
      try {
        const r = await postJson<{ changed: boolean; warnings: string[] }>('/api/policy', { vpc, subnet, policy: ta.value });
        ctx.reload({ policy: [r.changed ? 'applied' : 'unchanged: the subnet already had this policy', ...r.warnings.map((w) => `warning: ${w}`)] });
      } catch (e) {
        out.append(error(e));
      }
    };
    box.append(ta, btn, out);
  }

  box.append(h('h3', {}, 'apps'));
  const appOut = h('div', { id: 'app-result' });
  const act = async (path: string, body: unknown) => {
    appOut.replaceChildren();
    try {
      await postJson(path, body);
      ctx.reload();
    } catch (e) {
      appOut.append(error(e));
    }
  };
  if (!p.apps.length) box.append(h('div', { class: 'muted' }, 'no app'));
  for (const a of p.apps) {
    const head = h('div', { 'data-app': a.port },
      h('b', {}, `:${a.port} `), h('span', { class: a.running ? 'ok' : 'bad' }, a.running ? 'running' : 'stopped'), ` pid ${a.pid}, as ${a.user} `);
    if (!ctx.readOnly) {
      const b = h('button', { 'data-action': a.running ? 'stop' : 'start' }, a.running ? 'stop' : 'start again');
      b.onclick = () => act(a.running ? '/api/apps/stop' : '/api/apps/start', { vpc, subnet, port: a.port });
      head.append(b);
    }
    box.append(head, h('pre', {}, a.log.join('\n') || '(empty log)'));
  }
  if (!ctx.readOnly) {
    const port = h('input', { id: 'app-port', type: 'number', min: 1, max: 65535, placeholder: 'port' });
    const b = h('button', { id: 'app-start' }, "start vpcctl's HTTP server");
    b.onclick = () => act('/api/apps/start', { vpc, subnet, port: Number(port.value) });
    box.append(h('div', {}, port, ' ', b));
  }
  box.append(appOut);
  return box;
}

const row = (k: string, v: string) => h('tr', {}, h('th', {}, k), h('td', { class: 'mono' }, v));

/** The matrix from the page: every subnet against every subnet (ICMP), found against predicted. */
export async function matrixPanel(): Promise<HTMLElement> {
  const box = h('div', { id: 'matrix' }, h('h2', {}, 'connectivity matrix'), h('div', { class: 'muted' }, 'probing every pair...'));
  let m: CompactMatrix;
  try {
    m = await postJson<CompactMatrix>('/api/matrix', {});
  } catch (e) {
    box.replaceChildren(h('h2', {}, 'connectivity matrix'), error(e));
    return box;
  }
  const differs = new Set(m.differ.map((d) => `${d.from}>${d.to}`));
  let pairs = 0;
  let reach = 0;
  for (const row of m.rows) for (const c of row) if (c !== '-') { pairs++; if (c === '1') reach++; }
  const grid = () => {
    const table = h('table', {});
    m.subnets.forEach((from, i) => {
      const tr = h('tr', {}, h('th', {}, from));
      m.subnets.forEach((to, j) => {
        const c = m.rows[i]![j];
        if (c === '-') return void tr.append(h('td', {}));
        const key = `${from}>${to}`;
        tr.append(h('td', { class: `${c === '1' ? 'y' : 'n'}${differs.has(key) ? ' diff' : ''}`, title: `${from} -> ${to}: ${c === '1' ? 'reachable' : 'blocked'}`, 'data-pair': key, 'data-ok': String(c === '1') }));
      });
      table.append(tr);
    });
    return table;
  };
  box.replaceChildren(h('h2', {}, 'connectivity matrix'),
    h('div', { id: 'matrix-summary' }, `${reach} of ${pairs} pairs reachable; ${pairs - m.differ.length} as predicted (${m.elapsedMs.toFixed(0)} ms)`),
    m.subnets.length <= 60 ? grid() : h('div', { class: 'muted' }, `${m.subnets.length} subnets: the grid is left out, the pairs that differ from the prediction are listed`),
    ...m.differ.slice(0, 200).map((d) => h('div', { class: 'bad' },
      `${d.from} -> ${d.to}: ${d.found ? 'reachable' : `blocked${d.error ? ` (${d.error})` : ''}`}, predicted ${d.found ? `blocked (${d.reason ?? ''})` : 'reachable'}`)),
    ...(m.differ.length > 200 ? [h('div', { class: 'muted' }, `and ${m.differ.length - 200} more`)] : []));
  return box;
}
