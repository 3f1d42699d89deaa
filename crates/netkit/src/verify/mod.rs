//! Checks a plan's ops against the kernel without changing anything: the
//! ops that make something (a namespace, a veth, an address, a route, a
//! sysctl, an nftables table, a link up) are compared with what each
//! namespace holds, read once per namespace ([`observe`]) by a few threads
//! that visit the namespaces in turn (a router's links by name, not by a
//! dump: [`by_name`]). Removal ops are ignored. The result
//! is the ops that do not hold, so that a caller can report them and run
//! them again (they are idempotent).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use rustc_hash::FxHashMap;

use crate::{
    error::{Error, Kind, Result},
    netns,
    observe::{self, Need, NftMark, Snapshot},
    plan::Op,
};

mod by_name;
mod check;
mod compare;
mod overlay;
pub use check::check;
#[cfg(test)]
use check::check_in;

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
    /// Set by someone else to stop the read before the next namespace: a
    /// read started speculatively (the CLI's early read) is abandoned this
    /// way when the command turns out not to need it.
    pub cancel: Option<Arc<AtomicBool>>,
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
            cancel: None,
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
    let by_name::Plan {
        mut by_name,
        mut ids,
    } = by_name::plan(ops);
    let mut out: Vec<(String, Need)> = Vec::new();
    let mut at: FxHashMap<&str, usize> = FxHashMap::default();
    for op in ops.iter().filter(|o| makes(o)) {
        for ns in op.namespaces() {
            at.entry(ns).or_insert_with(|| {
                out.push((
                    ns.to_string(),
                    Need {
                        mark: marks.get(ns).copied(),
                        by_name: by_name.remove(ns),
                        nsids: ids.remove(ns).unwrap_or_default(),
                        ..Default::default()
                    },
                ));
                out.len() - 1
            });
        }
        let need = &mut out[at[op.ns()]].1;
        match op {
            Op::SysctlSet { key, .. }
                if opts.proc_sysctls
                    || observe::sysctl_source(key) != observe::SysctlSource::Proc =>
            {
                need.sysctls.insert(key.clone());
            }
            Op::NftApply { family, table, .. } => {
                need.tables.insert((family.clone(), table.clone()));
            }
            Op::FdbAdd { dev, .. } | Op::NeighAdd { dev, .. } => {
                need.overlay.insert(dev.clone());
            }
            // IPv6 addresses and routes are dumped only where the plan puts
            // some: IPv4-only namespaces pay nothing for them.
            Op::AddrAdd { cidr, .. } if cidr.contains(':') => need.inet6 = true,
            Op::RouteAdd { route, .. } if route.dst.contains(':') => need.inet6 = true,
            _ => {}
        }
    }
    out
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
            | Op::FdbDel { .. }
            | Op::NeighDel { .. }
    )
}

/// Reads every namespace of the plan (None: it does not exist), with
/// `opts.concurrency` threads. Blocking; an unreadable namespace fails the
/// whole read (its error names it).
fn observe_all(
    needs: &[(String, Need)],
    opts: &Options,
) -> Result<FxHashMap<String, Option<Snapshot>>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<FxHashMap<String, Option<Snapshot>>> = Mutex::new(FxHashMap::default());
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let proc_sys = observe::open_proc_sys().map_err(|e| Error::os("open /proc/sys", e))?;
    // Opened once for all the threads: the namespaces whose ids are asked
    // (every subnet asks its router's: named once each, then opened).
    let asked: std::collections::BTreeSet<&String> =
        needs.iter().flat_map(|(_, n)| &n.nsids).collect();
    let ns_files: HashMap<String, std::fs::File> = asked
        .into_iter()
        .filter_map(|ns| Some((ns.clone(), netns::open(ns).ok()?)))
        .collect();
    let visit_all = |visitor: &netns::Visitor| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some((ns, need)) = needs.get(i) else {
            break;
        };
        if failure.lock().unwrap().is_some() {
            break;
        }
        if opts
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            failure
                .lock()
                .unwrap()
                .get_or_insert(Error::new(Kind::Other, "verify", "cancelled"));
            break;
        }
        let snap = visitor
            .visit(ns, || {
                observe::observe_here(need, opts.timeout, &proc_sys, &ns_files)
            })
            .and_then(|r| {
                r.transpose()
                    .map_err(|e| Error::os(format!("verify {}", at(ns)), e))
            });
        match snap {
            Ok(s) => {
                out.lock().unwrap().insert(ns.clone(), s);
            }
            // Deleted while being read: as good as absent.
            Err(_) if !ns.is_empty() && !netns::exists(ns) => {
                out.lock().unwrap().insert(ns.clone(), None);
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
    let drift = check(ops, &snaps);
    // Freeing thousands of snapshots is milliseconds the caller need not
    // wait for; a few are freed here, cheaper than starting a thread.
    if snaps.len() > 256 {
        std::thread::spawn(move || drop(snaps));
    }
    Ok(drift)
}

#[cfg(test)]
mod tests;
