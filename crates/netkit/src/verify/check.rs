//! Compares a plan's ops with namespace snapshots ([`super::observe`]):
//! pure, no kernel access. Which ops, against which snapshots, a missing
//! namespace once, a large plan in two halves; what each op's object must
//! look like is compare.rs.

use std::{
    collections::{hash_map::Entry, HashMap},
    hash::BuildHasher,
};

use rustc_hash::{FxHashMap, FxHashSet};

use super::{
    compare::{check_op, on_link, veth_drift, Index},
    makes, Drift, DriftKind,
};
use crate::{observe::Snapshot, plan::Op};

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
                    ..
                } => self.snap(peer_ns).and_then(|p| {
                    veth_drift(
                        (s, ns, name, alias.as_deref()),
                        (p, peer_ns, peer_name, peer_alias.as_deref()),
                        *mtu,
                    )
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
