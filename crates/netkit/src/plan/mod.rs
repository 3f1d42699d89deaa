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
        /// `peer_ns` is a leaf: this veth is its only way out (a subnet's
        /// namespace). Verify then reads the `ns` end light (by ioctls: no
        /// kind, no alias) and proves the pair from the leaf's end, whose
        /// peer it must be ([`crate::verify`]); every other veth is read
        /// whole at both ends. A hint on the op, so that every plan holding
        /// the veth (a command's part or the whole state) reads it alike.
        leaf: bool,
    },
    /// Deletes a link; with `alias`, only one that carries it: a link
    /// someone else put at the name is left alone (and the op succeeds, as
    /// for an absent one: what the op deletes is not there).
    LinkDel {
        ns: String,
        name: String,
        alias: Option<String>,
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
    /// A VXLAN link `name` in `ns` whose underlay `dev` (and UDP socket) is
    /// in the executor's own namespace: see [`crate::vxlan`].
    VxlanAdd(Box<crate::vxlan::Vxlan>),
    /// A static FDB entry on VXLAN link `dev`: frames to `mac` are sent to
    /// the underlay address `dst`.
    FdbAdd {
        ns: String,
        dev: String,
        mac: String,
        dst: String,
    },
    FdbDel {
        ns: String,
        dev: String,
        mac: String,
        dst: String,
    },
    /// A permanent IPv4 neighbour entry `addr` -> `mac` on `dev`.
    NeighAdd {
        ns: String,
        dev: String,
        addr: String,
        mac: String,
    },
    NeighDel {
        ns: String,
        dev: String,
        addr: String,
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
            | Op::NftDelete { ns, .. }
            | Op::FdbAdd { ns, .. }
            | Op::FdbDel { ns, .. }
            | Op::NeighAdd { ns, .. }
            | Op::NeighDel { ns, .. } => ns,
            Op::VxlanAdd(v) => &v.ns,
        }
    }

    /// The namespaces the op works in (a veth has an end in two; a VXLAN
    /// link's underlay is in the executor's own namespace, "").
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        let other = match self {
            Op::VethAdd { peer_ns, .. } => Some(peer_ns.as_str()),
            Op::VxlanAdd(v) if !v.ns.is_empty() => Some(""),
            _ => None,
        };
        std::iter::once(self.ns()).chain(other)
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
            Op::LinkDel { ns, name, .. } => write!(f, "linkDel {name}{}", in_ns(ns)),
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
            Op::VxlanAdd(v) => f.write_str(&v.describe()),
            Op::FdbAdd { ns, dev, mac, dst } => {
                write!(f, "fdbAdd {mac} dst {dst} on {dev}{}", in_ns(ns))
            }
            Op::FdbDel { ns, dev, mac, dst } => {
                write!(f, "fdbDel {mac} dst {dst} on {dev}{}", in_ns(ns))
            }
            Op::NeighAdd { ns, dev, addr, mac } => {
                write!(f, "neighAdd {addr} lladdr {mac} on {dev}{}", in_ns(ns))
            }
            Op::NeighDel { ns, dev, addr } => write!(f, "neighDel {addr} on {dev}{}", in_ns(ns)),
        }
    }
}
