//! Addresses on links.

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
    Ok(to_js(addr::list(&h, &ns).await.map_err(err)?))
}

/// Every global IPv6 address in `ns` with its device (the kernel's
/// link-local ones left out), tentative ones and those of down links too:
/// what a routed IPv6 prefix must not take from the host.
#[napi]
pub async fn addr_list6(ns: String) -> Result<Vec<AddrInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    Ok(to_js(addr::list6(&h, &ns).await.map_err(err)?))
}

fn to_js(list: Vec<addr::AddrInfo>) -> Vec<AddrInfo> {
    list.into_iter()
        .map(|a| AddrInfo {
            dev: a.dev,
            cidr: a.cidr,
        })
        .collect()
}
