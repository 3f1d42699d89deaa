//! What each op's object must look like in a namespace's snapshot
//! ([`super::observe`]): one op against the snapshots it concerns, a drift
//! or none. Pure; check.rs runs it over a whole plan.

use rustc_hash::{FxHashMap, FxHashSet};

use super::{at, DriftKind};
use crate::{
    cidr::Cidr,
    nftcmp,
    observe::{Snapshot, TableSeen},
    plan::Op,
    route::Route,
};

/// A snapshot's addresses and routes indexed for lookups: a router holds
/// one of each per subnet, and each subnet's ops look theirs up.
pub(super) struct Index<'a> {
    addrs: FxHashSet<(u32, &'a str)>,
    routes: FxHashMap<Option<Cidr>, Vec<&'a Route>>,
}

impl<'a> Index<'a> {
    pub(super) fn of(s: &'a Snapshot) -> Self {
        let mut routes: FxHashMap<Option<Cidr>, Vec<&Route>> = FxHashMap::default();
        for r in &s.routes {
            routes.entry(r.dst.parse().ok()).or_default().push(r);
        }
        Index {
            addrs: s.addrs.iter().map(|(i, a)| (*i, a.as_str())).collect(),
            routes,
        }
    }
}

pub(super) type Found = Option<(DriftKind, String)>;

/// A veth as vethAdd makes it, from its two ends' snapshots, in this
/// order: an end that is absent; an end that is not a veth or not tagged as
/// made (the link to name, when someone put another at that name); whether
/// the two are one pair; then whether they are up, of the right MTU. So a
/// foreign link at a light end's name (down, say) is `not the peer`, never
/// `down`: nothing is repaired on it in place.
pub(super) fn veth_drift(
    a: (&Snapshot, &str, &str, Option<&str>),
    b: (&Snapshot, &str, &str, Option<&str>),
    mtu: Option<u32>,
) -> Found {
    let here = end_identity(a.0, a.1, a.2, a.3);
    let there = end_identity(b.0, b.1, b.2, b.3);
    let absent = |f: &Found| matches!(f, Some((DriftKind::Missing, _)));
    if absent(&here) {
        return here;
    }
    if absent(&there) {
        return there;
    }
    here.or(there)
        .or_else(|| pair_drift((a.0, a.1, a.2), (b.0, b.1, b.2)))
        .or_else(|| end_state(a.0, a.1, a.2, mtu))
        .or_else(|| end_state(b.0, b.1, b.2, mtu))
}

/// The link an op puts something on.
pub(super) fn on_link(op: &Op) -> Option<&str> {
    match op {
        Op::AddrAdd { dev, .. }
        | Op::LinkUp { name: dev, .. }
        | Op::FdbAdd { dev, .. }
        | Op::NeighAdd { dev, .. } => Some(dev),
        Op::RouteAdd { route, .. } => route.dev.as_deref(),
        _ => None,
    }
}

/// One end of a veth: present, a veth, with its alias. An end read light
/// (`Snapshot::light`) has no kind or alias to compare: it is the veth by
/// [`pair_drift`], and its alias is not read.
fn end_identity(s: &Snapshot, ns: &str, name: &str, alias: Option<&str>) -> Found {
    let Some(l) = s.link(name) else {
        return Some((
            DriftKind::Missing,
            format!("link {name} {} is missing", at(ns)),
        ));
    };
    let differs =
        |what: String| Some((DriftKind::Differs, format!("link {name} {} {what}", at(ns))));
    let light = s.light.contains(name);
    if !light && l.kind.as_deref() != Some("veth") {
        return differs(format!(
            "is a {}, not a veth",
            l.kind.as_deref().unwrap_or("device")
        ));
    }
    if !light && alias.is_some() && l.alias.as_deref() != alias {
        let now = l
            .alias
            .as_deref()
            .map_or("none".into(), |a| format!("\"{a}\""));
        return differs(format!(
            "has alias {now}, want \"{}\"",
            alias.unwrap_or_default()
        ));
    }
    None
}

/// One end of a veth, present: up, with the MTU the op gives.
fn end_state(s: &Snapshot, ns: &str, name: &str, mtu: Option<u32>) -> Found {
    let l = s.link(name)?;
    let differs =
        |what: String| Some((DriftKind::Differs, format!("link {name} {} {what}", at(ns))));
    if let Some(m) = mtu.filter(|m| *m != l.mtu) {
        return differs(format!("has mtu {}, want {m}", l.mtu));
    }
    if !l.up {
        return differs("is down".into());
    }
    None
}

/// A veth end read light is the one the plan made when the other end (a
/// veth, read whole) has it as its peer: IFLA_LINK is the peer's index and
/// IFLA_LINK_NETNSID the id of the peer's namespace, which must be the id
/// the whole end's namespace gives the light end's (indexes are per
/// namespace: a link of the same number may be anywhere). That makes the
/// light end the veth itself, though its kind was not read. Both ends are
/// present (end_identity).
fn pair_drift(a: (&Snapshot, &str, &str), b: (&Snapshot, &str, &str)) -> Found {
    let ((ls, lns, lname), (fs, fns, fname)) =
        match (a.0.light.contains(a.2), b.0.light.contains(b.2)) {
            (true, false) => (a, b),
            (false, true) => (b, a),
            _ => return None,
        };
    let (light, whole) = (ls.link(lname)?, fs.link(fname)?);
    let light_ns_id = fs.nsids.get(lns).copied().flatten();
    let paired = whole.peer == Some(light.index)
        && whole.peer_netnsid.is_some()
        && whole.peer_netnsid == light_ns_id;
    (!paired).then(|| {
        (
            DriftKind::Differs,
            format!(
                "link {lname} {} is not the peer of {fname} {}",
                at(lns),
                at(fns)
            ),
        )
    })
}

fn same_route(a: &Route, want: &Route) -> bool {
    want.dev.as_ref().is_none_or(|d| a.dev.as_ref() == Some(d))
        && want.via.as_ref().is_none_or(|v| a.via.as_ref() == Some(v))
        && want.src.as_ref().is_none_or(|v| a.src.as_ref() == Some(v))
        && (!want.onlink || a.onlink)
}

fn describe_route(r: &Route) -> String {
    let mut s = r.dst.clone();
    if let Some(v) = &r.via {
        s += &format!(" via {v}");
    }
    if let Some(d) = &r.dev {
        s += &format!(" dev {d}");
    }
    s
}

pub(super) fn check_op(op: &Op, s: &Snapshot, ix: &Index) -> Found {
    let missing = |d: String| Some((DriftKind::Missing, d));
    let differs = |d: String| Some((DriftKind::Differs, d));
    match op {
        Op::NetnsAdd { ns, tag } => {
            let Some(lo) = s.link("lo") else {
                return missing(format!("link lo {} is missing", at(ns)));
            };
            if !tag.is_empty() && lo.alias.as_deref() != Some(tag.as_str()) {
                let now = lo
                    .alias
                    .as_deref()
                    .map_or("none".into(), |a| format!("\"{a}\""));
                return differs(format!("netns {ns} has tag {now}, want \"{tag}\""));
            }
            if !lo.up {
                return differs(format!("link lo {} is down", at(ns)));
            }
            None
        }
        Op::LinkUp { ns, name } => match s.link(name) {
            None => missing(format!("link {name} {} is missing", at(ns))),
            Some(l) if !l.up => differs(format!("link {name} {} is down", at(ns))),
            Some(_) => None,
        },
        Op::AddrAdd { ns, dev, cidr } => {
            let Some(l) = s.link(dev) else {
                return missing(format!(
                    "address {cidr} missing on {dev} {} (no link {dev})",
                    at(ns)
                ));
            };
            // The kernel's spelling; the plan's is usually the same already.
            let held = |a: &str| ix.addrs.contains(&(l.index, a));
            if held(cidr) || cidr.parse::<Cidr>().is_ok_and(|c| held(&c.to_string())) {
                None
            } else {
                missing(format!("address {cidr} missing on {dev} {}", at(ns)))
            }
        }
        Op::RouteAdd { ns, route } => {
            let dst = route.dst.parse::<Cidr>().ok();
            let same_dst = ix.routes.get(&dst).map(Vec::as_slice).unwrap_or_default();
            if same_dst.iter().any(|r| same_route(r, route)) {
                None
            } else if let Some(r) = same_dst.first() {
                differs(format!(
                    "route {} {} differs: it is {}, want {}",
                    route.dst,
                    at(ns),
                    describe_route(r),
                    describe_route(route)
                ))
            } else {
                missing(format!(
                    "route {} {} is missing",
                    describe_route(route),
                    at(ns)
                ))
            }
        }
        Op::SysctlSet { ns, key, value } => {
            let name = || key.replace('/', ".");
            match s.sysctls.get(key) {
                Some(Ok(v)) if v == value => None,
                Some(Ok(v)) => differs(format!("{} {} is {v}, want {value}", name(), at(ns))),
                Some(Err(e)) => missing(format!("{} {} cannot be read ({e})", name(), at(ns))),
                None => None,
            }
        }
        Op::NftApply {
            ns,
            family,
            table,
            ruleset,
        } => {
            let what = || format!("table {family} {table} {}", at(ns));
            // A namespace has a table or two: found without cloning the key.
            let seen = s
                .tables
                .iter()
                .find(|((f, t), _)| f == family && t == table)
                .map(|(_, seen)| seen);
            match seen {
                None | Some(TableSeen::Unchanged) => None,
                Some(TableSeen::Listed(None)) => missing(format!("{} is missing", what())),
                Some(TableSeen::Listed(Some(listed))) => nftcmp::diff(ruleset.text(), listed)
                    .map(|d| (DriftKind::Differs, format!("{} differs: {d}", what()))),
            }
        }
        _ => None,
    }
}
