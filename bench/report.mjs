#!/usr/bin/env node
// Turns bench/out/results.tsv (written by bench/run.sh) into results.json and
// results.md, and prints the summary with every target marked met or missed.
// All ratios compare numbers measured in the same run on the same machine.
//
//   node bench/report.mjs RESULTS.tsv results.json results.md
// BENCH_STRICT=1 makes a missed target exit 1 (for CI that wants a gate).
import { readFileSync, writeFileSync } from 'node:fs';

const [tsv, jsonPath, mdPath] = process.argv.slice(2);
const raw = Object.fromEntries(
  readFileSync(tsv, 'utf8').split('\n').filter(Boolean).map((l) => {
    const i = l.indexOf('\t');
    return [l.slice(0, i), l.slice(i + 1)];
  }),
);
const num = (k) => (raw[k] !== undefined && raw[k] !== '' && !Number.isNaN(Number(raw[k])) ? Number(raw[k]) : null);
const n = num('meta.n');
const cliN = num('meta.cli_n');
const div = (a, b) => (a !== null && b !== null && b !== 0 ? a / b : null);
const round = (v, d = 2) => (v === null ? null : Number(v.toFixed(d)));

// --- what was measured ----------------------------------------------------------

const scenario = (who, create, rss) => ({
  create_ms: create, create_ms_per_subnet: round(div(create, n), 3),
  delete_ms: num(`${who}.delete_ms`), delete_ms_per_subnet: round(div(num(`${who}.delete_ms`), n), 3),
  // Until the kernel had destroyed the namespaces (see run.sh, settle).
  delete_complete_ms: num(`${who}.delete_complete_ms`),
  peak_rss_mb: round(div(rss, 1024), 1),
});
const floor = { ...scenario('floor', num('floor.create_ms'), num('floor.rss_kb')), same_objects: raw['floor.same_objects'] ?? null };
const seed = { ...scenario('seed', num('seed.create_ms'), null), same_objects: raw['seed.same_objects'] ?? null };
const vpcctl = {
  ...scenario('vpcctl', num('vpcctl.apply_ms'), num('vpcctl.rss_kb')),
  reapply_ms: num('vpcctl.reapply_ms'), reapply_noop: raw['vpcctl.reapply_noop'] ?? null,
  status_ms: num('vpcctl.status_ms'), status_in_sync: raw['vpcctl.status_in_sync'] ?? null,
  same_objects: raw['vpcctl.same_objects'] ?? null, leftover_namespaces_after_delete: num('vpcctl.leftover_namespaces'),
};
const cli = {
  calls: cliN, median_ms: num('cli.median_ms'), p95_ms: num('cli.p95_ms'), max_ms: num('cli.max_ms'),
  first_ms: num('cli.first_ms'), last_ms: num('cli.last_ms'), peak_rss_mb: round(div(num('cli.rss_kb'), 1024), 1),
  node_bare_ms: num('cli.node_bare_ms'), node_nocerts_ms: num('cli.node_nocerts_ms'),
  extra_ca_certs: raw['cli.extra_ca_certs'] === 'set',
};
const rttOf = (b) => ({
  small: { subnets: 5, median_us: num(`rtt.${b}.5.median_us`), p99_us: num(`rtt.${b}.5.p99_us`) },
  large: { subnets: n, median_us: num(`rtt.${b}.${n}.median_us`), p99_us: num(`rtt.${b}.${n}.p99_us`) },
  // Median over runs of each run's ratio: the two VPCs alternate within a run.
  median_ratio: round(num(`rtt.${b}.median_ratio`), 3),
  p99_ratio: round(div(num(`rtt.${b}.${n}.p99_us`), num(`rtt.${b}.5.p99_us`)), 3),
});
const rtt = { vpcctl: rttOf('vpcctl'), floor: rttOf('floor') };
// Flow logs (issue 16 §4): the same pair with them off and on, over one established connection and with a new connection per round trip.
const flowLogsOf = (mode) => ({
  off_median_us: num(`flowlogs.${mode}.off_median_us`), on_median_us: num(`flowlogs.${mode}.on_median_us`),
  median_ratio: round(num(`flowlogs.${mode}.median_ratio`), 3),
});
// Dual-stack (issue 17): the same apply IPv4 only and dual-stack, alternating in one run (target: <= 1.3x).
const ipv6 = {
  apply_v4_ms: num('ipv6.apply_v4_ms'), apply_dual_ms: num('ipv6.apply_dual_ms'),
  dual_over_v4: round(num('ipv6.dual_over_v4')), status_in_sync: raw['ipv6.status_in_sync'] ?? null, error: raw['ipv6.error'] ?? null,
};
const flowLogs = { established: flowLogsOf('established'), new_connection: flowLogsOf('new'), ring_lines: num('flowlogs.ring_lines') };

const ratios = {
  create_speedup_vs_seed: round(div(seed.create_ms, vpcctl.create_ms)),
  create_vs_floor: round(div(vpcctl.create_ms, floor.create_ms)),
  teardown_speedup_vs_seed: round(div(seed.delete_ms, vpcctl.delete_ms)),
  teardown_vs_floor: round(div(vpcctl.delete_ms, floor.delete_ms)),
  teardown_complete_speedup_vs_seed: round(div(seed.delete_complete_ms, vpcctl.delete_complete_ms)),
  seed_create_vs_floor: round(div(seed.create_ms, floor.create_ms)),
  seed_teardown_vs_floor: round(div(seed.delete_ms, floor.delete_ms)),
};

// --- targets (issue 7) -------------------------------------------------------------

const vpcctlWhy = raw['vpcctl.available']?.startsWith('no') ? raw['vpcctl.available'].slice(4) : null;
const errorOf = (...keys) => keys.map((k) => raw[k]).find(Boolean);
const peakRss = [vpcctl.peak_rss_mb, cli.peak_rss_mb].filter((v) => v !== null);
const target = (name, value, unit, ok, limit, missing) => ({
  target: name, value, unit, limit,
  status: value === null ? `not measured${missing ? `: ${missing}` : ''}` : ok(value) ? 'met' : 'MISSED',
});
const why = (...keys) => errorOf(...keys) ?? vpcctlWhy ?? undefined;
const targets = [
  target('create >= 20x faster than the seed\'s way', ratios.create_speedup_vs_seed, 'x', (v) => v >= 20, '>= 20x', why('vpcctl.error', 'seed.error')),
  target('create within 1.5x of the floor', ratios.create_vs_floor, 'x', (v) => v <= 1.5, '<= 1.5x', why('vpcctl.error', 'floor.error')),
  target('teardown >= 3x faster than the seed\'s way', ratios.teardown_speedup_vs_seed, 'x', (v) => v >= 3, '>= 3x', why('vpcctl.error', 'seed.error')),
  target(`re-apply of N=${n} (no-op, drift verified)`, vpcctl.reapply_ms, 'ms', (v) => v < 100, '< 100 ms', why('vpcctl.error')),
  target('one CLI call (median wall)', cli.median_ms, 'ms', (v) => v < 150, '< 150 ms', why('cli.error')),
  target(`round-trip time, N=${n} vs 5 subnets (median)`, rtt.vpcctl.median_ratio, 'x', (v) => v <= 1.2, '<= 1.2x', why('rtt.vpcctl.error')),
  target('peak RSS of vpcctl', peakRss.length ? Math.max(...peakRss) : null, 'MB', (v) => v < 200, '< 200 MB', why('vpcctl.error')),
];

// --- cluster (three simulated hosts, bench/cluster.ts) ----------------------------------------
const ran = (prefix) => Object.keys(raw).some((k) => k.startsWith(prefix));
const cluster = ran('cluster.') ? {
  subnets: num('cluster.subnets'), write_ms: num('cluster.writeMs'), converged_ms: num('cluster.convergedMs'),
  restart_converged_ms: num('cluster.restartConvergedMs'),
  rtt: {
    same_host_median_us: num('cluster.rtt.sameHostMedianUs'), cross_host_median_us: num('cluster.rtt.crossHostMedianUs'),
    same_host_p99_us: num('cluster.rtt.sameHostP99Us'), cross_host_p99_us: num('cluster.rtt.crossHostP99Us'),
    // Median over runs of each run's ratio: the two pairs alternate within a run.
    median_ratio: num('cluster.rtt.ratio'),
  },
} : null;
if (cluster) {
  targets.push(
    target(`cluster: ${cluster.subnets ?? '3 x N'} subnets on 3 hosts, until every agent is in sync`, round(div(cluster.converged_ms, 1000), 2), 's', (v) => v < 5, '< 5 s', raw['cluster.error']),
    target('cluster: round trip across hosts vs on one host (median)', cluster.rtt.median_ratio, 'x', (v) => v <= 2, '<= 2x', raw['cluster.error']),
  );
}

// --- scale series (BENCH_SCALE=1) ------------------------------------------------------
// Steps "500", "1000", ..., and "10000x20" (20 VPCs of 500): per builder the
// create, re-apply, teardown (command and kernel), peak RSS and ms/subnet.
const steps = (raw['scale.steps'] ?? '').split(' ').filter(Boolean);
const scaleOf = (who, step) => {
  const k = (f) => num(`scale.${who}.${step}.${f}`);
  const subnets = k('subnets');
  if (subnets === null) return null;
  return {
    subnets, create_ms: k('create_ms'), create_ms_per_subnet: round(div(k('create_ms'), subnets), 3),
    change_ms: k('change_ms'), reapply_ms: k('reapply_ms'), reapply_noop: raw[`scale.${who}.${step}.reapply_noop`] ?? null,
    delete_ms: k('delete_ms'), delete_complete_ms: k('delete_complete_ms'), peak_rss_mb: round(div(k('rss_kb'), 1024), 1),
    leftover_namespaces: k('leftover_namespaces'), same_objects: raw[`scale.${who}.${step}.same_objects`] ?? null,
    error: raw[`scale.${who}.${step}.error`] ?? null,
  };
};
const scale = Object.fromEntries(steps.map((st) => [st, Object.fromEntries(['floor', 'expert', 'vpcctl'].map((w) => [w, scaleOf(w, st)]).filter(([, v]) => v))]));
const perSubnet = (st) => scale[st]?.vpcctl?.create_ms_per_subnet ?? null;
const base = steps[0];
const single = steps.filter((st) => !st.includes('x'));
const largest = single[single.length - 1];
const multi = steps.find((st) => st.includes('x'));
if (steps.length) {
  const sv = (st) => scale[st]?.vpcctl ?? {};
  targets.push(
    target(`scale: ${largest} subnets in one apply`, sv(largest).create_ms == null ? null : round(sv(largest).create_ms / 1000, 2), 's', (v) => v < 10, '< 10 s', raw[`scale.vpcctl.${largest}.error`]),
    target(`scale: ms/subnet at ${largest} vs at ${base} (linear)`, round(div(perSubnet(largest), perSubnet(base)), 2), 'x', (v) => v <= 1.5, '<= 1.5x'),
    ...(multi ? [target(`scale: ms/subnet at ${multi} vs at ${base}`, round(div(perSubnet(multi), perSubnet(base)), 2), 'x', (v) => v <= 1.5, '<= 1.5x', raw[`scale.vpcctl.${multi}.error`])] : []),
    target(`scale: re-apply of unchanged ${largest}`, sv(largest).reapply_ms ?? null, 'ms', (v) => v < 200, '< 200 ms'),
    target(`scale: peak RSS at ${largest}`, sv(largest).peak_rss_mb ?? null, 'MB', (v) => v < 250, '< 250 MB'),
    ...steps.map((st) => target(`scale: create ${st} vs the floor`, round(div(sv(st).create_ms ?? null, scale[st]?.floor?.create_ms ?? null), 2), 'x', (v) => v <= 1, '<= 1x (no slower)')),
  );
}

const meta = Object.fromEntries(Object.entries(raw).filter(([k]) => k.startsWith('meta.')).map(([k, v]) => [k.slice(5), v]));
const errors = Object.fromEntries(Object.entries(raw).filter(([k]) => k.endsWith('.error')));
const result = {
  meta, vpcctl_available: raw['vpcctl.available'], floor, seed, vpcctl, cli, rtt, flow_logs: flowLogs, ipv6, ratios, targets, scale, cluster,
  floor_phases: raw['floor.phases'] ? JSON.parse(raw['floor.phases']) : null,
  runs: {
    floor_create_ms: raw['floor.create_runs_ms'] ?? null, vpcctl_apply_ms: raw['vpcctl.apply_runs_ms'] ?? null,
    vpcctl_reapply_ms: raw['vpcctl.reapply_runs_ms'] ?? null,
    vpcctl_status_ms: raw['vpcctl.status_runs_ms'] ?? null,
    rtt_rounds_us: Object.fromEntries(Object.entries(raw).filter(([k]) => k.endsWith('.rounds'))),
  },
  errors,
};
writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);

// --- results.md -----------------------------------------------------------------------

const f = (v, d = 1) => (v === null || v === undefined ? '—' : typeof v === 'number' ? v.toFixed(d) : String(v));
const md = [];
md.push('# vpcctl benchmark results', '');
md.push(`Generated by \`make bench\` (bench/run.sh) on ${meta.date}: one VPC with N = ${n} subnets (half public, half private, each with a two-rule policy), inside scripts/sandbox.sh.`, '');
md.push(`Machine: ${meta.cpus} CPUs (${meta.cpu}), kernel ${meta.kernel}, Node ${meta.node}, ${meta.nft}; commit ${meta.commit}. Load average ${meta.loadavg_start} at start, ${meta.loadavg_end} at end.`, '');
if (vpcctlWhy) md.push(`**vpcctl was not measured**: ${vpcctlWhy}.`, '');
md.push('## Targets', '', '| target | measured | limit | status |', '|---|---|---|---|');
for (const t of targets) md.push(`| ${t.target} | ${f(t.value, t.unit === 'x' ? 2 : 1)} ${t.value === null ? '' : t.unit} | ${t.limit} | ${t.status} |`);
md.push('', `## Create and teardown, N = ${n}`, '');
md.push('| | create (ms) | ms/subnet | teardown (ms) | ms/subnet | teardown incl. kernel (ms) | peak RSS (MB) | same objects as floor |', '|---|---|---|---|---|---|---|---|');
const row = (name, s) => md.push(`| ${name} | ${f(s.create_ms)} | ${f(s.create_ms_per_subnet, 3)} | ${f(s.delete_ms)} | ${f(s.delete_ms_per_subnet, 3)} | ${f(s.delete_complete_ms)} | ${f(s.peak_rss_mb)} | ${s.same_objects ?? '—'} |`);
row('vpcctl `apply -f` / `delete-vpc`', vpcctl);
row("seed's way (one ip/nft process per step)", seed);
row('floor (raw netlink, one process)', floor);
if (num('vpcctl.change_ms') !== null) {
  md.push('', `Of vpcctl's create, ${f(num('vpcctl.change_ms'))} ms (median) is the change under its lock as vpcctl reports it: planning, state writes and the native executor; the rest is Node starting, reading and validating the file, and exiting.`);
}
const reapplies = String(raw['vpcctl.reapply_runs_ms'] ?? '').split(' ').filter(Boolean).length;
md.push('', `vpcctl re-apply (no-op): ${f(vpcctl.reapply_ms)} ms, median of ${reapplies} (reported "0 changes": ${vpcctl.reapply_noop ?? '—'}).`);
const statuses = String(raw['vpcctl.status_runs_ms'] ?? '').split(' ').filter(Boolean).length;
md.push(`vpcctl \`status\` (every object of the ${n}-subnet state checked against the kernel: namespaces, links and their state, addresses, routes, sysctls, nftables tables): ${f(vpcctl.status_ms)} ms, median of ${statuses} (in sync: ${vpcctl.status_in_sync ?? '—'}). The no-op re-apply runs the same check before answering.`);
md.push(`Floor and vpcctl: median of ${meta.repeat} runs; the seed's way: one run.`, '');
md.push('| ratio (same run) | value |', '|---|---|');
md.push(`| seed create / vpcctl create | ${f(ratios.create_speedup_vs_seed, 2)} |`);
md.push(`| vpcctl create / floor create | ${f(ratios.create_vs_floor, 2)} |`);
md.push(`| seed teardown / vpcctl teardown | ${f(ratios.teardown_speedup_vs_seed, 2)} |`);
md.push(`| vpcctl teardown / floor teardown | ${f(ratios.teardown_vs_floor, 2)} |`);
md.push(`| seed / vpcctl teardown incl. kernel | ${f(ratios.teardown_complete_speedup_vs_seed, 2)} |`);
md.push(`| seed create / floor create | ${f(ratios.seed_create_vs_floor, 2)} |`);
md.push(`| seed teardown / floor teardown | ${f(ratios.seed_teardown_vs_floor, 2)} |`);
if (result.floor_phases) {
  const p = result.floor_phases;
  md.push('', `Floor phases (inside the process): namespaces with sysctl and policy table ${f(p.netns_ms)} ms, veths/addresses/routes ${f(p.links_ms)} ms, router table ${f(p.router_nft_ms)} ms, total ${f(p.total_ms)} ms.`);
}
md.push('', `## One CLI call (${cliN} \`create-subnet\` calls, one process each)`, '');
md.push('| median | p95 | max | first | last | peak RSS |', '|---|---|---|---|---|---|');
md.push(`| ${f(cli.median_ms)} ms | ${f(cli.p95_ms)} ms | ${f(cli.max_ms)} ms | ${f(cli.first_ms)} ms | ${f(cli.last_ms)} ms | ${f(cli.peak_rss_mb)} MB |`);
if (cli.node_bare_ms !== null) {
  md.push('', `For scale: \`node -e 0\` alone (Node starting and exiting, median of 20) takes ${f(cli.node_bare_ms)} ms in this environment`
    + (cli.extra_ca_certs ? `, where NODE_EXTRA_CA_CERTS is set, and ${f(cli.node_nocerts_ms)} ms without it (vpcctl's launcher drops it: Node 20 parses that CA bundle at start-up, and vpcctl makes no TLS connection)` : '')
    + `. vpcctl's own share of a call is the rest.`);
}
md.push('', `## Per-packet cost: TCP round trip s0 -> s2 (port 80) through the router`, '');
md.push(`VPC \`small\` (5 subnets) and VPC \`bench\` (N subnets) exist at once, built by the same builder; one process times both host pairs (s0 -> s2), alternating in 10 blocks so that other load hits both alike. ${meta.rtt_rounds} runs of ${meta.rtt_count} round trips per pair (64 bytes, TCP_NODELAY, all threads pinned to one CPU, after 200 warm-up); medians over runs of each run's median, p99 and ratio.`, '');
md.push('| built by | 5 subnets median / p99 (µs) | N subnets median / p99 (µs) | ratio (median) | ratio (p99) |', '|---|---|---|---|---|');
for (const [b, r] of Object.entries(rtt)) {
  md.push(`| ${b} | ${f(r.small.median_us)} / ${f(r.small.p99_us)} | ${f(r.large.median_us)} / ${f(r.large.p99_us)} | ${f(r.median_ratio, 3)} | ${f(r.p99_ratio, 3)} |`);
}
if (cluster) {
  const c = cluster;
  md.push('', '## Cluster: three simulated hosts (bench/cluster.ts)', '');
  md.push(`Three hosts, each its own network and mount namespace with one etcd member and an agent, joined by an underlay bridge (test/helpers/cluster-lab.ts). One VPC of ${f(c.subnets, 0)} subnets (a third per host) applied from one file on h1; then h2's agent is killed (-9) and restarted; then TCP round trips from a subnet on h1 to another on h1 and to one on h2 (through both routers and the VXLAN overlay), alternating in one process as above.`, '');
  md.push('| written to etcd | every agent in sync | in sync again after kill -9 + restart | same host median / p99 (µs) | across hosts median / p99 (µs) | ratio (median) |', '|---|---|---|---|---|---|');
  md.push(`| ${f(c.write_ms, 0)} ms | ${f(c.converged_ms, 0)} ms | ${f(c.restart_converged_ms, 0)} ms | ${f(c.rtt.same_host_median_us)} / ${f(c.rtt.same_host_p99_us)} | ${f(c.rtt.cross_host_median_us)} / ${f(c.rtt.cross_host_p99_us)} | ${f(c.rtt.median_ratio, 2)} |`);
}
if (ipv6.apply_dual_ms !== null || ipv6.error) {
  md.push('', '## Dual-stack apply (issue 17)', '');
  md.push(`One VPC of ${n} subnets applied IPv4 only and dual-stack (fd00:b::/48, a /64 each), alternating in one run; median of the runs. Target: dual-stack <= 1.3x.`, '');
  if (ipv6.error) md.push(`Error: ${ipv6.error}`, '');
  md.push('| IPv4 only (ms) | dual-stack (ms) | ratio | status in sync |', '|---|---|---|---|');
  md.push(`| ${f(ipv6.apply_v4_ms, 0)} | ${f(ipv6.apply_dual_ms, 0)} | ${f(ipv6.dual_over_v4, 2)} | ${ipv6.status_in_sync ?? '-'} |`);
}
if (flowLogs.established.median_ratio !== null || flowLogs.new_connection.median_ratio !== null) {
  md.push('', '## Flow logs: round trip s0 -> s2 (port 80) without and with them', '');
  md.push('Two VPCs of 5 subnets built by vpcctl at once, `fl-off` and `fl-on` (flow logs on, a `flow-logs --follow` reading them); the same alternation and rounds as above. "established": all round trips on one connection (the log rules never see them); "new connection": connect plus one round trip each time (each connection logged twice: the client\'s egress, the server\'s ingress).', '');
  md.push('| traffic | off, median (µs) | on, median (µs) | ratio (median) |', '|---|---|---|---|');
  for (const [what, r] of [['established', flowLogs.established], ['new connection', flowLogs.new_connection]]) {
    md.push(`| ${what} | ${f(r.off_median_us)} | ${f(r.on_median_us)} | ${f(r.median_ratio, 3)} |`);
  }
}
if (steps.length) {
  md.push('', '## Scale series', '');
  md.push('One VPC of N subnets, then 20 VPCs of 500 (`10000x20`), each built, re-applied (vpcctl) and torn down by each builder in turn. Floor and expert: one process (or script) per VPC, times summed. Teardown: floor `delete`, expert one `ip -batch` of `netns del`, vpcctl `destroy -f`; "incl. kernel" is until the kernel has destroyed the namespaces (live `net_namespace` objects back to the count before the step). One run per step; "vs first step" is the ms/subnet ratio to the first step of the same builder.', '');
  if (raw['scale.note']) md.push(`Note: ${raw['scale.note']}`, '');
  md.push('| step | builder | create (ms) | ms/subnet | vs first step | re-apply (ms) | teardown (ms) | incl. kernel (ms) | peak RSS (MB) | same objects |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const st of steps) {
    for (const [who, r] of Object.entries(scale[st])) {
      const first = scale[base]?.[who]?.create_ms_per_subnet ?? null;
      md.push(`| ${st} | ${who} | ${f(r.create_ms)} | ${f(r.create_ms_per_subnet, 3)} | ${f(round(div(r.create_ms_per_subnet, first), 2), 2)} | ${f(r.reapply_ms)} | ${f(r.delete_ms)} | ${f(r.delete_complete_ms)} | ${f(r.peak_rss_mb)} | ${r.same_objects ?? '—'}${r.error ? ` (error: ${r.error})` : ''} |`);
    }
  }
}
if (Object.keys(errors).length) {
  md.push('', '## Errors', '');
  for (const [k, v] of Object.entries(errors)) md.push(`- \`${k}\`: ${v}`);
}
md.push('', '## Method', '');
md.push(
  '- All three builders make the same kernel objects (src/plan/build.ts): a router netns with its sysctls and table, and per subnet a host netns, a veth created with its peer inside it, addresses, routes and the policy table (no per-host sysctl: apps get CAP_NET_BIND_SERVICE instead). `bench/fingerprint.mjs` compares what each made with the floor (router whole, first/second/last host).',
  "- The seed's way (bench/seed.sh): one `ip`, `sysctl` or `nft` process per step; teardown is `ip netns del` per namespace.",
  '- The floor (bench/floor): one Rust process, raw rtnetlink with every request pipelined and link indexes chosen up front, libnftables in each namespace; teardown unmounts and unlinks the namespace files.',
  '- Times are wall clock of the whole command (process start included). Teardown time (the target) is until the command returns. "Incl. kernel" is until the kernel has destroyed the namespaces: that runs in a worker afterwards and, on kernel 6.18, a lazily unmounted namespace file (`umount2(MNT_DETACH)`, as `ip netns del`, netkit and the floor do) is only released at some later umount. The seed\'s one-`ip netns del`-per-namespace releases each previous one as it goes, so it pays for destruction inside its command; the bench triggers the release with one throwaway `ip netns add/del` and waits before the next scenario.',
  '- Peak RSS is the maximum resident set of the command (`/usr/bin/time`).',
  '- Other work on the machine shares its CPUs: compare the ratios, which are measured in the same run, more than absolute times.',
);
writeFileSync(mdPath, `${md.join('\n')}\n`);

// --- summary ------------------------------------------------------------------------------

const out = [];
out.push('', `vpcctl benchmark, N = ${n} (${mdPath}, ${jsonPath})`);
const line = (name, s) => `  ${name.padEnd(8)} create ${f(s.create_ms).padStart(9)} ms (${f(s.create_ms_per_subnet, 3)} ms/subnet)   teardown ${f(s.delete_ms).padStart(8)} ms`;
out.push(line('vpcctl', vpcctl), line('seed', seed), line('floor', floor));
out.push(`  vpcctl   status (deep drift check of N=${n}) ${f(vpcctl.status_ms)} ms, in sync: ${vpcctl.status_in_sync ?? '—'}`);
for (const t of targets) {
  const mark = t.status === 'met' ? '\u001b[32mmet\u001b[0m   ' : t.status === 'MISSED' ? '\u001b[31mMISSED\u001b[0m' : '\u001b[33m--\u001b[0m    ';
  out.push(`  ${mark} ${t.target}: ${f(t.value, t.unit === 'x' ? 2 : 1)}${t.value === null ? '' : ` ${t.unit}`} (${t.limit})${t.status.startsWith('not') ? ` ${t.status}` : ''}`);
}
console.log(out.join('\n'));
if (process.env.BENCH_STRICT === '1' && targets.some((t) => t.status !== 'met')) process.exitCode = 1;
