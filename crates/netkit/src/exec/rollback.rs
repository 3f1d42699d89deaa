//! After a failure: the undos of the completed ops, run in reverse order of
//! completion, and the one error that tells what failed and what was undone.

use std::collections::{HashMap, HashSet};

use super::{deadline::apply_alone, state::Exec, Options, Undo};
use crate::{
    error::{Error, Kind},
    plan::Op,
    route,
};

/// Undoes `completed` (in order of completion) after op `i` failed with
/// `e`; returns the plan's error: `op K (what): cause; rolled back N ops`,
/// with the undos that failed, if any.
pub(super) async fn roll_back(
    ex: &Exec,
    ops: &[Op],
    completed: Vec<Option<Undo>>,
    (i, e): (usize, Error),
    opts: &Options,
) -> Error {
    let n = completed.len();
    let undos = completed.into_iter().rev().flatten().collect();
    let undo_errors = run_undos(ex, undos, opts).await;
    let (what, cause) = op_error(i + 1, &ops[i], &e);
    let mut msg = format!("{cause}; rolled back {n} ops");
    if !undo_errors.is_empty() {
        msg += &format!("; undo failed: {}", undo_errors.join("; "));
    }
    // The failure keeps its own kind: a rolled-back EEXIST is still EEXIST.
    Error::new(e.kind(), what, msg)
}

/// The error of a plan that failed after a namespace deletion (or a tagged
/// link's) completed: nothing is undone. The deletion stands whatever else is undone, so
/// undoing the rest (a host table put back, ip_forward turned on again)
/// would only leave the kernel half way between the old state and the new
/// one. Left as it is, it is the new one minus the ops that did not run;
/// the caller records what was deleted (src/api/partial.ts) and the next
/// run finishes.
pub(super) fn not_rolled_back(ops: &[Op], done: usize, (i, e): (usize, Error)) -> Error {
    let (what, cause) = op_error(i + 1, &ops[i], &e);
    Error::new(
        Kind::Partial,
        what,
        format!("{cause}; not rolled back: {done} ops done, deletions among them"),
    )
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

/// Runs undos in the given order, skipping those whose objects disappear
/// anyway with a namespace that a later undo deletes; returns the errors.
async fn run_undos(ex: &Exec, undos: Vec<Undo>, opts: &Options) -> Vec<String> {
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
        if let Op::LinkDel { ns, name, .. } = &u.op {
            veth_gone.insert((ns.clone(), name.clone()), u.gone_with.clone());
        }
    }
    let mut errors = Vec::new();
    for u in undos {
        let mut gone = u.gone_with.clone();
        let on_dev = match &u.op {
            Op::AddrAdd { ns, dev, .. } | Op::AddrDel { ns, dev, .. } => Some((ns, dev)),
            Op::RouteDel {
                ns,
                route: route::Route { dev: Some(dev), .. },
            } => Some((ns, dev)),
            _ => None,
        };
        if let Some((ns, dev)) = on_dev {
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
        // An undo that overruns is still awaited (apply_with_deadline): the
        // next undo must not run before it, and if it completes it did its job.
        if let Err(e) = apply_alone(ex, &u.op, opts.timeout).await.result {
            errors.push(format!("{}: {}", u.op, e.cause));
        }
    }
    errors
}
