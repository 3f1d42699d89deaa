//! Addresses on links, both families. IPv6 ones are added with
//! IFA_F_NODAD: they are static and vpcctl's own, so no duplicate-address
//! detection (which would keep them tentative, unusable, for a second).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use netlink_packet_route::{
    address::{AddressAttribute, AddressHeaderFlags, AddressMessage},
    AddressFamily,
};
use rtnetlink::{AddressMessageBuilder, Handle};
use serde::Serialize;

use crate::{
    cidr::Cidr,
    error::{in_ns, Context, Error, Kind, Result},
    link,
};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddrInfo {
    pub dev: String,
    pub cidr: String,
}

fn describe(op: &str, ns: &str, dev: &str, cidr: &str) -> String {
    format!("{op} {cidr} on {dev}{}", in_ns(ns))
}

fn parse(what: impl Fn() -> String, cidr: &str) -> Result<Cidr> {
    cidr.parse::<Cidr>()
        .map_err(|e| Error::new(Kind::Invalid, what(), e))
}

/// Adds `cidr` to `dev`, whose index the caller may know already (the
/// executor caches them; looked up if None). Returns false if it was
/// already there (success, but nothing to undo).
pub async fn add(h: &Handle, ns: &str, dev: &str, index: Option<u32>, cidr: &str) -> Result<bool> {
    let what = || describe("addrAdd", ns, dev, cidr);
    let c = parse(what, cidr)?;
    let index = match index {
        Some(i) => i,
        None => link::index_of(h, ns, dev, what).await?,
    };
    let mut req = h.address().add(index, c.addr, c.len);
    if c.is_ipv6() {
        req.message_mut().header.flags |= AddressHeaderFlags::Nodad;
    }
    match req.execute().await.ctx(what) {
        Err(e) if e.errno() == Some(libc::EEXIST) => Ok(false),
        r => r.map(|_| true),
    }
}

/// Removes `cidr` from `dev`. Returns false if it was not there.
pub async fn del(h: &Handle, ns: &str, dev: &str, cidr: &str) -> Result<bool> {
    let what = || describe("addrDel", ns, dev, cidr);
    let c = parse(what, cidr)?;
    let Some(l) = link::get(h, ns, dev).await? else {
        return Ok(false);
    };
    let msg = match c.addr {
        IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(l.index)
            .address(a, c.len)
            .build(),
        IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(l.index)
            .address(a, c.len)
            .build(),
    };
    match h.address().del(msg).execute().await.ctx(what) {
        Err(e) if e.errno() == Some(libc::EADDRNOTAVAIL) => Ok(false),
        r => r.map(|_| true),
    }
}

/// Every IPv4 address in the namespace with its device name.
pub async fn list(h: &Handle, ns: &str) -> Result<Vec<AddrInfo>> {
    list_family(h, ns, AddressFamily::Inet).await
}

/// Every global IPv6 address in the namespace (link-local ones left out:
/// the kernel makes them, vpcctl never asks for one).
pub async fn list6(h: &Handle, ns: &str) -> Result<Vec<AddrInfo>> {
    Ok(list_family(h, ns, AddressFamily::Inet6)
        .await?
        .into_iter()
        .filter(|a| !a.cidr.starts_with("fe80:"))
        .collect())
}

async fn list_family(h: &Handle, ns: &str, family: AddressFamily) -> Result<Vec<AddrInfo>> {
    let links = link::list(h, ns).await?;
    let mut req = h.address().get();
    req.message_mut().header.family = family;
    let msgs: Vec<AddressMessage> = req
        .execute()
        .try_collect()
        .await
        .ctx(|| format!("addrList{}", in_ns(ns)))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| {
            let ip = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                // IPv6 addresses carry IFA_ADDRESS only.
                AddressAttribute::Address(ip @ IpAddr::V6(_)) => Some(*ip),
                _ => None,
            })?;
            let dev = links
                .iter()
                .find(|l| l.index == m.header.index)?
                .name
                .clone();
            Some(AddrInfo {
                dev,
                cidr: format!("{ip}/{}", m.header.prefix_len),
            })
        })
        .collect())
}
