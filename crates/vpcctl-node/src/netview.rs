//! A namespace's whole IPv4 network in one read.

use napi_derive::napi;
use netkit::{conn, link, netview, route};

use crate::{
    addr::AddrInfo,
    common::{err, Result},
};

#[napi(object)]
pub struct NetViewLink {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    pub loopback: bool,
}

#[napi(object)]
pub struct NetViewRoute {
    /// `default` or a CIDR.
    pub dst: String,
    /// The device's name; absent for blackhole/unreachable and multipath routes.
    pub dev: Option<String>,
    pub via: Option<String>,
    /// 254 main, 253 default, 255 local, or a policy table.
    pub table: u32,
    /// rtm_protocol: 2 kernel, 3 boot, 4 static, 16 dhcp, ...
    pub protocol: u32,
    /// rtm_scope: 0 universe, 253 link, 254 host.
    pub scope: u32,
    /// rtm_type: 1 unicast, 2 local, 3 broadcast, 6 blackhole, 7 unreachable, 8 prohibit, ...
    pub kind: u32,
    pub metric: u32,
}

/// A namespace's IPv4 network in one read: links, addresses, the routes of
/// every table, and the tables its policy rules look up.
#[napi(object)]
pub struct NetView {
    pub links: Vec<NetViewLink>,
    pub addrs: Vec<AddrInfo>,
    pub routes: Vec<NetViewRoute>,
    pub rule_tables: Vec<u32>,
}

/// Links, addresses, routes of all tables and rule tables of `ns`, read
/// in one call (four dumps over one connection).
#[napi]
pub async fn net_view(ns: String) -> Result<NetView> {
    let h = conn::connect(&ns).map_err(err)?;
    let v = netview::read(&h, &ns).await.map_err(err)?;
    let name = |i: u32| {
        v.links
            .iter()
            .find(|l| l.index == i)
            .map(|l| l.name.clone())
    };
    Ok(NetView {
        addrs: v
            .addrs
            .iter()
            .filter_map(|a| {
                Some(AddrInfo {
                    dev: name(a.index)?,
                    cidr: a.cidr.clone(),
                })
            })
            .collect(),
        routes: v.routes.iter().map(|r| view_route(r, name)).collect(),
        rule_tables: v.rule_tables.clone(),
        links: v
            .links
            .into_iter()
            .map(|l| NetViewLink {
                index: l.index,
                name: l.name,
                alias: l.alias,
                up: l.up,
                loopback: l.loopback,
            })
            .collect(),
    })
}

fn view_route(r: &route::RouteEntry, name: impl Fn(u32) -> Option<String>) -> NetViewRoute {
    NetViewRoute {
        dst: r.dst.clone(),
        dev: r.oif.and_then(name),
        via: r.via.clone(),
        table: r.table,
        protocol: r.protocol.into(),
        scope: r.scope.into(),
        kind: r.kind.into(),
        metric: r.metric,
    }
}

/// The IPv6 routes of every table in `ns` (`ip -6 route show table all`),
/// with their protocol: 9 (`ra`) marks one learnt from a router
/// advertisement, which host IPv6 forwarding would stop renewing.
#[napi]
pub async fn route_list_all6(ns: String) -> Result<Vec<NetViewRoute>> {
    let h = conn::connect(&ns).map_err(err)?;
    let links = link::list(&h, &ns).await.map_err(err)?;
    let routes = route::list_all6(&h, &ns).await.map_err(err)?;
    let name = |i: u32| links.iter().find(|l| l.index == i).map(|l| l.name.clone());
    Ok(routes.iter().map(|r| view_route(r, name)).collect())
}
