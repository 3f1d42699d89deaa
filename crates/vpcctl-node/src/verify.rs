//! Checking a plan against the kernel without changing anything.

use std::{collections::HashMap, time::Duration};

use napi_derive::napi;
use netkit::{observe, verify};

use crate::{
    common::{blocking, err, Result},
    execute::NftMark,
    plan_op::{self, PlanInput},
};

/// One op of a verified plan that the kernel does not hold as the op would make it.
#[napi(object)]
pub struct Drift {
    /// 0-based index of the op in the plan given to verify.
    pub index: u32,
    /// One line: what is wrong, naming the object and namespace.
    pub detail: String,
    /// 'missing' (the object is absent) or 'differs' (present, not as made).
    #[napi(ts_type = "'missing' | 'differs'")]
    pub kind: String,
}

#[napi(object)]
pub struct VerifyOptions {
    /// Marks from earlier executes, by namespace ("" = the host). Without a
    /// mark, a table is listed and compared by content (slower, still exact).
    pub nft: Option<HashMap<String, NftMark>>,
    /// Threads reading namespaces at once (default 2).
    pub concurrency: Option<u32>,
    /// Limit of each kernel read in ms (default 5000).
    pub timeout_ms: Option<u32>,
    /// Read sysctls that only /proc/sys has (`ip_unprivileged_port_start`;
    /// default true). Each is a path lookup whose cost grows with the number
    /// of namespaces: about a third of a 500-subnet verify. When false they
    /// are not checked (netlink-readable ones, ip_forward, rp_filter,
    /// proxy_arp, still are).
    pub proc_sysctls: Option<bool>,
}

/// Checks every op of a plan (what execute() takes: typed ops, or their
/// JSON as text or as UTF-8 bytes) against the kernel without changing anything, one visit
/// per namespace; resolves to the ops that do not hold. Removal ops are
/// ignored. A missing namespace gives one drift (on its netnsAdd, or the
/// first op there). Bytes spare a large cached plan its decoding into a JS
/// string and the copy back to UTF-8 (a megabyte at 500 subnets).
#[napi(
    ts_args_type = "plan: Array<PlanOp> | string | Buffer, options?: VerifyOptions | undefined | null"
)]
pub async fn verify(plan: PlanInput, options: Option<VerifyOptions>) -> Result<Vec<Drift>> {
    let ops = plan_op::parse(&plan).map_err(err)?;
    drop(plan);
    let mut opts = verify::Options::default();
    if let Some(o) = options {
        if let Some(marks) = o.nft {
            opts.nft = marks
                .into_iter()
                .map(|(ns, m)| (ns, observe::NftMark { gen: m.gen }))
                .collect();
        }
        opts.concurrency = o.concurrency.map_or(opts.concurrency, |c| c as usize);
        opts.timeout = o
            .timeout_ms
            .map_or(opts.timeout, |ms| Duration::from_millis(ms.into()));
        opts.proc_sysctls = o.proc_sysctls.unwrap_or(opts.proc_sysctls);
    }
    let drifts = blocking(move || verify::verify(&ops, &opts)).await?;
    Ok(drifts.into_iter().map(to_js).collect())
}

pub fn to_js(d: verify::Drift) -> Drift {
    Drift {
        index: d.index as u32,
        detail: d.detail,
        kind: d.kind.as_str().to_string(),
    }
}
