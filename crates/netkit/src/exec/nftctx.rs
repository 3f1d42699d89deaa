//! The nft contexts of one execution: one per namespace, made on first use
//! by a thread inside it and freed after the plan's last nft op there
//! (never on a runtime worker); and the nftables generation each namespace
//! has after the plan's nft ops, which verify uses to skip listing tables.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use super::blocking;
use crate::{
    error::Result,
    netns,
    nft::{Nft, NftResult},
    nlsock,
    observe::NftMark,
    plan::Op,
};

/// A namespace's nft context, made on first use by a thread inside it.
type NftCell = Arc<Mutex<Option<Nft>>>;

/// The highest nftables generation seen after an nft op, per namespace.
type Gens = Arc<Mutex<HashMap<String, u32>>>;

pub(super) struct NftContexts {
    cells: Mutex<HashMap<String, NftCell>>,
    /// nft ops of the plan not yet run, per namespace: the last one frees
    /// the context on its own (blocking) thread, so a context is never
    /// freed on a runtime worker.
    left: Mutex<HashMap<String, usize>>,
    /// Tables (ns, family, table) an op of this execution has worked on.
    touched: Mutex<HashSet<(String, String, String)>>,
    /// nftables generations after nft ops (see [`note_gen`]).
    gens: Gens,
}

/// A namespace's context as one nft op takes it.
pub(super) struct NftLease {
    cell: NftCell,
    /// The op is the plan's last nft op in the namespace.
    last: bool,
    gens: Gens,
}

impl NftLease {
    /// Runs `f` with the context, on the calling thread, which must be
    /// inside `ns`; notes the generation after a success. Hands back the
    /// context if this was the plan's last nft op in `ns`: the caller frees
    /// it where freeing may wait (see [`NftContexts::run_in`]).
    pub(super) fn use_here<T>(
        &self,
        ns: &str,
        f: impl FnOnce(&mut Nft) -> NftResult<T>,
    ) -> (NftResult<T>, Option<Nft>) {
        let mut slot = self.cell.lock().unwrap();
        let r = context(&mut slot).and_then(f);
        if r.is_ok() {
            note_gen(&self.gens, ns);
        }
        (r, if self.last { slot.take() } else { None })
    }
}

impl NftContexts {
    pub(super) fn new(ops: &[Op]) -> Self {
        let mut left: HashMap<String, usize> = HashMap::new();
        for op in ops {
            if let Op::NftApply { ns, .. } | Op::NftDelete { ns, .. } = op {
                *left.entry(ns.clone()).or_default() += 1;
            }
        }
        NftContexts {
            cells: Default::default(),
            left: Mutex::new(left),
            touched: Default::default(),
            gens: Default::default(),
        }
    }

    /// The namespace's context for one nft op (which counts it as run).
    pub(super) fn lease(&self, ns: &str) -> NftLease {
        let cell = self
            .cells
            .lock()
            .unwrap()
            .entry(ns.to_string())
            .or_default()
            .clone();
        let last = self.left.lock().unwrap().get_mut(ns).is_some_and(|n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
        NftLease {
            cell,
            last,
            gens: self.gens.clone(),
        }
    }

    /// Runs `f` with the namespace's context lease on a blocking thread
    /// inside `ns`; `f` returns its result and the context to free, if any.
    pub(super) async fn run_in<T: Send + 'static>(
        &self,
        ns: &str,
        f: impl FnOnce(&NftLease, &str) -> (Result<T>, Option<Nft>) + Send + 'static,
    ) -> Result<T> {
        let lease = self.lease(ns);
        let ns = ns.to_string();
        blocking(move || {
            let (r, dead) = netns::run_in(&ns, || f(&lease, &ns))?;
            // Freeing may wait ~10+ ms for the kernel when the transaction
            // deleted something (see Nft::apply_table): done on another
            // blocking thread, so the op is done now. Only spawned once
            // this thread is back in its own netns: a thread spawned from
            // inside a namespace would be born, and stay, in it.
            if let Some(d) = dead {
                free(Arc::new(Mutex::new(Some(d))));
            }
            r
        })
        .await
    }

    /// Records that an op works on table `family table` in `ns`; true the
    /// first time.
    pub(super) fn touched(&self, ns: &str, family: &str, table: &str) -> bool {
        self.touched
            .lock()
            .unwrap()
            .insert((ns.to_string(), family.to_string(), table.to_string()))
    }

    /// Drops the namespace's context (freed on a blocking thread if open).
    pub(super) fn forget(&self, ns: &str) {
        if let Some(cell) = self.cells.lock().unwrap().remove(ns) {
            free(cell);
        }
    }

    /// The generations of the namespaces whose last nft op came after their
    /// last deletion in the plan (a namespace deleted at the end has no mark).
    pub(super) fn marks(&self, ops: &[Op]) -> HashMap<String, NftMark> {
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
        self.gens
            .lock()
            .unwrap()
            .iter()
            .filter(|(ns, _)| live.get(ns.as_str()) == Some(&true))
            .map(|(ns, &gen)| (ns.clone(), NftMark { gen }))
            .collect()
    }
}

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

/// Frees an nft context on a blocking thread (freeing can wait ~10+ ms
/// for the kernel) if there is one and a runtime to run it.
fn free(cell: NftCell) {
    let open = cell.lock().map(|c| c.is_some()).unwrap_or(false);
    if !open {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(move || drop(cell))),
        Err(_) => drop(cell),
    }
}

/// The context in `slot`, made on first use (by a thread inside its namespace).
fn context(slot: &mut Option<Nft>) -> NftResult<&mut Nft> {
    if slot.is_none() {
        *slot = Some(Nft::new()?);
    }
    Ok(slot.as_mut().expect("made above"))
}
