//! The batch executor: runs a plan as a dependency graph with bounded
//! concurrency, one rtnetlink connection and one nft context per namespace,
//! a timeout per op, and an undo stack run in reverse on failure.
//!
//! One file per job:
//! - [`schedule`]: dependency order, concurrency, the first failure;
//! - [`graph`]: which earlier ops each op must wait for;
//! - [`dispatch`]: what each op does to the kernel, and its undo;
//! - [`fuse`]: setting up a new namespace in the thread visit that makes it;
//! - [`nftctx`]: nft contexts per namespace and the nftables generations;
//! - [`nfttable`]: the nft ops as they run inside their namespace;
//! - [`overlay`]: the VXLAN link, FDB and neighbour ops;
//! - [`links`]: the link-index cache;
//! - [`deadline`]: the per-op limit, and an op run alone;
//! - [`rollback`]: undoing completed ops after a failure;
//! - [`state`]: what one execution holds (connections, namespaces made).

use std::{collections::HashMap, time::Duration};

use crate::{
    error::{Error, Kind, Result},
    observe::NftMark,
    plan::Op,
};

mod deadline;
mod dispatch;
mod fuse;
pub mod graph;
mod links;
mod nftctx;
mod nfttable;
mod overlay;
mod preflight;
mod rollback;
mod schedule;
mod state;

pub use deadline::execute_one;
pub use preflight::{in_the_way, InTheWay};
pub use schedule::execute;

#[derive(Debug, Clone)]
pub struct Options {
    /// Ops in flight at once.
    pub concurrency: usize,
    /// 1-based index of an op made to fail with `injected fault` before it
    /// touches the kernel (tests); `VPCCTL_FAULT_AT` if None.
    pub fault_at: Option<usize>,
    /// Every op starts this late, inside its limit (tests of the overrun
    /// path, which a fast kernel op would otherwise win against a short
    /// limit); `VPCCTL_FAULT_DELAY_MS` if None.
    pub fault_delay: Option<Duration>,
    /// Per-op limit; an overrun is an error, not a hang.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 64,
            fault_at: None,
            fault_delay: None,
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

/// The inverse of a completed op, and the namespaces whose deletion makes
/// running it unnecessary (deleting a netns removes everything in it; the
/// other end of a veth only later, when a kernel worker destroys the
/// namespace, so a veth's undo waits for its own namespace alone).
struct Undo {
    op: Op,
    gone_with: Vec<String>,
}

impl Undo {
    /// An undo that goes with the namespace the op worked in.
    fn here(op: Op) -> Option<Undo> {
        Some(Undo {
            gone_with: vec![op.ns().to_string()],
            op,
        })
    }
}

/// An op's index and what it returned.
type Done = (usize, Result<Option<Undo>>);

/// Runs `f` on a blocking-pool thread; `f` enters namespaces only through
/// `netns::run_in`, which always restores the thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(Kind::Other, "worker thread", e.to_string()))?
}
