//! Checks a plan's ops against the kernel without changing anything: the
//! ops that make something (a namespace, a veth, an address, a route, a
//! sysctl, an nftables table, a link up) are compared with what each
//! namespace holds, read once per namespace ([`observe`]) by a few threads
//! that visit the namespaces in turn. Removal ops are ignored. The result
//! is the ops that do not hold, so that a caller can report them and run
//! them again (they are idempotent).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
    time::Duration,
};

use crate::{
    cidr::Cidr,
    error::{Error, Result},
    netns, nftcmp,
    observe::{self, Need, NftMark, Snapshot, TableSeen},
    plan::Op,
    route::Route,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftKind {
    /// The object is absent.
    Missing,
    /// Present, not as the op makes it.
    Differs,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Missing => "missing",
            DriftKind::Differs => "differs",
        }
    }
}

/// An op of the plan that the kernel does not hold as the op would make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// 0-based index of the op in the plan.
    pub index: usize,
    pub detail: String,
    pub kind: DriftKind,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Marks from earlier executions by namespace ("" = the host).
    pub nft: HashMap<String, NftMark>,
    /// Threads reading namespaces at once.
    pub concurrency: usize,
    /// Limit of each netlink read.
    pub timeout: Duration,
    /// Whether sysctls that only /proc/sys has (no netlink equivalent, e.g.
    /// `net/ipv4/ip_unprivileged_port_start`) are read: each is a path
    /// lookup whose cost grows with the number of namespaces on the host
    /// (their /proc/sys/net entries share one dentry hash chain), about a
    /// third of a 500-namespace verify. When false they are not checked.
    pub proc_sysctls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nft: HashMap::new(),
            // One per core of a small machine: the work is syscalls, and a
            // third thread measured no faster on two cores.
            concurrency: 2,
            timeout: Duration::from_secs(5),
            proc_sysctls: true,
        }
    }
}

/// `in vpcr-demo`, or `in the host namespace` for "".
fn at(ns: &str) -> String {
    if ns.is_empty() {
        "in the host namespace".into()
    } else {
        format!("in {ns}")
    }
}

/// What to read in each namespace the plan makes things in, in order of
/// first appearance.
fn needs(ops: &[Op], opts: &Options) -> Vec<(String, Need)> {
    let marks = &opts.nft;
    let mut order: Vec<String> = Vec::new();
    let mut map: HashMap<String, Need> = HashMap::new();
    for op in ops.iter().filter(|o| makes(o)) {
        for ns in op.namespaces() {
            if !map.contains_key(ns) {
                order.push(ns.to_string());
                map.insert(
                    ns.to_string(),
                    Need {
                        mark: marks.get(ns).copied(),
                        ..Default::default()
                    },
                );
            }
        }
        let need = map.get_mut(op.ns()).expect("added above");
        match op {
            Op::SysctlSet { key, .. } => {
                if opts.proc_sysctls || observe::sysctl_source(key) != observe::SysctlSource::Proc {
                    need.sysctls.insert(key.clone());
                }
            }
            Op::NftApply { family, table, .. } => {
                need.tables.insert((family.clone(), table.clone()));
            }
            _ => {}
        }
    }
    order
        .into_iter()
        .map(|ns| {
            let need = map.remove(&ns).expect("listed");
            (ns, need)
        })
        .collect()
}

/// Whether the op makes something (the ops verify checks).
fn makes(op: &Op) -> bool {
    !matches!(
        op,
        Op::NetnsDel { .. }
            | Op::LinkDel { .. }
            | Op::AddrDel { .. }
            | Op::RouteDel { .. }
            | Op::NftDelete { .. }
            | Op::LinkDown { .. }
    )
}

/// Reads every namespace of the plan (None: it does not exist), with
/// `opts.concurrency` threads. Blocking; an unreadable namespace fails the
/// whole read (its error names it).
fn observe_all(
    needs: &[(String, Need)],
    opts: &Options,
) -> Result<HashMap<String, Option<Snapshot>>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<HashMap<String, Option<Snapshot>>> = Mutex::new(HashMap::new());
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let proc_sys = observe::open_proc_sys().map_err(|e| Error::os("open /proc/sys", e))?;
    let visit_all = |visitor: &netns::Visitor| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some((ns, need)) = needs.get(i) else {
            break;
        };
        if failure.lock().unwrap().is_some() {
            break;
        }
        let snap = if !ns.is_empty() && !netns::exists(ns) {
            Ok(None)
        } else {
            visitor
                .run_in(ns, || observe::observe_here(need, opts.timeout, &proc_sys))
                .and_then(|r| r.map_err(|e| Error::os(format!("verify {}", at(ns)), e)))
                .map(Some)
        };
        match snap {
            // Deleted between the check and the visit: as good as absent.
            Err(_) if !ns.is_empty() && !netns::exists(ns) => {
                out.lock().unwrap().insert(ns.clone(), None);
            }
            Ok(s) => {
                out.lock().unwrap().insert(ns.clone(), s);
            }
            Err(e) => {
                failure.lock().unwrap().get_or_insert(e);
            }
        }
    };
    let worker = || match netns::Visitor::new() {
        Ok(v) => visit_all(&v),
        Err(e) => {
            failure.lock().unwrap().get_or_insert(e);
        }
    };
    let threads = opts.concurrency.clamp(1, needs.len().max(1));
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(worker);
        }
        worker();
    });
    match failure.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(out.into_inner().unwrap()),
    }
}

/// Verifies `ops` against the kernel (blocking: call it off async workers).
pub fn verify(ops: &[Op], opts: &Options) -> Result<Vec<Drift>> {
    let needs = needs(ops, opts);
    let snaps = observe_all(&needs, opts)?;
    Ok(check(ops, &snaps))
}

/// A snapshot's addresses and routes indexed for lookups: a router holds
/// one of each per subnet, and each subnet's ops look theirs up.
struct Index<'a> {
    addrs: HashSet<(u32, &'a str)>,
    routes: HashMap<Option<Cidr>, Vec<&'a Route>>,
}

impl<'a> Index<'a> {
    fn of(s: &'a Snapshot) -> Self {
        let mut routes: HashMap<Option<Cidr>, Vec<&Route>> = HashMap::new();
        for r in &s.routes {
            routes.entry(r.dst.parse().ok()).or_default().push(r);
        }
        Index {
            addrs: s.addrs.iter().map(|(i, a)| (*i, a.as_str())).collect(),
            routes,
        }
    }
}

/// Compares each op that makes something with the snapshots of its
/// namespaces (None: the namespace is missing). Pure.
pub fn check(ops: &[Op], snaps: &HashMap<String, Option<Snapshot>>) -> Vec<Drift> {
    let mut drifts = Vec::new();
    let index: HashMap<&str, Index> = snaps
        .iter()
        .filter_map(|(ns, s)| Some((ns.as_str(), Index::of(s.as_ref()?))))
        .collect();
    // Missing namespaces: one drift each, on its netnsAdd or else the first
    // op that works in it.
    let mut reported: HashSet<&str> = HashSet::new();
    let missing = |ns: &str| matches!(snaps.get(ns), Some(None));
    // The end of a veth whose other end's namespace is missing went with
    // it: what the plan puts on that end (addresses, routes) is part of
    // the one drift, not more.
    let gone_links: HashSet<(&str, &str)> = ops
        .iter()
        .filter_map(|o| match o {
            Op::VethAdd {
                ns,
                name,
                peer_ns,
                peer_name,
                ..
            } => {
                if missing(peer_ns) {
                    Some((ns.as_str(), name.as_str()))
                } else if missing(ns) {
                    Some((peer_ns.as_str(), peer_name.as_str()))
                } else {
                    None
                }
            }
            _ => None,
        })
        .collect();
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| makes(o)) {
        let gone: Vec<&str> = op.namespaces().into_iter().filter(|n| missing(n)).collect();
        for ns in &gone {
            let owner = ops
                .iter()
                .position(|o| matches!(o, Op::NetnsAdd { ns: n, .. } if n == ns))
                .unwrap_or(i);
            if reported.insert(ns) {
                drifts.push(Drift {
                    index: owner,
                    detail: format!("netns {ns} is missing"),
                    kind: DriftKind::Missing,
                });
            }
        }
        if !gone.is_empty() || on_link(op).is_some_and(|l| gone_links.contains(&(op.ns(), l))) {
            continue;
        }
        let snap = |ns: &str| snaps.get(ns).and_then(Option::as_ref);
        let Some(s) = snap(op.ns()) else { continue };
        let found = match op {
            Op::VethAdd {
                ns,
                name,
                alias,
                peer_ns,
                peer_name,
                peer_alias,
                mtu,
            } => snap(peer_ns).and_then(|p| {
                link_drift(s, ns, name, alias.as_deref(), *mtu)
                    .or_else(|| link_drift(p, peer_ns, peer_name, peer_alias.as_deref(), *mtu))
            }),
            _ => check_op(op, s, &index[op.ns()]),
        };
        if let Some((kind, detail)) = found {
            drifts.push(Drift {
                index: i,
                detail,
                kind,
            });
        }
    }
    drifts.sort_by_key(|d| d.index);
    drifts
}

type Found = Option<(DriftKind, String)>;

/// The link an op puts something on.
fn on_link(op: &Op) -> Option<&str> {
    match op {
        Op::AddrAdd { dev, .. } | Op::LinkUp { name: dev, .. } => Some(dev),
        Op::RouteAdd { route, .. } => route.dev.as_deref(),
        _ => None,
    }
}

/// One end of a veth: present, a veth, up, with its alias and MTU.
fn link_drift(s: &Snapshot, ns: &str, name: &str, alias: Option<&str>, mtu: Option<u32>) -> Found {
    let Some(l) = s.link(name) else {
        return Some((
            DriftKind::Missing,
            format!("link {name} {} is missing", at(ns)),
        ));
    };
    let differs =
        |what: String| Some((DriftKind::Differs, format!("link {name} {} {what}", at(ns))));
    if l.kind.as_deref() != Some("veth") {
        return differs(format!(
            "is a {}, not a veth",
            l.kind.as_deref().unwrap_or("device")
        ));
    }
    if alias.is_some() && l.alias.as_deref() != alias {
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
            let want = cidr
                .parse::<Cidr>()
                .map(|c| c.to_string())
                .unwrap_or(cidr.clone());
            let Some(l) = s.link(dev) else {
                return missing(format!(
                    "address {cidr} missing on {dev} {} (no link {dev})",
                    at(ns)
                ));
            };
            if ix.addrs.contains(&(l.index, want.as_str())) {
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
            let name = key.replace('/', ".");
            match s.sysctls.get(key) {
                Some(Ok(v)) if v == value => None,
                Some(Ok(v)) => differs(format!("{name} {} is {v}, want {value}", at(ns))),
                Some(Err(e)) => missing(format!("{name} {} cannot be read ({e})", at(ns))),
                None => None,
            }
        }
        Op::NftApply {
            ns,
            family,
            table,
            ruleset,
        } => {
            let what = format!("table {family} {table} {}", at(ns));
            match s.tables.get(&(family.clone(), table.clone())) {
                None | Some(TableSeen::Unchanged) => None,
                Some(TableSeen::Listed(None)) => missing(format!("{what} is missing")),
                Some(TableSeen::Listed(Some(listed))) => nftcmp::diff(ruleset.text(), listed)
                    .map(|d| (DriftKind::Differs, format!("{what} differs: {d}"))),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
