/**
 * A minimal HTTP GET for use inside a subnet (`vpcctl exec ... -- node fetch.js URL`):
 * prints the body, exits 0 on a 2xx answer and 1 on anything else or a timeout.
 */
const url = process.argv[2];
if (!url) {
  console.error('usage: fetch URL');
  process.exit(2);
}
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(Number(process.env.FETCH_TIMEOUT_MS ?? 2000)) });
  process.stdout.write(await res.text());
  process.exit(res.ok ? 0 : 1);
} catch (e) {
  console.error(`fetch ${url}: ${(e as Error).message}`);
  process.exit(1);
}
