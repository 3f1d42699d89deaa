//! Compares a plan's ops with namespace snapshots ([`super::observe`]):
//! pure, no kernel access.

use std::{
    collections::{hash_map::Entry, HashMap},
    hash::BuildHasher,
};

use rustc_hash::{FxHashMap, FxHashSet};

use super::{at, makes, Drift, DriftKind};
use crate::{
    cidr::Cidr,
    nftcmp,
    observe::{Snapshot, TableSeen},
    plan::Op,
    route::Route,
};

/// A snapshot's addresses and routes indexed for lookups: a router holds
/// one of each per subnet, and each subnet's ops look theirs up.
struct Index<'a> {
    addrs: FxHashSet<(u32, &'a str)>,
    routes: FxHashMap<Option<Cidr>, Vec<&'a Route>>,
}

impl<'a> Index<'a> {
    fn of(s: &'a Snapshot) -> Self {
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

/// Below this many ops the check runs on the calling thread alone.
const SPLIT_AT: usize = 4096;

/// Compares each op that makes something with the snapshots of its
/// namespaces (None: the namespace is missing). Pure. A large plan is
/// checked in two halves on two threads: at thousands of namespaces this
/// is the last serial step of a deep read (~20 ms at 5,000 subnets).
pub fn check<S: BuildHasher + Sync>(
    ops: &[Op],
    snaps: &HashMap<String, Option<Snapshot>, S>,
) -> Vec<Drift> {
    check_in(ops, snaps, SPLIT_AT)
}

pub(super) fn check_in<S: BuildHasher + Sync>(
    ops: &[Op],
    snaps: &HashMap<String, Option<Snapshot>, S>,
    split_at: usize,
) -> Vec<Drift> {
    let cx = Cx::new(ops, snaps);
    let parts = if ops.len() < split_at {
        vec![cx.range(0..ops.len())]
    } else {
        let mid = ops.len() / 2;
        std::thread::scope(|sc| {
            let second = sc.spawn(|| cx.range(mid..ops.len()));
            vec![cx.range(0..mid), second.join().expect("check thread")]
        })
    };
    // A missing namespace is one drift, on its netnsAdd or else the first
    // op that works in it, though both halves may have met it.
    let mut gone: Vec<(&str, usize)> = Vec::new();
    let mut at_pos: FxHashMap<&str, usize> = FxHashMap::default();
    let mut drifts = Vec::new();
    for part in parts {
        for (ns, i) in part.gone {
            match at_pos.entry(ns) {
                Entry::Vacant(e) => {
                    e.insert(gone.len());
                    gone.push((ns, i));
                }
                Entry::Occupied(e) => gone[*e.get()].1 = gone[*e.get()].1.min(i),
            }
        }
        drifts.extend(part.drifts);
    }
    let mut all: Vec<Drift> = gone
        .into_iter()
        .map(|(ns, index)| Drift {
            index,
            detail: format!("netns {ns} is missing"),
            kind: DriftKind::Missing,
        })
        .collect();
    all.extend(drifts);
    all.sort_by_key(|d| d.index);
    all
}

/// The drifts of a range of ops, its missing namespaces apart: (namespace,
/// the op its drift goes on).
struct Part<'a> {
    drifts: Vec<Drift>,
    gone: Vec<(&'a str, usize)>,
}

/// What every op's check looks up, shared by the threads.
struct Cx<'a> {
    ops: &'a [Op],
    /// Each namespace once: absent (None), missing (Some(None)) or read.
    seen: FxHashMap<&'a str, Option<&'a Snapshot>>,
    /// The end of a veth whose other end's namespace is missing went with
    /// it: what the plan puts on that end (addresses, routes) is part of
    /// the one drift, not more.
    gone_links: FxHashSet<(&'a str, &'a str)>,
    /// The op that makes each namespace: where its absence is reported.
    made_at: FxHashMap<&'a str, usize>,
}

impl<'a> Cx<'a> {
    fn new<S: BuildHasher>(ops: &'a [Op], snaps: &'a HashMap<String, Option<Snapshot>, S>) -> Self {
        let seen: FxHashMap<&str, Option<&Snapshot>> = snaps
            .iter()
            .map(|(ns, s)| (ns.as_str(), s.as_ref()))
            .collect();
        let missing = |ns: &str| matches!(seen.get(ns), Some(None));
        let mut gone_links = FxHashSet::default();
        let mut made_at = FxHashMap::default();
        for (i, o) in ops.iter().enumerate() {
            match o {
                Op::VethAdd {
                    ns,
                    name,
                    peer_ns,
                    peer_name,
                    ..
                } => {
                    if missing(peer_ns) {
                        gone_links.insert((ns.as_str(), name.as_str()));
                    } else if missing(ns) {
                        gone_links.insert((peer_ns.as_str(), peer_name.as_str()));
                    }
                }
                Op::NetnsAdd { ns, .. } => {
                    made_at.entry(ns.as_str()).or_insert(i);
                }
                _ => {}
            }
        }
        Cx {
            ops,
            seen,
            gone_links,
            made_at,
        }
    }

    fn missing(&self, ns: &str) -> bool {
        matches!(self.seen.get(ns), Some(None))
    }

    fn snap(&self, ns: &str) -> Option<&'a Snapshot> {
        self.seen.get(ns).copied().flatten()
    }

    /// The drifts of ops `range`.
    fn range(&self, range: std::ops::Range<usize>) -> Part<'a> {
        let mut drifts = Vec::new();
        let mut gone = Vec::new();
        let mut index: FxHashMap<&str, Index> = FxHashMap::default();
        let mut reported: FxHashSet<&str> = FxHashSet::default();
        for i in range {
            let op = &self.ops[i];
            if !makes(op) {
                continue;
            }
            let mut any_gone = false;
            for ns in op.namespaces().filter(|n| self.missing(n)) {
                any_gone = true;
                if reported.insert(ns) {
                    gone.push((ns, self.made_at.get(ns).copied().unwrap_or(i)));
                }
            }
            if any_gone
                || (!self.gone_links.is_empty()
                    && on_link(op).is_some_and(|l| self.gone_links.contains(&(op.ns(), l))))
            {
                continue;
            }
            let Some(s) = self.snap(op.ns()) else {
                continue;
            };
            let found = match op {
                Op::VethAdd {
                    ns,
                    name,
                    alias,
                    peer_ns,
                    peer_name,
                    peer_alias,
                    mtu,
                } => self.snap(peer_ns).and_then(|p| {
                    let here = link_drift(s, ns, name, alias.as_deref(), *mtu);
                    let there = link_drift(p, peer_ns, peer_name, peer_alias.as_deref(), *mtu);
                    // An end that is absent first; then whether the two are
                    // one pair, before anything else about them: a foreign
                    // link at a light end's name (down, say) is not the end
                    // to set up, and nothing may be repaired on it in place.
                    let absent = |f: &Found| matches!(f, Some((DriftKind::Missing, _)));
                    if absent(&here) {
                        here
                    } else if absent(&there) {
                        there
                    } else {
                        pair_drift((s, ns, name), (p, peer_ns, peer_name))
                            .or(here)
                            .or(there)
                    }
                }),
                Op::VxlanAdd(_) | Op::FdbAdd { .. } | Op::NeighAdd { .. } => {
                    super::overlay::check_overlay(op, s, self.snap(""))
                }
                _ => check_op(op, s, index.entry(op.ns()).or_insert_with(|| Index::of(s))),
            };
            if let Some((kind, detail)) = found {
                drifts.push(Drift {
                    index: i,
                    detail,
                    kind,
                });
            }
        }
        Part { drifts, gone }
    }
}

pub(super) type Found = Option<(DriftKind, String)>;

/// The link an op puts something on.
fn on_link(op: &Op) -> Option<&str> {
    match op {
        Op::AddrAdd { dev, .. }
        | Op::LinkUp { name: dev, .. }
        | Op::FdbAdd { dev, .. }
        | Op::NeighAdd { dev, .. } => Some(dev),
        Op::RouteAdd { route, .. } => route.dev.as_deref(),
        _ => None,
    }
}

/// One end of a veth: present, a veth, up, with its alias and MTU. An end
/// read light (`Snapshot::light`) has no kind or alias to compare: it is
/// the veth by [`pair_drift`], and its alias is not read.
fn link_drift(s: &Snapshot, ns: &str, name: &str, alias: Option<&str>, mtu: Option<u32>) -> Found {
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
/// present (link_drift).
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

fn check_op(op: &Op, s: &Snapshot, ix: &Index) -> Found {
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
