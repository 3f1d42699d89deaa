import type { Vpcctl } from '../api/vpcctl.js';
import { printData, type OutputOptions } from './format.js';
import { compare, renderMatrix, renderSummary } from './matrix.js';
import { isTerminal, print } from './stdio.js';

/**
 * `test-connectivity --all`: every pair probed at once, then a summary
 * (`148 of 150 pairs as expected`) and the pairs that differ from what the
 * state predicts; `--matrix` the grid, `-o json|yaml` every pair. Exit 1
 * when a pair differs: a script's check that the network is as designed.
 */
export async function testAll(v: Vpcctl, o: OutputOptions & { matrix?: boolean }): Promise<void> {
  const m = await v.connectivityMatrix();
  const c = compare(m);
  if (c.unexpected.length) process.exitCode = 1;
  const { unexpected: _listedInResults, ...data } = c;
  if (printData(o, data)) return;
  if (o.matrix) print(renderMatrix(m, isTerminal()));
  print(renderSummary(c));
}
