/**
 * Milliseconds since the stopwatch started. process.hrtime rather than the
 * `performance` global: the first touch of that global loads perf_hooks,
 * ~3 ms of a CLI call.
 */
export function stopwatch(): () => number {
  const start = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - start) / 1e6;
}
