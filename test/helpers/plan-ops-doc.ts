import { readFileSync } from 'node:fs';

/** docs/plan-ops.md, read by the contract tests (test/unit/op-contract.test.ts). */
export const PLAN_OPS_DOC = new URL('../../docs/plan-ops.md', import.meta.url);

export interface DocRow { op: string; fields: Record<string, 'required' | 'optional'> }

/**
 * The op table of docs/plan-ops.md: rows `| \`op\` | \`f\`, \`g?\` (\`"example"\`) | ... |`.
 * A field is a backticked name in the second cell, `?` marking it optional;
 * backticked examples (quoted strings) are not fields.
 */
export function docOpTable(text = readFileSync(PLAN_OPS_DOC, 'utf8')): DocRow[] {
  const rows: DocRow[] = [];
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([A-Za-z]+)`\s*\|([^|]*)\|/.exec(line);
    if (!m) continue;
    const fields: DocRow['fields'] = {};
    for (const [, name, optional] of m[2]!.matchAll(/`([A-Za-z]+)(\?)?`/g)) fields[name!] = optional ? 'optional' : 'required';
    rows.push({ op: m[1]!, fields });
  }
  return rows;
}

/** The text of the section under heading `## title`, up to the next `## `. */
export function docSection(title: string, text = readFileSync(PLAN_OPS_DOC, 'utf8')): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/plan-ops.md has no section "## ${title}"`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Backticked words that name an op by the ops' naming rule (netnsAdd, routeDel, nftApply, linkUp, ...). */
export const opNamesIn = (text: string): string[] =>
  [...new Set([...text.matchAll(/`([a-z]+(?:Add|Del|Up|Down|Set|Apply|Delete))`/g)].map((m) => m[1]!))];
