//! IPv4 addresses on links.

use napi_derive::napi;
use netkit::{addr, conn, plan::Op};

use crate::common::{err, run, Result};

/// Adds an IPv4 address (`10.0.1.1/24`) to `dev`. Already there is success.
#[napi]
pub async fn addr_add(ns: String, dev: String, cidr: String) -> Result<()> {
    run(Op::AddrAdd { ns, dev, cidr }).await
}

/// Removes an IPv4 address from `dev`. Absent is success.
#[napi]
pub async fn addr_del(ns: String, dev: String, cidr: String) -> Result<()> {
    run(Op::AddrDel { ns, dev, cidr }).await
}

#[napi(object)]
pub struct AddrInfo {
    pub dev: String,
    pub cidr: String,
}

/// Every IPv4 address in `ns` with its device.
#[napi]
pub async fn addr_list(ns: String) -> Result<Vec<AddrInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    let list = addr::list(&h, &ns).await.map_err(err)?;
    Ok(list
        .into_iter()
        .map(|a| AddrInfo {
            dev: a.dev,
            cidr: a.cidr,
        })
        .collect())
}
