//! Network namespaces: make, delete, list, and read their ownership tags.

use napi_derive::napi;
use netkit::{conn, link, netns, nstag, plan::Op};

use crate::common::{blocking, err, run, Result};

/// Creates named netns `name` (under /run/netns), brings its `lo` up and
/// sets `lo`'s alias to `tag` (vpcctl's ownership tag).
#[napi]
pub async fn netns_add(name: String, tag: Option<String>) -> Result<()> {
    run(Op::NetnsAdd {
        ns: name,
        tag: tag.unwrap_or_default(),
    })
    .await
}

/// Kills every process in netns `name`, then removes it. Absent is success.
#[napi]
pub async fn netns_del(name: String) -> Result<()> {
    run(Op::NetnsDel { ns: name }).await
}

/// Whether `name` is a mounted network namespace under /run/netns.
#[napi]
pub async fn netns_exists(name: String) -> bool {
    netns::exists(&name)
}

/// Names of the network namespaces under /run/netns, sorted.
#[napi]
pub async fn netns_list() -> Result<Vec<String>> {
    blocking(netns::list).await
}

/// The ownership tag of netns `name` (the alias of its `lo`), or null.
#[napi]
pub async fn netns_tag(name: String) -> Result<Option<String>> {
    let h = conn::connect(&name).map_err(err)?;
    Ok(link::get(&h, &name, "lo")
        .await
        .map_err(err)?
        .and_then(|l| l.alias))
}

/// The ownership tags (alias of `lo`) of many namespaces in one call, in
/// order; null for none or for an absent namespace. One synchronous GET per
/// namespace: much cheaper than `netnsTag` each (a connection each).
#[napi]
pub async fn netns_tags(names: Vec<String>) -> Result<Vec<Option<String>>> {
    blocking(move || nstag::lo_aliases(&names)).await
}

/// Pids of the processes whose network namespace is `name`.
#[napi]
pub async fn netns_pids(name: String) -> Result<Vec<u32>> {
    blocking(move || netns::pids_in(&name)).await
}
