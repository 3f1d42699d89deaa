//! IPv4 routes in the main table.

use std::net::Ipv4Addr;

use futures::TryStreamExt;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
    RouteType,
};
use rtnetlink::{Handle, RouteMessageBuilder};
use serde::{Deserialize, Serialize};

use crate::{
    addr::index_of,
    cidr::Cidr,
    error::{in_ns, Context, Error, Result},
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
        let mut s = format!("{op} {}", self.dst);
        if let Some(v) = &self.via {
            s += &format!(" via {v}");
        }
        if let Some(d) = &self.dev {
            s += &format!(" dev {d}");
        }
        s + &in_ns(ns)
    }

    /// The request message: scope link for device routes without a gateway,
    /// like iproute2 does.
    async fn message(
        &self,
        h: &Handle,
        ns: &str,
        what: &impl Fn() -> String,
    ) -> Result<RouteMessageBuilder<Ipv4Addr>> {
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
            Some(dev) => Ok(Some(index_of(h, ns, dev, what).await?)),
            None => Ok(None),
        }
    }

    /// The request message with the device's index already known.
    fn message_at(
        &self,
        index: Option<u32>,
        what: &impl Fn() -> String,
    ) -> Result<RouteMessageBuilder<Ipv4Addr>> {
        let bad = |e: String| Error::msg(what(), e);
        let dst: Cidr = self.dst.parse().map_err(bad)?;
        let mut b = RouteMessageBuilder::<Ipv4Addr>::new().destination_prefix(dst.addr, dst.len);
        if let Some(index) = index {
            b = b.output_interface(index);
        }
        match &self.via {
            Some(v) => {
                b = b.gateway(
                    v.parse()
                        .map_err(|_| bad(format!("invalid gateway \"{v}\"")))?,
                )
            }
            None if self.dev.is_some() => b = b.scope(RouteScope::Link),
            None => {}
        }
        if self.onlink {
            b = b.onlink();
        }
        if let Some(s) = &self.src {
            b = b.pref_source(
                s.parse()
                    .map_err(|_| bad(format!("invalid source \"{s}\"")))?,
            );
        }
        Ok(b)
    }
}

/// Adds the route, or replaces the one with the same destination; returns
/// the route it replaced (see [`add_at`]).
pub async fn add(h: &Handle, ns: &str, r: &Route) -> Result<Option<Route>> {
    let index = r.dev_index(h, ns, &|| r.describe("routeAdd", ns)).await?;
    add_at(h, ns, r, index).await
}

/// [`add`] with the index of `r.dev` known to the caller. The route is
/// first added exclusively (NLM_F_EXCL): the common case, a new route,
/// costs one request. Only when one with the same destination is there
/// (EEXIST) is that one listed, then replaced (NLM_F_REPLACE), and
/// returned, so that an undo can put it back rather than leave a hole
/// where a route was (one of the host's own, say). It comes back as the
/// listing spells it: destination, gateway, device, onlink, source.
pub async fn add_at(
    h: &Handle,
    ns: &str,
    r: &Route,
    dev_index: Option<u32>,
) -> Result<Option<Route>> {
    let what = || r.describe("routeAdd", ns);
    let msg = r.message_at(dev_index, &what)?.build();
    match h.route().add(msg.clone()).execute().await.ctx(what) {
        Err(e) if e.errno() == Some(libc::EEXIST) => {}
        added => return added.map(|()| None),
    }
    // The kernel's dump lists routes to one destination by metric: the
    // first is the one a replace of a metric-0 route takes over.
    let dst: Cidr = r.dst.parse().map_err(|e: String| Error::msg(what(), e))?;
    let old = list(h, ns)
        .await?
        .into_iter()
        .find(|o| o.dst.parse::<Cidr>().is_ok_and(|d| d == dst));
    h.route().add(msg).replace().execute().await.ctx(what)?;
    Ok(old)
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
    let what = || format!("routeList{}", in_ns(ns));
    let links = link::list(h, ns).await?;
    let query = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let msgs: Vec<RouteMessage> = h
        .route()
        .get(query)
        .execute()
        .try_collect()
        .await
        .ctx(what)?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| {
            from_message(&m, |i| {
                links.iter().find(|l| l.index == i).map(|l| l.name.clone())
            })
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
    let mut dst = Ipv4Addr::UNSPECIFIED;
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = *ip,
            RouteAttribute::Gateway(RouteAddress::Inet(ip)) => r.via = Some(ip.to_string()),
            RouteAttribute::PrefSource(RouteAddress::Inet(ip)) => r.src = Some(ip.to_string()),
            RouteAttribute::Oif(i) => r.dev = name_of(*i),
            _ => {}
        }
    }
    let len = m.header.destination_prefix_length;
    r.dst = if len == 0 {
        "default".into()
    } else {
        format!("{dst}/{len}")
    };
    Some(r)
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
