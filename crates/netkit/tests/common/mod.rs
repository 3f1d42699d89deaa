//! Shared by the verify kernel tests: a VPC plan as build.ts makes it,
//! and running / verifying plans.
#![allow(dead_code)]

use std::collections::HashMap;

use netkit::{
    exec,
    observe::NftMark,
    plan::{self, Op},
    verify::{self, Drift},
};
use serde_json::{json, Value};

pub fn sandboxed() -> bool {
    let ok =
        std::env::var("VPCCTL_SANDBOX").as_deref() == Ok("1") && nix::unistd::geteuid().is_root();
    if !ok {
        eprintln!(
            "skipped: kernel test needs root inside the sandbox (scripts/sandbox.sh cargo test)"
        );
    }
    ok
}

#[allow(unused_macros)]
macro_rules! sandbox_only {
    () => {
        if !$crate::common::sandboxed() {
            return;
        }
    };
}

pub fn rule(chain: &str, expr: Value, comment: &str) -> Value {
    json!({"rule": {"family": "inet", "table": "vpcctl", "chain": chain, "expr": expr, "comment": comment}})
}

pub fn chain(name: &str, hook: &str, policy: &str) -> Value {
    json!({"chain": {"family": "inet", "table": "vpcctl", "name": name, "type": "filter", "hook": hook, "prio": 0, "policy": policy}})
}

/// A host's policy as src/firewall compiles it: default deny, established
/// first, then counted rules (icmp out, tcp 22 and 80/443 in).
pub fn policy() -> Value {
    let est = json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}});
    json!([
        chain("ingress", "input", "drop"),
        rule("ingress", json!([est, {"accept": null}]), "established"),
        rule(
            "ingress",
            json!([{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["invalid"]}}, {"drop": null}]),
            "invalid"
        ),
        rule(
            "ingress",
            json!([{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443]}}}, {"counter": null}, {"accept": null}]),
            "ingress[0]"
        ),
        rule(
            "ingress",
            json!([{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "icmp"}}, {"counter": null}, {"accept": null}]),
            "ingress[1]"
        ),
        chain("egress", "output", "drop"),
        rule("egress", json!([est, {"accept": null}]), "established"),
        rule(
            "egress",
            json!([{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "icmp"}}, {"counter": null}, {"accept": null}]),
            "egress[0]"
        ),
    ])
}

/// The router's table: subnets in an interval set.
pub fn router_table(subnets: &[String]) -> Value {
    let elems: Vec<Value> = subnets
        .iter()
        .map(|c| {
            let (a, l) = c.split_once('/').unwrap();
            json!({"prefix": {"addr": a, "len": l.parse::<u32>().unwrap()}})
        })
        .collect();
    json!([
        {"set": {"family": "inet", "table": "vpcctl", "name": "private", "type": "ipv4_addr", "flags": ["interval"], "elem": elems}},
        chain("forward", "forward", "accept"),
        rule("forward", json!([{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@private"}}, {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "igw0"}}, {"counter": null}, {"drop": null}]), "private subnets have no internet"),
    ])
}

/// A VPC as build.ts makes it: router `<p>-r` (sysctls, table) and `n`
/// hosts `<p>-h<i>`, each with its veth, addresses, routes, sysctl, policy.
pub fn vpc(p: &str, n: usize) -> Vec<Op> {
    let r = format!("{p}-r");
    let cidrs: Vec<String> = (0..n)
        .map(|i| format!("10.{}.{}.0/24", 60 + i / 256, i % 256))
        .collect();
    let mut ops = vec![json!({"op": "netnsAdd", "ns": r, "tag": format!("vpcctl:{p}")})];
    for (k, v) in [
        ("net/ipv4/ip_forward", "1"),
        ("net/ipv4/conf/all/rp_filter", "1"),
        ("net/ipv4/conf/default/rp_filter", "1"),
        ("net/ipv4/conf/all/proxy_arp", "1"),
    ] {
        ops.push(json!({"op": "sysctlSet", "ns": r, "key": k, "value": v}));
    }
    let pol = policy();
    for (i, c) in cidrs.iter().enumerate() {
        let h = format!("{p}-h{i}");
        let net = c.trim_end_matches(".0/24");
        let dev = format!("sn-{i}");
        let tag = format!("vpcctl:{p}/{i}");
        ops.extend([
            json!({"op": "netnsAdd", "ns": h, "tag": tag}),
            json!({"op": "vethAdd", "ns": r, "name": dev, "alias": tag, "peerNs": h, "peerName": "eth0", "peerAlias": tag}),
            json!({"op": "addrAdd", "ns": r, "dev": dev, "cidr": format!("{net}.1/32")}),
            json!({"op": "routeAdd", "ns": r, "dst": format!("{net}.2/32"), "dev": dev}),
            json!({"op": "addrAdd", "ns": h, "dev": "eth0", "cidr": format!("{net}.2/24")}),
            json!({"op": "routeAdd", "ns": h, "dst": "10.0.0.0/8", "via": format!("{net}.1"), "dev": "eth0"}),
            json!({"op": "sysctlSet", "ns": h, "key": "net/ipv4/ip_unprivileged_port_start", "value": "0"}),
            json!({"op": "nftApply", "ns": h, "family": "inet", "table": "vpcctl", "ruleset": pol}),
        ]);
    }
    ops.push(json!({"op": "nftApply", "ns": r, "family": "inet", "table": "vpcctl", "ruleset": router_table(&cidrs)}));
    plan::parse(&Value::Array(ops).to_string()).unwrap()
}

pub fn index_of(ops: &[Op], f: impl Fn(&Op) -> bool) -> usize {
    ops.iter().position(f).expect("op in plan")
}

pub fn run(ops: &[Op]) -> exec::Report {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(exec::execute(ops, &exec::Options::default(), &|_, _| {}))
        .unwrap()
}

pub fn check(ops: &[Op], marks: &HashMap<String, NftMark>) -> Vec<Drift> {
    let opts = verify::Options {
        nft: marks.clone(),
        ..Default::default()
    };
    verify::verify(ops, &opts).unwrap()
}
