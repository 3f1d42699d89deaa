import test from 'ava';
import { GRAPH_FORMATS, PICTURE_FORMATS, renderGraph, viewFromTopology, type TopologyView } from '../../src/graph/index.js';
import { escapeXml } from '../../src/graph/svg.js';
import { parseTopology } from '../../src/model/schema.js';

const VIEW: TopologyView = {
  vpcs: [
    {
      name: 'demo', cidr: '10.0.0.0/16', uplink: 'eth0', transit: '100.64.0.0/30',
      subnets: [
        { name: 'web', cidr: '10.0.1.0/24', type: 'public', apps: [{ port: 80 }, { port: 8080 }] },
        { name: 'db', cidr: '10.0.2.0/24', type: 'private', apps: [] },
      ],
    },
    { name: 'analytics', cidr: '10.1.0.0/16', uplink: null, transit: null, subnets: [{ name: 'workers', cidr: '10.1.1.0/24', type: 'private', apps: [] }] },
    // A hostile uplink name checks escaping in every format.
    { name: 'edge', cidr: '10.2.0.0/16', uplink: 'we<"&\'>', transit: null, subnets: [{ name: 'lb', cidr: '10.2.0.0/28', type: 'public', apps: [{ port: 443 }] }] },
    { name: 'empty', cidr: '10.3.0.0/16', uplink: null, transit: null, subnets: [] },
  ],
  peerings: [{ vpc1: 'demo', vpc2: 'analytics' }, { vpc1: 'demo', vpc2: 'edge' }, { vpc1: 'analytics', vpc2: 'empty' }],
};
const SUBNETS = VIEW.vpcs.flatMap((v) => v.subnets);

/** Minimal XML well-formedness: balanced tags, quoted attributes, no stray '<' or '&'. Returns element names. */
function checkXml(xml: string): string[] {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const seen: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const textEnd = lt === -1 ? body.length : lt;
    const text = body.slice(i, textEnd);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text) || text.includes('>')) throw new Error(`bad text: ${text}`);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (!m) throw new Error(`malformed tag at ${lt}: ${body.slice(lt, lt + 60)}`);
    const [, close, name, , selfClose] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`unbalanced </${name}>`);
    } else {
      seen.push(name!);
      if (!selfClose) stack.push(name!);
    }
    i = tag.lastIndex;
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return seen;
}

/** Text content of the SVG's <text> elements, entities decoded. */
const svgTexts = (svg: string): string[] =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&'));

test('the tag checker itself rejects broken XML', (t) => {
  t.throws(() => checkXml('<svg><g></svg>'));
  t.throws(() => checkXml('<svg><text>a & b</text></svg>'));
  t.throws(() => checkXml('<svg><rect x=1/></svg>'));
  t.deepEqual(checkXml('<?xml version="1.0"?>\n<svg a="1"><g/><text>a &amp; b</text></svg>'), ['svg', 'g', 'text']);
});

test('svg is well-formed and names every VPC, subnet, CIDR and app', (t) => {
  const svg = renderGraph(VIEW, 'svg');
  const elements = checkXml(svg);
  t.is(elements[0], 'svg');
  t.true(svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  const texts = svgTexts(svg);
  for (const s of SUBNETS) {
    t.true(texts.includes(s.name), s.name);
    t.true(texts.includes(s.cidr), s.cidr);
  }
  for (const v of VIEW.vpcs) t.true(texts.includes(`VPC ${v.name}`), v.name);
  t.true(texts.includes('apps :80 :8080'));
  t.true(texts.includes('internet'));
  t.true(texts.includes(`uplink we<"&'>`));
  t.true(texts.includes('uplink eth0 · 100.64.0.0/30'));
  // One dashed arc per peering, a gateway per VPC with an uplink, and a legend.
  t.is((svg.match(/<g class="peering">/g) ?? []).length, 3);
  t.is((svg.match(/<g class="igw">/g) ?? []).length, 2);
  t.is((svg.match(/<g class="subnet public">/g) ?? []).length, 2);
  t.is((svg.match(/<g class="subnet private">/g) ?? []).length, 2);
  t.true(texts.includes('VPC peering'));
  t.true(texts.includes('no subnets'));
});

test('svg of an empty topology is still a valid picture', (t) => {
  const svg = renderGraph({ vpcs: [], peerings: [] }, 'svg');
  checkXml(svg);
  t.true(svgTexts(svg).includes('0 VPCs · 0 subnets · 0 peerings'));
  t.false(svg.includes('class="internet"'));
});

test('escapeXml escapes all five specials', (t) => {
  t.is(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
});

test('mermaid: a flowchart with one labelled node per subnet and a subgraph per VPC', (t) => {
  const out = renderGraph(VIEW, 'mermaid');
  const lines = out.trimEnd().split('\n');
  t.is(lines[0], 'flowchart TB');
  const labels = new Map([...out.matchAll(/^\s*(v\d+s\d+)\["([^"]*)"\]:::(public|private)$/gm)].map((m) => [m[1]!, m[2]!]));
  t.is(labels.size, SUBNETS.length);
  VIEW.vpcs.forEach((v, i) =>
    v.subnets.forEach((s, j) => {
      t.true(labels.get(`v${i}s${j}`)?.includes(`<b>${s.name}</b><br/>${s.cidr}<br/>${s.type}`), s.name);
    }),
  );
  t.is((out.match(/^\s*subgraph v\d+\[/gm) ?? []).length, VIEW.vpcs.length);
  t.is((out.match(/^\s*end$/gm) ?? []).length, VIEW.vpcs.length);
  t.deepEqual(lines.filter((l) => l.includes('peering')).map((l) => l.trim()), [
    'v0r -. peering .- v1r', 'v0r -. peering .- v2r', 'v1r -. peering .- v3r',
  ]);
  // Quotes and angle brackets from names never break out of a label.
  t.true(out.includes('uplink we#lt;#quot;#amp;\'#gt;'));
});

test('dot: a digraph with a cluster per VPC and a node per subnet', (t) => {
  const out = renderGraph(VIEW, 'dot');
  t.regex(out, /^digraph vpcctl \{\n[\s\S]*\}\n$/);
  t.is((out.match(/\{/g) ?? []).length, (out.match(/\}/g) ?? []).length);
  t.is((out.match(/subgraph cluster_v\d+ \{/g) ?? []).length, VIEW.vpcs.length);
  const labels = new Map([...out.matchAll(/^\s*(v\d+s\d+) \[label="((?:[^"\\]|\\.)*)"/gm)].map((m) => [m[1]!, m[2]!]));
  t.is(labels.size, SUBNETS.length);
  VIEW.vpcs.forEach((v, i) => v.subnets.forEach((s, j) => t.true(labels.get(`v${i}s${j}`)?.startsWith(`${s.name}\\n${s.cidr}\\n${s.type}`))));
  t.is((out.match(/style=dashed, label="peering"/g) ?? []).length, 3);
  t.true(out.includes('uplink we<\\"&\'>'));
});

test('renderGraph knows three pictures and json; a topology file becomes a view', (t) => {
  t.deepEqual([...GRAPH_FORMATS], ['svg', 'mermaid', 'dot', 'json']);
  const view = viewFromTopology(parseTopology({
    vpcs: [{ name: 'a', cidr: '10.0.0.0/16', subnets: [{ name: 's', cidr: '10.0.1.0/24', type: 'public', apps: [{ port: 80, command: 'x' }] }] }],
  }));
  t.deepEqual(view, {
    vpcs: [{ name: 'a', cidr: '10.0.0.0/16', uplink: '(default route)', transit: null, subnets: [{ name: 's', cidr: '10.0.1.0/24', type: 'public', apps: [{ port: 80 }] }] }],
    peerings: [],
  });
  for (const f of GRAPH_FORMATS) t.true(renderGraph(view, f).includes('10.0.1.0/24'), f);
  t.deepEqual(JSON.parse(renderGraph(view, 'json')), view, 'json: the view itself');
});

test('a NAT subnet and published ports show in every format', (t) => {
  const view: TopologyView = {
    vpcs: [{
      name: 'n', cidr: '10.9.0.0/16', uplink: 'eth0', transit: '100.64.0.0/30',
      subnets: [{ name: 'jobs', cidr: '10.9.1.0/24', type: 'private', nat: true, apps: [], published: [{ hostPort: 8080, port: 80, protocol: 'tcp' }] }],
    }],
    peerings: [],
  };
  for (const format of PICTURE_FORMATS) {
    const text = renderGraph(view, format);
    t.true(text.includes('private NAT'), format);
    t.true(text.includes('host :8080-&gt;80') || text.includes('host :8080->80') || text.includes('host :8080-#gt;80'), format);
  }
});

test('flow logs show on their VPC in every format, from a topology file too, and not when off', (t) => {
  const view = viewFromTopology(parseTopology({
    vpcs: [
      { name: 'on', cidr: '10.1.0.0/16', flowLogs: true, subnets: [{ name: 'a', cidr: '10.1.1.0/24', type: 'private' }] },
      { name: 'off', cidr: '10.2.0.0/16', subnets: [{ name: 'b', cidr: '10.2.1.0/24', type: 'private' }] },
    ],
  }));
  for (const format of PICTURE_FORMATS) {
    const text = renderGraph(view, format);
    t.is(text.split('flow logs').length - 1, 1, `${format}: once, on VPC on`);
    t.true(text.includes('10.1.0.0/16 · flow logs'), format);
  }
});
