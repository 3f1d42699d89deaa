//! IPv4 routes of the main table.

use napi_derive::napi;
use netkit::{conn, plan::Op, route};

use crate::common::{err, run, Result};

/// An IPv4 route of the main table.
#[napi(object)]
pub struct RouteInfo {
    /// `default` or a CIDR.
    pub dst: String,
    pub dev: Option<String>,
    pub via: Option<String>,
    pub onlink: Option<bool>,
    pub src: Option<String>,
}

impl From<RouteInfo> for route::Route {
    fn from(r: RouteInfo) -> Self {
        route::Route {
            dst: r.dst,
            dev: r.dev,
            via: r.via,
            onlink: r.onlink.unwrap_or(false),
            src: r.src,
        }
    }
}

/// Adds an IPv4 route to the main table; a route to the same destination
/// on the same device is replaced, one on another device is refused (EEXIST).
#[napi]
pub async fn route_add(ns: String, route: RouteInfo) -> Result<()> {
    run(Op::RouteAdd {
        ns,
        route: route.into(),
    })
    .await
}

/// Deletes an IPv4 route. Absent is success.
#[napi]
pub async fn route_del(ns: String, route: RouteInfo) -> Result<()> {
    run(Op::RouteDel {
        ns,
        route: route.into(),
    })
    .await
}

/// The IPv4 routes of the main table in `ns`.
#[napi]
pub async fn route_list(ns: String) -> Result<Vec<RouteInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    let list = route::list(&h, &ns).await.map_err(err)?;
    Ok(list
        .into_iter()
        .map(|r| RouteInfo {
            dst: r.dst,
            dev: r.dev,
            via: r.via,
            onlink: Some(r.onlink),
            src: r.src,
        })
        .collect())
}
