#!/usr/bin/env python3
"""Times commands for bench/startup.sh: reads [[label, argv...], ...] as JSON
on stdin, runs every command once per round, in a new order each round (so a
load that comes and goes hits all alike), after `warmup` rounds that are not
counted. Per command: the median and the 10th-90th percentiles of wall time
and of CPU time (user + system of the process and its children, from wait4:
on a shared machine it moves much less than wall time). Writes the samples as
JSON to argv[2] and prints a table."""
import json, os, random, subprocess, sys, time

rounds, out = int(sys.argv[1]), sys.argv[2]
warmup = 3
cmds = json.load(sys.stdin)
samples = {c[0]: {"wall": [], "cpu": []} for c in cmds}

# As vpcctl's launcher starts Node (bin/vpcctl.cjs): without the CA bundle
# Node 20 would parse at start-up (~100 ms of CPU here).
env = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}

def run(argv):
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(argv)}")
    return wall, ru.ru_utime + ru.ru_stime

rng = random.Random(1)
for r in range(warmup + rounds):
    order = list(cmds)
    rng.shuffle(order)
    for label, *argv in order:
        wall, cpu = run(argv)
        if r >= warmup:
            samples[label]["wall"].append(wall)
            samples[label]["cpu"].append(cpu)

def pct(xs, p):
    xs = sorted(xs)
    return xs[round(p * (len(xs) - 1))] * 1000

with open(out, "w") as f:
    json.dump(samples, f)
print(f"{'':44} {'CPU ms: median (p10-p90)':>26} {'wall ms: median (p10-p90)':>27}")
for label, _ in [(c[0], None) for c in cmds]:
    s = samples[label]
    cell = lambda xs: f"{pct(xs, .5):6.1f} ({pct(xs, .1):5.1f}-{pct(xs, .9):5.1f})"
    print(f"{label:44} {cell(s['cpu']):>26} {cell(s['wall']):>27}")
