import { color } from './stdio.js';
import type { MatrixResult } from '../api/connectivity.js';
import { count, table } from './output.js';

/** The connectivity matrix as a table: rows are sources, columns targets. */
export function renderMatrix(m: MatrixResult, colour: boolean): string {
  if (m.subnets.length === 0) return 'no subnets';
  const yes = colour ? color().green('✔') : 'yes';
  const no = colour ? color().red('✘') : 'no';
  const rows = m.subnets.map((from, i) => [from, ...m.cells[i]!.map((c) => (c === null ? '-' : c.ok ? yes : no))]);
  return table(['from \\ to', ...m.subnets], rows);
}

/** One probed pair, as `--json` gives it. */
export interface PairResult {
  from: string;
  to: string;
  reachable: boolean;
  expected: boolean;
  rttMs?: number;
  /** Why the probe failed (timeout, unreachable). */
  error?: string;
  /** Why the state predicts no reachability. */
  reason?: string;
}

export interface Comparison {
  subnets: number;
  pairs: number;
  asExpected: number;
  elapsedMs: number;
  /** The pairs whose probe disagrees with the prediction. */
  unexpected: PairResult[];
  results: PairResult[];
}

/** Every pair of the matrix next to its prediction. */
export function compare(m: MatrixResult): Comparison {
  const results: PairResult[] = [];
  m.cells.forEach((row, i) => row.forEach((c, j) => {
    const e = m.expected[i]![j];
    if (c === null || !e) return;
    results.push({
      from: m.subnets[i]!, to: m.subnets[j]!, reachable: c.ok, expected: e.reachable,
      ...(c.rttMs !== undefined ? { rttMs: c.rttMs } : {}),
      ...(c.error !== undefined ? { error: c.error } : {}),
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
    });
  }));
  const unexpected = results.filter((r) => r.reachable !== r.expected);
  return { subnets: m.subnets.length, pairs: results.length, asExpected: results.length - unexpected.length, elapsedMs: m.elapsedMs, unexpected, results };
}

/** `148 of 150 pairs as expected`, then the pairs that are not, with what was found and what was predicted. */
export function renderSummary(c: Comparison): string {
  if (c.subnets === 0) return 'no subnets';
  const lines = [
    `${count(c.subnets, 'subnet')}, ${count(c.pairs, 'pair')} probed (ICMP) in ${c.elapsedMs.toFixed(0)} ms`,
    c.unexpected.length === 0
      ? color().green(`${c.asExpected} of ${count(c.pairs, 'pair')} as expected`)
      : color().red(`${c.asExpected} of ${count(c.pairs, 'pair')} as expected; ${c.unexpected.length} ${c.unexpected.length === 1 ? 'differs' : 'differ'}:`),
  ];
  if (c.unexpected.length) {
    lines.push(table(['FROM', 'TO', 'FOUND', 'EXPECTED'], c.unexpected.map((p) => [
      p.from, p.to,
      p.reachable ? `reachable (${p.rttMs?.toFixed(2)} ms)` : `blocked (${p.error ?? 'no reply'})`,
      p.expected ? 'reachable' : `blocked (${p.reason ?? ''})`,
    ])));
  }
  return lines.join('\n');
}
