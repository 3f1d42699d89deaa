#!/usr/bin/env bash
# `make bench`: vpcctl against the seed's way (one ip/nft process per step)
# and against the floor (the same objects from a minimal raw-netlink
# program), for one VPC with N subnets, plus per-packet cost and peak RSS.
# Writes bench/results.md and bench/results.json and prints each target as
# met or missed. Scratch files go to bench/out (git-ignored).
#
# Knobs (environment):
#   BENCH_N=500          subnets per VPC (half public, half private, each with a policy)
#   BENCH_CLI_N=100      create-subnet calls timed one by one
#   BENCH_REPEAT=3       runs of each floor/vpcctl scenario (median reported);
#                        the seed's way runs once, it is slow and far off target
#   BENCH_REAPPLY=5      no-op re-applies after each vpcctl apply (median of all)
#   BENCH_STATUS=5       `status` calls after each vpcctl apply (deep drift check; median of all)
#   BENCH_RTT_COUNT=2000 timed round trips per RTT run (after 200 warm-up ones)
#   BENCH_RTT_ROUNDS=5   RTT runs (medians over runs reported)
#   BENCH_CLUSTER_N=200  subnets per simulated host in the cluster scenario (3 hosts)
#   BENCH_ONLY="floor seed vpcctl cli rtt flowlogs cluster ipv6"   scenarios to run; add `scale` (or set
#                        BENCH_SCALE=1) for the scale series below
#   BENCH_SCALE_NS="500 1000 2000 5000"   subnets in one VPC, per step of the series
#   BENCH_SCALE_VPCS=20  and one step of BENCH_SCALE_VPCS VPCs of 500 subnets (0: none)
#   BENCH_SCALE_BUILDERS="floor expert vpcctl"   who builds each step
#   BENCH_SCALE_REAPPLY=3  no-op re-applies per vpcctl step (median)
#
# Everything runs inside scripts/sandbox.sh (new net/mount/pid namespaces,
# tmpfs /run): no packet leaves namespaces made here, nothing leaks.
set -uo pipefail
# System ip/nft first: under npx, PATH has an unrelated `nft` (@vercel/nft).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
export CARGO_TARGET_DIR=$OUT/floor-target
FLOOR=$CARGO_TARGET_DIR/release/floor
RTT=$CARGO_TARGET_DIR/release/rtt

if [[ ${VPCCTL_SANDBOX:-} != 1 ]]; then
  # Built out here: the sandbox has no network for crates.io.
  [[ $(id -u) == 0 ]] || { echo "bench: run as root (sudo make bench)" >&2; exit 1; }
  export PATH=$HOME/.cargo/bin:/root/.cargo/bin:$PATH
  mkdir -p "$OUT"
  cargo build --quiet --release --manifest-path bench/floor/Cargo.toml || exit 1
  exec scripts/sandbox.sh bash "$ROOT/bench/run.sh" "$@"
fi

N=${BENCH_N:-500}
CLI_N=${BENCH_CLI_N:-100}
REPEAT=${BENCH_REPEAT:-3}
REAPPLY=${BENCH_REAPPLY:-5}
STATUS=${BENCH_STATUS:-5}
RTT_COUNT=${BENCH_RTT_COUNT:-2000}
RTT_ROUNDS=${BENCH_RTT_ROUNDS:-5}
ONLY=" ${BENCH_ONLY:-floor seed vpcctl cli rtt flowlogs cluster ipv6} "
[[ ${BENCH_SCALE:-} == 1 ]] && ONLY+="scale "
SCALE_NS=${BENCH_SCALE_NS:-500 1000 2000 5000}
SCALE_VPCS=${BENCH_SCALE_VPCS:-20}
SCALE_BUILDERS=" ${BENCH_SCALE_BUILDERS:-floor expert vpcctl} "
SCALE_REAPPLY=${BENCH_SCALE_REAPPLY:-3}
VPC=bench
RESULTS=$OUT/results.tsv
: >"$RESULTS"
mkdir -p "$OUT"

log() { printf '\e[2m[bench %s]\e[0m %s\n' "$(date +%T)" "$*" >&2; }
record() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }
wants() { [[ $ONLY == *" $1 "* ]]; }

# Wall time from bash's own clock (no process for `date`) around the
# command, and its peak RSS from /usr/bin/time (max over the process tree).
# Sets WALL_MS and RSS_KB; output goes to $OUT/cmd.{out,err}.
timed() {
  local t0=$EPOCHREALTIME t1
  if ! /usr/bin/time -f %M -o "$OUT/time.txt" "$@" >"$OUT/cmd.out" 2>"$OUT/cmd.err"; then
    t1=$EPOCHREALTIME
    log "FAILED: $* ($(tail -n 3 "$OUT/cmd.err" | tr '\n' ' '))"
    return 1
  fi
  t1=$EPOCHREALTIME
  WALL_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
  RSS_KB=$(tail -n 1 "$OUT/time.txt")
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
maxof() { tr ' ' '\n' | grep . | sort -g | tail -n 1; }
quantile() { tr ' ' '\n' | grep . | sort -g | awk -v q="$1" '{ v[NR] = $1 } END { i = int((NR - 1) * q + 0.5) + 1; print v[i] }'; }

# --- clean state between scenarios ---------------------------------------------

VPCCTL_OK=0
VPCCTL_WHY=""
if [[ ! -d dist ]]; then
  VPCCTL_WHY="not built (no dist/): run make build"
elif ! ./vpcctl --version >/dev/null 2>&1; then
  VPCCTL_WHY="./vpcctl --version fails: $(./vpcctl --version 2>&1 | head -n 1)"
else
  VPCCTL_OK=1
fi

netns_objects() { awk '$1 == "net_namespace" { print $2 }' /proc/slabinfo; }
NETNS_BASE=$(netns_objects)

# Removes whatever a scenario left, then waits for the kernel to finish
# destroying namespaces, so the next scenario does not share the CPU with
# that work. Two kernel facts shape this:
#  - destruction runs in a worker after the deleting command returns;
#  - on this kernel (6.18) a namespace whose file was lazily unmounted
#    (umount2 MNT_DETACH, what `ip netns del`, netkit and the floor do) is
#    not released until some later umount happens: after a bulk delete all
#    of them linger. One throwaway `ip netns add/del` (the "kick") lets them go.
# Done when the count of live netns objects (global: other work on the
# machine moves it too) is down to $2, by default where it was when the
# bench started, or has stopped moving for 2 s.
# Sets SETTLE_MS: time from $1 (an $EPOCHREALTIME) until done.
settle() {
  local since=${1:-$EPOCHREALTIME}
  wait_destroyed "${2:-$NETNS_BASE}"
  SETTLE_MS=$(awk -v a="$since" -v b="$DONE_AT" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
  # Then whatever the scenario left (vpcctl's state and host table included).
  ((VPCCTL_OK)) && ./vpcctl cleanup-all >/dev/null 2>&1
  local f
  for f in /run/netns/*; do [[ -e $f ]] && ip netns del "${f##*/}" 2>/dev/null; done
  wait_destroyed "$NETNS_BASE"
  sleep 0.3
}

# Sets DONE_AT to when the count reached the base or last moved.
wait_destroyed() {
  local target=$1 last=-1 still=0 cur deadline=$((SECONDS + 300))
  ip netns add bench-kick && ip netns del bench-kick
  DONE_AT=$EPOCHREALTIME
  while ((SECONDS < deadline)); do
    cur=$(netns_objects)
    if ((cur <= target + 8)); then DONE_AT=$EPOCHREALTIME; return; fi
    if ((cur == last)); then
      ((++still >= 40)) && return
    else
      still=0 DONE_AT=$EPOCHREALTIME
    fi
    last=$cur
    sleep 0.05
  done
}

# Compares what a builder made with what the floor made (bench/fingerprint.mjs).
same_objects() {
  local who=$1 n=$2
  node bench/fingerprint.mjs "$VPC" "$n" >"$OUT/fingerprint-$who-$n.json"
  if [[ $who == floor ]]; then
    echo reference
  elif [[ ! -f $OUT/fingerprint-floor-$n.json ]]; then
    echo "unchecked (floor not run)"
  elif diff -q "$OUT/fingerprint-floor-$n.json" "$OUT/fingerprint-$who-$n.json" >/dev/null; then
    echo yes
  else
    log "$who made different objects than the floor: diff $OUT/fingerprint-floor-$n.json $OUT/fingerprint-$who-$n.json"
    echo "NO (see bench/out/fingerprint-*.json)"
  fi
}

leftover_namespaces() { find /run/netns -mindepth 1 -maxdepth 1 \( -name "ns-$VPC-*" -o -name "vpcr-$VPC" \) | wc -l; }

# --- scenarios -------------------------------------------------------------------

scenario_floor() {
  local creates=() deletes=() completes=() rss=() r t0 pre
  for ((r = 1; r <= REPEAT; r++)); do
    log "floor: create $N (run $r/$REPEAT)"
    timed "$FLOOR" create "$N" "$VPC" || { record floor.error "create failed"; settle; return; }
    creates+=("$WALL_MS") rss+=("$RSS_KB")
    cp "$OUT/cmd.out" "$OUT/floor-create.json"
    ((r == 1)) && record floor.same_objects "$(same_objects floor "$N")"
    pre=$(netns_objects) t0=$EPOCHREALTIME
    timed "$FLOOR" delete "$VPC" || { record floor.error "delete failed"; settle; return; }
    deletes+=("$WALL_MS")
    settle "$t0" $((pre - N - 1))
    completes+=("$SETTLE_MS")
  done
  record floor.create_ms "$(echo "${creates[*]}" | median)"
  record floor.create_runs_ms "${creates[*]}"
  record floor.delete_ms "$(echo "${deletes[*]}" | median)"
  record floor.delete_complete_ms "$(echo "${completes[*]}" | median)"
  record floor.rss_kb "$(echo "${rss[*]}" | maxof)"
  record floor.phases "$(cat "$OUT/floor-create.json")"
}

scenario_seed() {
  log "seed's way: create $N (one process per step; this takes a while)"
  timed bash bench/seed.sh create "$N" "$VPC" || { record seed.error "create failed"; settle; return; }
  record seed.create_ms "$WALL_MS"
  record seed.same_objects "$(same_objects seed "$N")"
  log "seed's way: delete"
  local pre t0
  pre=$(netns_objects) t0=$EPOCHREALTIME
  timed bash bench/seed.sh delete "$VPC" || { record seed.error "delete failed"; settle; return; }
  record seed.delete_ms "$WALL_MS"
  settle "$t0" $((pre - N - 1))
  record seed.delete_complete_ms "$SETTLE_MS"
}

scenario_vpcctl() {
  local topo=$OUT/topology-$N.json applies=() changes=() reapplies=() statuses=() deletes=() completes=() rss=() r t0 pre zero=yes insync=yes
  node bench/topology.mjs "$N" --vpc "$VPC" >"$topo"
  for ((r = 1; r <= REPEAT; r++)); do
    log "vpcctl: apply -f ($N subnets, run $r/$REPEAT)"
    timed ./vpcctl apply -f "$topo" || { record vpcctl.error "apply failed: $(tail -n 1 "$OUT/cmd.err")"; settle; return; }
    applies+=("$WALL_MS") rss+=("$RSS_KB")
    # vpcctl's own report: the change under its lock (plan, state writes, executor).
    changes+=("$(grep -oE 'in [0-9]+ ms' "$OUT/cmd.out" | grep -oE '[0-9]+')")
    ((r == 1)) && record vpcctl.same_objects "$(same_objects vpcctl "$N")"
    log "vpcctl: re-apply (no-op, $REAPPLY times)"
    for ((k = 0; k < REAPPLY; k++)); do
      timed ./vpcctl apply -f "$topo" || { record vpcctl.error "re-apply failed: $(tail -n 1 "$OUT/cmd.err")"; settle; return; }
      reapplies+=("$WALL_MS") rss+=("$RSS_KB")
      grep -q '^0 changes' "$OUT/cmd.out" || zero="no: $(head -n 1 "$OUT/cmd.out")"
    done
    # status verifies every object of the state's full plan against the kernel (nft tables by their generation mark).
    log "vpcctl: status ($STATUS times)"
    for ((k = 0; k < STATUS; k++)); do
      timed ./vpcctl status || { insync="no: $(head -n 1 "$OUT/cmd.out")"; continue; }
      statuses+=("$WALL_MS") rss+=("$RSS_KB")
    done
    log "vpcctl: delete-vpc"
    pre=$(netns_objects) t0=$EPOCHREALTIME
    timed ./vpcctl delete-vpc --name "$VPC" || { record vpcctl.error "delete-vpc failed: $(tail -n 1 "$OUT/cmd.err")"; settle; return; }
    deletes+=("$WALL_MS") rss+=("$RSS_KB")
    record vpcctl.leftover_namespaces "$(leftover_namespaces)"
    settle "$t0" $((pre - N - 1))
    completes+=("$SETTLE_MS")
  done
  record vpcctl.apply_ms "$(echo "${applies[*]}" | median)"
  record vpcctl.apply_runs_ms "${applies[*]}"
  record vpcctl.change_ms "$(echo "${changes[*]}" | median)"
  record vpcctl.reapply_ms "$(echo "${reapplies[*]}" | median)"
  record vpcctl.reapply_runs_ms "${reapplies[*]}"
  record vpcctl.reapply_noop "$zero"
  record vpcctl.status_ms "$(echo "${statuses[*]}" | median)"
  record vpcctl.status_runs_ms "${statuses[*]}"
  record vpcctl.status_in_sync "$insync"
  record vpcctl.delete_ms "$(echo "${deletes[*]}" | median)"
  record vpcctl.delete_complete_ms "$(echo "${completes[*]}" | median)"
  record vpcctl.rss_kb "$(echo "${rss[*]}" | maxof)"
}

# Dual-stack (issue 17): the same N-subnet apply, IPv4 only and dual-stack,
# alternating in one run so both see the same machine; target: dual <= 1.3x.
scenario_ipv6() {
  local v4=$OUT/topology-$N.json v6=$OUT/topology-$N-ipv6.json a4=() a6=() r insync=yes
  node bench/topology.mjs "$N" --vpc "$VPC" >"$v4"
  node bench/topology.mjs "$N" --vpc "$VPC" --ipv6 >"$v6"
  for ((r = 1; r <= REPEAT; r++)); do
    for kind in v4 v6; do
      log "ipv6: apply -f ($N subnets, $kind, run $r/$REPEAT)"
      local t0 pre
      if [[ $kind == v4 ]]; then timed ./vpcctl apply -f "$v4"; else timed ./vpcctl apply -f "$v6"; fi ||
        { record ipv6.error "$kind apply failed: $(tail -n 1 "$OUT/cmd.err")"; settle; return; }
      if [[ $kind == v4 ]]; then a4+=("$WALL_MS"); else a6+=("$WALL_MS"); fi
      [[ $kind == v6 ]] && { ./vpcctl status >/dev/null 2>&1 || insync=no; }
      pre=$(netns_objects) t0=$EPOCHREALTIME
      ./vpcctl delete-vpc --name "$VPC" >/dev/null 2>&1
      settle "$t0" $((pre - N - 1))
    done
  done
  local m4 m6
  m4=$(echo "${a4[*]}" | median) m6=$(echo "${a6[*]}" | median)
  record ipv6.apply_v4_ms "$m4"
  record ipv6.apply_dual_ms "$m6"
  record ipv6.apply_dual_runs_ms "${a6[*]}"
  record ipv6.dual_over_v4 "$(awk -v a="$m6" -v b="$m4" 'BEGIN { printf "%.2f", a / b }')"
  record ipv6.status_in_sync "$insync"
}

scenario_cli() {
  log "vpcctl: $CLI_N create-subnet calls, one process each"
  timed ./vpcctl create-vpc --name "$VPC" --cidr 10.0.0.0/8 || { record cli.error "create-vpc failed: $(tail -n 1 "$OUT/cmd.err")"; settle; return; }
  local walls=() rss=() i type
  for ((i = 0; i < CLI_N; i++)); do
    ((i % 2 == 0)) && type=public || type=private
    timed ./vpcctl create-subnet --vpc "$VPC" --name "s$i" --cidr "10.$((i >> 8)).$((i & 255)).0/24" --type "$type" ||
      { record cli.error "create-subnet s$i failed: $(tail -n 1 "$OUT/cmd.err")"; settle; return; }
    walls+=("$WALL_MS") rss+=("$RSS_KB")
  done
  record cli.median_ms "$(echo "${walls[*]}" | median)"
  record cli.p95_ms "$(echo "${walls[*]}" | quantile 0.95)"
  record cli.max_ms "$(echo "${walls[*]}" | maxof)"
  record cli.first_ms "${walls[0]}"
  record cli.last_ms "${walls[-1]}"
  record cli.rss_kb "$(echo "${rss[*]}" | maxof)"
  # The floor under any Node CLI on this machine: Node starting and exiting,
  # in this environment and without NODE_EXTRA_CA_CERTS (which vpcctl's
  # launcher drops: Node 20 parses that CA bundle at start-up).
  local bare=() nocerts=()
  for ((i = 0; i < 20; i++)); do
    timed node -e 0 && bare+=("$WALL_MS")
    timed env -u NODE_EXTRA_CA_CERTS node -e 0 && nocerts+=("$WALL_MS")
  done
  record cli.node_bare_ms "$(echo "${bare[*]}" | median)"
  record cli.node_nocerts_ms "$(echo "${nocerts[*]}" | median)"
  record cli.extra_ca_certs "${NODE_EXTRA_CA_CERTS:+set}"
  settle
}

# Per-packet cost: round trips between the hosts of s0 and s2 (both public)
# through their router, on port 80 (allowed by the policy), in VPC `small`
# (5 subnets) and VPC `bench` (N subnets). What a packet costs is set by its
# VPC's router and hosts, so both VPCs are built at once (same CIDR: unpeered
# VPCs may overlap) and the rtt tool alternates between them block by block;
# load from other work on the machine then hits both alike.
scenario_rtt() {
  local builder r smalls=() larges=() sp99=() lp99=() ratios=() get
  get='const r = JSON.parse(require("fs").readFileSync(process.argv[1]))[process.argv[2]]; console.log(r[process.argv[3]])'
  for builder in floor vpcctl; do
    [[ $builder == vpcctl ]] && ((!VPCCTL_OK)) && continue
    log "RTT: $builder, VPC of 5 subnets vs VPC of $N subnets ($RTT_ROUNDS x $RTT_COUNT round trips each)"
    smalls=() larges=() sp99=() lp99=() ratios=()
    case $builder in
      floor) timed "$FLOOR" create "$N" "$VPC" && timed "$FLOOR" create 5 small ;;
      vpcctl)
        node bench/topology.mjs "$N" --vpc "$VPC" >"$OUT/topology-rtt-large.json" &&
          node bench/topology.mjs 5 --vpc small >"$OUT/topology-rtt-small.json" &&
          timed ./vpcctl apply -f "$OUT/topology-rtt-large.json" && timed ./vpcctl apply -f "$OUT/topology-rtt-small.json" ;;
    esac || { record "rtt.$builder.error" "building the two VPCs failed: $(tail -n 1 "$OUT/cmd.err")"; settle; continue; }
    for ((r = 1; r <= RTT_ROUNDS; r++)); do
      if ! "$RTT" -n "$RTT_COUNT" small:ns-small-s2:10.0.2.2:ns-small-s0 large:ns-$VPC-s2:10.0.2.2:ns-$VPC-s0 >"$OUT/rtt.json" 2>"$OUT/rtt.err"; then
        record "rtt.$builder.error" "$(head -n 1 "$OUT/rtt.err")"
        break
      fi
      smalls+=("$(node -e "$get" "$OUT/rtt.json" small median_us)") larges+=("$(node -e "$get" "$OUT/rtt.json" large median_us)")
      sp99+=("$(node -e "$get" "$OUT/rtt.json" small p99_us)") lp99+=("$(node -e "$get" "$OUT/rtt.json" large p99_us)")
      ratios+=("$(awk -v a="${larges[-1]}" -v b="${smalls[-1]}" 'BEGIN { printf "%.4f", a / b }')")
    done
    if ((${#ratios[@]})); then
      record "rtt.$builder.5.median_us" "$(echo "${smalls[*]}" | median)"
      record "rtt.$builder.5.p99_us" "$(echo "${sp99[*]}" | median)"
      record "rtt.$builder.$N.median_us" "$(echo "${larges[*]}" | median)"
      record "rtt.$builder.$N.p99_us" "$(echo "${lp99[*]}" | median)"
      record "rtt.$builder.median_ratio" "$(echo "${ratios[*]}" | median)"
      record "rtt.$builder.rounds" "small ${smalls[*]} / large ${larges[*]}"
    fi
    settle
  done
}

# Flow logs' cost (issue 16 §4): two VPCs of 5 subnets built by vpcctl at
# once, fl-off without flow logs and fl-on with them and a follower reading
# them (so each record goes all the way to user space and into the ring).
# The rtt tool alternates between the two pairs (s0 -> s2, port 80, allowed
# by ingress[0]): once over one established connection (flow logs must cost
# nothing there: their rules see only a connection's first packet), once
# with a new connection per round trip (-c: connect + one round trip, where
# each connection is logged twice, s0's egress and s2's ingress).
scenario_flowlogs() {
  ((VPCCTL_OK)) || return 0
  local mode r follower flags offs ons ratios get
  get='const r = JSON.parse(require("fs").readFileSync(process.argv[1]))[process.argv[2]]; console.log(r[process.argv[3]])'
  log "flow logs: RTT with and without, established and new connections ($RTT_ROUNDS x $RTT_COUNT round trips each)"
  if ! { node bench/topology.mjs 5 --vpc fl-off >"$OUT/topology-fl-off.json" && node bench/topology.mjs 5 --vpc fl-on >"$OUT/topology-fl-on.json" &&
    timed ./vpcctl apply -f "$OUT/topology-fl-off.json" && timed ./vpcctl apply -f "$OUT/topology-fl-on.json" &&
    timed ./vpcctl flow-logs enable --vpc fl-on; }; then
    record flowlogs.error "building the two VPCs failed: $(tail -n 1 "$OUT/cmd.err")"
    settle
    return 0
  fi
  ./vpcctl flow-logs --vpc fl-on --follow >/dev/null 2>"$OUT/flowlogs-follow.err" &
  follower=$!
  sleep 1
  for mode in established new; do
    flags=() offs=() ons=() ratios=()
    [[ $mode == new ]] && flags=(-c)
    for ((r = 1; r <= RTT_ROUNDS; r++)); do
      if ! "$RTT" "${flags[@]}" -n "$RTT_COUNT" off:ns-fl-off-s2:10.0.2.2:ns-fl-off-s0 on:ns-fl-on-s2:10.0.2.2:ns-fl-on-s0 >"$OUT/rtt.json" 2>"$OUT/rtt.err"; then
        record "flowlogs.$mode.error" "$(head -n 1 "$OUT/rtt.err")"
        break
      fi
      offs+=("$(node -e "$get" "$OUT/rtt.json" off median_us)") ons+=("$(node -e "$get" "$OUT/rtt.json" on median_us)")
      ratios+=("$(awk -v a="${ons[-1]}" -v b="${offs[-1]}" 'BEGIN { printf "%.4f", a / b }')")
    done
    if ((${#ratios[@]})); then
      record "flowlogs.$mode.off_median_us" "$(echo "${offs[*]}" | median)"
      record "flowlogs.$mode.on_median_us" "$(echo "${ons[*]}" | median)"
      record "flowlogs.$mode.median_ratio" "$(echo "${ratios[*]}" | median)"
    fi
  done
  kill "$follower" 2>/dev/null
  wait "$follower" 2>/dev/null
  record flowlogs.ring_lines "$(cat "${VPCCTL_STATE_DIR:-/var/lib/vpcctl}"/flow-logs/ns-fl-on-*.jsonl 2>/dev/null | wc -l)"
  settle
}

# --- scale series ----------------------------------------------------------------------
# One step: N subnets in one VPC (or V VPCs of N each) built by one builder,
# re-applied (vpcctl), torn down, and waited for until the kernel has freed
# the namespaces. Records scale.<builder>.<step>.{create_ms,rss_kb,...}.
# Teardown: floor `delete` per VPC, expert one `ip -batch` of `netns del`,
# vpcctl `destroy -f` (one command for all VPCs). "incl. kernel" is from the
# teardown's start until the count of live net_namespace objects
# (/proc/slabinfo) is back to where it was before the step (see settle).
scale_step() {
  local who=$1 n=$2 vpcs=$3 step=$4 k names=() t0 pre creates=0 rss=0 reapplies=() zero=yes topo=$OUT/topology-scale.json
  if ((vpcs == 0)); then names=("$VPC"); else for ((k = 0; k < vpcs; k++)); do names+=("$VPC$k"); done; fi
  local total=$((n * ${#names[@]}))
  log "scale: $who builds $step ($total subnets)"
  pre=$(netns_objects)
  case $who in
    floor | expert)
      for k in "${names[@]}"; do
        if [[ $who == floor ]]; then timed "$FLOOR" create "$n" "$k"; else timed bash bench/expert.sh create "$n" "$k"; fi ||
          { record "scale.$who.$step.error" "create failed: $(tail -n 1 "$OUT/cmd.err")"; settle; return; }
        creates=$(awk -v a="$creates" -v b="$WALL_MS" 'BEGIN { print a + b }')
        ((RSS_KB > rss)) && rss=$RSS_KB
      done ;;
    vpcctl)
      if ((vpcs == 0)); then node bench/topology.mjs "$n" --vpc "$VPC" >"$topo"; else node bench/topology.mjs "$n" --vpc "$VPC" --vpcs "$vpcs" >"$topo"; fi
      timed ./vpcctl apply -f "$topo" || { record "scale.$who.$step.error" "apply failed: $(tail -n 1 "$OUT/cmd.err")"; settle; return; }
      creates=$WALL_MS rss=$RSS_KB
      record "scale.$who.$step.change_ms" "$(grep -oE 'in [0-9]+ ms' "$OUT/cmd.out" | grep -oE '[0-9]+')"
      for ((k = 0; k < SCALE_REAPPLY; k++)); do
        timed ./vpcctl apply -f "$topo" || { record "scale.$who.$step.error" "re-apply failed: $(tail -n 1 "$OUT/cmd.err")"; break; }
        reapplies+=("$WALL_MS")
        ((RSS_KB > rss)) && rss=$RSS_KB
        grep -q '^0 changes' "$OUT/cmd.out" || zero="no: $(head -n 1 "$OUT/cmd.out")"
      done
      record "scale.$who.$step.reapply_ms" "$(echo "${reapplies[*]}" | median)"
      record "scale.$who.$step.reapply_noop" "$zero" ;;
  esac
  record "scale.$who.$step.subnets" "$total"
  record "scale.$who.$step.create_ms" "$creates"
  record "scale.$who.$step.rss_kb" "$rss"
  ((vpcs == 0)) && [[ $SCALE_BUILDERS == *" floor "* ]] && record "scale.$who.$step.same_objects" "$(same_objects "$who" "$n")"
  t0=$EPOCHREALTIME
  local dels=0
  case $who in
    floor) for k in "${names[@]}"; do timed "$FLOOR" delete "$k" || { record "scale.$who.$step.error" "delete failed"; break; }; dels=$(awk -v a="$dels" -v b="$WALL_MS" 'BEGIN { print a + b }'); done ;;
    expert) for k in "${names[@]}"; do timed bash bench/expert.sh delete "$k" || { record "scale.$who.$step.error" "delete failed"; break; }; dels=$(awk -v a="$dels" -v b="$WALL_MS" 'BEGIN { print a + b }'); done ;;
    vpcctl)
      if timed ./vpcctl destroy -f "$topo"; then dels=$WALL_MS; ((RSS_KB > rss)) && record "scale.$who.$step.rss_kb" "$RSS_KB"
      else record "scale.$who.$step.error" "destroy failed: $(tail -n 1 "$OUT/cmd.err")"; fi ;;
  esac
  record "scale.$who.$step.delete_ms" "$dels"
  record "scale.$who.$step.leftover_namespaces" "$(find /run/netns -mindepth 1 -maxdepth 1 \( -name "ns-$VPC*" -o -name "vpcr-$VPC*" \) | wc -l)"
  settle "$t0" "$pre"
  record "scale.$who.$step.delete_complete_ms" "$SETTLE_MS"
}

scenario_scale() {
  local n who steps=()
  for n in $SCALE_NS; do steps+=("$n:0:$n"); done
  ((SCALE_VPCS > 0)) && steps+=("500:$SCALE_VPCS:$((500 * SCALE_VPCS))x$SCALE_VPCS")
  record scale.steps "$(printf '%s ' "${steps[@]##*:}")"
  local s
  for s in "${steps[@]}"; do
    IFS=: read -r n vpcs step <<<"$s"
    for who in floor expert vpcctl; do
      [[ $SCALE_BUILDERS == *" $who "* ]] || continue
      [[ $who == vpcctl ]] && ((!VPCCTL_OK)) && continue
      scale_step "$who" "$n" "$vpcs" "$step"
    done
  done
}

# --- cluster: three simulated hosts, one etcd member each (test/helpers/cluster-lab.ts) ---------
# 3 x BENCH_CLUSTER_N subnets of one VPC applied from one file: time until every agent reports
# it in sync, after a kill -9'd agent restarts, and TCP round trips same-host vs cross-host.
scenario_cluster() {
  log "cluster: 3 hosts x ${BENCH_CLUSTER_N:-200} subnets, then cross-host vs same-host RTT"
  if ! BENCH_RTT=$RTT BENCH_RTT_COUNT=$RTT_COUNT BENCH_RTT_ROUNDS=$RTT_ROUNDS \
    npx tsx bench/cluster.ts >"$OUT/cluster.json" 2>"$OUT/cluster.err"; then
    record cluster.error "$(grep -v '^\s*$' "$OUT/cluster.err" | tail -n 1)"
    return
  fi
  local get='const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = process.argv[2].split(".").reduce((o, k) => o?.[k], j); console.log(v ?? "")'
  local k
  for k in subnets writeMs convergedMs restartConvergedMs rtt.sameHostMedianUs rtt.crossHostMedianUs rtt.sameHostP99Us rtt.crossHostP99Us rtt.ratio; do
    record "cluster.$k" "$(node -e "$get" "$OUT/cluster.json" "$k")"
  done
  settle
}

# --- run -----------------------------------------------------------------------------

record meta.n "$N"
record meta.cli_n "$CLI_N"
record meta.repeat "$REPEAT"
record meta.rtt_count "$RTT_COUNT"
record meta.rtt_rounds "$RTT_ROUNDS"
record meta.date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
record meta.kernel "$(uname -r)"
record meta.cpus "$(nproc)"
record meta.cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
record meta.node "$(node --version)"
record meta.nft "$(nft --version)"
record meta.commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
record meta.loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
record vpcctl.available "$( ((VPCCTL_OK)) && echo yes || echo "no: $VPCCTL_WHY")"
((VPCCTL_OK)) || log "vpcctl scenarios skipped: $VPCCTL_WHY"

settle
wants floor && scenario_floor
wants seed && scenario_seed
if ((VPCCTL_OK)); then
  wants vpcctl && scenario_vpcctl
  wants cli && scenario_cli
  wants ipv6 && scenario_ipv6
fi
wants rtt && scenario_rtt
wants flowlogs && scenario_flowlogs
((VPCCTL_OK)) && wants cluster && scenario_cluster
wants scale && scenario_scale
record meta.loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# The scale series alone (BENCH_ONLY=scale) keeps the main results as they are.
if [[ $ONLY == " scale " ]]; then
  node bench/report.mjs "$RESULTS" bench/results-scale.json bench/results-scale.md
elif [[ $ONLY == " ipv6 " ]]; then
  # The dual-stack comparison alone (BENCH_ONLY=ipv6) too.
  node bench/report.mjs "$RESULTS" bench/results-ipv6.json bench/results-ipv6.md
else
  node bench/report.mjs "$RESULTS" bench/results.json bench/results.md
fi
