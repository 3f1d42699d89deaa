//! Links: veth pairs, reads by name, deletion.

use napi_derive::napi;
use netkit::{conn, link, plan::Op};

use crate::common::{err, run, Result};

#[napi(object)]
pub struct VethSpec {
    /// Namespace of the first end ("" = this process's).
    pub ns: String,
    pub name: String,
    pub alias: Option<String>,
    /// Namespace the peer is created in directly.
    pub peer_ns: String,
    pub peer_name: String,
    pub peer_alias: Option<String>,
    pub mtu: Option<u32>,
}

/// Creates a veth pair whose peer is made directly inside `peerNs`; both
/// ends up, aliases set.
#[napi]
pub async fn veth_add(spec: VethSpec) -> Result<()> {
    run(Op::VethAdd {
        ns: spec.ns,
        name: spec.name,
        alias: spec.alias,
        peer_ns: spec.peer_ns,
        peer_name: spec.peer_name,
        peer_alias: spec.peer_alias,
        mtu: spec.mtu,
        leaf: false,
    })
    .await
}

#[napi(object)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    pub up: bool,
    pub mtu: u32,
    pub mac: Option<String>,
    pub kind: Option<String>,
    /** For a veth: its peer's index, in the peer's namespace (IFLA_LINK). */
    pub peer: Option<u32>,
}

impl From<link::LinkInfo> for LinkInfo {
    fn from(l: link::LinkInfo) -> Self {
        LinkInfo {
            index: l.index,
            name: l.name,
            alias: l.alias,
            up: l.up,
            mtu: l.mtu,
            mac: l.mac,
            kind: l.kind,
            peer: l.peer,
        }
    }
}

/// One link by name (a kernel-filtered GET, not a dump), or null.
#[napi]
pub async fn link_get(ns: String, name: String) -> Result<Option<LinkInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    Ok(link::get(&h, &ns, &name)
        .await
        .map_err(err)?
        .map(LinkInfo::from))
}

/// Every link in `ns`.
#[napi]
pub async fn link_list(ns: String) -> Result<Vec<LinkInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    Ok(link::list(&h, &ns)
        .await
        .map_err(err)?
        .into_iter()
        .map(LinkInfo::from)
        .collect())
}

/// Deletes a link (both ends for a veth). Absent is success.
#[napi]
pub async fn link_del(ns: String, name: String) -> Result<()> {
    run(Op::LinkDel {
        ns,
        name,
        alias: None,
    })
    .await
}
