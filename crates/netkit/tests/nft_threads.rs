//! libnftables used by several threads at once, as verify and the executor
//! do (inside scripts/sandbox.sh only).

#[macro_use]
mod common;

use netkit::{netns, nft};
use serde_json::{json, Value};

/// A table with one rule: `meta l4proto <proto> accept`.
fn table(proto: u8) -> Vec<Value> {
    vec![
        json!({"chain": {"family": "inet", "table": "t", "name": "c",
            "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}),
        json!({"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": proto}},
            {"accept": null}]}}),
    ]
}

/// The right-hand side of the listed rule's l4proto match.
fn listed(ns: &str) -> Value {
    let t = nft::list_table(ns, "inet", "t").unwrap().expect("table t");
    t["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o.get("rule"))
        .expect("one rule")["expr"][0]["match"]["right"]
        .clone()
}

/// libnftables names a protocol with getprotobynumber(3), whose result is
/// one static buffer for the whole process: two threads listing tables of
/// different protocols read each other's names (verify reported "rule
/// changed" for tables that had not). Listings give numbers, never names.
#[test]
fn two_threads_listing_tables_of_two_protocols_each_see_their_own() {
    sandbox_only!();
    let tables = [("nt-icmp", 1u8), ("nt-udp", 17u8)];
    for (ns, proto) in tables {
        netns::add(ns).unwrap();
        nft::apply_table(ns, "inet", "t", &table(proto)).unwrap();
    }
    let wrong: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = tables
            .iter()
            .map(|&(ns, proto)| {
                s.spawn(move || {
                    (0..3000)
                        .map(|_| listed(ns))
                        .filter(|v| *v != json!(proto))
                        .map(|v| format!("{ns}: {v}"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
    });
    for (ns, _) in tables {
        netns::del(ns).unwrap();
    }
    let mut kinds = wrong.clone();
    kinds.sort();
    kinds.dedup();
    assert!(
        wrong.is_empty(),
        "{} listings of 6000 wrong: {kinds:?}",
        wrong.len()
    );
}
