//! Running a whole plan in one call.

use std::{collections::HashMap, time::Duration};

use napi::{
    bindgen_prelude::FnArgs,
    threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode},
    Status,
};
use napi_derive::napi;
use netkit::exec;

use crate::{
    common::{err, Result},
    plan_op::{self, PlanInput},
    progress::Throttle,
};

#[napi(object)]
pub struct ExecuteOptions {
    /// Ops in flight at once (default 64).
    pub concurrency: Option<u32>,
    /// 1-based index of an op made to fail with `injected fault` (tests);
    /// env VPCCTL_FAULT_AT otherwise.
    pub fault_at: Option<u32>,
    /// Per-op timeout in ms (default 5000).
    pub timeout_ms: Option<u32>,
}

/// Opaque to callers: what execute() learnt about a namespace's nftables
/// ruleset right after the plan's last nft op there (its generation id,
/// which moves with every nftables change in that namespace). Stored by the
/// caller and handed back to verify(), so that an unchanged ruleset is
/// confirmed without listing it.
#[napi(object)]
#[derive(Clone)]
pub struct NftMark {
    pub gen: u32,
    /// Reserved (not set yet).
    pub digest: Option<String>,
}

#[napi(object)]
pub struct ExecuteResult {
    pub ops: u32,
    pub elapsed_ms: f64,
    /// Per namespace where the plan ran nft ops ("" = the host).
    pub nft: HashMap<String, NftMark>,
}

/// `(done, total)` progress callback.
type Progress = ThreadsafeFunction<
    FnArgs<(u32, u32)>,
    napi::bindgen_prelude::Unknown<'static>,
    FnArgs<(u32, u32)>,
    Status,
    false,
>;

/// Runs a plan (typed ops, or the JSON text of their array: see `PlanOp`
/// and docs/plan-ops.md) in one call: ops
/// pipelined along their dependencies, undone in reverse on the first
/// failure. Rejects with `op K (what): cause; rolled back N ops`, or, when
/// a namespace deletion had completed (which no undo can bring back), with
/// `op K (what): cause; not rolled back: N ops done, ...` and the kernel
/// left as the completed ops made it.
#[napi(
    ts_args_type = "plan: Array<PlanOp> | string | Buffer, options?: ExecuteOptions | undefined | null, onProgress?: ((done: number, total: number) => void) | undefined | null"
)]
pub async fn execute(
    plan: PlanInput,
    options: Option<ExecuteOptions>,
    on_progress: Option<Progress>,
) -> Result<ExecuteResult> {
    let ops = plan_op::parse(&plan).map_err(err)?;
    drop(plan);
    let mut opts = exec::Options::default();
    if let Some(o) = options {
        opts.concurrency = o.concurrency.map_or(opts.concurrency, |c| c as usize);
        opts.fault_at = o.fault_at.map(|k| k as usize);
        opts.timeout = o
            .timeout_ms
            .map_or(opts.timeout, |ms| Duration::from_millis(ms.into()));
    }
    // netkit reports every op; each call crosses into JS (see progress.rs).
    let throttle = Throttle::default();
    let progress = move |done: usize, total: usize| {
        if let Some(cb) = on_progress.as_ref().filter(|_| throttle.pass(done, total)) {
            cb.call(
                (done as u32, total as u32).into(),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        }
    };
    let r = exec::execute(&ops, &opts, &progress).await.map_err(err)?;
    Ok(ExecuteResult {
        ops: r.ops as u32,
        elapsed_ms: r.elapsed.as_secs_f64() * 1e3,
        nft: r
            .nft
            .into_iter()
            .map(|(ns, m)| {
                (
                    ns,
                    NftMark {
                        gen: m.gen,
                        digest: None,
                    },
                )
            })
            .collect(),
    })
}
