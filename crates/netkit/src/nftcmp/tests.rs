//! nftcmp against real rulesets and their listings, and each kind of change.

use super::*;
use serde_json::json;

/// Rulesets compiled by src/firewall (policies/, a router, the host)
/// and the same tables as libnftables 1.0.6 listed them after applying
/// each in a sandbox namespace (crates/netkit/tests/fixtures/nft-*.json).
fn fixtures() -> Vec<(String, String, Value)> {
    let rulesets: Map<String, Value> =
        serde_json::from_str(include_str!("../../tests/fixtures/nft-rulesets.json")).unwrap();
    let listed: Map<String, Value> =
        serde_json::from_str(include_str!("../../tests/fixtures/nft-listed.json")).unwrap();
    rulesets
        .into_iter()
        .map(|(k, v)| {
            let l = listed[&k].clone();
            (k, v.to_string(), l)
        })
        .collect()
}

#[test]
fn real_rulesets_match_their_own_listing() {
    let f = fixtures();
    assert!(f.len() >= 6);
    for (name, ruleset, listed) in &f {
        assert_eq!(diff(ruleset, listed), None, "{name}");
    }
}

/// Applies `edit` to the listing of fixture `name` and returns the diff.
fn edited(name: &str, edit: impl FnOnce(&mut Vec<Value>)) -> Option<String> {
    let (_, ruleset, mut listed) = fixtures().into_iter().find(|(n, _, _)| n == name).unwrap();
    edit(listed["nftables"].as_array_mut().unwrap());
    diff(&ruleset, &listed)
}

fn pos(items: &[Value], kind: &str, f: impl Fn(&Value) -> bool) -> usize {
    items
        .iter()
        .position(|o| o.get(kind).is_some_and(&f))
        .unwrap()
}

#[test]
fn counters_handles_and_order_do_not_count() {
    let d = edited("policy-cidrs", |items| {
        for o in items.iter_mut() {
            if let Some(r) = o.get_mut("rule") {
                r["handle"] = json!(999);
                for e in r["expr"].as_array_mut().unwrap() {
                    if e.get("counter").is_some() {
                        *e = json!({"counter": {"packets": 12, "bytes": 3400}});
                    }
                }
            }
        }
        items.reverse(); // chains after rules, egress before ingress
                         // Rules keep their order within a chain: put them back.
        let mut rules: Vec<Value> = items
            .iter()
            .filter(|o| o.get("rule").is_some())
            .cloned()
            .collect();
        rules.reverse();
        items.retain(|o| o.get("rule").is_none());
        items.extend(rules);
    });
    assert_eq!(d, None);
}

#[test]
fn each_kind_of_change_is_named() {
    let rule_at = |items: &[Value], chain: &str, comment: &str| {
        pos(items, "rule", |r| {
            r["chain"] == chain && r["comment"] == comment
        })
    };
    // A rule deleted.
    let d = edited("policy-web", |items| {
        let i = rule_at(items, "ingress", "loopback");
        items.remove(i);
    });
    assert_eq!(
        d.as_deref(),
        Some("rule 3 of chain ingress is missing or changed")
    );
    // A rule changed (accept -> drop).
    let d = edited("policy-web", |items| {
        let i = rule_at(items, "ingress", "established");
        items[i]["rule"]["expr"][1] = json!({"drop": null});
    });
    assert_eq!(d.as_deref(), Some("rule 1 of chain ingress changed"));
    // A rule added at the end.
    let d = edited("policy-cidrs", |items| {
        items.push(json!({"rule": {"family": "inet", "table": "vpcctl", "chain": "egress", "handle": 50, "expr": [{"accept": null}]}}));
    });
    assert_eq!(d.as_deref(), Some("rule 5 of chain egress was added"));
    // A chain flushed.
    let d = edited("policy-cidrs", |items| {
        items.retain(|o| o.get("rule").is_none_or(|r| r["chain"] != "egress"))
    });
    assert_eq!(d.as_deref(), Some("rule 1 of chain egress is missing"));
    // The chain policy changed (default deny gone).
    let d = edited("policy-cidrs", |items| {
        let i = pos(items, "chain", |c| c["name"] == "ingress");
        items[i]["chain"]["policy"] = json!("accept");
    });
    assert_eq!(d.as_deref(), Some("chain ingress changed"));
    // A chain removed whole, another added.
    let d = edited("host", |items| {
        items.retain(|o| o.get("chain").is_none_or(|c| c["name"] != "input"));
        items.retain(|o| o.get("rule").is_none_or(|r| r["chain"] != "input"));
        items.push(
            json!({"chain": {"family": "inet", "table": "vpcctl", "name": "extra", "handle": 40}}),
        );
    });
    assert_eq!(
        d.as_deref(),
        Some("chain input is missing; chain extra was added")
    );
    // Set elements changed.
    let d = edited("router", |items| {
        let i = pos(items, "set", |s| s["name"] == "private");
        items[i]["set"]["elem"].as_array_mut().unwrap().pop();
    });
    assert_eq!(d.as_deref(), Some("set private has other elements"));
    let d = edited("router-empty", |items| {
        let i = pos(items, "set", |s| s["name"] == "public");
        items[i]["set"]["elem"] = json!(["10.9.9.9"]);
    });
    assert_eq!(d.as_deref(), Some("set public has other elements"));
    // A set added.
    let d = edited("host", |items| {
        items.push(json!({"set": {"family": "inet", "table": "vpcctl", "name": "x", "type": "ipv4_addr", "handle": 9}}));
    });
    assert_eq!(d.as_deref(), Some("set x was added"));
}

#[test]
fn one_element_lists_and_set_order_are_spelling() {
    let r = |right: Value| json!({"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": right}}]}});
    let c = json!({"chain": {"family": "inet", "table": "t", "name": "c"}});
    let plan = json!([c, r(json!(["invalid"]))]).to_string();
    assert_eq!(
        diff(&plan, &json!({"nftables": [c, r(json!("invalid"))]})),
        None
    );
    let plan = json!([c, r(json!({"set": [443, 80]}))]).to_string();
    assert_eq!(
        diff(
            &plan,
            &json!({"nftables": [c, r(json!({"set": [80, 443]}))]})
        ),
        None
    );
    assert!(diff(
        &plan,
        &json!({"nftables": [c, r(json!({"set": [80, 444]}))]})
    )
    .is_some());
    // Elements given as `element` commands count as the set's.
    let s = json!({"set": {"family": "inet", "table": "t", "name": "s", "type": "ipv4_addr"}});
    let e = json!({"add": {"element": {"family": "inet", "table": "t", "name": "s", "elem": ["10.0.0.1"]}}});
    let listed = json!({"set": {"family": "inet", "table": "t", "name": "s", "type": "ipv4_addr", "elem": ["10.0.0.1"], "handle": 3}});
    assert_eq!(
        diff(&json!([s, e]).to_string(), &json!({"nftables": [listed]})),
        None
    );
}

/// Listings name no protocol (nft/mod.rs asks libnftables for numbers);
/// a ruleset may still name them, as plans made before did.
#[test]
fn a_protocol_given_by_name_is_the_same_as_its_number() {
    let rules = |right: Value| {
        json!([{"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": right}},
            {"accept": null}]}}])
    };
    let listing = |right: Value| json!({"nftables": rules(right).as_array().unwrap().clone()});
    let same = |named: Value, listed: Value| diff(&rules(named).to_string(), &listing(listed));
    assert_eq!(same(json!("icmp"), json!(1)), None);
    assert_eq!(
        same(
            json!({"set": ["ipv6-icmp", "icmp"]}),
            json!({"set": [1, 58]})
        ),
        None
    );
    assert_eq!(same(json!("gre"), json!(47)), None);
    assert_eq!(
        same(json!("udp"), json!(1)).as_deref(),
        Some("rule 1 of chain c changed")
    );
    // Only where a protocol is matched: a port is not one.
    let port = |right: Value| {
        json!([{"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": right}}]}}])
    };
    assert!(diff(
        &port(json!("icmp")).to_string(),
        &json!({"nftables": port(json!(1)).as_array().unwrap().clone()})
    )
    .is_some());
}
