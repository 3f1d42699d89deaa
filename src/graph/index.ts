/** One entry point for `vpcctl graph`: pick a renderer by format name. */
import { renderDot } from './dot.js';
import { renderMermaid } from './mermaid.js';
import { renderSvg } from './svg.js';
import type { TopologyView } from './view.js';

export const GRAPH_FORMATS = ['mermaid', 'dot', 'svg'] as const;
/** Picture formats of `graph`. */
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

const RENDERERS: Record<GraphFormat, (view: TopologyView) => string> = {
  mermaid: renderMermaid,
  dot: renderDot,
  svg: renderSvg,
};

export function renderGraph(view: TopologyView, format: GraphFormat): string {
  return RENDERERS[format](view);
}

export { renderDot, renderMermaid, renderSvg };
export { type TopologyView, type VpcView, type SubnetView, viewFromState, viewFromTopology } from './view.js';
