import type { ExecutionContext } from 'ava';
import { settleIpv6, type CliResult } from './sandbox.js';

/** A command that must be refused: what it is, its arguments, the one-line message expected. */
export type Refusal = [what: string, args: string[], message: RegExp];

/**
 * Bad input's contract: each command exits 2 with one line matching its
 * message, and `snapshot()` (state, namespaces, tables, routes: what the
 * test watches) is afterwards exactly what it was before them (taken once
 * the host's IPv6 addresses have settled: settleIpv6).
 */
export async function checkRefusals(
  t: ExecutionContext,
  run: (...args: string[]) => Promise<CliResult>,
  cases: readonly Refusal[],
  snapshot: () => unknown,
): Promise<void> {
  await settleIpv6(); // the kernel's own work after earlier commands is not these refusals'
  const before = snapshot();
  for (const [what, args, message] of cases) {
    const r = await run(...args);
    t.is(r.code, 2, `${what}: ${r.stderr}`);
    t.regex(r.stderr, message, what);
    t.is(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
  }
  t.deepEqual(snapshot(), before, 'state and kernel as they were');
}
