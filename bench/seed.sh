#!/usr/bin/env bash
# The seed's way: the same kernel objects vpcctl makes for one VPC with N
# subnets (src/plan/build.ts), made the way a shell-scripted tool makes them:
# one `ip`, `sysctl` or `nft` process per step. Teardown is one
# `ip netns del` per namespace. This is the baseline vpcctl must beat 20x
# (create) and 3x (teardown).
#
#   bench/seed.sh create N [VPC]
#   bench/seed.sh delete [VPC]
#
# Same naming and addressing scheme as bench/topology.mjs and bench/floor:
# subnet i is s<i>, 10.(i>>8).(i&255).0/24 in 10.0.0.0/8, public when i is even.
# `ip -n NS` is used wherever it suffices; `ip netns exec` (which also makes
# a mount namespace) only for sysctl and nft, which have no netns option.
set -euo pipefail
# System ip/nft first: under npx, PATH has an unrelated `nft` (@vercel/nft).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

cmd=${1:?usage: seed.sh create N [VPC] | delete [VPC]}

if [[ $cmd == delete ]]; then
  vpc=${2:-bench}
  for f in /run/netns/ns-"$vpc"-* /run/netns/vpcr-"$vpc"; do
    [[ -e $f ]] && ip netns del "${f##*/}"
  done
  exit 0
fi

n=${2:?N}
vpc=${3:-bench}
r=vpcr-$vpc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The policy table every subnet gets (src/firewall/policy.ts for the bench
# policy), written once: the seed would keep it in a file too.
cat >"$work/policy.nft" <<'NFT'
table inet vpcctl {
  chain ingress {
    type filter hook input priority 0; policy accept;
    ct state established,related accept comment "established"
    ct state invalid drop comment "invalid"
    iifname "lo" accept comment "loopback"
    tcp dport 80 counter accept comment "ingress[0]"
    tcp dport 22 counter drop comment "ingress[1]"
  }
  chain egress {
    type filter hook output priority 0; policy accept;
    ct state established,related accept comment "established"
    ct state invalid drop comment "invalid"
    oifname "lo" accept comment "loopback"
  }
}
NFT

# The router's table (src/firewall/router.ts, no internet gateway): empty
# sets now, one element added per subnet as each is created.
cat >"$work/router.nft" <<'NFT'
table inet vpcctl {
  set public { type ipv4_addr; flags interval; }
  set private { type ipv4_addr; flags interval; }
  chain forward {
    type filter hook forward priority 0; policy accept;
    ct state established,related accept comment "replies"
    iifname "px-*" oifname "px-*" counter drop comment "peering is not transitive"
    iifname "px-*" oifname "igw0" counter drop comment "no edge-to-edge routing"
    iifname "igw0" oifname "px-*" counter drop comment "no edge-to-edge routing"
    iifname "igw0" ct status dnat counter accept comment "published ports"
    ip saddr @private oifname "igw0" counter drop comment "private subnets have no internet"
    iifname "igw0" ip daddr @private counter drop comment "private subnets are not reachable from outside"
  }
}
NFT

# create-vpc: router namespace, its sysctls, `lo` up and tagged, its table.
ip netns add "$r"
ip -n "$r" link set lo up alias "vpcctl:router:$vpc"
for kv in net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 net.ipv4.conf.all.proxy_arp=1; do
  ip netns exec "$r" sysctl -qw "$kv"
done
ip netns exec "$r" nft -f "$work/router.nft"

# create-subnet, N times.
for ((i = 0; i < n; i++)); do
  s=s$i ns=ns-$vpc-s$i
  net=10.$((i >> 8)).$((i & 255))
  link=$(printf 'sn-%02x%02x%02x00' 10 $((i >> 8)) $((i & 255)))
  tag=vpcctl:subnet:$vpc/$s
  if ((i % 2 == 0)); then type=public dst=default; else type=private dst=10.0.0.0/8; fi

  ip netns add "$ns"
  ip -n "$ns" link set lo up alias "vpcctl:host:$vpc/$s"
  ip -n "$r" link add "$link" type veth peer name eth0 netns "$ns"
  ip -n "$r" link set "$link" alias "$tag" up
  ip -n "$ns" link set eth0 alias "$tag" up
  ip -n "$r" addr add "$net.1/32" dev "$link"
  ip -n "$r" route add "$net.2/32" dev "$link"
  ip -n "$ns" addr add "$net.2/24" dev eth0
  ip -n "$ns" route add "$dst" via "$net.1" dev eth0
  ip netns exec "$ns" nft -f "$work/policy.nft"
  ip netns exec "$r" nft add element inet vpcctl "$type" "{ $net.0/24 }"
done
