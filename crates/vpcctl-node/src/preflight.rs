//! What would stop a plan before it runs, asked without running it.

use napi_derive::napi;
use netkit::{conn::Conns, exec};

use crate::{
    common::{err, Result},
    plan_op::{self, PlanInput},
};

/// A link at the name of a veth end the plan makes, that vpcctl did not make
/// and does not remove: `execute` refuses the plan while it is there.
#[napi(object)]
pub struct LinkInTheWay {
    /// Its namespace ("" = the host's).
    pub ns: String,
    pub name: String,
    /// What it is: `a bridge`, `a veth tagged "x"`, `a veth without vpcctl's tag`.
    pub what: String,
}

/// Every link in the way of a plan (what execute() takes), by the executor's
/// own check, reading the kernel and changing nothing; empty when the plan
/// may run. `status` asks it of the repair `apply` would run.
#[napi(ts_args_type = "plan: Array<PlanOp> | string | Buffer")]
pub async fn links_in_the_way(plan: PlanInput) -> Result<Vec<LinkInTheWay>> {
    let ops = plan_op::parse(&plan).map_err(err)?;
    drop(plan);
    let found = exec::in_the_way(&ops, &Conns::default())
        .await
        .map_err(err)?;
    Ok(found
        .into_iter()
        .map(|l| LinkInTheWay {
            ns: l.ns,
            name: l.name,
            what: l.what,
        })
        .collect())
}
