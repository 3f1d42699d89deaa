//! What goes into a table and what comes out of one: the checks on the
//! objects of a ruleset before libnftables sees them, and a listed table
//! turned back into objects (for an undo).

use nftables::{schema::NfObject, types::NfFamily};
use serde_json::Value;

use crate::error::Cause;

pub fn parse_family(family: &str) -> Result<NfFamily, Cause> {
    serde_json::from_value(Value::String(family.to_string()))
        .map_err(|_| Cause::invalid(format!("unknown nftables family \"{family}\"")))
}

/// Checks the objects that go inside table `family table`. Each must name
/// that family and table (an apply can never touch another table), and must
/// be represented exactly by the typed nftables schema: libnftables ignores
/// a field it does not know, so a misspelt one would silently weaken a
/// firewall. Objects are passed to libnftables as given. A plan checks each
/// distinct ruleset once ([`crate::plan::Ruleset::check`]).
pub fn check_ruleset(family: &str, table: &str, objects: &[Value]) -> Result<(), Cause> {
    check_objects(family, table, objects).map_err(Cause::invalid)
}

fn check_objects(family: &str, table: &str, objects: &[Value]) -> Result<(), String> {
    for (i, v) in objects.iter().enumerate() {
        let fail = |m: String| format!("ruleset object {i}: {m}");
        let body = inner(v).ok_or_else(|| {
            fail("expected {\"kind\": {...}} or {\"command\": {\"kind\": {...}}}".into())
        })?;
        if body.0 == "table" {
            return Err(fail(
                "tables are managed by the executor; give only the table's content".into(),
            ));
        }
        let f = body.1.get("family").and_then(Value::as_str);
        let t = body.1.get("table").and_then(Value::as_str);
        if f != Some(family) || t != Some(table) {
            return Err(fail(format!(
                "must name family \"{family}\" and table \"{table}\""
            )));
        }
        let typed: NfObject<'static> =
            serde_json::from_value(v.clone()).map_err(|e| fail(e.to_string()))?;
        let back = serde_json::to_value(&typed).map_err(|e| fail(e.to_string()))?;
        if flags_sorted(&back) != flags_sorted(v) {
            return Err(fail(format!(
                "not represented exactly by the nftables schema: {v}"
            )));
        }
    }
    Ok(())
}

/// `v` with every `flags` list sorted: the schema keeps some flags in a
/// set (`fib`'s), whose order is not the one given, though the meaning is.
fn flags_sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let x = match (k.as_str(), x) {
                        ("flags", Value::Array(a)) => {
                            let mut a = a.clone();
                            a.sort_by_key(|e| e.to_string());
                            Value::Array(a)
                        }
                        _ => flags_sorted(x),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(flags_sorted).collect()),
        x => x.clone(),
    }
}

/// `{"add": {"rule": {..}}}` or `{"rule": {..}}` -> ("rule", {..}).
fn inner(v: &Value) -> Option<(&str, &Value)> {
    const CMDS: [&str; 8] = [
        "add", "create", "insert", "replace", "delete", "flush", "reset", "rename",
    ];
    let (k, body) = single(v)?;
    if CMDS.contains(&k) {
        single(body)
    } else {
        Some((k, body))
    }
}

fn single(v: &Value) -> Option<(&str, &Value)> {
    let o = v.as_object().filter(|o| o.len() == 1)?;
    o.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// Turns `list table` output back into objects for [`Nft::apply_table`]
/// (the undo of a replace): drops metainfo and the table, strips handles.
pub fn listed_objects(listed: &Value) -> Vec<Value> {
    let items = listed
        .get("nftables")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    items
        .into_iter()
        .filter(|o| single(o).is_some_and(|(k, _)| k != "metainfo" && k != "table"))
        .map(|mut o| {
            if let Some(body) = o
                .as_object_mut()
                .and_then(|m| m.values_mut().next())
                .and_then(Value::as_object_mut)
            {
                body.remove("handle");
            }
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shapes vpcctl's firewall compiler (src/firewall) emits survive
    /// the typed schema exactly; foreign tables and unknown fields do not.
    /// Its tables come from tests/fixtures/nft-rulesets.json, which
    /// test/unit/nft-fixtures.test.ts keeps equal to what it compiles now.
    #[test]
    fn firewall_shapes_round_trip() {
        let compiled: serde_json::Map<String, Value> =
            serde_json::from_str(include_str!("../../tests/fixtures/nft-rulesets.json")).unwrap();
        assert!(compiled.len() >= 7, "policies, routers, the host");
        for (name, objects) in &compiled {
            let objs = objects.as_array().unwrap();
            check_ruleset("inet", "vpcctl", objs).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Checking again gives the same verdict.
            check_ruleset("inet", "vpcctl", objs).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let objs = compiled["router"].as_array().unwrap();
        let e = check_ruleset("inet", "other", objs).unwrap_err();
        assert_eq!(e.kind(), crate::Kind::Invalid);
        let e = e.to_string();
        assert!(
            e.starts_with("ruleset object 0: must name family \"inet\" and table \"other\""),
            "{e}"
        );
        let e = check_ruleset(
            "inet",
            "vpcctl",
            &[json!({"table": {"family": "inet", "name": "vpcctl"}})],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("tables are managed by the executor"), "{e}");
        let e = check_ruleset(
            "inet",
            "vpcctl",
            &[json!({"chain": {"family": "inet", "table": "vpcctl", "name": "x", "polcy": "drop"}})],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("not represented exactly"),
            "a misspelt field: {e}"
        );
    }

    #[test]
    fn listed_table_becomes_objects_without_handles() {
        let listed = json!({"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "inet", "name": "t", "handle": 1}},
            {"chain": {"family": "inet", "table": "t", "name": "c", "handle": 2}},
            {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 3, "expr": [{"accept": null}]}}
        ]});
        assert_eq!(
            listed_objects(&listed),
            vec![
                json!({"chain": {"family": "inet", "table": "t", "name": "c"}}),
                json!({"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"accept": null}]}})
            ]
        );
    }
}
