//! The op contract with the planner (docs/plan-ops.md), from its TypeScript
//! side: tests/fixtures/ops.json is written by test/unit/op-contract.test.ts
//! from src/plan/op-fields.ts (checked against the `Op` type by tsc) and from
//! the ops the planner really makes. Every op of it goes through the real
//! parser here and back to JSON: a kind, a field or an optional mark that
//! differs between the two sides fails one of these tests. No kernel.

use std::collections::BTreeSet;

use netkit::plan::{parse, Op};
use serde_json::{json, Map, Value};

const FIXTURE: &str = include_str!("fixtures/ops.json");

/// The fields of a parsed op as the plan's JSON spells them, with the
/// parser's defaults (no `onlink`: false) written as the planner leaves them
/// out. One macro makes both the exhaustive match and the list of kinds, so
/// a variant added to `Op` does not compile here until it is named, and a
/// named kind must then be in the fixture (or be an undo, below).
macro_rules! kinds {
    ($($name:literal => $pat:pat => $fields:expr;)*) => {
        const KINDS: &[&str] = &[$($name),*];
        fn to_json(op: &Op) -> (&'static str, Value) {
            match op {
                $($pat => ($name, strip($fields)),)*
            }
        }
    };
}

kinds! {
    "netnsAdd" => Op::NetnsAdd { ns, tag } => json!({"ns": ns, "tag": tag});
    "netnsDel" => Op::NetnsDel { ns } => json!({"ns": ns});
    "vethAdd" => Op::VethAdd { ns, name, alias, peer_ns, peer_name, peer_alias, mtu, leaf } =>
        json!({"ns": ns, "name": name, "alias": alias, "peerNs": peer_ns, "peerName": peer_name, "peerAlias": peer_alias, "mtu": mtu, "leaf": leaf.then_some(true)});
    "linkDel" => Op::LinkDel { ns, name, alias } => json!({"ns": ns, "name": name, "alias": alias});
    "linkUp" => Op::LinkUp { ns, name } => json!({"ns": ns, "name": name});
    "linkDown" => Op::LinkDown { ns, name } => json!({"ns": ns, "name": name});
    "addrAdd" => Op::AddrAdd { ns, dev, cidr } => json!({"ns": ns, "dev": dev, "cidr": cidr});
    "addrDel" => Op::AddrDel { ns, dev, cidr } => json!({"ns": ns, "dev": dev, "cidr": cidr});
    "routeAdd" => Op::RouteAdd { ns, route } =>
        json!({"ns": ns, "dst": route.dst, "dev": route.dev, "via": route.via, "onlink": route.onlink, "src": route.src});
    "routeDel" => Op::RouteDel { ns, route } =>
        json!({"ns": ns, "dst": route.dst, "dev": route.dev, "via": route.via, "onlink": route.onlink, "src": route.src});
    "sysctlSet" => Op::SysctlSet { ns, key, value } => json!({"ns": ns, "key": key, "value": value});
    "nftApply" => Op::NftApply { ns, family, table, ruleset } => json!({
        "ns": ns, "family": family, "table": table,
        "ruleset": serde_json::from_str::<Value>(ruleset.text()).unwrap()});
    "nftDelete" => Op::NftDelete { ns, family, table } => json!({"ns": ns, "family": family, "table": table});
    "vxlanAdd" => Op::VxlanAdd(v) => json!({"ns": v.ns, "name": v.name, "vni": v.vni, "local": v.local, "dev": v.dev,
        "port": v.port, "mtu": v.mtu, "alias": v.alias, "mac": v.mac});
    "fdbAdd" => Op::FdbAdd { ns, dev, mac, dst } => json!({"ns": ns, "dev": dev, "mac": mac, "dst": dst});
    "fdbDel" => Op::FdbDel { ns, dev, mac, dst } => json!({"ns": ns, "dev": dev, "mac": mac, "dst": dst});
    "neighAdd" => Op::NeighAdd { ns, dev, addr, mac } => json!({"ns": ns, "dev": dev, "addr": addr, "mac": mac});
    "neighDel" => Op::NeighDel { ns, dev, addr } => json!({"ns": ns, "dev": dev, "addr": addr});
}

/// Kinds the executor makes only as undos: never in a plan, so the parser must refuse them.
const UNDO_ONLY: &[&str] = &["linkDown"];

fn strip(v: Value) -> Value {
    let Value::Object(m) = v else { unreachable!() };
    Value::Object(
        m.into_iter()
            // Absent and default-valued fields are the same op.
            .filter(|(k, v)| !(v.is_null() || k == "onlink" && *v == json!(false)))
            .collect(),
    )
}

struct Kind {
    name: String,
    fields: Map<String, Value>,
    planned: Vec<Value>,
    every_field: Value,
}

fn fixture() -> Vec<Kind> {
    let v: Value = serde_json::from_str(FIXTURE).expect("ops.json is JSON");
    v["ops"]
        .as_object()
        .expect("ops.json has `ops`")
        .iter()
        .map(|(name, k)| Kind {
            name: name.clone(),
            fields: k["fields"].as_object().unwrap().clone(),
            planned: k["planned"].as_array().unwrap().clone(),
            every_field: k["everyField"].clone(),
        })
        .collect()
}

fn parse_one(op: &Value) -> Result<Op, String> {
    let mut ops = parse(&json!([op]).to_string()).map_err(|e| e.to_string())?;
    assert_eq!(ops.len(), 1);
    Ok(ops.remove(0))
}

/// Parses `op` and turns it back into JSON: the same kind and fields, or a panic naming the difference.
fn round_trip(op: &Value) {
    let parsed = parse_one(op).unwrap_or_else(|e| panic!("{op}: {e}"));
    let mut want = op.as_object().unwrap().clone();
    let kind = want.remove("op").unwrap();
    let (name, fields) = to_json(&parsed);
    assert_eq!(json!(name), kind, "{op} parsed as {parsed:?}");
    assert_eq!(fields, Value::Object(want), "{name}: fields after parsing");
}

fn without(op: &Value, field: &str) -> Value {
    let mut o = op.clone();
    o.as_object_mut().unwrap().remove(field);
    o
}

fn with(op: &Value, field: &str, value: Value) -> Value {
    let mut o = op.clone();
    o.as_object_mut().unwrap().insert(field.into(), value);
    o
}

#[test]
fn the_fixture_has_every_kind_netkit_parses() {
    let f = fixture();
    let ts: BTreeSet<&str> = f.iter().map(|k| k.name.as_str()).collect();
    let rust: BTreeSet<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| !UNDO_ONLY.contains(k))
        .collect();
    assert_eq!(ts, rust, "op kinds: TypeScript (ops.json) vs netkit's Op");
    for k in UNDO_ONLY {
        let e = parse_one(&json!({"op": k, "ns": "x", "name": "eth0"})).unwrap_err();
        assert!(e.contains(&format!("unknown op `{k}`")), "{e}");
    }
}

#[test]
fn every_op_the_planner_makes_parses_to_the_same_fields() {
    for k in fixture() {
        assert!(k.fields.contains_key("ns"), "{}", k.name);
        for op in k.planned.iter().chain([&k.every_field]) {
            round_trip(op);
        }
    }
}

#[test]
fn optional_fields_may_be_left_out_and_required_ones_may_not() {
    for k in fixture() {
        for (field, presence) in &k.fields {
            let op = without(&k.every_field, field);
            match (presence.as_str().unwrap_or_default(), parse_one(&op)) {
                ("optional", r) => {
                    r.unwrap_or_else(|e| panic!("{}: optional `{field}` left out: {e}", k.name));
                    round_trip(&op);
                }
                ("required", Err(e)) => assert!(
                    e.contains(&format!("missing field `{field}`")),
                    "{}: {e}",
                    k.name
                ),
                ("required", Ok(_)) => {
                    panic!("{}: netkit takes it without its required `{field}`", k.name)
                }
                (p, _) => panic!("{}: `{field}` is {p:?}", k.name),
            }
        }
    }
}

#[test]
fn a_field_of_another_kind_is_refused() {
    let f = fixture();
    let all: BTreeSet<String> = f.iter().flat_map(|k| k.fields.keys().cloned()).collect();
    // A sample value of each field, from the kind that has it.
    let sample = |field: &str| {
        f.iter()
            .find_map(|k| k.every_field.get(field).cloned())
            .unwrap()
    };
    for k in &f {
        for field in all.iter().filter(|x| !k.fields.contains_key(*x)) {
            let r = parse_one(&with(&k.every_field, field, sample(field)));
            let e = r.expect_err(&format!(
                "{} takes `{field}`, which its TypeScript type lacks",
                k.name
            ));
            assert!(e.contains(&format!("unknown field `{field}`")), "{e}");
        }
        let e = parse_one(&with(&k.every_field, "bogus", json!(1))).unwrap_err();
        assert!(e.contains("unknown field `bogus`"), "{e}");
    }
}
