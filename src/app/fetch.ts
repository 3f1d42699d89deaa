import { writeFileSync } from 'node:fs';
/**
 * A minimal HTTP GET for use inside a subnet (`vpcctl exec ... -- node fetch.js URL`):
 * prints the body, exits 0 on a 2xx answer and 1 on anything else or a timeout.
 */
const url = process.argv[2];
if (!url) {
  console.error('usage: fetch URL');
  process.exit(2);
}
// FETCH_OUT: the body (or the error) goes to this file instead of stdout/stderr, for a caller
// that shows it in its own words (the demo says who answered rather than printing raw JSON).
const out = process.env.FETCH_OUT;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(Number(process.env.FETCH_TIMEOUT_MS ?? 2000)) });
  const body = await res.text();
  if (out) writeFileSync(out, body); else process.stdout.write(body);
  process.exit(res.ok ? 0 : 1);
} catch (e) {
  const message = `fetch ${url}: ${(e as Error).message}`;
  if (out) writeFileSync(out, ''); else console.error(message);
  process.exit(1);
}
