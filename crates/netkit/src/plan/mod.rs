//! The plan ops of docs/plan-ops.md (mirrored by src/plan/ops.ts): their
//! types, how they print in errors, and their parsing ([`parse`]). The
//! order the executor may run them in is [`crate::exec::graph`]'s.

use std::{fmt, sync::Arc};

use crate::{error::in_ns, route::Route};

mod parse;
mod ruleset;
#[cfg(test)]
pub(crate) mod tests;

pub use parse::parse;
pub use ruleset::Ruleset;

/// One kernel operation. Plans arrive as JSON from the planner (see
/// [`parse()`]); undos are made here.
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
