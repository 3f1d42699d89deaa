//! sysctls inside a namespace.

use napi_derive::napi;
use netkit::{plan::Op, sysctl};

use crate::common::{blocking, run, Result};

/// Reads `/proc/sys/<key>` (e.g. `net/ipv4/ip_forward`) inside `ns`.
#[napi]
pub async fn sysctl_get(ns: String, key: String) -> Result<String> {
    blocking(move || sysctl::get(&ns, &key)).await
}

/// Writes `/proc/sys/<key>` inside `ns`.
#[napi]
pub async fn sysctl_set(ns: String, key: String, value: String) -> Result<()> {
    run(Op::SysctlSet { ns, key, value }).await
}
