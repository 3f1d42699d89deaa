//! The scheduler: starts each op once the ops it depends on are done,
//! lowest index first, with at most `concurrency` in flight; stops starting
//! ops at the first failure and then rolls back.

use std::{cmp::Reverse, collections::BinaryHeap, collections::HashMap, time::Instant};

use futures::{stream::FuturesUnordered, StreamExt};

use super::{
    deadline::{apply_with_deadline, Ran},
    fuse::fusable,
    graph::dependencies,
    rollback::{not_rolled_back, roll_back},
    state::Exec,
    Options, Report, Undo,
};
use crate::{
    error::{Error, Kind, Result},
    plan::Op,
};

/// Runs `ops` (see docs/plan-ops.md). On the first failure no new op starts,
/// the ops in flight finish, then the undos of all completed ops run in
/// reverse order of completion, unless a namespace deletion had completed
/// (then nothing is undone and the error says `not rolled back`).
/// `progress(done, total)` is called after every completed op. Must be
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
    let delay = opts.fault_delay.or_else(|| {
        let ms = std::env::var("VPCCTL_FAULT_DELAY_MS").ok()?.parse().ok()?;
        Some(std::time::Duration::from_millis(ms))
    });
    let deps = dependencies(ops);
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
    super::preflight::names_in_the_way(ops, &ex.conns).await?;
    // Ops fused into the NetnsAdd of their namespace (apply_fused): they
    // never go to `ready` themselves.
    let mut claimed = vec![false; ops.len()];
    let mut running = FuturesUnordered::new();
    let mut completed: Vec<Option<Undo>> = Vec::with_capacity(ops.len());
    let mut failure: Option<(usize, Error)> = None;
    // Set once a namespace deletion, or a tagged link's (a veth of vpcctl's
    // and its peer), has completed: it cannot be undone, so the plan is then
    // not rolled back on failure (not_rolled_back).
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
                    let result = Err(Error::new(Kind::Other, op.to_string(), "injected fault"));
                    let overrun = None;
                    return vec![(i, Ran { result, overrun })];
                }
                apply_with_deadline(ex, i, op, &setup, limit_for(op, opts.timeout), delay).await
            });
        }
        let Some(ran) = running.next().await else {
            break;
        };
        for (i, ran) in ran {
            irreversible |= ran.result.is_ok()
                && matches!(
                    ops[i],
                    Op::NetnsDel { .. } | Op::LinkDel { alias: Some(_), .. }
                );
            match (ran.result, ran.overrun) {
                // Overran but completed: a failure whose effect is undone too.
                (Ok(undo), Some(e)) => {
                    completed.push(undo);
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
                    completed.push(undo);
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
    match failure {
        None => Ok(Report {
            ops: ops.len(),
            elapsed: start.elapsed(),
            nft: ex.nft.marks(ops),
        }),
        Some(failed) if irreversible => Err(not_rolled_back(ops, completed.len(), failed)),
        Some(failed) => Err(roll_back(&ex, ops, completed, failed, opts).await),
    }
}

/// The limit for `op`: a namespace deletion gets 12 times the per-op limit
/// (60 s by default). Its clock also runs while it waits for one of the few
/// unmount threads, and each unmount waits for an RCU grace period, which
/// the kernel's cleanup of thousands of namespaces makes slow: tearing down
/// 10,000 subnets, one waited past 5 s. A deletion cannot be undone, so an
/// early timeout only turns a slow success into a failure; a hang must
/// still become an error.
fn limit_for(op: &Op, limit: std::time::Duration) -> std::time::Duration {
    match op {
        Op::NetnsDel { .. } => limit * 12,
        _ => limit,
    }
}
