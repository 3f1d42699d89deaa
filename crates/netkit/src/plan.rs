//! The plan ops of docs/plan-ops.md (mirrored by src/plan/ops.ts) and the
//! dependency graph that lets the executor pipeline them while keeping the
//! meaning of their list order.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
};

use serde::Deserialize;
use serde_json::{value::RawValue, Value};

use crate::{error::in_ns, nft, route::Route};

/// One kernel operation. Plans arrive as JSON from the planner (see
/// [`parse`]); undos are made here.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    NetnsAdd {
        ns: String,
        tag: String,
    },
    NetnsDel {
        ns: String,
    },
    VethAdd {
        ns: String,
        name: String,
        alias: Option<String>,
        peer_ns: String,
        peer_name: String,
        peer_alias: Option<String>,
        mtu: Option<u32>,
    },
    LinkDel {
        ns: String,
        name: String,
    },
    /// Sets a link up (repairs a link someone set down, without rebuilding
    /// its namespace).
    LinkUp {
        ns: String,
        name: String,
    },
    /// Sets a link down: only the undo of a LinkUp that found it down; not
    /// a plan op (JSON has no `linkDown`).
    LinkDown {
        ns: String,
        name: String,
    },
    AddrAdd {
        ns: String,
        dev: String,
        cidr: String,
    },
    AddrDel {
        ns: String,
        dev: String,
        cidr: String,
    },
    RouteAdd {
        ns: String,
        route: Route,
    },
    RouteDel {
        ns: String,
        route: Route,
    },
    SysctlSet {
        ns: String,
        key: String,
        value: String,
    },
    NftApply {
        ns: String,
        family: String,
        table: String,
        ruleset: Arc<Ruleset>,
    },
    NftDelete {
        ns: String,
        family: String,
        table: String,
    },
}

/// The content of an nftables table: the JSON text of an array of
/// libnftables objects, kept as text. It goes to libnftables as given, and
/// a plan's ops that give the same text share one `Ruleset`, checked once:
/// hundreds of hosts with one policy would otherwise each be parsed into a
/// JSON tree, checked, serialised again and freed.
#[derive(Debug)]
pub struct Ruleset {
    text: Box<str>,
    /// (family, table) the objects were found to belong to.
    checked: Mutex<Option<(String, String)>>,
}

impl PartialEq for Ruleset {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Ruleset {
    pub fn from_objects(objects: &[Value]) -> Arc<Ruleset> {
        Self::from_text(Value::from(objects.to_vec()).to_string())
    }

    /// Takes JSON text as is; [`Ruleset::check`] says whether it is an
    /// array of objects fit for a table.
    pub fn from_text(text: impl Into<Box<str>>) -> Arc<Ruleset> {
        Arc::new(Ruleset {
            text: text.into(),
            checked: Mutex::new(None),
        })
    }

    /// The JSON array text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Checks the objects for table `family table` ([`nft::check_ruleset`]);
    /// remembered for the last table that passed.
    pub fn check(&self, family: &str, table: &str) -> Result<(), String> {
        let mut checked = self.checked.lock().unwrap();
        if checked
            .as_ref()
            .is_some_and(|(f, t)| f == family && t == table)
        {
            return Ok(());
        }
        let objects: Vec<Value> = serde_json::from_str(&self.text)
            .map_err(|e| format!("ruleset is not a JSON array of objects: {e}"))?;
        nft::check_ruleset(family, table, &objects)?;
        *checked = Some((family.to_string(), table.to_string()));
        Ok(())
    }
}

/// Parses a plan: a JSON array of ops (docs/plan-ops.md). Field names are
/// checked per op, as strictly as serde's `deny_unknown_fields`; rulesets
/// stay text, one [`Ruleset`] per distinct text.
pub fn parse(json: &str) -> Result<Vec<Op>, String> {
    let wires: Vec<Wire> = serde_json::from_str(json).map_err(|e| format!("invalid plan: {e}"))?;
    let mut rulesets: HashMap<&str, Arc<Ruleset>> = HashMap::new();
    wires
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            w.into_op(&mut rulesets)
                .map_err(|e| format!("invalid plan: op {}: {e}", i + 1))
        })
        .collect()
}

/// An op as JSON spells it: every field any op has, each optional. A
/// plain struct, not serde's internally tagged enum, which would buffer
/// every op (rulesets included) into an intermediate tree first.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Wire<'a> {
    op: String,
    ns: Option<String>,
    tag: Option<String>,
    name: Option<String>,
    alias: Option<String>,
    peer_ns: Option<String>,
    peer_name: Option<String>,
    peer_alias: Option<String>,
    mtu: Option<u32>,
    dev: Option<String>,
    cidr: Option<String>,
    dst: Option<String>,
    via: Option<String>,
    onlink: Option<bool>,
    src: Option<String>,
    key: Option<String>,
    value: Option<String>,
    family: Option<String>,
    table: Option<String>,
    #[serde(borrow)]
    ruleset: Option<&'a RawValue>,
}

impl<'a> Wire<'a> {
    fn into_op(mut self, rulesets: &mut HashMap<&'a str, Arc<Ruleset>>) -> Result<Op, String> {
        fn need<T>(v: &mut Option<T>, field: &str) -> Result<T, String> {
            v.take().ok_or_else(|| format!("missing field `{field}`"))
        }
        let w = &mut self;
        let ns = need(&mut w.ns, "ns")?;
        let route = |w: &mut Wire| -> Result<Route, String> {
            Ok(Route {
                dst: need(&mut w.dst, "dst")?,
                dev: w.dev.take(),
                via: w.via.take(),
                onlink: w.onlink.take().unwrap_or(false),
                src: w.src.take(),
            })
        };
        let op = match w.op.as_str() {
            "netnsAdd" => Op::NetnsAdd {
                ns,
                tag: w.tag.take().unwrap_or_default(),
            },
            "netnsDel" => Op::NetnsDel { ns },
            "vethAdd" => Op::VethAdd {
                ns,
                name: need(&mut w.name, "name")?,
                alias: w.alias.take(),
                peer_ns: need(&mut w.peer_ns, "peerNs")?,
                peer_name: need(&mut w.peer_name, "peerName")?,
                peer_alias: w.peer_alias.take(),
                mtu: w.mtu.take(),
            },
            "linkDel" => Op::LinkDel {
                ns,
                name: need(&mut w.name, "name")?,
            },
            "linkUp" => Op::LinkUp {
                ns,
                name: need(&mut w.name, "name")?,
            },
            "addrAdd" | "addrDel" => {
                let (dev, cidr) = (need(&mut w.dev, "dev")?, need(&mut w.cidr, "cidr")?);
                if w.op == "addrAdd" {
                    Op::AddrAdd { ns, dev, cidr }
                } else {
                    Op::AddrDel { ns, dev, cidr }
                }
            }
            "routeAdd" => Op::RouteAdd {
                ns,
                route: route(w)?,
            },
            "routeDel" => Op::RouteDel {
                ns,
                route: route(w)?,
            },
            "sysctlSet" => Op::SysctlSet {
                ns,
                key: need(&mut w.key, "key")?,
                value: need(&mut w.value, "value")?,
            },
            "nftApply" => {
                let raw = need(&mut w.ruleset, "ruleset")?.get();
                Op::NftApply {
                    ns,
                    family: need(&mut w.family, "family")?,
                    table: need(&mut w.table, "table")?,
                    ruleset: rulesets
                        .entry(raw)
                        .or_insert_with(|| Ruleset::from_text(raw))
                        .clone(),
                }
            }
            "nftDelete" => Op::NftDelete {
                ns,
                family: need(&mut w.family, "family")?,
                table: need(&mut w.table, "table")?,
            },
            other => return Err(format!("unknown op `{other}`")),
        };
        // What the op did not take does not belong to it.
        let left = [
            ("tag", w.tag.is_some()),
            ("name", w.name.is_some()),
            ("alias", w.alias.is_some()),
            ("peerNs", w.peer_ns.is_some()),
            ("peerName", w.peer_name.is_some()),
            ("peerAlias", w.peer_alias.is_some()),
            ("mtu", w.mtu.is_some()),
            ("dev", w.dev.is_some()),
            ("cidr", w.cidr.is_some()),
            ("dst", w.dst.is_some()),
            ("via", w.via.is_some()),
            ("onlink", w.onlink.is_some()),
            ("src", w.src.is_some()),
            ("key", w.key.is_some()),
            ("value", w.value.is_some()),
            ("family", w.family.is_some()),
            ("table", w.table.is_some()),
            ("ruleset", w.ruleset.is_some()),
        ];
        match left.iter().find(|(_, set)| *set) {
            Some((field, _)) => Err(format!("unknown field `{field}` for {}", w.op)),
            None => Ok(op),
        }
    }
}

impl Op {
    pub fn ns(&self) -> &str {
        match self {
            Op::NetnsAdd { ns, .. }
            | Op::NetnsDel { ns }
            | Op::VethAdd { ns, .. }
            | Op::LinkDel { ns, .. }
            | Op::LinkUp { ns, .. }
            | Op::LinkDown { ns, .. }
            | Op::AddrAdd { ns, .. }
            | Op::AddrDel { ns, .. }
            | Op::RouteAdd { ns, .. }
            | Op::RouteDel { ns, .. }
            | Op::SysctlSet { ns, .. }
            | Op::NftApply { ns, .. }
            | Op::NftDelete { ns, .. } => ns,
        }
    }

    /// The namespaces the op works in (a veth has an end in two).
    pub fn namespaces(&self) -> Vec<&str> {
        match self {
            Op::VethAdd { ns, peer_ns, .. } => vec![ns, peer_ns],
            op => vec![op.ns()],
        }
    }

    /// The resources the op touches: (key, written?).
    fn resources(&self) -> Vec<(Res, bool)> {
        let ns = self.ns().to_string();
        let link = |ns: &str, name: &str| (Res::Link(ns.to_string(), name.to_string()), true);
        let mut r = vec![(
            Res::Ns(ns.clone()),
            matches!(self, Op::NetnsAdd { .. } | Op::NetnsDel { .. }),
        )];
        match self {
            Op::NetnsAdd { .. } | Op::NetnsDel { .. } => {}
            Op::VethAdd {
                name,
                peer_ns,
                peer_name,
                ..
            } => {
                r.push((Res::Ns(peer_ns.clone()), false));
                r.push(link(&ns, name));
                r.push(link(peer_ns, peer_name));
            }
            Op::LinkDel { name: dev, .. }
            | Op::LinkUp { name: dev, .. }
            | Op::LinkDown { name: dev, .. }
            | Op::AddrAdd { dev, .. }
            | Op::AddrDel { dev, .. } => r.push(link(&ns, dev)),
            Op::RouteAdd { route, .. } | Op::RouteDel { route, .. } => match &route.dev {
                Some(dev) => r.push(link(&ns, dev)),
                None => r.push((Res::Route(ns), true)),
            },
            Op::SysctlSet { key, .. } => r.push((Res::Sysctl(ns, key.clone()), true)),
            Op::NftApply { family, table, .. } | Op::NftDelete { family, table, .. } => {
                r.push((Res::Nft(ns, family.clone(), table.clone()), true))
            }
        }
        r
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Res {
    Ns(String),
    Link(String, String),
    Sysctl(String, String),
    Nft(String, String, String),
    Route(String),
}

/// For each op, the earlier ops it must wait for: the last writer of every
/// resource it touches, and, if it writes, every reader since that write.
/// A route without `dev` also reads every link of its namespace seen so
/// far (its gateway must be reachable through one of them).
pub fn dependencies(ops: &[Op]) -> Vec<Vec<usize>> {
    #[derive(Default)]
    struct Track {
        writer: Option<usize>,
        readers: Vec<usize>,
    }
    let mut state: HashMap<Res, Track> = HashMap::new();
    let mut links_of: HashMap<String, Vec<Res>> = HashMap::new();
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let mut res = op.resources();
            for (r, _) in &res {
                if let Res::Link(ns, _) = r {
                    if !state.contains_key(r) {
                        links_of.entry(ns.clone()).or_default().push(r.clone());
                    }
                }
            }
            if let Some((Res::Route(ns), _)) = res.last() {
                let links = links_of.get(ns).cloned().unwrap_or_default();
                res.extend(links.into_iter().map(|l| (l, false)));
            }
            let mut deps = Vec::new();
            for (r, write) in res {
                let t = state.entry(r).or_default();
                deps.extend(t.writer);
                if write {
                    deps.append(&mut t.readers);
                    t.writer = Some(i);
                } else {
                    t.readers.push(i);
                }
            }
            deps.sort_unstable();
            deps.dedup();
            deps.retain(|&d| d != i);
            deps
        })
        .collect()
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::NetnsAdd { ns, .. } => write!(f, "netnsAdd \"{ns}\""),
            Op::NetnsDel { ns } => write!(f, "netnsDel \"{ns}\""),
            Op::VethAdd {
                ns,
                name,
                peer_ns,
                peer_name,
                ..
            } => {
                write!(
                    f,
                    "vethAdd {name}{} <-> {peer_name}{}",
                    in_ns(ns),
                    in_ns(peer_ns)
                )
            }
            Op::LinkDel { ns, name } => write!(f, "linkDel {name}{}", in_ns(ns)),
            Op::LinkUp { ns, name } => write!(f, "linkUp {name}{}", in_ns(ns)),
            Op::LinkDown { ns, name } => write!(f, "linkDown {name}{}", in_ns(ns)),
            Op::AddrAdd { ns, dev, cidr } => write!(f, "addrAdd {cidr} on {dev}{}", in_ns(ns)),
            Op::AddrDel { ns, dev, cidr } => write!(f, "addrDel {cidr} on {dev}{}", in_ns(ns)),
            Op::RouteAdd { ns, route } => f.write_str(&route.describe("routeAdd", ns)),
            Op::RouteDel { ns, route } => f.write_str(&route.describe("routeDel", ns)),
            Op::SysctlSet { ns, key, value } => write!(f, "sysctlSet {key}={value}{}", in_ns(ns)),
            Op::NftApply {
                ns, family, table, ..
            } => write!(f, "nftApply {family} {table}{}", in_ns(ns)),
            Op::NftDelete { ns, family, table } => {
                write!(f, "nftDelete {family} {table}{}", in_ns(ns))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"[
        {"op":"netnsAdd","ns":"vpcr-demo","tag":"vpcctl:demo"},
        {"op":"netnsAdd","ns":"ns-demo-a","tag":"vpcctl:demo/a"},
        {"op":"vethAdd","ns":"vpcr-demo","name":"sn-a","alias":"vpcctl","peerNs":"ns-demo-a","peerName":"eth0","peerAlias":"vpcctl","mtu":1400},
        {"op":"addrAdd","ns":"vpcr-demo","dev":"sn-a","cidr":"10.0.1.1/32"},
        {"op":"routeAdd","ns":"vpcr-demo","dst":"10.0.1.2/32","dev":"sn-a"},
        {"op":"addrAdd","ns":"ns-demo-a","dev":"eth0","cidr":"10.0.1.2/24"},
        {"op":"routeAdd","ns":"ns-demo-a","dst":"default","via":"10.0.1.1","onlink":true},
        {"op":"sysctlSet","ns":"vpcr-demo","key":"net/ipv4/ip_forward","value":"1"},
        {"op":"nftApply","ns":"ns-demo-a","family":"inet","table":"vpcctl","ruleset":[{"chain":{"family":"inet","table":"vpcctl","name":"input"}}]},
        {"op":"netnsAdd","ns":"ns-demo-b","tag":"t"},
        {"op":"netnsDel","ns":"ns-demo-a"},
        {"op":"linkUp","ns":"vpcr-demo","name":"sn-a"}
    ]"#;

    #[test]
    fn parses_camel_case_ops() {
        let ops = parse(PLAN).unwrap();
        assert_eq!(ops.len(), 12);
        assert_eq!(
            ops[11],
            Op::LinkUp {
                ns: "vpcr-demo".into(),
                name: "sn-a".into()
            }
        );
        assert_eq!(ops[11].to_string(), "linkUp sn-a in netns \"vpcr-demo\"");
        assert_eq!(
            ops[2],
            Op::VethAdd {
                ns: "vpcr-demo".into(),
                name: "sn-a".into(),
                alias: Some("vpcctl".into()),
                peer_ns: "ns-demo-a".into(),
                peer_name: "eth0".into(),
                peer_alias: Some("vpcctl".into()),
                mtu: Some(1400),
            }
        );
        let Op::RouteAdd { route, .. } = &ops[6] else {
            panic!()
        };
        assert_eq!(
            (route.dst.as_str(), route.via.as_deref(), route.onlink),
            ("default", Some("10.0.1.1"), true)
        );
        assert_eq!(
            ops[3].to_string(),
            "addrAdd 10.0.1.1/32 on sn-a in netns \"vpcr-demo\""
        );
    }

    #[test]
    fn rejects_unknown_ops_and_fields() {
        let e = |plan: &str| parse(plan).unwrap_err();
        assert!(e(r#"[{"op":"bridgeAdd","ns":"x"}]"#).contains("unknown op `bridgeAdd`"));
        // linkDown exists only as the undo of a linkUp.
        assert!(e(r#"[{"op":"linkDown","ns":"x","name":"a"}]"#).contains("unknown op `linkDown`"));
        assert!(e(r#"[{"op":"linkUp","ns":"x"}]"#).contains("missing field `name`"));
        assert!(e(r#"[{"op":"linkUp","ns":"x","name":"a","mtu":1}]"#)
            .contains("unknown field `mtu` for linkUp"));
        assert!(e(r#"[{"op":"netnsDel","ns":"x","bogus":1}]"#).contains("unknown field `bogus`"));
        assert_eq!(
            e(r#"[{"op":"netnsDel","ns":"x"},{"op":"addrAdd","ns":"x","dev":"eth0"}]"#),
            "invalid plan: op 2: missing field `cidr`"
        );
        // A field another op has is still foreign to this one.
        assert_eq!(
            e(r#"[{"op":"netnsDel","ns":"x","mtu":1400}]"#),
            "invalid plan: op 1: unknown field `mtu` for netnsDel"
        );
        assert!(e(r#"[{"op":"routeAdd","ns":"x","dev":"eth0"}]"#).contains("missing field `dst`"));
    }

    #[test]
    fn ops_with_the_same_ruleset_text_share_it() {
        let rs = r#"[{"chain":{"family":"inet","table":"t","name":"c"}}]"#;
        let plan = format!(
            r#"[{{"op":"nftApply","ns":"a","family":"inet","table":"t","ruleset":{rs}}},
                {{"op":"nftApply","ns":"b","family":"inet","table":"t","ruleset":{rs}}},
                {{"op":"nftApply","ns":"c","family":"inet","table":"t","ruleset":[]}}]"#
        );
        let ops = parse(&plan).unwrap();
        let ruleset = |op: &Op| match op {
            Op::NftApply { ruleset, .. } => ruleset.clone(),
            _ => panic!(),
        };
        assert!(Arc::ptr_eq(&ruleset(&ops[0]), &ruleset(&ops[1])));
        assert!(!Arc::ptr_eq(&ruleset(&ops[0]), &ruleset(&ops[2])));
        assert_eq!(ruleset(&ops[0]).text(), rs);
        ruleset(&ops[0]).check("inet", "t").unwrap();
        let e = ruleset(&ops[0]).check("inet", "other").unwrap_err();
        assert!(
            e.contains("must name family \"inet\" and table \"other\""),
            "{e}"
        );
        let e = Ruleset::from_text("{}").check("inet", "t").unwrap_err();
        assert!(e.starts_with("ruleset is not a JSON array"), "{e}");
    }

    #[test]
    fn dependency_graph_follows_resources() {
        let d = dependencies(&parse(PLAN).unwrap());
        assert_eq!(d[0], Vec::<usize>::new());
        assert_eq!(d[1], Vec::<usize>::new()); // independent namespaces run in parallel
        assert_eq!(d[2], vec![0, 1]); // veth waits for both namespaces
        assert_eq!(d[3], vec![0, 2]); // address waits for its link
        assert_eq!(d[4], vec![0, 3]); // same link: list order kept
        assert_eq!(d[5], vec![1, 2]);
        assert_eq!(d[6], vec![1, 5]); // devless route waits for the links of its ns
        assert_eq!(d[7], vec![0]);
        assert_eq!(d[8], vec![1]);
        assert_eq!(d[9], Vec::<usize>::new());
        // deleting a namespace waits for every op that used it
        assert_eq!(d[10], vec![1, 2, 5, 6, 8]);
        // linkUp waits for the last op on its link (the route on sn-a).
        assert_eq!(d[11], vec![0, 4]);
    }
}
