//! A namespace's IPv4 network at a glance, read in one go: its links (with
//! the flags that tell a usable uplink), their addresses, the routes of
//! every table and the tables its policy rules look up, over one
//! connection. Callers decide what constrains them (a
//! host's routes that a new network must not shadow, say).

use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage},
    link::{LinkAttribute, LinkFlags, LinkMessage},
    rule::{RuleAction, RuleAttribute, RuleMessage},
    AddressFamily,
};
use rtnetlink::{Handle, IpVersion};
use serde::Serialize;

use crate::{
    error::{in_ns, Context, Result},
    route::{self, RouteEntry},
};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewLink {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    /// IFF_UP: administratively up.
    pub up: bool,
    /// IFF_LOOPBACK.
    pub loopback: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewAddr {
    pub index: u32,
    /// `a.b.c.d/len` as configured (host bits kept).
    pub cidr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetView {
    pub links: Vec<ViewLink>,
    pub addrs: Vec<ViewAddr>,
    pub routes: Vec<RouteEntry>,
    /// Tables that IPv4 policy rules send lookups to (`lookup N`), in rule order.
    pub rule_tables: Vec<u32>,
}

pub async fn read(h: &Handle, ns: &str) -> Result<NetView> {
    let what = |x: &'static str| move || format!("{x}{}", in_ns(ns));
    let links = async {
        h.link()
            .get()
            .execute()
            .try_collect::<Vec<LinkMessage>>()
            .await
            .ctx(what("linkList"))
    };
    let addrs = async {
        let mut req = h.address().get();
        req.message_mut().header.family = AddressFamily::Inet;
        req.execute()
            .try_collect::<Vec<AddressMessage>>()
            .await
            .ctx(what("addrList"))
    };
    let rules = async {
        h.rule()
            .get(IpVersion::V4)
            .execute()
            .try_collect::<Vec<RuleMessage>>()
            .await
            .ctx(what("ruleList"))
    };
    // One dump at a time: a netlink socket refuses a second dump while one
    // is running (EBUSY), and each of these is a single short reply anyway.
    let links = links.await?;
    let addrs = addrs.await?;
    let routes = route::list_all(h, ns).await?;
    let rules = rules.await?;
    Ok(NetView {
        links: links.into_iter().map(view_link).collect(),
        addrs: addrs.into_iter().filter_map(view_addr).collect(),
        routes,
        rule_tables: rules.iter().filter_map(rule_table).collect(),
    })
}

fn view_link(m: LinkMessage) -> ViewLink {
    let mut l = ViewLink {
        index: m.header.index,
        name: String::new(),
        alias: None,
        up: m.header.flags.contains(LinkFlags::Up),
        loopback: m.header.flags.contains(LinkFlags::Loopback),
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n,
            LinkAttribute::IfAlias(a) => l.alias = Some(a),
            _ => {}
        }
    }
    l
}

fn view_addr(m: AddressMessage) -> Option<ViewAddr> {
    let ip = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(IpAddr::V4(ip)) => Some(*ip),
        _ => None,
    })?;
    Some(ViewAddr {
        index: m.header.index,
        cidr: format!("{ip}/{}", m.header.prefix_len),
    })
}

/// The table a `lookup` rule names (the attribute for ids above 255).
fn rule_table(m: &RuleMessage) -> Option<u32> {
    if m.header.action != RuleAction::ToTable {
        return None;
    }
    m.attributes
        .iter()
        .find_map(|a| match a {
            RuleAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .or(Some(m.header.table as u32))
}
