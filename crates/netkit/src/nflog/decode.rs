//! An NFLOG packet message turned into a flow record: the log prefix
//! (which names the rule that decided) and the 5-tuple, IPv4 or IPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::NFNL_SUBSYS_ULOG;
use crate::nlsock::{attrs, NLMSG_HDRLEN};

const NFULNL_MSG_PACKET: u16 = NFNL_SUBSYS_ULOG << 8;
const NFULA_PACKET_HDR: u16 = 1;
const NFULA_IFINDEX_INDEV: u16 = 4;
const NFULA_IFINDEX_OUTDEV: u16 = 5;
const NFULA_PAYLOAD: u16 = 9;
const NFULA_PREFIX: u16 = 10;

/// One logged packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// The `log prefix` of the rule that logged it.
    pub prefix: String,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6); for IPv6 the
    /// header after any extension headers.
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TCP/UDP ports; None for other protocols.
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// Netfilter hook (0 prerouting, 1 input, 2 forward, 3 output, 4 postrouting).
    pub hook: Option<u8>,
    pub indev: Option<u32>,
    pub outdev: Option<u32>,
}

/// The record in a whole NFLOG netlink message (header included); None for
/// anything else (another message, a packet that is not IP).
pub fn decode(msg: &[u8]) -> Option<FlowRecord> {
    if msg.len() < NLMSG_HDRLEN + 4 || u16::from_ne_bytes([msg[4], msg[5]]) != NFULNL_MSG_PACKET {
        return None;
    }
    let (mut prefix, mut payload, mut hook, mut indev, mut outdev) =
        (String::new(), None, None, None, None);
    for (kind, v) in attrs(&msg[NLMSG_HDRLEN + 4..]) {
        match kind {
            NFULA_PREFIX => {
                let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
                prefix = String::from_utf8_lossy(&v[..end]).into_owned();
            }
            NFULA_PAYLOAD => payload = Some(v),
            NFULA_PACKET_HDR if v.len() >= 3 => hook = Some(v[2]),
            NFULA_IFINDEX_INDEV if v.len() == 4 => {
                indev = Some(u32::from_be_bytes(v.try_into().ok()?))
            }
            NFULA_IFINDEX_OUTDEV if v.len() == 4 => {
                outdev = Some(u32::from_be_bytes(v.try_into().ok()?))
            }
            _ => {}
        }
    }
    let p = payload?;
    let ip = match p.first()? >> 4 {
        4 => ipv4(p)?,
        6 => ipv6(p)?,
        _ => return None,
    };
    let ports = ip.l4.filter(|_| matches!(ip.proto, 6 | 17)).and_then(|at| {
        let b = p.get(at..at + 4)?;
        Some((
            u16::from_be_bytes([b[0], b[1]]),
            u16::from_be_bytes([b[2], b[3]]),
        ))
    });
    Some(FlowRecord {
        prefix,
        proto: ip.proto,
        src: ip.src,
        dst: ip.dst,
        sport: ports.map(|p| p.0),
        dport: ports.map(|p| p.1),
        hook,
        indev,
        outdev,
    })
}

/// An IP header as read: addresses, the protocol of what follows, and
/// where that starts (None when it holds no ports: a later fragment).
struct IpHead {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    l4: Option<usize>,
}

/// IPv4: header length from IHL, protocol, addresses.
fn ipv4(p: &[u8]) -> Option<IpHead> {
    if p.len() < 20 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let fragment = u16::from_be_bytes([p[6], p[7]]) & 0x1fff != 0;
    let quad = |at: usize| Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3]);
    Some(IpHead {
        src: quad(12).into(),
        dst: quad(16).into(),
        proto: p[9],
        l4: (ihl >= 20 && !fragment).then_some(ihl),
    })
}

/// IPv6: the fixed 40 bytes, then the extension headers a first packet may
/// carry (hop-by-hop, routing, fragment, destination options) up to the
/// transport header; a later fragment has no ports.
fn ipv6(p: &[u8]) -> Option<IpHead> {
    if p.len() < 40 {
        return None;
    }
    let addr = |at: usize| -> Option<IpAddr> {
        let b: [u8; 16] = p.get(at..at + 16)?.try_into().ok()?;
        Some(Ipv6Addr::from(b).into())
    };
    let (src, dst) = (addr(8)?, addr(24)?);
    let (mut next, mut at) = (p[6], 40);
    // A truncated extension header or a later fragment leaves no ports.
    let l4 = loop {
        match next {
            0 | 43 | 60 => match p.get(at..at + 2) {
                Some(h) => {
                    next = h[0];
                    at += (usize::from(h[1]) + 1) * 8;
                }
                None => break None,
            },
            44 => match p.get(at..at + 4) {
                Some(h) => {
                    next = h[0];
                    at += 8;
                    if u16::from_be_bytes([h[2], h[3]]) >> 3 != 0 {
                        break None;
                    }
                }
                None => break None,
            },
            _ => break Some(at),
        }
    };
    Some(IpHead {
        src,
        dst,
        proto: next,
        l4,
    })
}

#[cfg(test)]
mod tests {
    use super::super::nfgen;
    use super::*;
    use crate::nlsock::push_attr;

    /// An NFLOG message as the kernel sends it: header, nfgenmsg, attributes.
    fn message(prefix: &str, payload: &[u8]) -> Vec<u8> {
        let mut p = nfgen(libc::AF_INET as u8, 7);
        push_attr(&mut p, NFULA_PACKET_HDR, &[0x08, 0x00, 1, 0]);
        let mut pre = prefix.as_bytes().to_vec();
        pre.push(0);
        push_attr(&mut p, NFULA_PREFIX, &pre);
        push_attr(&mut p, NFULA_IFINDEX_INDEV, &3u32.to_be_bytes());
        push_attr(&mut p, NFULA_PAYLOAD, payload);
        crate::nlsock::message(NFULNL_MSG_PACKET, 0, &p)
    }

    fn ipv4(proto: u8, ihl_words: u8, rest: &[u8]) -> Vec<u8> {
        let mut h = vec![
            0x40 | ihl_words,
            0,
            0,
            0,
            0,
            0,
            0x40,
            0,
            64,
            proto,
            0,
            0,
            10,
            0,
            1,
            2,
            10,
            0,
            2,
            2,
        ];
        h.resize(usize::from(ihl_words) * 4, 0); // options
        h.extend_from_slice(rest);
        h
    }

    #[test]
    fn decodes_tcp_udp_icmp_and_options() {
        let tcp = decode(&message(
            "ingress[1]",
            &ipv4(6, 5, &[0xc3, 0x50, 0x00, 0x50]),
        ))
        .unwrap();
        assert_eq!(tcp.prefix, "ingress[1]");
        assert_eq!(
            (tcp.proto, tcp.src, tcp.dst),
            (6, ip("10.0.1.2"), ip("10.0.2.2"))
        );
        assert_eq!((tcp.sport, tcp.dport), (Some(50000), Some(80)));
        assert_eq!((tcp.hook, tcp.indev, tcp.outdev), (Some(1), Some(3), None));
        let udp = decode(&message("default", &ipv4(17, 6, &[0, 53, 0x30, 0x39]))).unwrap();
        assert_eq!(
            (udp.sport, udp.dport),
            (Some(53), Some(12345)),
            "past a 4-byte option"
        );
        let icmp = decode(&message("egress[2]", &ipv4(1, 5, &[8, 0, 0, 0]))).unwrap();
        assert_eq!((icmp.proto, icmp.sport, icmp.dport), (1, None, None));
        // truncated ports, IPv6, no payload, another message type
        assert_eq!(
            decode(&message("x", &ipv4(6, 5, &[0xc3]))).unwrap().dport,
            None
        );
        assert!(
            decode(&message("x", &[0x60; 20])).is_none(),
            "IPv6 shorter than its header"
        );
        assert!(decode(&message("x", &[0x50; 40])).is_none(), "not IP");
        assert!(decode(&message("x", &[])).is_none());
        let mut other = message("x", &ipv4(6, 5, &[0, 1, 0, 2]));
        other[4] = 1;
        assert!(decode(&other).is_none());
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// An IPv6 header from fd00:b::2 to fd00:b:0:1::2, next header `next`, then `rest`.
    fn ipv6(next: u8, rest: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0, 0, 0, next, 64];
        h.extend_from_slice(&"fd00:b::2".parse::<Ipv6Addr>().unwrap().octets());
        h.extend_from_slice(&"fd00:b:0:1::2".parse::<Ipv6Addr>().unwrap().octets());
        h.extend_from_slice(rest);
        h
    }

    #[test]
    fn decodes_ipv6_past_extension_headers() {
        let tcp = decode(&message("ingress[0]", &ipv6(6, &[0xc3, 0x50, 0, 80]))).unwrap();
        assert_eq!(
            (tcp.proto, tcp.src, tcp.dst, tcp.sport, tcp.dport),
            (
                6,
                ip("fd00:b::2"),
                ip("fd00:b:0:1::2"),
                Some(50000),
                Some(80)
            )
        );
        // hop-by-hop (8 bytes), then destination options (16 bytes), then UDP
        let mut ext = vec![60, 0, 0, 0, 0, 0, 0, 0, 17, 1];
        ext.resize(24, 0);
        ext.extend_from_slice(&[0, 53, 0x30, 0x39]);
        let udp = decode(&message("x", &ipv6(0, &ext))).unwrap();
        assert_eq!(
            (udp.proto, udp.sport, udp.dport),
            (17, Some(53), Some(12345))
        );
        let icmp = decode(&message("x", &ipv6(58, &[128, 0, 0, 0]))).unwrap();
        assert_eq!((icmp.proto, icmp.sport), (58, None));
        // a first fragment has the ports, a later one not
        let first = decode(&message(
            "x",
            &ipv6(44, &[6, 0, 0, 1, 0, 0, 0, 9, 0, 1, 0, 2]),
        ))
        .unwrap();
        assert_eq!((first.proto, first.dport), (6, Some(2)));
        let later = decode(&message(
            "x",
            &ipv6(44, &[6, 0, 0, 0x19, 0, 0, 0, 9, 0, 1, 0, 2]),
        ))
        .unwrap();
        assert_eq!((later.proto, later.dport), (6, None));
        // an extension header cut short: no ports
        assert_eq!(decode(&message("x", &ipv6(0, &[6]))).unwrap().sport, None);
    }
}
