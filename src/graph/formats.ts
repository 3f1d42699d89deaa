/**
 * The formats of `graph`, apart from their renderers so that the CLI names
 * them without loading any: three pictures, and `json`, the topology view
 * they are drawn from, as data.
 */
export const PICTURE_FORMATS = ['svg', 'mermaid', 'dot'] as const;
export const GRAPH_FORMATS = [...PICTURE_FORMATS, 'json'] as const;
/** Output formats of `graph`. */
export type GraphFormat = (typeof GRAPH_FORMATS)[number];
