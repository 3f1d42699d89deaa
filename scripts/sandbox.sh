#!/usr/bin/env bash
# Run a command as root in a throwaway sandbox: new network, mount and PID
# namespaces, a fresh tmpfs on /run (so /run/netns and the state dir start
# empty), /etc made copy-on-write onto that tmpfs (what vpcctl writes under
# /etc/netns stays in the sandbox: the machine's /etc is never changed) and
# loopback up. When the command exits, PID 1 of the sandbox exits
# and the kernel reclaims every namespace, link, rule and process made in it:
# nothing can leak onto the host, even after a crash.
set -euo pipefail
if [[ ${VPCCTL_SANDBOX:-} != 1 ]]; then
  export VPCCTL_SANDBOX=1
  exec unshare --net --mount --pid --fork --mount-proc --propagation private -- "$0" "$@"
fi
mount -t tmpfs -o mode=755 vpcctl-sandbox /run
mkdir -p /run/netns /run/vpcctl/state /run/.sandbox-etc/upper /run/.sandbox-etc/work
mount -t overlay vpcctl-sandbox-etc \
  -o lowerdir=/etc,upperdir=/run/.sandbox-etc/upper,workdir=/run/.sandbox-etc/work /etc ||
  { echo "sandbox: cannot make /etc copy-on-write (overlayfs): tests would write the machine's /etc/netns" >&2; exit 1; }
export VPCCTL_STATE_DIR=${VPCCTL_STATE_DIR:-/run/vpcctl/state}
ip link set lo up  # harness only: vpcctl itself never spawns ip
"$@"  # not exec: bash stays PID 1 and reaps orphaned apps
