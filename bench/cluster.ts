/**
 * Cluster benchmark (issue 15): three simulated hosts (test/helpers/cluster-lab.ts),
 * a topology of 3 x BENCH_CLUSTER_N subnets applied from one file on one host, and
 *  - the time until every agent reports it applied its share (cluster status: in sync),
 *  - the time for a restarted agent (kill -9) to report in sync again.
 * Cross-host RTT waits for the VXLAN data plane (docs/cluster.md).
 * Run: scripts/sandbox.sh npx tsx bench/cluster.ts   (BENCH_CLUSTER_N=200)
 */
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
  console.log(JSON.stringify({ hosts: 3, subnets: 3 * N, writeMs: Math.round(written), convergedMs: Math.round(done), restartConvergedMs: Math.round(restart) }));
} finally {
  await lab.stop();
}
