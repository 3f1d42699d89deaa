use std::time::Instant;
use netkit::{netns, nft::{self, Nft}};
use serde_json::json;

fn main() {
    let objs = vec![
        json!({"chain": {"family": "inet", "table": "vpcctl", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}),
        json!({"rule": {"family": "inet", "table": "vpcctl", "chain": "input", "expr": [
            {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}})];
    let fam = nft::parse_family("inet").unwrap();
    let n = 200;
    for i in 0..n { netns::add(&format!("b{i}")).unwrap(); }
    let (mut tn, mut tl, mut ta, mut tp) = (0u128, 0u128, 0u128, 0u128);
    for i in 0..n {
        netns::run_in(&format!("b{i}"), || {
            let t = Instant::now();
            let typed = nft::parse_ruleset("inet", "vpcctl", &objs).unwrap();
            tp += t.elapsed().as_micros();
            let t = Instant::now();
            let mut c = Nft::new().unwrap();
            tn += t.elapsed().as_micros();
            let t = Instant::now();
            c.list_table(fam, "vpcctl").unwrap();
            tl += t.elapsed().as_micros();
            let t = Instant::now();
            c.apply_table(fam, "vpcctl", typed).unwrap();
            ta += t.elapsed().as_micros();
        }).unwrap();
    }
    println!("per op: parse {}us new {}us list {}us apply {}us", tp / n, tn / n, tl / n, ta / n);
}
