//! Shared by the verify kernel tests: a VPC plan as build.ts makes it (its
//! nftables tables as src/firewall compiles them, from fixtures/),
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

/// A table as src/firewall compiles it (fixtures/nft-rulesets.json, written
/// by test/unit/nft-fixtures.test.ts): the same shapes vpcctl applies, not a
/// copy by hand.
fn compiled(name: &str) -> Value {
    let all: Value = serde_json::from_str(include_str!("../fixtures/nft-rulesets.json")).unwrap();
    all[name].clone()
}

/// A host's policy as src/firewall compiles it: default deny, established,
/// invalid and loopback first, then counted rules (tcp 80/443 and icmp in,
/// icmp out).
pub fn policy() -> Value {
    compiled("policy-verify")
}

/// The router's table as src/firewall compiles it for a VPC without an
/// internet gateway whose `subnets` are all private: the table of an empty
/// VPC, with the subnets in its `private` set (as routerRuleset puts them).
pub fn router_table(subnets: &[String]) -> Value {
    let elems: Vec<Value> = subnets
        .iter()
        .map(|c| {
            let (a, l) = c.split_once('/').unwrap();
            json!({"prefix": {"addr": a, "len": l.parse::<u32>().unwrap()}})
        })
        .collect();
    let mut table = compiled("router-empty");
    let private = table
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find_map(|o| o.get_mut("set").filter(|s| s["name"] == "private"))
        .expect("router table has set private");
    private["elem"] = Value::from(elems);
    table
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
            json!({"op": "vethAdd", "ns": r, "name": dev, "alias": tag, "peerNs": h, "peerName": "eth0", "peerAlias": tag, "leaf": true}),
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

/// One thread for a test's plans and rtnetlink calls alike.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `ops` on `rt` with the executor's defaults.
pub fn execute_on(rt: &tokio::runtime::Runtime, ops: &[Op]) -> netkit::Result<exec::Report> {
    rt.block_on(exec::execute(ops, &exec::Options::default(), &|_, _| {}))
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
