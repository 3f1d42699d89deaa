//! Compares an nftables table as listed by libnftables with the ruleset a
//! plan applies to it, by content: what libnftables adds or spells its own
//! way is normalised away on both sides (handles, counter values, object
//! order, key order, a one-element list written as its element, the order
//! of set elements), and what is left must be equal: the same sets and
//! maps with the same elements, the same chains, the same rules in each
//! chain in the same order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod proto;

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
            let protocol = o.get("left").is_some_and(names_protocol);
            let mut out = Map::new();
            for (k, x) in o {
                let x = if k == "right" && protocol {
                    one(protocols_as_numbers(&norm_expr(x)))
                } else if k == "right" {
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

/// Whether a match's left side is an IP protocol number, which a ruleset
/// may give by name (`meta l4proto icmp`) and a listing gives as a number.
fn names_protocol(left: &Value) -> bool {
    match single(left) {
        Some(("meta", m)) => m.get("key").and_then(Value::as_str) == Some("l4proto"),
        Some(("payload", p)) => matches!(
            (
                p.get("protocol").and_then(Value::as_str),
                p.get("field").and_then(Value::as_str)
            ),
            (Some("ip"), Some("protocol")) | (Some("ip6"), Some("nexthdr"))
        ),
        _ => false,
    }
}

/// A protocol name, or each in a set, as its number (unknown names stay).
fn protocols_as_numbers(v: &Value) -> Value {
    match v {
        Value::String(s) => proto::number(s).map_or_else(|| v.clone(), Value::from),
        Value::Array(a) => {
            let mut a: Vec<Value> = a.iter().map(protocols_as_numbers).collect();
            a.sort_by_cached_key(Value::to_string);
            Value::Array(a)
        }
        Value::Object(_) => match single(v) {
            Some(("set", items)) => serde_json::json!({ "set": protocols_as_numbers(items) }),
            _ => v.clone(),
        },
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
mod tests;
