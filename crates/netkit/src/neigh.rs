//! Static forwarding and neighbour entries for VXLAN links: an FDB entry
//! (AF_BRIDGE, NTF_SELF, NUD_PERMANENT) sends frames for a remote router's
//! MAC to its host's underlay address; a permanent IPv4 neighbour entry
//! resolves that router's overlay address to its MAC without ARP (there is
//! no flooding to carry it). Each add is first exclusive (one request in
//! the common case); only on EEXIST is the entry read (a GET of that one
//! entry, no dump) to tell an unchanged entry from one to replace.

use std::net::Ipv4Addr;

use futures::StreamExt;
use netlink_packet_route::{
    neighbour::{
        NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
    },
    AddressFamily, RouteNetlinkMessage,
};
use rtnetlink::{
    packet_core::{
        NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE,
        NLM_F_REQUEST,
    },
    Handle,
};

use crate::error::{Context, Error, Result};

/// `aa:bb:cc:dd:ee:ff` as bytes: a unicast MAC (not multicast, not zero).
pub fn unicast_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("\"{s}\" is not a unicast MAC address (aa:bb:cc:dd:ee:ff)");
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut m = [0u8; 6];
    for (b, p) in m.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if m[0] & 1 == 1 || m == [0; 6] {
        return Err(bad());
    }
    Ok(m)
}

pub fn mac_text(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An IPv4 address of a plan field, or the op's error.
pub fn ipv4(s: &str, field: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("{field} \"{s}\" is not an IPv4 address"))
}

/// What an add did, for its undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<T> {
    Added,
    /// An entry was there with another value (given): replaced.
    Replaced(T),
    Unchanged,
}

/// Sends `msg` with `flags` and collects the messages of the reply (an
/// error reply becomes the error).
async fn request(
    h: &Handle,
    msg: RouteNetlinkMessage,
    flags: u16,
) -> Result<Vec<NeighbourMessage>, rtnetlink::Error> {
    let mut req = NetlinkMessage::from(msg);
    req.header.flags = flags;
    let mut replies = h.clone().request(req)?;
    let mut out = Vec::new();
    while let Some(m) = replies.next().await {
        match m.payload {
            NetlinkPayload::Error(e) if e.code.is_some() => {
                return Err(rtnetlink::Error::NetlinkError(e))
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(n)) => out.push(n),
            _ => {}
        }
    }
    Ok(out)
}

fn absent(e: &Error) -> bool {
    e.errno() == Some(libc::ENOENT)
}

fn lladdr(m: &NeighbourMessage) -> Option<String> {
    m.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::LinkLayerAddress(b) => Some(mac_text(b)),
        _ => None,
    })
}

// ---- FDB entries

fn fdb_message(index: u32, mac: [u8; 6], dst: Option<Ipv4Addr>) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.header.ifindex = index;
    m.header.flags = NeighbourFlags::Own;
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    if let Some(d) = dst {
        m.header.state = NeighbourState::Permanent;
        m.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(d)));
    }
    m
}

/// The underlay address the FDB entry for `mac` on link `index` sends to
/// (its first remote), None if there is none.
pub async fn fdb_get(
    h: &Handle,
    what: &(dyn Fn() -> String + Sync),
    index: u32,
    mac: [u8; 6],
) -> Result<Option<Ipv4Addr>> {
    let msg = RouteNetlinkMessage::GetNeighbour(fdb_message(index, mac, None));
    match request(h, msg, NLM_F_REQUEST).await.ctx(what) {
        Ok(ms) => Ok(ms.iter().find_map(|m| {
            // An AF_BRIDGE reply's NDA_DST is parsed as raw bytes.
            m.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(d)) => Some(*d),
                NeighbourAttribute::Destination(NeighbourAddress::Other(b)) => {
                    <[u8; 4]>::try_from(b.as_slice()).ok().map(Ipv4Addr::from)
                }
                _ => None,
            })
        })),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Adds the FDB entry `mac` -> `dst` on link `index`; an entry for `mac`
/// with another destination is replaced (and its destination returned).
pub async fn fdb_add(
    h: &Handle,
    what: &(dyn Fn() -> String + Sync),
    index: u32,
    mac: [u8; 6],
    dst: Ipv4Addr,
) -> Result<Change<Ipv4Addr>> {
    let new = || RouteNetlinkMessage::NewNeighbour(fdb_message(index, mac, Some(dst)));
    let base = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
    match request(h, new(), base | NLM_F_EXCL).await.ctx(what) {
        Err(e) if e.errno() == Some(libc::EEXIST) => {}
        r => return r.map(|_| Change::Added),
    }
    match fdb_get(h, what, index, mac).await? {
        Some(old) if old == dst => Ok(Change::Unchanged),
        old => {
            request(h, new(), base | NLM_F_REPLACE).await.ctx(what)?;
            Ok(old.map_or(Change::Added, Change::Replaced))
        }
    }
}

/// Deletes the FDB entry `mac` -> `dst` on link `index`; returns whether
/// there was one (absent is success).
pub async fn fdb_del(
    h: &Handle,
    what: &(dyn Fn() -> String + Sync),
    index: u32,
    mac: [u8; 6],
    dst: Ipv4Addr,
) -> Result<bool> {
    let msg = RouteNetlinkMessage::DelNeighbour(fdb_message(index, mac, Some(dst)));
    match request(h, msg, NLM_F_REQUEST | NLM_F_ACK).await.ctx(what) {
        Ok(_) => Ok(true),
        Err(e) if absent(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

// ---- IPv4 neighbour entries

fn neigh_message(index: u32, addr: Ipv4Addr, mac: Option<[u8; 6]>) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.ifindex = index;
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
            addr,
        )));
    if let Some(mac) = mac {
        m.header.state = NeighbourState::Permanent;
        m.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    }
    m
}

/// A neighbour entry as found: its MAC (None while unresolved) and whether it is permanent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neigh {
    pub mac: Option<String>,
    pub permanent: bool,
}

/// The neighbour entry for `addr` on link `index`, None if there is none.
pub async fn neigh_get(
    h: &Handle,
    what: &(dyn Fn() -> String + Sync),
    index: u32,
    addr: Ipv4Addr,
) -> Result<Option<Neigh>> {
    let msg = RouteNetlinkMessage::GetNeighbour(neigh_message(index, addr, None));
    match request(h, msg, NLM_F_REQUEST).await.ctx(what) {
        Ok(ms) => Ok(ms.first().map(|m| Neigh {
            mac: lladdr(m),
            permanent: m.header.state == NeighbourState::Permanent,
        })),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Adds the permanent entry `addr` -> `mac` on link `index`; an entry there
/// otherwise (another MAC, or not permanent) is replaced and returned.
pub async fn neigh_add(
    h: &Handle,
    what: &(dyn Fn() -> String + Sync),
    index: u32,
    addr: Ipv4Addr,
    mac: [u8; 6],
) -> Result<Change<Neigh>> {
    let new = || RouteNetlinkMessage::NewNeighbour(neigh_message(index, addr, Some(mac)));
    let base = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
    match request(h, new(), base | NLM_F_EXCL).await.ctx(what) {
        Err(e) if e.errno() == Some(libc::EEXIST) => {}
        r => return r.map(|_| Change::Added),
    }
    let want = Some(mac_text(&mac));
    match neigh_get(h, what, index, addr).await? {
        Some(old) if old.permanent && old.mac == want => Ok(Change::Unchanged),
        old => {
            request(h, new(), base | NLM_F_REPLACE).await.ctx(what)?;
            Ok(old.map_or(Change::Added, Change::Replaced))
        }
    }
}

/// Deletes the entry for `addr` on link `index`; returns what it was (None:
/// there was none, which is success).
pub async fn neigh_del(
    h: &Handle,
    what: &(dyn Fn() -> String + Sync),
    index: u32,
    addr: Ipv4Addr,
) -> Result<Option<Neigh>> {
    let Some(old) = neigh_get(h, what, index, addr).await? else {
        return Ok(None);
    };
    let msg = RouteNetlinkMessage::DelNeighbour(neigh_message(index, addr, None));
    match request(h, msg, NLM_F_REQUEST | NLM_F_ACK).await.ctx(what) {
        Ok(_) => Ok(Some(old)),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(
            unicast_mac("02:AB:cd:00:01:ff"),
            Ok([2, 0xab, 0xcd, 0, 1, 0xff])
        );
        assert_eq!(mac_text(&[2, 0xab, 0xcd, 0, 1, 0xff]), "02:ab:cd:00:01:ff");
        for bad in [
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
            "02:00:00:00:00",
            "02:00:00:00:00:0g",
            "2:0:0:0:0:1:",
        ] {
            assert!(unicast_mac(bad).is_err(), "{bad}");
        }
    }
}
