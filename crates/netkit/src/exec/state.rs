//! What one execution holds: a connection per namespace, the nft contexts,
//! the link-index cache, the namespaces it made, and the thread limit for
//! making and deleting namespaces.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, OnceLock},
};

use tokio::sync::Semaphore;

use super::{links::LinkIndexes, nftctx::NftContexts};
use crate::{conn::Conns, netns, plan::Op};

/// Netns creation contends on the kernel's mount lock; a few threads suffice.
const NETNS_THREADS: usize = 4;

pub(super) struct Exec {
    pub(super) conns: Conns,
    pub(super) nft: NftContexts,
    pub(super) links: LinkIndexes,
    /// Threads making or deleting namespaces at once.
    pub(super) netns_pool: Semaphore,
    /// Namespaces created by this execution.
    made: Mutex<HashSet<String>>,
    /// One scan of /proc for the processes to kill, shared by every
    /// netnsDel of the execution (a scan stats every process).
    pub(super) pids: Arc<OnceLock<netns::NsPids>>,
}

impl Exec {
    pub(super) fn new(ops: &[Op]) -> Self {
        Exec {
            conns: Conns::default(),
            nft: NftContexts::new(ops),
            links: LinkIndexes::default(),
            netns_pool: Semaphore::new(NETNS_THREADS),
            made: Default::default(),
            pids: Default::default(),
        }
    }

    /// Whether this execution made namespace `ns` (and has not deleted it):
    /// then it holds nothing older to keep for an undo.
    pub(super) fn made(&self, ns: &str) -> bool {
        self.made.lock().unwrap().contains(ns)
    }

    pub(super) fn note_made(&self, ns: &str) {
        self.made.lock().unwrap().insert(ns.to_string());
    }

    /// Before namespace `ns` is deleted: nothing of it is kept.
    pub(super) fn note_deleted(&self, ns: &str) {
        self.forget(ns);
        self.made.lock().unwrap().remove(ns);
    }

    /// Forgets the connection, link indexes and nft context of a namespace
    /// so they stop holding it alive. A context still open is freed on a
    /// blocking thread.
    pub(super) fn forget(&self, ns: &str) {
        self.conns.forget(ns);
        self.links.forget_ns(ns);
        self.nft.forget(ns);
    }
}
