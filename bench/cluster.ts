/**
 * Cluster benchmark (issue 15): three simulated hosts (test/helpers/cluster-lab.ts),
 * a topology of 3 x BENCH_CLUSTER_N subnets applied from one file on one host, and
 *  - the time until every agent reports it applied its share (cluster status: in sync),
 *  - the time for a restarted agent (kill -9) to report in sync again,
 *  - TCP round trips from a subnet on h1 to one on h1 (same host) and to one
 *    on h2 (across the VXLAN overlay), alternating in one process (bench/floor's
 *    rtt tool, given the hosts' namespace files through /proc/PID/root).
 * Prints one JSON object. Run inside the sandbox; make bench (run.sh) does:
 *   scripts/sandbox.sh npx tsx bench/cluster.ts   (BENCH_CLUSTER_N=200, BENCH_RTT=path of rtt)
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { buildLab, type SimHost } from '../test/helpers/cluster-lab.js';

const N = Number(process.env.BENCH_CLUSTER_N ?? 200);
const lab = await buildLab();
const status = async (h: SimHost) => JSON.parse((await h.vpcctl(['cluster', 'status', '--json'])).stdout) as { hosts: Array<{ live: boolean; inSync: boolean; subnets: number }> };
const converged = async (h: SimHost, subnets: number) => {
  const s = await status(h).catch(() => null);
  return !!s && s.hosts.length === 3 && s.hosts.every((x) => x.live && x.inSync) && s.hosts.reduce((n, x) => n + x.subnets, 0) === subnets;
};
const waitFor = async (fn: () => Promise<boolean>) => {
  for (;;) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
};
/** Subnet s{k}-{i}'s host address: k is its host, i its index there (see the topology below). */
const hostAddr = (k: number, i: number) => `10.${k * 4 + (i >> 8)}.${i & 255}.2`;
const nsFile = (h: SimHost, ns: string) => `/proc/${h.pid}/root/run/netns/${ns}`;

/** Medians over ROUNDS runs of the rtt tool: same-host and cross-host pairs from the same client. */
function roundTrips(tool: string, h1: SimHost, h2: SimHost) {
  const rounds = Number(process.env.BENCH_RTT_ROUNDS ?? 5);
  const count = process.env.BENCH_RTT_COUNT ?? '2000';
  const client = nsFile(h1, 'ns-big-s0-0');
  const runs: Array<{ same: number; cross: number; sameP99: number; crossP99: number }> = [];
  for (let r = 0; r < rounds; r++) {
    const out = JSON.parse(execFileSync(tool, ['-n', count,
      `same:${nsFile(h1, 'ns-big-s0-2')}:${hostAddr(0, 2)}:${client}`,
      `cross:${nsFile(h2, 'ns-big-s1-2')}:${hostAddr(1, 2)}:${client}`], { encoding: 'utf8' }));
    runs.push({ same: out.same.median_us, cross: out.cross.median_us, sameP99: out.same.p99_us, crossP99: out.cross.p99_us });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    rounds, count: Number(count),
    sameHostMedianUs: median(runs.map((x) => x.same)), crossHostMedianUs: median(runs.map((x) => x.cross)),
    sameHostP99Us: median(runs.map((x) => x.sameP99)), crossHostP99Us: median(runs.map((x) => x.crossP99)),
    ratio: Number(median(runs.map((x) => x.cross / x.same)).toFixed(3)),
  };
}

try {
  const [h1, h2] = lab.hosts as [SimHost, SimHost];
  for (const h of lab.hosts) {
    const r = await h.vpcctl(['cluster', 'join', '--etcd', lab.endpoints, '--host', h.name]);
    if (r.code !== 0) throw new Error(r.stderr);
    h.startAgent();
  }
  await waitFor(() => converged(h1, 0));
  const subnets = lab.hosts.flatMap((h, k) => Array.from({ length: N }, (_, i) => ({
    name: `s${k}-${i}`, cidr: `10.${k * 4 + (i >> 8)}.${i & 255}.0/24`,
    type: i % 2 ? 'private' : 'public', host: h.name,
  })));
  writeFileSync('/run/bench-cluster.json', JSON.stringify({ vpcs: [{ name: 'big', cidr: '10.0.0.0/8', subnets }] }));
  const t0 = performance.now();
  const w = await h1.vpcctl(['apply', '-f', '/run/bench-cluster.json']);
  if (w.code !== 0) throw new Error(w.stderr);
  const written = performance.now() - t0;
  await waitFor(() => converged(h1, 3 * N));
  const done = performance.now() - t0;
  await h2.killAgent('SIGKILL');
  await waitFor(async () => !(await status(h1)).hosts.every((x) => x.live));
  const t1 = performance.now();
  h2.startAgent();
  await waitFor(() => converged(h1, 3 * N));
  const restart = performance.now() - t1;
  const rtt = process.env.BENCH_RTT ? roundTrips(process.env.BENCH_RTT, h1, h2) : null;
  console.log(JSON.stringify({ hosts: 3, subnets: 3 * N, writeMs: Math.round(written), convergedMs: Math.round(done), restartConvergedMs: Math.round(restart), rtt }));
} finally {
  await lab.stop();
}
