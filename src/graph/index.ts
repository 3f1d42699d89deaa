/** One entry point for `vpcctl graph`: pick a renderer by format name. */
import { renderDot } from './dot.js';
import { renderMermaid } from './mermaid.js';
import { renderSvg } from './svg.js';
import type { TopologyView } from './view.js';

import type { GraphFormat } from './formats.js';

export { GRAPH_FORMATS, PICTURE_FORMATS, type GraphFormat } from './formats.js';

const RENDERERS: Record<GraphFormat, (view: TopologyView) => string> = {
  mermaid: renderMermaid,
  dot: renderDot,
  svg: renderSvg,
  json: (view) => `${JSON.stringify(view, null, 2)}\n`,
};

export function renderGraph(view: TopologyView, format: GraphFormat): string {
  return RENDERERS[format](view);
}

export { renderDot, renderMermaid, renderSvg };
export { type TopologyView, type VpcView, type SubnetView, viewFromState, viewFromTopology } from './view.js';
