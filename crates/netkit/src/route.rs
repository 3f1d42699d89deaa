//! Routes of both families: added, replaced (only the caller's own),
//! deleted in the main table; listed from the main table or from all. The
//! family is the destination's (`default` is IPv4's, `::/0` IPv6's).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
    RouteType,
};
use rtnetlink::{Handle, RouteMessageBuilder};
use serde::{Deserialize, Serialize};

use netlink_packet_route::AddressFamily;

use crate::{
    cidr::{dst_text, Cidr},
    error::{in_ns, Context, Error, Kind, Result},
    link,
};

/// A route as the plan and the API spell it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// `default` or a CIDR.
    pub dst: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub onlink: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
}

impl Route {
    pub fn describe(&self, op: &str, ns: &str) -> String {
        format!("{op} {}{}", self.spell(), in_ns(ns))
    }

    /// As `ip route` spells it: `dst [via gw] [dev d]`.
    pub fn spell(&self) -> String {
        let mut s = self.dst.clone();
        if let Some(v) = &self.via {
            s += &format!(" via {v}");
        }
        if let Some(d) = &self.dev {
            s += &format!(" dev {d}");
        }
        s
    }

    /// The request message: scope link for device routes without a gateway,
    /// like iproute2 does.
    async fn message(
        &self,
        h: &Handle,
        ns: &str,
        what: &impl Fn() -> String,
    ) -> Result<RouteMessageBuilder<IpAddr>> {
        self.message_at(self.dev_index(h, ns, what).await?, what)
    }

    /// The index of `dev`, if the route names one.
    async fn dev_index(
        &self,
        h: &Handle,
        ns: &str,
        what: &impl Fn() -> String,
    ) -> Result<Option<u32>> {
        match &self.dev {
            Some(dev) => Ok(Some(link::index_of(h, ns, dev, what).await?)),
            None => Ok(None),
        }
    }

    /// The request message with the device's index already known.
    fn message_at(
        &self,
        index: Option<u32>,
        what: &impl Fn() -> String,
    ) -> Result<RouteMessageBuilder<IpAddr>> {
        let bad = |e: String| Error::new(Kind::Invalid, what(), e);
        let dst: Cidr = self.dst.parse().map_err(bad)?;
        let mut b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(dst.addr, dst.len)
            .map_err(|e| bad(e.to_string()))?;
        let same_family = |ip: IpAddr| ip.is_ipv6() == dst.is_ipv6();
        if let Some(index) = index {
            b = b.output_interface(index);
        }
        match &self.via {
            Some(v) => {
                let gw: IpAddr = v
                    .parse()
                    .ok()
                    .filter(|ip| same_family(*ip))
                    .ok_or_else(|| bad(format!("invalid gateway \"{v}\"")))?;
                b = b.gateway(gw).map_err(|e| bad(e.to_string()))?;
            }
            // IPv6 routes have universe scope (as iproute2 makes them).
            None if self.dev.is_some() && !dst.is_ipv6() => b = b.scope(RouteScope::Link),
            None => {}
        }
        if self.onlink {
            b = b.onlink();
        }
        if let Some(s) = &self.src {
            let src: IpAddr = s
                .parse()
                .ok()
                .filter(|ip| same_family(*ip))
                .ok_or_else(|| bad(format!("invalid source \"{s}\"")))?;
            b = b.pref_source(src).map_err(|e| bad(e.to_string()))?;
        }
        Ok(b)
    }
}

/// Adds the route, or replaces the one with the same destination; returns
/// the route it replaced. `dev_index` is the index of `r.dev` if the caller
/// knows it already (the executor caches them; looked up if None). The route is
/// first added exclusively (NLM_F_EXCL): the common case, a new route,
/// costs one request. Only when one with the same destination is there
/// (EEXIST) is that one looked at: if it goes out of the same device (the
/// caller's own object, being re-made), it is replaced (NLM_F_REPLACE)
/// and returned, so that an undo can put it back as it was. A route on
/// another device, or on none (a blackhole, a multipath route), belongs to
/// someone else: it is never taken over, and the add fails, naming it. The returned route is spelled as the listing spells it:
/// destination, gateway, device, onlink, source.
pub async fn add(h: &Handle, ns: &str, r: &Route, dev_index: Option<u32>) -> Result<Option<Route>> {
    let what = || r.describe("routeAdd", ns);
    let dev_index = match dev_index {
        Some(i) => Some(i),
        None => r.dev_index(h, ns, &what).await?,
    };
    let msg = r.message_at(dev_index, &what)?.build();
    match h.route().add(msg.clone()).execute().await.ctx(what) {
        Err(e) if e.errno() == Some(libc::EEXIST) => {}
        added => return added.map(|()| None),
    }
    // The kernel's dump lists routes to one destination by metric: the
    // first is the one a replace of a metric-0 route takes over.
    let dst: Cidr = r
        .dst
        .parse()
        .map_err(|e: String| Error::new(Kind::Invalid, what(), e))?;
    let old = list_main_family(h, ns, dst.is_ipv6())
        .await?
        .into_iter()
        .find(|(o, _)| o.dst.parse::<Cidr>().is_ok_and(|d| d == dst));
    match old {
        Some((old, oif)) if oif.is_some() && oif == dev_index => {
            h.route().add(msg).replace().execute().await.ctx(what)?;
            Ok(Some(old))
        }
        Some((old, _)) => Err(Error::new(
            Kind::Foreign,
            what(),
            format!(
                "the route {} is there and not on {}: refusing to replace a route that is not this one's",
                old.spell(),
                r.dev.as_deref().unwrap_or("the same device")
            ),
        )),
        // No unicast route there: a blackhole, unreachable, prohibit or
        // throw route holds the destination (or one was listed away in
        // between: the kernel's EEXIST said so a moment ago).
        None => Err(Error::new(
            Kind::Foreign,
            what(),
            format!(
                "a route to {} is there that is not a unicast route (a blackhole, unreachable, prohibit or throw route): refusing to replace a route that is not this one's",
                r.dst
            ),
        )),
    }
}

/// Deletes the route; absent (ESRCH, or its device gone) is success.
pub async fn del(h: &Handle, ns: &str, r: &Route) -> Result<()> {
    let what = || r.describe("routeDel", ns);
    let msg = match r.message(h, ns, &what).await {
        Err(e) if e.errno() == Some(libc::ENODEV) => return Ok(()),
        m => m?,
    };
    // Match any scope and protocol, as `ip route del` does.
    let msg = msg
        .scope(RouteScope::NoWhere)
        .protocol(RouteProtocol::Unspec)
        .build();
    match h.route().del(msg).execute().await.ctx(what) {
        Err(e) if e.errno() == Some(libc::ESRCH) => Ok(()),
        r => r,
    }
}

/// The IPv4 routes of the main table.
pub async fn list(h: &Handle, ns: &str) -> Result<Vec<Route>> {
    Ok(list_main(h, ns)
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .collect())
}

/// The IPv6 routes of the main table (the kernel's link-local and
/// multicast ones included).
pub async fn list6(h: &Handle, ns: &str) -> Result<Vec<Route>> {
    Ok(list_main_family(h, ns, true)
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .collect())
}

async fn list_main(h: &Handle, ns: &str) -> Result<Vec<(Route, Option<u32>)>> {
    list_main_family(h, ns, false).await
}

/// The unicast routes of the main table of one family, each with its device's index.
async fn list_main_family(h: &Handle, ns: &str, v6: bool) -> Result<Vec<(Route, Option<u32>)>> {
    let links = link::list(h, ns).await?;
    Ok(dump_family(h, ns, v6)
        .await?
        .iter()
        .filter_map(|m| {
            let oif = m.attributes.iter().find_map(|a| match a {
                RouteAttribute::Oif(i) => Some(*i),
                _ => None,
            });
            from_message(m, |i| {
                links.iter().find(|l| l.index == i).map(|l| l.name.clone())
            })
            .map(|r| (r, oif))
        })
        .collect())
}

/// Every route message of one family of every table (one dump).
async fn dump_family(h: &Handle, ns: &str, v6: bool) -> Result<Vec<RouteMessage>> {
    let what = || format!("routeList{}", in_ns(ns));
    let query = if v6 {
        RouteMessageBuilder::<Ipv6Addr>::new()
            .table_id(RouteHeader::RT_TABLE_UNSPEC as u32)
            .build()
    } else {
        RouteMessageBuilder::<Ipv4Addr>::new()
            .table_id(RouteHeader::RT_TABLE_UNSPEC as u32)
            .build()
    };
    h.route().get(query).execute().try_collect().await.ctx(what)
}

/// A route of any table, with what tells whose it is and whether it
/// constrains address choice: table, protocol, scope, type, metric, and
/// its device's index (the caller knows the links).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteEntry {
    /// `default` or a CIDR.
    pub dst: String,
    pub oif: Option<u32>,
    pub via: Option<String>,
    pub table: u32,
    /// rtm_protocol: 2 kernel, 3 boot, 4 static, 16 dhcp, ...
    pub protocol: u8,
    /// rtm_scope: 0 universe, 253 link, 254 host.
    pub scope: u8,
    /// rtm_type: 1 unicast, 2 local, 3 broadcast, 6 blackhole, 7 unreachable, 8 prohibit, ...
    pub kind: u8,
    pub metric: u32,
}

/// The IPv4 routes of every table (`ip route show table all`), in one dump.
pub async fn list_all(h: &Handle, ns: &str) -> Result<Vec<RouteEntry>> {
    list_all_family(h, ns, false).await
}

/// The IPv6 routes of every table (`ip -6 route show table all`), in one dump.
pub async fn list_all6(h: &Handle, ns: &str) -> Result<Vec<RouteEntry>> {
    list_all_family(h, ns, true).await
}

async fn list_all_family(h: &Handle, ns: &str, v6: bool) -> Result<Vec<RouteEntry>> {
    Ok(dump_family(h, ns, v6)
        .await?
        .into_iter()
        .map(|m| {
            let mut e = RouteEntry {
                dst: String::new(),
                oif: None,
                via: None,
                table: table(&m),
                protocol: m.header.protocol.into(),
                scope: m.header.scope.into(),
                kind: m.header.kind.into(),
                metric: 0,
            };
            let mut dst = unspecified(v6);
            for a in &m.attributes {
                match a {
                    RouteAttribute::Destination(ra) => dst = ip_of(ra).unwrap_or(dst),
                    RouteAttribute::Gateway(ra) => e.via = ip_of(ra).map(|ip| ip.to_string()),
                    RouteAttribute::Oif(i) => e.oif = Some(*i),
                    RouteAttribute::Priority(p) => e.metric = *p,
                    _ => {}
                }
            }
            e.dst = dst_text(dst, m.header.destination_prefix_length);
            e
        })
        .collect())
}

/// A unicast route of the main table as the plan spells it (None for any
/// other route); `name_of` names the output device by its index.
pub(crate) fn from_message(
    m: &RouteMessage,
    name_of: impl Fn(u32) -> Option<String>,
) -> Option<Route> {
    if m.header.kind != RouteType::Unicast || table(m) != RouteHeader::RT_TABLE_MAIN as u32 {
        return None;
    }
    let mut r = Route {
        onlink: m.header.flags.contains(RouteFlags::Onlink),
        ..Default::default()
    };
    let mut dst = unspecified(m.header.address_family == AddressFamily::Inet6);
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(ra) => dst = ip_of(ra).unwrap_or(dst),
            RouteAttribute::Gateway(ra) => r.via = ip_of(ra).map(|ip| ip.to_string()),
            RouteAttribute::PrefSource(ra) => r.src = ip_of(ra).map(|ip| ip.to_string()),
            RouteAttribute::Oif(i) => r.dev = name_of(*i),
            _ => {}
        }
    }
    r.dst = dst_text(dst, m.header.destination_prefix_length);
    Some(r)
}

fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    }
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(ip) => Some((*ip).into()),
        RouteAddress::Inet6(ip) => Some((*ip).into()),
        _ => None,
    }
}

fn table(m: &RouteMessage) -> u32 {
    m.attributes
        .iter()
        .find_map(|a| {
            if let RouteAttribute::Table(t) = a {
                Some(*t)
            } else {
                None
            }
        })
        .unwrap_or(m.header.table as u32)
}
