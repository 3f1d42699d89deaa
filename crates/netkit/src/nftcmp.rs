//! Compares an nftables table as listed by libnftables with the ruleset a
//! plan applies to it, by content: what libnftables adds or spells its own
//! way is normalised away on both sides (handles, counter values, object
//! order, key order, a one-element list written as its element, the order
//! of set elements), and what is left must be equal: the same sets and
//! maps with the same elements, the same chains, the same rules in each
//! chain in the same order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A table's content, normalised.
#[derive(Debug, Default, PartialEq)]
struct Content {
    /// Sets, maps, chains and other named objects: ("set", name) -> body.
    named: BTreeMap<(String, String), Value>,
    /// Rules of each chain, in order.
    rules: BTreeMap<String, Vec<Value>>,
}

/// `{"kind": {..}}` -> ("kind", body).
fn single(v: &Value) -> Option<(&str, &Value)> {
    let o = v.as_object().filter(|o| o.len() == 1)?;
    o.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// Normalises an expression tree (rule `expr` lists and what is in them).
fn norm_expr(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            if let Some(("counter", c)) = single(v) {
                // An anonymous counter: its values move with traffic.
                if c.is_null() || c.get("packets").is_some() || c.get("bytes").is_some() {
                    return serde_json::json!({ "counter": null });
                }
            }
            if let Some(("set", Value::Array(items))) = single(v) {
                let mut items: Vec<Value> = items.iter().map(norm_expr).collect();
                if items.len() == 1 {
                    return items.remove(0);
                }
                items.sort_by_cached_key(Value::to_string);
                return serde_json::json!({ "set": items });
            }
            let mut out = Map::new();
            for (k, x) in o {
                let x = if k == "right" {
                    one(norm_expr(x))
                } else {
                    norm_expr(x)
                };
                out.insert(k.clone(), x);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(norm_expr).collect()),
        other => other.clone(),
    }
}

/// A one-element list is listed as its element (`ct state { invalid }`).
fn one(v: Value) -> Value {
    match v {
        Value::Array(mut a) if a.len() == 1 => a.remove(0),
        v => v,
    }
}

/// An object's body without what the kernel assigns (handles) and with
/// set elements in a fixed order.
fn norm_body(body: &Value) -> Value {
    let mut b = body.as_object().cloned().unwrap_or_default();
    b.remove("handle");
    b.remove("index");
    if let Some(Value::Array(elems)) = b.get_mut("elem") {
        let mut sorted: Vec<Value> = elems.iter().map(norm_expr).collect();
        sorted.sort_by_cached_key(Value::to_string);
        *elems = sorted;
    }
    if let Some(Value::Array(elems)) = b.get("elem") {
        if elems.is_empty() {
            b.remove("elem");
        }
    }
    if let Some(expr) = b.get("expr").map(norm_expr) {
        b.insert("expr".into(), expr);
    }
    Value::Object(b)
}

impl Content {
    /// Adds one object (plain or wrapped in add/create/insert).
    fn add(&mut self, v: &Value) {
        let Some((k, body)) = single(v) else { return };
        let (k, body, front) = match k {
            "add" | "create" => match single(body) {
                Some((k, b)) => (k, b, false),
                None => return,
            },
            "insert" => match single(body) {
                Some((k, b)) => (k, b, true),
                None => return,
            },
            _ => (k, body, false),
        };
        let name = |f: &str| {
            body.get(f)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        match k {
            "metainfo" | "table" => {}
            "rule" => {
                let rules = self.rules.entry(name("chain")).or_default();
                let r = norm_body(body);
                if front {
                    rules.insert(0, r)
                } else {
                    rules.push(r)
                }
            }
            "element" => {
                // Elements added to a set or map named elsewhere.
                let key = self
                    .named
                    .keys()
                    .find(|(_, n)| *n == name("name"))
                    .cloned()
                    .unwrap_or(("set".into(), name("name")));
                let set = self
                    .named
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                let mut all: Vec<Value> = set
                    .get("elem")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                all.extend(
                    body.get("elem")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
                if let Some(o) = set.as_object_mut() {
                    o.insert("elem".into(), Value::Array(all));
                }
                *set = norm_body(set);
            }
            _ => {
                if k == "chain" {
                    self.rules.entry(name("name")).or_default();
                }
                self.named
                    .insert((k.to_string(), name("name")), norm_body(body));
            }
        }
    }
}

/// What differs between the table as listed (`{"nftables":[...]}`) and as
/// `expected` (the JSON text of a plan's ruleset) would make it, in one
/// line naming the first difference of each kind; None if they agree.
pub fn diff(expected: &str, listed: &Value) -> Option<String> {
    let want: Vec<Value> = match serde_json::from_str(expected) {
        Ok(v) => v,
        Err(e) => return Some(format!("the plan's ruleset is not JSON: {e}")),
    };
    let mut w = Content::default();
    want.iter().for_each(|v| w.add(v));
    let mut h = Content::default();
    listed
        .get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .for_each(|v| h.add(v));
    let mut out: Vec<String> = Vec::new();
    for (key, body) in &w.named {
        match h.named.get(key) {
            None => out.push(format!("{} {} is missing", key.0, key.1)),
            Some(b) if b != body => {
                if key.0 == "set" || key.0 == "map" {
                    let el = |v: &Value| v.get("elem").cloned();
                    if el(b) != el(body) && {
                        let (mut x, mut y) = (b.clone(), body.clone());
                        x.as_object_mut().map(|o| o.remove("elem"));
                        y.as_object_mut().map(|o| o.remove("elem"));
                        x == y
                    } {
                        out.push(format!("{} {} has other elements", key.0, key.1));
                        continue;
                    }
                }
                out.push(format!("{} {} changed", key.0, key.1));
            }
            Some(_) => {}
        }
    }
    for key in h.named.keys().filter(|k| !w.named.contains_key(*k)) {
        out.push(format!("{} {} was added", key.0, key.1));
    }
    for (chain, rules) in &w.rules {
        let have = h.rules.get(chain).map(Vec::as_slice).unwrap_or_default();
        if !h.named.contains_key(&("chain".to_string(), chain.clone())) && have.is_empty() {
            continue; // reported as a missing chain
        }
        if let Some(d) = rules_diff(chain, rules, have) {
            out.push(d);
        }
    }
    for (chain, rules) in h.rules.iter().filter(|(c, _)| !w.rules.contains_key(*c)) {
        if !rules.is_empty() {
            out.push(format!(
                "{} rules in chain {chain} that the plan has not",
                rules.len()
            ));
        }
    }
    (!out.is_empty()).then(|| out.join("; "))
}

/// The first difference between two rule lists of `chain` (1-based rule numbers).
fn rules_diff(chain: &str, want: &[Value], have: &[Value]) -> Option<String> {
    let first = want.iter().zip(have).position(|(a, b)| a != b);
    match (first, want.len().cmp(&have.len())) {
        (None, std::cmp::Ordering::Equal) => None,
        (None, std::cmp::Ordering::Less) => Some(format!(
            "rule {} of chain {chain} was added",
            want.len() + 1
        )),
        (None, std::cmp::Ordering::Greater) => Some(format!(
            "rule {} of chain {chain} is missing",
            have.len() + 1
        )),
        (Some(i), std::cmp::Ordering::Equal) => {
            Some(format!("rule {} of chain {chain} changed", i + 1))
        }
        (Some(i), std::cmp::Ordering::Greater) => Some(format!(
            "rule {} of chain {chain} is missing or changed",
            i + 1
        )),
        (Some(i), std::cmp::Ordering::Less) => Some(format!(
            "rule {} of chain {chain} was added or changed",
            i + 1
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Rulesets compiled by src/firewall (policies/, a router, the host)
    /// and the same tables as libnftables 1.0.6 listed them after applying
    /// each in a sandbox namespace (crates/netkit/tests/fixtures/nft-*.json).
    fn fixtures() -> Vec<(String, String, Value)> {
        let rulesets: Map<String, Value> =
            serde_json::from_str(include_str!("../tests/fixtures/nft-rulesets.json")).unwrap();
        let listed: Map<String, Value> =
            serde_json::from_str(include_str!("../tests/fixtures/nft-listed.json")).unwrap();
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
            items.push(json!({"chain": {"family": "inet", "table": "vpcctl", "name": "extra", "handle": 40}}));
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
}
