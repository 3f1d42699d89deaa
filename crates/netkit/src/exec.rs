//! The batch executor: runs a plan as a dependency graph with bounded
//! concurrency, one rtnetlink connection and one nft context per namespace,
//! a timeout per op, and an undo stack run in reverse on failure.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet},
    os::fd::OwnedFd,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use futures::{stream::FuturesUnordered, StreamExt};
use rtnetlink::{packet_route::RouteNetlinkMessage, LinkUnspec};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::{
    addr,
    conn::{self, Conns},
    error::{Context, Error, Result},
    link::{self, Veth},
    netns,
    nft::{self, Nft},
    nlsock,
    observe::NftMark,
    plan::{self, Op, Ruleset},
    route, sysctl,
};

#[derive(Debug, Clone)]
pub struct Options {
    /// Ops in flight at once.
    pub concurrency: usize,
    /// 1-based index of an op made to fail with `injected fault` before it
    /// touches the kernel (tests); `VPCCTL_FAULT_AT` if None.
    pub fault_at: Option<usize>,
    /// Per-op limit; an overrun is an error, not a hang.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 64,
            fault_at: None,
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub ops: usize,
    pub elapsed: Duration,
    /// Per namespace where the plan ran nft ops (and that it did not delete
    /// afterwards): the nftables generation after them, for verify.
    pub nft: HashMap<String, NftMark>,
}

/// Thins out progress reports that cross into another runtime (the JS
/// thread): lets one through when at least 1% of the plan, or 50 ms, has
/// passed since the last one, and always the final one (`done == total`).
pub struct ProgressThrottle {
    last: Mutex<(usize, Instant)>,
}

impl Default for ProgressThrottle {
    fn default() -> Self {
        ProgressThrottle {
            last: Mutex::new((0, Instant::now())),
        }
    }
}

impl ProgressThrottle {
    pub const INTERVAL: Duration = Duration::from_millis(50);

    /// Whether `(done, total)` should be reported.
    pub fn pass(&self, done: usize, total: usize) -> bool {
        let mut last = self.last.lock().unwrap();
        let step = (total / 100).max(1);
        if done >= total || done >= last.0 + step || last.1.elapsed() >= Self::INTERVAL {
            *last = (done, Instant::now());
            true
        } else {
            false
        }
    }
}

/// The inverse of a completed op, and the namespaces whose deletion makes
/// running it unnecessary (deleting a netns removes everything in it; the
/// other end of a veth only later, when a kernel worker destroys the
/// namespace, so a veth's undo waits for its own namespace alone).
struct Undo {
    op: Op,
    gone_with: Vec<String>,
}

/// Netns creation contends on the kernel's mount lock; a few threads suffice.
const NETNS_THREADS: usize = 4;

/// A namespace's nft context, made on first use by a thread inside it.
type NftCell = Arc<Mutex<Option<Nft>>>;

/// The highest nftables generation seen after an nft op, per namespace.
type Gens = Arc<Mutex<HashMap<String, u32>>>;

/// Reads the generation of the calling thread's netns right after an nft
/// op there (one small netlink request on the same thread) and keeps the
/// highest per namespace: every op reads after its own commit, so the
/// highest read is the generation after the namespace's last nft op. A
/// failed read only costs the mark (verify then compares by content).
fn note_gen(gens: &Gens, ns: &str) {
    if let Ok(g) = nlsock::nft_gen(Duration::from_secs(1)) {
        let mut gens = gens.lock().unwrap();
        let e = gens.entry(ns.to_string()).or_insert(g);
        *e = (*e).max(g);
    }
}

/// Connections, nft contexts and the netns-thread limit of one execution.
struct Exec {
    conns: Conns,
    nfts: Mutex<HashMap<String, NftCell>>,
    /// nft ops of the plan not yet run, per namespace: the last one frees
    /// the context on its own (blocking) thread, so a context is never
    /// freed on a runtime worker.
    nft_left: Mutex<HashMap<String, usize>>,
    netns_pool: Semaphore,
    /// Namespaces created by this execution.
    made: Mutex<HashSet<String>>,
    /// Tables (ns, family, table) an op of this execution has worked on.
    nft_touched: Mutex<HashSet<(String, String, String)>>,
    /// One scan of /proc for the processes to kill, shared by every
    /// netnsDel of the execution (a scan stats every process).
    pids: Arc<OnceLock<netns::NsPids>>,
    /// Link indexes by (namespace, name), learnt on first use: a subnet's
    /// address and route name the same two devices, and each lookup is a
    /// netlink round trip. Ops that delete or replace links forget theirs.
    indexes: Mutex<HashMap<(String, String), u32>>,
    /// nftables generations after nft ops (see [`note_gen`]).
    gens: Gens,
}

/// Frees an nft context on a blocking thread (freeing can wait ~10+ ms
/// for the kernel) if there is one and a runtime to run it.
fn free_nft(cell: NftCell) {
    let open = cell.lock().map(|c| c.is_some()).unwrap_or(false);
    if !open {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(move || drop(cell))),
        Err(_) => drop(cell),
    }
}

/// Runs `f` on a blocking-pool thread; `f` enters namespaces only through
/// `netns::run_in`, which always restores the thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::msg("worker thread", e.to_string()))?
}

impl Exec {
    fn new(ops: &[Op]) -> Self {
        let mut nft_left: HashMap<String, usize> = HashMap::new();
        for op in ops {
            if let Op::NftApply { ns, .. } | Op::NftDelete { ns, .. } = op {
                *nft_left.entry(ns.clone()).or_default() += 1;
            }
        }
        Exec {
            conns: Conns::default(),
            nfts: Default::default(),
            nft_left: Mutex::new(nft_left),
            netns_pool: Semaphore::new(NETNS_THREADS),
            made: Default::default(),
            nft_touched: Default::default(),
            pids: Default::default(),
            indexes: Default::default(),
            gens: Default::default(),
        }
    }

    /// The index of link `dev` in `ns`, from the cache or the kernel.
    async fn index(&self, ns: &str, dev: &str, what: impl Fn() -> String) -> Result<u32> {
        let key = (ns.to_string(), dev.to_string());
        if let Some(&i) = self.indexes.lock().unwrap().get(&key) {
            return Ok(i);
        }
        let i = addr::index_of(&self.conns.get(ns).await?, ns, dev, what).await?;
        self.indexes.lock().unwrap().insert(key, i);
        Ok(i)
    }

    fn forget_link(&self, ns: &str, dev: &str) {
        self.indexes
            .lock()
            .unwrap()
            .remove(&(ns.to_string(), dev.to_string()));
    }

    /// Runs `f` with the namespace's nft context, on a thread inside it.
    async fn nft<T: Send + 'static>(
        &self,
        ns: &str,
        what: String,
        f: impl FnOnce(&mut Nft) -> std::result::Result<T, String> + Send + 'static,
    ) -> Result<T> {
        let (cell, last) = self.nft_cell(ns);
        let (ns, gens) = (ns.to_string(), self.gens.clone());
        blocking(move || {
            let (r, dead) = netns::run_in(&ns, || {
                let mut slot = cell.lock().unwrap();
                let r = context(&mut slot).and_then(f);
                if r.is_ok() {
                    note_gen(&gens, &ns);
                }
                (r, if last { slot.take() } else { None })
            })?;
            // Freeing may wait ~10+ ms for the kernel when the transaction
            // deleted something (see Nft::apply_table): done on another
            // blocking thread, so the op is done now. Only spawned once
            // this thread is back in its own netns: a thread spawned from
            // inside a namespace would be born, and stay, in it.
            if let Some(d) = dead {
                free_nft(Arc::new(Mutex::new(Some(d))));
            }
            r.map_err(|e| Error::msg(what, e))
        })
        .await
    }

    /// Records that an op works on table `family table` in `ns`; true the
    /// first time.
    fn nft_touched(&self, ns: &str, family: &str, table: &str) -> bool {
        self.nft_touched.lock().unwrap().insert((
            ns.to_string(),
            family.to_string(),
            table.to_string(),
        ))
    }

    /// Forgets the connection and nft context of a namespace so they stop
    /// holding it alive. A context still open is freed on a blocking thread.
    fn forget(&self, ns: &str) {
        self.conns.forget(ns);
        self.indexes.lock().unwrap().retain(|(n, _), _| n != ns);
        if let Some(cell) = self.nfts.lock().unwrap().remove(ns) {
            free_nft(cell);
        }
    }

    /// The namespace's nft context cell, and whether the op taking it is
    /// the plan's last nft op there (which then frees the context).
    fn nft_cell(&self, ns: &str) -> (NftCell, bool) {
        let cell = self
            .nfts
            .lock()
            .unwrap()
            .entry(ns.to_string())
            .or_default()
            .clone();
        let last = self.nft_left.lock().unwrap().get_mut(ns).is_some_and(|n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
        (cell, last)
    }

    /// Makes a namespace (`op` is its NetnsAdd) in one trip to a blocking
    /// thread: the namespace, its rtnetlink socket, `lo` up with its tag,
    /// then the `setup` ops (sysctls and nft tables of the new namespace,
    /// see [`fusable`]) while the thread is still inside. Returns the
    /// NetnsAdd's undo and each setup op's result, in order, up to the
    /// first that failed; a failed setup op leaves the namespace made.
    async fn netns_add(
        &self,
        op: &Op,
        setup: &[(usize, &Op)],
    ) -> Result<(Option<Undo>, Vec<Done>)> {
        let Op::NetnsAdd { ns, tag } = op else {
            unreachable!("netns_add takes a NetnsAdd")
        };
        let _permit = self.netns_pool.acquire().await.expect("semaphore closed");
        let steps: Vec<(usize, Setup)> = setup
            .iter()
            .map(|&(k, o)| (k, Setup::of(self, o)))
            .collect();
        let (name, tag) = (ns.clone(), tag.clone());
        let what = op.to_string();
        let (fd, done) = blocking(move || {
            let inside = || -> Result<(OwnedFd, Vec<Done>)> {
                let fd = conn::route_socket().map_err(|e| Error::os(what.clone(), e))?;
                let lo = LinkUnspec::new_with_name("lo").up();
                let lo = if tag.is_empty() { lo } else { lo.alias(&tag) };
                conn::request_sync(&fd, RouteNetlinkMessage::SetLink(lo.build()))
                    .ctx(|| format!("lo up in netns \"{name}\""))?;
                let mut done = Vec::with_capacity(steps.len());
                for (k, step) in steps {
                    let r = step.run_here(&name);
                    let failed = r.is_err();
                    done.push((k, r));
                    if failed {
                        break;
                    }
                }
                Ok((fd, done))
            };
            let r = netns::add_with(&name, inside)?;
            if r.is_err() {
                let _ = netns::del(&name);
            }
            r
        })
        .await?;
        self.conns.insert(ns, conn::from_socket(fd));
        self.made.lock().unwrap().insert(ns.clone());
        let undo = Undo {
            op: Op::NetnsDel { ns: ns.clone() },
            gone_with: vec![],
        };
        Ok((Some(undo), done))
    }

    /// Runs op `i` with the setup ops fused into it (only a NetnsAdd takes
    /// any): the result of `i` first, then those of the setup ops that ran.
    async fn run_group(&self, i: usize, op: &Op, setup: &[(usize, &Op)]) -> Vec<Done> {
        if setup.is_empty() {
            return vec![(i, self.run(op).await)];
        }
        match self.netns_add(op, setup).await {
            Ok((undo, done)) => std::iter::once((i, Ok(undo))).chain(done).collect(),
            Err(e) => vec![(i, Err(e))],
        }
    }

    /// Runs one op; returns its undo if it changed something.
    async fn run(&self, op: &Op) -> Result<Option<Undo>> {
        let here = |op: Op| {
            Some(Undo {
                gone_with: vec![op.ns().to_string()],
                op,
            })
        };
        Ok(match op {
            Op::NetnsAdd { .. } => self.netns_add(op, &[]).await?.0,
            Op::NetnsDel { ns } => {
                self.forget(ns);
                self.made.lock().unwrap().remove(ns);
                // Unmounts contend on the kernel's mount lock: few threads.
                let _permit = self.netns_pool.acquire().await.expect("semaphore closed");
                let (ns, pids) = (ns.clone(), self.pids.clone());
                blocking(move || {
                    if pids.get().is_none() {
                        let _ = pids.set(netns::scan_pids()?);
                    }
                    netns::del_with(&ns, pids.get())
                })
                .await?;
                None
            }
            Op::VethAdd {
                ns,
                name,
                alias,
                peer_ns,
                peer_name,
                peer_alias,
                mtu,
            } => {
                let v = Veth {
                    ns: ns.clone(),
                    name: name.clone(),
                    alias: alias.clone(),
                    peer_ns: peer_ns.clone(),
                    peer_name: peer_name.clone(),
                    peer_alias: peer_alias.clone(),
                    mtu: *mtu,
                };
                // A leftover veth may be replaced: its old indexes are stale.
                self.forget_link(ns, name);
                self.forget_link(peer_ns, peer_name);
                link::veth_add(
                    &self.conns.get(ns).await?,
                    &self.conns.get(peer_ns).await?,
                    &v,
                )
                .await?;
                let del = Op::LinkDel {
                    ns: ns.clone(),
                    name: name.clone(),
                };
                // Deleted explicitly even when the peer's namespace goes too:
                // a namespace is destroyed by a kernel worker after the
                // rollback returns, and until then this end (with its
                // addresses and routes) would still be up in `ns`.
                Some(Undo {
                    op: del,
                    gone_with: vec![ns.clone()],
                })
            }
            Op::LinkDel { ns, name } => {
                self.forget_link(ns, name);
                link::del(&self.conns.get(ns).await?, ns, name).await?;
                None
            }
            Op::LinkUp { ns, name } => {
                let h = self.conns.get(ns).await?;
                let Some(l) = link::get(&h, ns, name).await? else {
                    return Err(Error::os(
                        op.to_string(),
                        std::io::Error::from_raw_os_error(libc::ENODEV),
                    ));
                };
                if l.up {
                    None
                } else {
                    link::set_up(&h, ns, name, true).await?;
                    here(Op::LinkDown {
                        ns: ns.clone(),
                        name: name.clone(),
                    })
                }
            }
            Op::LinkDown { ns, name } => {
                link::set_up(&self.conns.get(ns).await?, ns, name, false).await?;
                None
            }
            Op::AddrAdd { ns, dev, cidr } => {
                let index = self.index(ns, dev, || op.to_string()).await?;
                let added = addr::add_at(&self.conns.get(ns).await?, ns, dev, index, cidr).await?;
                added
                    .then(|| {
                        here(Op::AddrDel {
                            ns: ns.clone(),
                            dev: dev.clone(),
                            cidr: cidr.clone(),
                        })
                    })
                    .flatten()
            }
            Op::AddrDel { ns, dev, cidr } => {
                let removed = addr::del(&self.conns.get(ns).await?, ns, dev, cidr).await?;
                removed
                    .then(|| {
                        here(Op::AddrAdd {
                            ns: ns.clone(),
                            dev: dev.clone(),
                            cidr: cidr.clone(),
                        })
                    })
                    .flatten()
            }
            Op::RouteAdd { ns, route: r } => {
                let index = match &r.dev {
                    Some(dev) => Some(self.index(ns, dev, || op.to_string()).await?),
                    None => None,
                };
                let replaced = route::add_at(&self.conns.get(ns).await?, ns, r, index).await?;
                here(match replaced {
                    // Put back the route this one took over.
                    Some(old) => Op::RouteAdd {
                        ns: ns.clone(),
                        route: old,
                    },
                    None => Op::RouteDel {
                        ns: ns.clone(),
                        route: r.clone(),
                    },
                })
            }
            Op::RouteDel { ns, route: r } => {
                route::del(&self.conns.get(ns).await?, ns, r).await?;
                None
            }
            // A namespace this execution made goes whole on rollback: no
            // old value to keep.
            Op::SysctlSet { ns, key, value } if self.made.lock().unwrap().contains(ns) => {
                let (n, k, v) = (ns.clone(), key.clone(), value.clone());
                blocking(move || sysctl::set(&n, &k, &v)).await?;
                None
            }
            Op::SysctlSet { ns, key, value } => {
                let (n, k, v) = (ns.clone(), key.clone(), value.clone());
                let old = blocking(move || sysctl::swap(&n, &k, &v)).await?;
                (old != *value)
                    .then(|| {
                        here(Op::SysctlSet {
                            ns: ns.clone(),
                            key: key.clone(),
                            value: old,
                        })
                    })
                    .flatten()
            }
            Op::NftApply {
                ns,
                family,
                table,
                ruleset,
            } => {
                // A namespace this plan made has no table to restore yet,
                // unless an earlier op of the plan made one.
                let first = self.nft_touched(ns, family, table);
                let fresh = first && self.made.lock().unwrap().contains(ns);
                let (f, t, rules) = (family.clone(), table.clone(), ruleset.clone());
                let old = self
                    .nft(ns, op.to_string(), move |n| {
                        replace_table(n, &f, &t, &rules, fresh)
                    })
                    .await?;
                here(restore(ns, family, table, old))
            }
            Op::NftDelete { ns, family, table } => {
                self.nft_touched(ns, family, table);
                let fam = nft::parse_family(family).map_err(|e| Error::msg(op.to_string(), e))?;
                let t = table.clone();
                let old = self
                    .nft(ns, op.to_string(), move |n| {
                        let old = n.list_table(fam, &t)?;
                        n.delete_table(fam, &t)?;
                        Ok(old)
                    })
                    .await?;
                old.map(|o| restore(ns, family, table, Some(o)))
                    .and_then(here)
            }
        })
    }
}

/// An op's index and what it returned.
type Done = (usize, Result<Option<Undo>>);

/// Whether `op` can run inside the thread visit that makes namespace `ns`:
/// a sysctl or nft table of that namespace. This is what the floor does
/// (bench/): each namespace is set up while a thread is in it anyway,
/// instead of two more trips to a blocking thread and two more setns.
fn fusable(op: &Op, ns: &str) -> bool {
    matches!(op, Op::SysctlSet { ns: n, .. } | Op::NftApply { ns: n, .. } if n == ns)
}

/// A setup op made ready to run on the thread inside its new namespace.
enum Setup {
    Sysctl {
        key: String,
        value: String,
    },
    Nft {
        what: String,
        family: String,
        table: String,
        ruleset: Arc<Ruleset>,
        cell: NftCell,
        last: bool,
        gens: Gens,
    },
}

impl Setup {
    fn of(ex: &Exec, op: &Op) -> Setup {
        match op {
            Op::SysctlSet { key, value, .. } => Setup::Sysctl {
                key: key.clone(),
                value: value.clone(),
            },
            Op::NftApply {
                ns,
                family,
                table,
                ruleset,
            } => {
                ex.nft_touched(ns, family, table);
                let (cell, last) = ex.nft_cell(ns);
                Setup::Nft {
                    what: op.to_string(),
                    family: family.clone(),
                    table: table.clone(),
                    ruleset: ruleset.clone(),
                    cell,
                    last,
                    gens: ex.gens.clone(),
                }
            }
            _ => unreachable!("not fusable: {op}"),
        }
    }

    /// Runs on a thread inside the namespace `ns`, made moments ago: a
    /// sysctl has no old value to keep, a table no old table to replace.
    fn run_here(self, ns: &str) -> Result<Option<Undo>> {
        match self {
            Setup::Sysctl { key, value } => sysctl::set_here(ns, &key, &value).map(|()| None),
            Setup::Nft {
                what,
                family,
                table,
                ruleset,
                cell,
                last,
                gens,
            } => {
                let mut slot = cell.lock().unwrap();
                let replaced = context(&mut slot)
                    .and_then(|n| replace_table(n, &family, &table, &ruleset, true));
                if replaced.is_ok() {
                    note_gen(&gens, ns);
                }
                // Freed here, on this thread: a transaction that only
                // created a table does not make freeing wait (Nft::apply_table).
                if last {
                    drop(slot.take());
                }
                let old = replaced.map_err(|e| Error::msg(what, e))?;
                Ok(Some(Undo {
                    op: restore(ns, &family, &table, old),
                    gone_with: vec![ns.to_string()],
                }))
            }
        }
    }
}

/// The context in `slot`, made on first use (by a thread inside its namespace).
fn context(slot: &mut Option<Nft>) -> std::result::Result<&mut Nft, String> {
    if slot.is_none() {
        *slot = Some(Nft::new()?);
    }
    Ok(slot.as_mut().expect("made above"))
}

/// Replaces table `family table` with `rules` in the context's namespace;
/// returns the table as it was, unless `fresh` says it is known absent
/// (then it is not listed, and is created rather than replaced).
fn replace_table(
    n: &mut Nft,
    family: &str,
    table: &str,
    rules: &Ruleset,
    fresh: bool,
) -> std::result::Result<Option<Value>, String> {
    let fam = nft::parse_family(family)?;
    rules.check(family, table)?;
    let old = if fresh {
        None
    } else {
        n.list_table(fam, table)?
    };
    n.apply_table(fam, table, rules.text(), old.is_some())?;
    Ok(old)
}

/// The op that puts a table back as it was listed (or removes it if it was absent).
fn restore(ns: &str, family: &str, table: &str, listed: Option<Value>) -> Op {
    let (ns, family, table) = (ns.to_string(), family.to_string(), table.to_string());
    match listed {
        Some(l) => Op::NftApply {
            ns,
            family,
            table,
            ruleset: Ruleset::from_objects(&nft::listed_objects(&l)),
        },
        None => Op::NftDelete { ns, family, table },
    }
}

/// The failed op as `op K (what)`, and its cause (with the error's own
/// context when that does not just repeat the op).
fn op_error(k: usize, op: &Op, e: &Error) -> (String, String) {
    let what = op.to_string();
    let cause = if e.context == what {
        e.cause.to_string()
    } else {
        e.to_string()
    };
    (format!("op {k} ({what})"), cause)
}

/// How long an op that overran its limit is still waited for. Work on a
/// blocking thread (namespaces, sysctls, nftables) cannot be cancelled, and
/// a netlink request already sent is carried out by the kernel whether or
/// not its ack is read: dropping such an op would let it finish after the
/// rollback and leave its object behind. So the overrun is an error, but
/// the op is awaited a while longer and, if it did complete, undone.
const LATE_LIMIT: Duration = Duration::from_secs(30);

/// An op run under the per-op limit.
struct Ran {
    /// What the op itself returned (or a timeout if it never finished).
    result: Result<Option<Undo>>,
    /// Set when the op overran the limit: the error to report, even if the
    /// op completed later (then `result` holds its undo).
    overrun: Option<Error>,
}

/// Runs op `i` (with the setup ops fused into it) under the per-op limit;
/// one [`Ran`] per op that ran, `i` first.
async fn run_limited(
    ex: &Exec,
    i: usize,
    op: &Op,
    setup: &[(usize, &Op)],
    limit: Duration,
) -> Vec<(usize, Ran)> {
    let run = ex.run_group(i, op, setup);
    tokio::pin!(run);
    let ran = |done: Vec<Done>, mut overrun: Option<Error>| -> Vec<(usize, Ran)> {
        done.into_iter()
            .map(|(k, result)| {
                let overrun = if k == i { overrun.take() } else { None };
                (k, Ran { result, overrun })
            })
            .collect()
    };
    if let Ok(done) = tokio::time::timeout(limit, &mut run).await {
        return ran(done, None);
    }
    let overrun = Error::msg(op.to_string(), format!("timed out after {limit:?}"));
    match tokio::time::timeout(LATE_LIMIT, run).await {
        Ok(done) => ran(done, Some(overrun)),
        Err(_) => {
            let msg = format!(
                "timed out after {limit:?}, still running {LATE_LIMIT:?} later (it may yet take effect)"
            );
            vec![(
                i,
                Ran {
                    result: Err(Error::msg(op.to_string(), msg.clone())),
                    overrun: Some(Error::msg(op.to_string(), msg)),
                },
            )]
        }
    }
}

/// The limit for `op`: a namespace deletion gets 12 times the per-op limit
/// (60 s by default). Its clock also runs while it waits for one of the few
/// unmount threads, and each unmount waits for an RCU grace period, which
/// the kernel's cleanup of thousands of namespaces makes slow: tearing down
/// 10,000 subnets, one waited past 5 s. A deletion cannot be undone, so an
/// early timeout only turns a slow success into a failure; a hang must
/// still become an error.
fn limit_for(op: &Op, limit: Duration) -> Duration {
    match op {
        Op::NetnsDel { .. } => limit * 12,
        _ => limit,
    }
}

/// One op alone under the limit.
async fn run_single(ex: &Exec, op: &Op, limit: Duration) -> Ran {
    let mut ran = run_limited(ex, 0, op, &[], limit).await;
    ran.swap_remove(0).1
}

/// Runs one op on its own (no plan); the error names the op. An op that
/// overruns `timeout` but completes later is undone before the error.
pub async fn run_one(op: &Op, timeout: Duration) -> Result<()> {
    let ex = Exec::new(std::slice::from_ref(op));
    let ran = run_single(&ex, op, timeout).await;
    match (ran.result, ran.overrun) {
        (r, None) => r.map(drop),
        (Ok(undo), Some(e)) => {
            if let Some(u) = undo {
                let _ = run_single(&ex, &u.op, timeout).await;
            }
            Err(e)
        }
        (Err(_), Some(e)) => Err(e),
    }
}

/// Runs `ops` (see docs/plan-ops.md). On the first failure no new op starts,
/// the ops in flight finish, then the undos of all completed ops run in
/// reverse order of completion, unless a namespace deletion had completed
/// (then nothing is undone and the error says `not rolled back`). Must be
/// called inside a tokio runtime.
pub async fn execute(
    ops: &[Op],
    opts: &Options,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Report> {
    let start = Instant::now();
    let fault_at = opts
        .fault_at
        .or_else(|| std::env::var("VPCCTL_FAULT_AT").ok()?.parse().ok());
    let deps = plan::dependencies(ops);
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); ops.len()];
    for (i, d) in deps.iter().enumerate() {
        for &j in d {
            dependents[j].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..ops.len())
        .filter(|&i| waiting[i] == 0)
        .map(Reverse)
        .collect();
    // Ops left per namespace: when none are, its connection and nft context
    // are closed, so a plan over many namespaces never holds sockets in all
    // of them at once (libnftables select()s on its socket: fds must stay
    // below FD_SETSIZE).
    let mut left: HashMap<&str, usize> = HashMap::new();
    for op in ops {
        for ns in op.namespaces() {
            *left.entry(ns).or_default() += 1;
        }
    }
    let ex = Exec::new(ops);
    // Ops fused into the NetnsAdd of their namespace (run_group): they
    // never go to `ready` themselves.
    let mut claimed = vec![false; ops.len()];
    let mut running = FuturesUnordered::new();
    let mut completed: Vec<(usize, Option<Undo>)> = Vec::with_capacity(ops.len());
    let mut failure: Option<(usize, Error)> = None;
    // Set once a namespace deletion has completed: it cannot be undone, so
    // the plan is then not rolled back on failure (see below).
    let mut irreversible = false;
    loop {
        while failure.is_none() && running.len() < opts.concurrency.max(1) {
            let Some(Reverse(i)) = ready.pop() else { break };
            let (ex, op) = (&ex, &ops[i]);
            let setup: Vec<(usize, &Op)> = match op {
                Op::NetnsAdd { ns, .. } => dependents[i]
                    .iter()
                    .filter(|&&d| deps[d] == [i] && fault_at != Some(d + 1) && fusable(&ops[d], ns))
                    .map(|&d| (d, &ops[d]))
                    .collect(),
                _ => vec![],
            };
            for &(d, _) in &setup {
                claimed[d] = true;
            }
            running.push(async move {
                if fault_at == Some(i + 1) {
                    let e = Error::msg(op.to_string(), "injected fault");
                    let result = Err(e);
                    return vec![(
                        i,
                        Ran {
                            result,
                            overrun: None,
                        },
                    )];
                }
                run_limited(ex, i, op, &setup, limit_for(op, opts.timeout)).await
            });
        }
        let Some(ran) = running.next().await else {
            break;
        };
        for (i, ran) in ran {
            irreversible |= ran.result.is_ok() && matches!(ops[i], Op::NetnsDel { .. });
            match (ran.result, ran.overrun) {
                // Overran but completed: a failure whose effect is undone too.
                (Ok(undo), Some(e)) => {
                    completed.push((i, undo));
                    failure.get_or_insert((i, e));
                }
                (Ok(undo), None) => {
                    for ns in ops[i].namespaces() {
                        let n = left.get_mut(ns).expect("counted");
                        *n -= 1;
                        if *n == 0 {
                            ex.forget(ns);
                        }
                    }
                    completed.push((i, undo));
                    progress(completed.len(), ops.len());
                    for &d in &dependents[i] {
                        waiting[d] -= 1;
                        if waiting[d] == 0 && !claimed[d] {
                            ready.push(Reverse(d));
                        }
                    }
                }
                (Err(e), overrun) => {
                    failure.get_or_insert((i, overrun.unwrap_or(e)));
                }
            }
        }
    }
    drop(running);
    let Some((i, e)) = failure else {
        return Ok(Report {
            ops: ops.len(),
            elapsed: start.elapsed(),
            nft: marks(ops, &ex.gens.lock().unwrap()),
        });
    };
    // A plan that deleted a namespace is not rolled back: the deletion
    // stands whatever else is undone, so undoing the rest (a host table put
    // back, ip_forward turned on again) would only leave the kernel half
    // way between the old state and the new one. Left as it is, it is the
    // new one minus the ops that did not run; the caller records what was
    // deleted (api/engine.ts) and the next run finishes.
    if irreversible {
        let (what, cause) = op_error(i + 1, &ops[i], &e);
        let msg = format!(
            "{cause}; not rolled back: {} ops done, namespace deletions among them",
            completed.len()
        );
        return Err(Error::msg(what, msg));
    }
    let undo_errors = rollback(
        &ex,
        completed
            .iter_mut()
            .rev()
            .filter_map(|(_, u)| u.take())
            .collect(),
        opts,
    )
    .await;
    let (what, cause) = op_error(i + 1, &ops[i], &e);
    let mut msg = format!("{cause}; rolled back {} ops", completed.len());
    if !undo_errors.is_empty() {
        msg += &format!("; undo failed: {}", undo_errors.join("; "));
    }
    Err(Error::msg(what, msg))
}

/// The generations of the namespaces whose last nft op came after their
/// last deletion in the plan (a namespace deleted at the end has no mark).
fn marks(ops: &[Op], gens: &HashMap<String, u32>) -> HashMap<String, NftMark> {
    let mut live: HashMap<&str, bool> = HashMap::new();
    for op in ops {
        match op {
            Op::NetnsDel { ns } => {
                live.insert(ns, false);
            }
            Op::NftApply { ns, .. } | Op::NftDelete { ns, .. } => {
                live.insert(ns, true);
            }
            _ => {}
        }
    }
    gens.iter()
        .filter(|(ns, _)| live.get(ns.as_str()) == Some(&true))
        .map(|(ns, &gen)| (ns.clone(), NftMark { gen }))
        .collect()
}

/// Runs undos in the given order, skipping those whose objects disappear
/// anyway with a namespace that a later undo deletes.
async fn rollback(ex: &Exec, undos: Vec<Undo>, opts: &Options) -> Vec<String> {
    let deleted: HashSet<String> = undos
        .iter()
        .filter_map(|u| {
            if let Op::NetnsDel { ns } = &u.op {
                Some(ns.clone())
            } else {
                None
            }
        })
        .collect();
    // Links of veths made by this plan die with their own namespace.
    let mut veth_gone: HashMap<(String, String), Vec<String>> = HashMap::new();
    for u in &undos {
        if let Op::LinkDel { ns, name } = &u.op {
            veth_gone.insert((ns.clone(), name.clone()), u.gone_with.clone());
        }
    }
    let mut errors = Vec::new();
    for u in undos {
        let mut gone = u.gone_with.clone();
        if let Op::AddrAdd { ns, dev, .. } | Op::AddrDel { ns, dev, .. } = &u.op {
            gone.extend(
                veth_gone
                    .get(&(ns.clone(), dev.clone()))
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        if let Op::RouteDel {
            ns,
            route: route::Route { dev: Some(dev), .. },
        } = &u.op
        {
            gone.extend(
                veth_gone
                    .get(&(ns.clone(), dev.clone()))
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        if gone.iter().any(|ns| deleted.contains(ns)) {
            continue;
        }
        // An undo that overruns is still awaited (run_limited): the next
        // undo must not run before it, and if it completes it did its job.
        if let Err(e) = run_single(ex, &u.op, opts.timeout).await.result {
            errors.push(format!("{}: {}", u.op, e.cause));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_throttle_passes_one_percent_steps_and_the_end() {
        let t = ProgressThrottle::default();
        let passed: Vec<usize> = (1..=1000).filter(|&d| t.pass(d, 1000)).collect();
        // Without time passing: every 10th op (1% of 1000), the last included.
        assert!(passed.len() < 200, "{}", passed.len());
        assert!(passed.len() >= 100, "{}", passed.len());
        assert_eq!(passed.last(), Some(&1000));
        let t = ProgressThrottle::default();
        assert!(
            t.pass(1, 3) && t.pass(2, 3) && t.pass(3, 3),
            "small plans: every op"
        );
        let t = ProgressThrottle::default();
        assert!(!t.pass(1, 1000));
        std::thread::sleep(ProgressThrottle::INTERVAL);
        assert!(t.pass(2, 1000), "after 50 ms");
    }
}
