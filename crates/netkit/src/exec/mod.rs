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
//! - [`links`]: the link-index cache;
//! - [`deadline`]: the per-op limit, and an op run alone;
//! - [`rollback`]: undoing completed ops after a failure;
//! - [`state`]: what one execution holds (connections, namespaces made).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::{
    error::{Error, Result},
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
mod rollback;
mod schedule;
mod state;

pub use deadline::execute_one;
pub use schedule::execute;

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
        .map_err(|e| Error::msg("worker thread", e.to_string()))?
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
