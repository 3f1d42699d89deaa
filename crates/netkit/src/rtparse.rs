//! Just the fields verify compares, read straight from rtnetlink dump
//! messages (whole messages, header included). netlink-packet-route parses
//! every attribute of every message into owned values (a link carries ~100:
//! inet6 devconf, af_spec, ...); over the 500 links, addresses and routes
//! of a big router plus hundreds of small namespaces that was most of
//! verify's CPU time (measured). These read the few that matter and skip
//! the rest. The unit tests check them against the library's own encoding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::cidr::dst_text;

use crate::{link::LinkInfo, nlsock::attrs, route::Route};

const HDR: usize = 16;
const IFF_UP: u32 = 1;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_LINK_NETNSID: u16 = 37;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_IFALIAS: u16 = 20;
const IFLA_INFO_KIND: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
const RTN_UNICAST: u8 = 1;
const RT_TABLE_MAIN: u32 = 254;
const RTNH_F_ONLINK: u32 = 4;

fn text(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

/// An address attribute's value: 4 bytes IPv4, 16 IPv6.
fn ip(v: &[u8]) -> Option<IpAddr> {
    if let Ok(b) = <[u8; 4]>::try_from(v) {
        return Some(Ipv4Addr::from(b).into());
    }
    <[u8; 16]>::try_from(v)
        .ok()
        .map(|b| Ipv6Addr::from(b).into())
}

const IFA_ADDRESS: u16 = 1;

/// An RTM_NEWLINK message: index, name, alias, up, mtu, kind (no mac).
pub fn link(m: &[u8]) -> Option<LinkInfo> {
    // struct ifinfomsg: family u8, pad u8, type u16, index i32, flags u32, change u32
    let body = m.get(HDR..HDR + 16)?;
    let mut l = LinkInfo {
        index: u32_at(body, 4),
        name: String::new(),
        alias: None,
        up: u32_at(body, 8) & IFF_UP != 0,
        mtu: 0,
        mac: None,
        kind: None,
        peer: None,
        peer_netnsid: None,
    };
    for (k, v) in attrs(&m[HDR + 16..]) {
        match k {
            IFLA_IFNAME => l.name = text(v),
            IFLA_IFALIAS => l.alias = Some(text(v)),
            IFLA_MTU if v.len() == 4 => l.mtu = u32_at(v, 0),
            IFLA_LINK if v.len() == 4 => l.peer = Some(u32_at(v, 0)),
            IFLA_LINK_NETNSID if v.len() == 4 => l.peer_netnsid = Some(u32_at(v, 0) as i32),
            IFLA_LINKINFO => {
                l.kind = attrs(v)
                    .find(|(k, _)| *k == IFLA_INFO_KIND)
                    .map(|(_, v)| text(v))
            }
            _ => {}
        }
    }
    Some(l)
}

/// An RTM_NEWADDR message of an IPv4 or IPv6 address: (link index,
/// `addr/len`). IPv6 addresses carry IFA_ADDRESS only, IPv4 ones IFA_LOCAL
/// (IFA_ADDRESS is the peer's there).
pub fn addr(m: &[u8]) -> Option<(u32, String)> {
    // struct ifaddrmsg: family u8, prefixlen u8, flags u8, scope u8, index u32
    let body = m.get(HDR..HDR + 8)?;
    let want = match body[0] as i32 {
        libc::AF_INET => IFA_LOCAL,
        libc::AF_INET6 => IFA_ADDRESS,
        _ => return None,
    };
    let ip = attrs(&m[HDR + 8..]).find_map(|(k, v)| (k == want).then(|| ip(v)).flatten())?;
    Some((u32_at(body, 4), format!("{ip}/{}", body[1])))
}

/// An RTM_NEWROUTE message of a unicast IPv4 route in the main table, as
/// the plan spells routes ([`crate::route::from_message`] does the same
/// from the library's parse); `name_of` names the output device.
pub fn route(m: &[u8], name_of: impl Fn(u32) -> Option<String>) -> Option<Route> {
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type (u8 each), flags u32
    let body = m.get(HDR..HDR + 12)?;
    let v6 = body[0] == libc::AF_INET6 as u8;
    if !(v6 || body[0] == libc::AF_INET as u8) || body[7] != RTN_UNICAST {
        return None;
    }
    let mut table = body[4] as u32;
    let mut r = Route {
        onlink: u32_at(body, 8) & RTNH_F_ONLINK != 0,
        ..Default::default()
    };
    let mut dst: IpAddr = if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    for (k, v) in attrs(&m[HDR + 12..]) {
        match k {
            RTA_DST => dst = ip(v).unwrap_or(dst),
            RTA_GATEWAY => r.via = ip(v).map(|ip| ip.to_string()),
            RTA_PREFSRC => r.src = ip(v).map(|ip| ip.to_string()),
            RTA_OIF if v.len() == 4 => r.dev = name_of(u32_at(v, 0)),
            RTA_TABLE if v.len() == 4 => table = u32_at(v, 0),
            _ => {}
        }
    }
    if table != RT_TABLE_MAIN {
        return None;
    }
    r.dst = dst_text(dst, body[1]);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::{
        address::{AddressAttribute, AddressMessage},
        link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo as Info, LinkMessage},
        route::{RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteType},
        AddressFamily, RouteNetlinkMessage,
    };
    use rtnetlink::packet_core::NetlinkMessage;

    fn wire(m: RouteNetlinkMessage) -> Vec<u8> {
        let mut m = NetlinkMessage::from(m);
        m.finalize();
        let mut b = vec![0; m.buffer_len()];
        m.serialize(&mut b);
        b
    }

    #[test]
    fn links_as_the_library_encodes_them() {
        let mut l = LinkMessage::default();
        l.header.index = 7;
        l.header.flags = LinkFlags::Up | LinkFlags::Broadcast;
        l.attributes = vec![
            LinkAttribute::IfName("sn-a".into()),
            LinkAttribute::Mtu(1400),
            LinkAttribute::IfAlias("vpcctl:x".into()),
            LinkAttribute::LinkInfo(vec![Info::Kind(InfoKind::Veth)]),
            LinkAttribute::TxQueueLen(1000),
        ];
        let got = link(&wire(RouteNetlinkMessage::NewLink(l.clone()))).unwrap();
        assert_eq!(got, LinkInfo::from(l.clone()));
        assert_eq!((got.index, got.up, got.mtu), (7, true, 1400));
        l.header.flags = LinkFlags::Broadcast;
        l.attributes
            .retain(|a| matches!(a, LinkAttribute::IfName(_)));
        let got = link(&wire(RouteNetlinkMessage::NewLink(l))).unwrap();
        assert_eq!((got.up, got.alias, got.kind), (false, None, None));
    }

    #[test]
    fn addresses_and_routes_as_the_library_encodes_them() {
        let mut a = AddressMessage::default();
        a.header.family = AddressFamily::Inet;
        a.header.prefix_len = 24;
        a.header.index = 3;
        a.attributes = vec![
            AddressAttribute::Address("10.0.1.2".parse().unwrap()),
            AddressAttribute::Local("10.0.1.2".parse().unwrap()),
        ];
        assert_eq!(
            addr(&wire(RouteNetlinkMessage::NewAddress(a.clone()))),
            Some((3, "10.0.1.2/24".to_string()))
        );
        a.header.family = AddressFamily::Inet6;
        a.header.prefix_len = 64;
        a.attributes = vec![AddressAttribute::Address("fd00:1::2".parse().unwrap())];
        assert_eq!(
            addr(&wire(RouteNetlinkMessage::NewAddress(a))),
            Some((3, "fd00:1::2/64".to_string()))
        );

        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Inet;
        r.header.destination_prefix_length = 16;
        r.header.kind = RouteType::Unicast;
        r.header.table = 254;
        r.header.flags = RouteFlags::Onlink;
        r.attributes = vec![
            RouteAttribute::Destination(RouteAddress::Inet("10.1.0.0".parse().unwrap())),
            RouteAttribute::Gateway(RouteAddress::Inet("10.0.1.1".parse().unwrap())),
            RouteAttribute::Oif(3),
            RouteAttribute::Table(254),
        ];
        let name_of = |i: u32| (i == 3).then(|| "eth0".to_string());
        let want = crate::route::from_message(&r, name_of);
        assert!(want.is_some());
        assert_eq!(
            route(&wire(RouteNetlinkMessage::NewRoute(r.clone())), name_of),
            want
        );
        r.header.destination_prefix_length = 0;
        r.attributes.remove(0);
        let got = route(&wire(RouteNetlinkMessage::NewRoute(r.clone())), name_of).unwrap();
        assert_eq!(got.dst, "default");
        assert_eq!(Some(got), crate::route::from_message(&r, name_of));
        // The local table, and non-unicast routes, are not the plan's.
        r.attributes.push(RouteAttribute::Table(255));
        r.attributes
            .retain(|a| !matches!(a, RouteAttribute::Table(254)));
        assert_eq!(
            route(&wire(RouteNetlinkMessage::NewRoute(r.clone())), name_of),
            None
        );
        r.attributes
            .retain(|a| !matches!(a, RouteAttribute::Table(_)));
        r.header.kind = RouteType::Local;
        assert_eq!(
            route(&wire(RouteNetlinkMessage::NewRoute(r)), name_of),
            None
        );
    }

    #[test]
    fn ipv6_routes_as_the_library_encodes_them() {
        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Inet6;
        r.header.destination_prefix_length = 0;
        r.header.kind = RouteType::Unicast;
        r.header.table = 254;
        r.attributes = vec![
            RouteAttribute::Gateway(RouteAddress::Inet6("fd00:1::1".parse().unwrap())),
            RouteAttribute::Oif(3),
            RouteAttribute::Table(254),
        ];
        let name_of = |i: u32| (i == 3).then(|| "eth0".to_string());
        let got = route(&wire(RouteNetlinkMessage::NewRoute(r.clone())), name_of).unwrap();
        assert_eq!(got.dst, "::/0");
        assert_eq!(got.via.as_deref(), Some("fd00:1::1"));
        assert_eq!(Some(got), crate::route::from_message(&r, name_of));
        r.header.destination_prefix_length = 56;
        r.attributes
            .push(RouteAttribute::Destination(RouteAddress::Inet6(
                "fd00:2::".parse().unwrap(),
            )));
        let got = route(&wire(RouteNetlinkMessage::NewRoute(r.clone())), name_of).unwrap();
        assert_eq!(got.dst, "fd00:2::/56");
        assert_eq!(Some(got), crate::route::from_message(&r, name_of));
    }
}
