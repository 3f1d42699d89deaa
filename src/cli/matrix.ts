import { color } from './stdio.js';
import type { MatrixResult } from '../api/connectivity.js';
import { table } from './output.js';

/** The connectivity matrix as a table: rows are sources, columns targets. */
export function renderMatrix(m: MatrixResult, colour: boolean): string {
  if (m.subnets.length === 0) return 'no subnets';
  const yes = colour ? color().green('✔') : 'yes';
  const no = colour ? color().red('✘') : 'no';
  const rows = m.subnets.map((from, i) => [from, ...m.cells[i]!.map((c) => (c === null ? '-' : c.ok ? yes : no))]);
  return table(['from \\ to', ...m.subnets], rows);
}
