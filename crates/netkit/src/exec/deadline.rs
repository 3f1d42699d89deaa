//! The per-op limit, and one op run alone (outside a plan, or as an undo).

use std::time::Duration;

use super::{state::Exec, Done};
use crate::{
    error::{Error, Kind, Result},
    plan::Op,
};

/// How long an op that overran its limit is still waited for. Work on a
/// blocking thread (namespaces, sysctls, nftables) cannot be cancelled, and
/// a netlink request already sent is carried out by the kernel whether or
/// not its ack is read: dropping such an op would let it finish after the
/// rollback and leave its object behind. So the overrun is an error, but
/// the op is awaited a while longer and, if it did complete, undone.
const LATE_LIMIT: Duration = Duration::from_secs(30);

/// An op run under the per-op limit.
pub(super) struct Ran {
    /// What the op itself returned (or a timeout if it never finished).
    pub(super) result: Result<Option<super::Undo>>,
    /// Set when the op overran the limit: the error to report, even if the
    /// op completed later (then `result` holds its undo).
    pub(super) overrun: Option<Error>,
}

/// Applies op `i` (with the setup ops fused into it) under the per-op
/// limit; one [`Ran`] per op that ran, `i` first. `delay` (fault
/// injection) holds the op back inside its limit.
pub(super) async fn apply_with_deadline(
    ex: &Exec,
    i: usize,
    op: &Op,
    setup: &[(usize, &Op)],
    limit: Duration,
    delay: Option<Duration>,
) -> Vec<(usize, Ran)> {
    let run = async move {
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        ex.apply_fused(i, op, setup).await
    };
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
    let overrun = Error::new(
        Kind::Timeout,
        op.to_string(),
        format!("timed out after {limit:?}"),
    );
    match tokio::time::timeout(LATE_LIMIT, run).await {
        Ok(done) => ran(done, Some(overrun)),
        Err(_) => {
            let msg = format!(
                "timed out after {limit:?}, still running {LATE_LIMIT:?} later (it may yet take effect)"
            );
            vec![(
                i,
                Ran {
                    result: Err(Error::new(Kind::Timeout, op.to_string(), msg.clone())),
                    overrun: Some(Error::new(Kind::Timeout, op.to_string(), msg)),
                },
            )]
        }
    }
}

/// One op alone under the limit.
pub(super) async fn apply_alone(ex: &Exec, op: &Op, limit: Duration) -> Ran {
    let mut ran = apply_with_deadline(ex, 0, op, &[], limit, None).await;
    ran.swap_remove(0).1
}

/// Runs one op on its own (no plan); the error names the op. An op that
/// overruns `timeout` but completes later is undone before the error.
pub async fn execute_one(op: &Op, timeout: Duration) -> Result<()> {
    let ex = Exec::new(std::slice::from_ref(op));
    let ran = apply_alone(&ex, op, timeout).await;
    match (ran.result, ran.overrun) {
        (r, None) => r.map(drop),
        (Ok(undo), Some(e)) => {
            if let Some(u) = undo {
                let _ = apply_alone(&ex, &u.op, timeout).await;
            }
            Err(e)
        }
        (Err(_), Some(e)) => Err(e),
    }
}
