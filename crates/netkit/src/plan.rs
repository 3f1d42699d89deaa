//! The plan ops of docs/plan-ops.md (mirrored by src/plan/ops.ts) and the
//! dependency graph that lets the executor pipeline them while keeping the
//! meaning of their list order.

use std::{collections::HashMap, fmt};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{error::in_ns, route::Route};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "op",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Op {
    NetnsAdd {
        ns: String,
        #[serde(default)]
        tag: String,
    },
    NetnsDel {
        ns: String,
    },
    VethAdd {
        ns: String,
        name: String,
        #[serde(default)]
        alias: Option<String>,
        peer_ns: String,
        peer_name: String,
        #[serde(default)]
        peer_alias: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mtu: Option<u32>,
    },
    LinkDel {
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
        #[serde(flatten)]
        route: Route,
    },
    RouteDel {
        ns: String,
        #[serde(flatten)]
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
        ruleset: Vec<Value>,
    },
    NftDelete {
        ns: String,
        family: String,
        table: String,
    },
}

/// Parses a plan: a JSON array of ops.
pub fn parse(json: &str) -> Result<Vec<Op>, String> {
    serde_json::from_str(json).map_err(|e| format!("invalid plan: {e}"))
}

impl Op {
    pub fn ns(&self) -> &str {
        match self {
            Op::NetnsAdd { ns, .. }
            | Op::NetnsDel { ns }
            | Op::VethAdd { ns, .. }
            | Op::LinkDel { ns, .. }
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
            Op::LinkDel { name: dev, .. } | Op::AddrAdd { dev, .. } | Op::AddrDel { dev, .. } => {
                r.push(link(&ns, dev))
            }
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
        {"op":"netnsDel","ns":"ns-demo-a"}
    ]"#;

    #[test]
    fn parses_camel_case_ops() {
        let ops = parse(PLAN).unwrap();
        assert_eq!(ops.len(), 11);
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
        assert!(parse(r#"[{"op":"bridgeAdd","ns":"x"}]"#).is_err());
        assert!(parse(r#"[{"op":"netnsDel","ns":"x","bogus":1}]"#).is_err());
        assert!(parse(r#"[{"op":"addrAdd","ns":"x","dev":"eth0"}]"#).is_err());
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
    }
}
