//! For verify: what a namespace holds of the cross-host data plane — its
//! VXLAN links' configuration, and the FDB and neighbour entries of the
//! links the plan puts entries on — read over observe's blocking netlink
//! socket (strict checking: the kernel filters each dump to one link).
//! These are few messages (a VXLAN link per router, an entry per other
//! host), so they are parsed whole by netlink-packet-route, unlike the
//! hundreds of links and routes rtparse reads.

use std::{io, net::Ipv4Addr};

use netlink_packet_route::{
    link::{InfoData, LinkAttribute, LinkInfo as Info},
    neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState},
    RouteNetlinkMessage,
};
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};

use crate::{
    neigh::{mac_text, Neigh},
    nlsock::NlSock,
    vxlan::Seen,
};

const RTM_GETNEIGH: u16 = 30;
const NDA_IFINDEX: u16 = 8;

fn parse(m: &[u8]) -> Option<RouteNetlinkMessage> {
    match NetlinkMessage::<RouteNetlinkMessage>::deserialize(m)
        .ok()?
        .payload
    {
        NetlinkPayload::InnerMessage(r) => Some(r),
        _ => None,
    }
}

/// A VXLAN link of a link dump (a whole RTM_NEWLINK message): its MAC and
/// configuration. None for any other link.
pub fn vxlan(m: &[u8]) -> Option<(Option<String>, Seen)> {
    let RouteNetlinkMessage::NewLink(l) = parse(m)? else {
        return None;
    };
    let mut mac = None;
    let mut seen = None;
    for a in &l.attributes {
        match a {
            LinkAttribute::Address(b) if b.len() == 6 => mac = Some(mac_text(b)),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let Info::Data(InfoData::Vxlan(v)) = i {
                        seen = Some(Seen::of(v));
                    }
                }
            }
            _ => {}
        }
    }
    seen.map(|s| (mac, s))
}

fn dst(m: &NeighbourMessage) -> Option<Ipv4Addr> {
    m.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(d)) => Some(*d),
        // AF_BRIDGE replies: parsed as raw bytes.
        NeighbourAttribute::Destination(NeighbourAddress::Other(b)) => {
            <[u8; 4]>::try_from(b.as_slice()).ok().map(Ipv4Addr::from)
        }
        _ => None,
    })
}

fn lladdr(m: &NeighbourMessage) -> Option<String> {
    m.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::LinkLayerAddress(b) => Some(mac_text(b)),
        _ => None,
    })
}

/// One neighbour dump of `family` with `payload` (struct ndmsg + filters).
fn dump(s: &mut NlSock, payload: &[u8]) -> io::Result<Vec<NeighbourMessage>> {
    let mut out = Vec::new();
    s.request(RTM_GETNEIGH, true, payload, |_, m| {
        if let Some(RouteNetlinkMessage::NewNeighbour(n)) = parse(m) {
            out.push(n);
        }
    })?;
    Ok(out)
}

/// struct ndmsg: family u8, pad u8, pad u16, ifindex i32, state u16, flags u8, type u8.
fn ndmsg(family: i32, ifindex: u32) -> Vec<u8> {
    let mut p = vec![0u8; 12];
    p[0] = family as u8;
    p[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    p
}

/// The FDB entries of link `index` (its bridge-port filter): (MAC, destination).
pub fn fdb(s: &mut NlSock, index: u32) -> io::Result<Vec<(String, Option<Ipv4Addr>)>> {
    let entries = dump(s, &ndmsg(libc::AF_BRIDGE, index))?;
    Ok(entries
        .iter()
        .filter(|m| m.header.ifindex == index)
        .filter_map(|m| Some((lladdr(m)?, dst(m))))
        .collect())
}

/// The IPv4 neighbour entries of link `index` (NDA_IFINDEX filter).
pub fn neigh(s: &mut NlSock, index: u32) -> io::Result<Vec<(Ipv4Addr, Neigh)>> {
    let mut p = ndmsg(libc::AF_INET, 0);
    p.extend_from_slice(&8u16.to_ne_bytes());
    p.extend_from_slice(&NDA_IFINDEX.to_ne_bytes());
    p.extend_from_slice(&index.to_ne_bytes());
    let entries = dump(s, &p)?;
    Ok(entries
        .iter()
        .filter(|m| m.header.ifindex == index)
        .filter_map(|m| {
            Some((
                dst(m)?,
                Neigh {
                    mac: lladdr(m),
                    permanent: m.header.state == NeighbourState::Permanent,
                },
            ))
        })
        .collect())
}
