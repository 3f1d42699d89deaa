//! Parsing a plan: a JSON array of ops (docs/plan-ops.md). Each op is read
//! straight into the typed fields of its kind, strictly: a field the op
//! does not have is an error naming the op and the field. Rulesets stay
//! JSON text, one [`Ruleset`] per distinct text.

use std::{cell::RefCell, fmt, sync::Arc};

use rustc_hash::FxHashMap;

use serde::{
    de::{self, value::MapDeserializer, DeserializeSeed, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::value::RawValue;

use super::{Op, Ruleset};
use crate::{
    error::{Error, Kind},
    neigh::{ipv4, unicast_mac},
    route::Route,
    vxlan::Vxlan,
};

/// Parses a plan; errors read `invalid plan: op K: what`.
pub fn parse(json: &str) -> crate::Result<Vec<Op>> {
    let cx = Cx::default();
    let mut de = serde_json::Deserializer::from_str(json);
    let ops = PlanSeed(&cx)
        .deserialize(&mut de)
        .and_then(|ops| de.end().map(|()| ops));
    ops.map_err(|e| {
        // The op's own words, without the position serde_json adds.
        let why = cx.failed.take().unwrap_or_else(|| e.to_string());
        Error::new(Kind::Invalid, "invalid plan", why)
    })
}

/// State shared by the ops of one plan.
#[derive(Default)]
struct Cx<'a> {
    /// One Ruleset per distinct text, so each is checked once.
    rulesets: RefCell<FxHashMap<&'a str, Arc<Ruleset>>>,
    /// The ruleset of each nftApply op so far, by 0-based op index: what a
    /// later op's `"ruleset": N` refers to.
    by_op: RefCell<FxHashMap<usize, Arc<Ruleset>>>,
    /// Why op K failed: `op K: ...`.
    failed: RefCell<Option<String>>,
}

struct PlanSeed<'c, 'a>(&'c Cx<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for PlanSeed<'_, 'a> {
    type Value = Vec<Op>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Op>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for PlanSeed<'_, 'a> {
    type Value = Vec<Op>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of ops")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<Op>, S::Error> {
        let mut ops = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let k = ops.len() + 1;
            match seq.next_element_seed(OpSeed(self.0, k))? {
                Some(op) => ops.push(op),
                None => return Ok(ops),
            }
        }
    }
}

/// Op K of the plan.
struct OpSeed<'c, 'a>(&'c Cx<'a>, usize);

impl<'de: 'a, 'a> DeserializeSeed<'de> for OpSeed<'_, 'a> {
    type Value = Op;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Op, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for OpSeed<'_, 'a> {
    type Value = Op;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an op (an object with a field `op`)")
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Op, M::Error> {
        let r = self.read(map);
        if let Err(e) = &r {
            // Noted here, before serde_json appends a position to it.
            let k = self.1;
            self.0
                .failed
                .borrow_mut()
                .get_or_insert_with(|| format!("op {k}: {e}"));
        }
        r
    }
}

impl<'a> OpSeed<'_, 'a> {
    fn read<'de: 'a, M: MapAccess<'de>>(&self, mut map: M) -> Result<Op, M::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(de::Error::missing_field("op"));
        };
        if first == "op" {
            // As the planner writes ops: the kind first, then the rest is
            // read straight into the kind's fields.
            let kind: String = map.next_value()?;
            return self.of_kind(&kind, de::value::MapAccessDeserializer::new(map));
        }
        // `op` elsewhere: the fields are kept as raw JSON until it is found.
        let mut fields: Vec<(String, &'de RawValue)> = vec![(first, map.next_value()?)];
        while let Some(k) = map.next_key::<String>()? {
            fields.push((k, map.next_value()?));
        }
        let Some(at) = fields.iter().position(|(k, _)| k == "op") else {
            return Err(de::Error::missing_field("op"));
        };
        let kind = fields.remove(at).1;
        let kind = String::deserialize(kind).map_err(de::Error::custom)?;
        self.of_kind(
            &kind,
            MapDeserializer::<_, serde_json::Error>::new(fields.into_iter()),
        )
        .map_err(de::Error::custom)
    }

    /// Reads the rest of an op of kind `kind` from `d`.
    fn of_kind<'de: 'a, D: Deserializer<'de>>(&self, kind: &str, d: D) -> Result<Op, D::Error> {
        // A field's value the op cannot take: `<kind>: <why>`.
        let invalid = |why: String| <D::Error as de::Error>::custom(format!("{kind}: {why}"));
        let op = match kind {
            "netnsAdd" => NetnsAdd::deserialize(d).map(|w| Op::NetnsAdd {
                ns: w.ns,
                tag: w.tag,
            }),
            "netnsDel" => NetnsDel::deserialize(d).map(|w| Op::NetnsDel { ns: w.ns }),
            "vethAdd" => VethAdd::deserialize(d).map(|w| Op::VethAdd {
                ns: w.ns,
                name: w.name,
                alias: Some(w.alias),
                peer_ns: w.peer_ns,
                peer_name: w.peer_name,
                peer_alias: Some(w.peer_alias),
                mtu: w.mtu,
                leaf: w.leaf,
            }),
            "linkDel" => LinkDel::deserialize(d).map(|w| Op::LinkDel {
                ns: w.ns,
                name: w.name,
                alias: w.alias,
            }),
            "linkUp" => OnLink::deserialize(d).map(|w| Op::LinkUp {
                ns: w.ns,
                name: w.name,
            }),
            "addrAdd" => Addr::deserialize(d).map(|w| Op::AddrAdd {
                ns: w.ns,
                dev: w.dev,
                cidr: w.cidr,
            }),
            "addrDel" => Addr::deserialize(d).map(|w| Op::AddrDel {
                ns: w.ns,
                dev: w.dev,
                cidr: w.cidr,
            }),
            "routeAdd" => RouteOp::deserialize(d).map(|w| {
                let (ns, route) = w.split();
                Op::RouteAdd { ns, route }
            }),
            "routeDel" => RouteDelOp::deserialize(d).map(|w| Op::RouteDel {
                ns: w.ns,
                route: Route {
                    dst: w.dst,
                    dev: w.dev,
                    via: w.via,
                    onlink: false,
                    src: None,
                },
            }),
            "sysctlSet" => Sysctl::deserialize(d).map(|w| Op::SysctlSet {
                ns: w.ns,
                key: w.key,
                value: w.value,
            }),
            "nftApply" => NftApply::deserialize(d).and_then(|w| {
                let text = w.ruleset.get();
                let ruleset = if text.starts_with(|c: char| c.is_ascii_digit()) {
                    // The same ruleset as an earlier op's: plans where one
                    // policy covers thousands of hosts stay small.
                    let earlier = text.parse::<usize>().ok().filter(|n| *n < self.1 - 1);
                    earlier
                        .and_then(|n| self.0.by_op.borrow().get(&n).cloned())
                        .ok_or_else(|| {
                            invalid(format!(
                                "ruleset {text} is not the index of an earlier nftApply op"
                            ))
                        })?
                } else {
                    let mut rulesets = self.0.rulesets.borrow_mut();
                    rulesets
                        .entry(text)
                        .or_insert_with(|| Ruleset::from_text(text))
                        .clone()
                };
                self.0
                    .by_op
                    .borrow_mut()
                    .insert(self.1 - 1, ruleset.clone());
                Ok(Op::NftApply {
                    ns: w.ns,
                    family: w.family,
                    table: w.table,
                    ruleset,
                })
            }),
            "nftDelete" => Table::deserialize(d).map(|w| Op::NftDelete {
                ns: w.ns,
                family: w.family,
                table: w.table,
            }),
            "vxlanAdd" => VxlanAdd::deserialize(d).and_then(|w| {
                let v = Vxlan {
                    ns: w.ns,
                    name: w.name,
                    vni: w.vni,
                    local: w.local,
                    dev: w.dev,
                    port: w.port,
                    mtu: w.mtu,
                    alias: w.alias,
                    mac: w.mac,
                };
                v.check().map_err(invalid)?;
                Ok(Op::VxlanAdd(Box::new(v)))
            }),
            "fdbAdd" | "fdbDel" => Fdb::deserialize(d).and_then(|w| {
                unicast_mac(&w.mac).map_err(invalid)?;
                ipv4(&w.dst, "dst").map_err(invalid)?;
                let Fdb { ns, dev, mac, dst } = w;
                Ok(if kind == "fdbAdd" {
                    Op::FdbAdd { ns, dev, mac, dst }
                } else {
                    Op::FdbDel { ns, dev, mac, dst }
                })
            }),
            "neighAdd" => NeighAdd::deserialize(d).and_then(|w| {
                unicast_mac(&w.mac).map_err(invalid)?;
                ipv4(&w.addr, "addr").map_err(invalid)?;
                let NeighAdd { ns, dev, addr, mac } = w;
                Ok(Op::NeighAdd { ns, dev, addr, mac })
            }),
            "neighDel" => NeighDel::deserialize(d).and_then(|w| {
                ipv4(&w.addr, "addr").map_err(invalid)?;
                let NeighDel { ns, dev, addr } = w;
                Ok(Op::NeighDel { ns, dev, addr })
            }),
            other => return Err(de::Error::custom(format!("unknown op `{other}`"))),
        };
        op.map_err(|e| de::Error::custom(naming_op(e.to_string(), kind)))
    }
}

/// serde's `unknown field `x`, expected ...` as `unknown field `x` for
/// <op>`: what is wrong is that this op has no such field.
fn naming_op(msg: String, kind: &str) -> String {
    match msg
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
    {
        Some((field, _)) => format!("unknown field `{field}` for {kind}"),
        None => msg,
    }
}

// The fields of each kind of op, as JSON spells them (without `op`).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetnsAdd {
    ns: String,
    tag: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetnsDel {
    ns: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VethAdd {
    ns: String,
    name: String,
    alias: String,
    peer_ns: String,
    peer_name: String,
    peer_alias: String,
    mtu: Option<u32>,
    #[serde(default)]
    leaf: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnLink {
    ns: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkDel {
    ns: String,
    name: String,
    alias: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Addr {
    ns: String,
    dev: String,
    cidr: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteOp {
    ns: String,
    dst: String,
    dev: Option<String>,
    via: Option<String>,
    onlink: Option<bool>,
    src: Option<String>,
}

/// A delete names the route by what the kernel matches it on.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDelOp {
    ns: String,
    dst: String,
    dev: Option<String>,
    via: Option<String>,
}

impl RouteOp {
    fn split(self) -> (String, Route) {
        let route = Route {
            dst: self.dst,
            dev: self.dev,
            via: self.via,
            onlink: self.onlink.unwrap_or(false),
            src: self.src,
        };
        (self.ns, route)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sysctl {
    ns: String,
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NftApply<'a> {
    ns: String,
    family: String,
    table: String,
    #[serde(borrow)]
    ruleset: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    ns: String,
    family: String,
    table: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VxlanAdd {
    ns: String,
    name: String,
    vni: u32,
    local: String,
    dev: String,
    port: Option<u16>,
    mtu: Option<u32>,
    alias: String,
    mac: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fdb {
    ns: String,
    dev: String,
    mac: String,
    dst: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeighAdd {
    ns: String,
    dev: String,
    addr: String,
    mac: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeighDel {
    ns: String,
    dev: String,
    addr: String,
}
