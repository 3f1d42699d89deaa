#!/usr/bin/env bash
# The expert shell baseline: the same kernel objects as bench/seed.sh and
# the floor, made the way someone who knows iproute2 well would script them:
# per namespace one `ip -batch` file and one `nft -f`, instead of one process
# per step. (`ip -batch` cannot switch namespace between lines, so the
# router's links, addresses and routes are one batch in the router, and each
# host's side is one batch in the host.) Teardown is one `ip -batch` of
# `netns del` lines.
#
#   bench/expert.sh create N [VPC]
#   bench/expert.sh delete [VPC]
#
# Subnet i is s<i>, 10.(i>>8).(i&255).0/24 in 10.0.0.0/8, public when i is even.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

cmd=${1:?usage: expert.sh create N [VPC] | delete [VPC]}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ $cmd == delete ]]; then
  vpc=${2:-bench}
  for f in /run/netns/ns-"$vpc"-* /run/netns/vpcr-"$vpc"; do
    [[ -e $f ]] && echo "netns del ${f##*/}"
  done >"$work/del"
  ip -batch "$work/del"
  exit 0
fi

n=${2:?N}
vpc=${3:-bench}
r=vpcr-$vpc

# The same policy and router tables as seed.sh (src/firewall/*.ts).
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

# Every batch file is written before anything runs (bash only, no process per line).
pub=() priv=()
{
  echo "netns add $r"
  for ((i = 0; i < n; i++)); do echo "netns add ns-$vpc-s$i"; done
} >"$work/netns"
{
  echo "link set lo up alias vpcctl:router:$vpc"
  for ((i = 0; i < n; i++)); do
    net=10.$((i >> 8)).$((i & 255))
    printf -v link 'sn-%02x%02x%02x00' 10 $((i >> 8)) $((i & 255))
    echo "link add $link up type veth peer name eth0 netns ns-$vpc-s$i"
    echo "link set $link alias vpcctl:subnet:$vpc/s$i"
    echo "addr add $net.1/32 dev $link"
    echo "route add $net.2/32 dev $link"
    if ((i % 2 == 0)); then pub+=("$net.0/24"); else priv+=("$net.0/24"); fi
  done
} >"$work/router"
elements() { local IFS=,; (($#)) && echo "    elements = { $* }"; true; }
cat >"$work/router.nft" <<NFT
table inet vpcctl {
  set public {
    type ipv4_addr
    flags interval
$(elements "${pub[@]}")
  }
  set private {
    type ipv4_addr
    flags interval
$(elements "${priv[@]}")
  }
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
for ((i = 0; i < n; i++)); do
  net=10.$((i >> 8)).$((i & 255))
  if ((i % 2 == 0)); then dst=default; else dst=10.0.0.0/8; fi
  printf '%s\n' "link set lo up alias vpcctl:host:$vpc/s$i" "link set eth0 up alias vpcctl:subnet:$vpc/s$i" \
    "addr add $net.2/24 dev eth0" "route add $dst via $net.1 dev eth0" >"$work/h$i"
done

ip -batch "$work/netns"
ip netns exec "$r" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 net.ipv4.conf.all.proxy_arp=1
ip -n "$r" -batch "$work/router"
for ((i = 0; i < n; i++)); do
  ip -n "ns-$vpc-s$i" -batch "$work/h$i"
  ip netns exec "ns-$vpc-s$i" nft -f "$work/policy.nft"
done
ip netns exec "$r" nft -f "$work/router.nft"
