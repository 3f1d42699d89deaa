//! Reachability probes from inside a namespace: ICMP echo and TCP connect.
//! The socket is opened by a thread inside the netns; the I/O can then
//! happen on any thread.

use std::{
    io,
    mem::MaybeUninit,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4},
    sync::atomic::{AtomicU16, Ordering},
    time::{Duration, Instant},
};

use socket2::{Domain, Protocol, Socket, Type};

use crate::{
    error::{in_ns, Context, Error, Kind, Result},
    netns,
};

fn socket_in(ns: &str, ty: Type, proto: Protocol, what: impl Fn() -> String) -> Result<Socket> {
    socket_in_domain(ns, Domain::IPV4, ty, proto, what)
}

fn socket_in_domain(
    ns: &str,
    domain: Domain,
    ty: Type,
    proto: Protocol,
    what: impl Fn() -> String,
) -> Result<Socket> {
    netns::run_in(ns, || Socket::new(domain, ty, Some(proto)))?.ctx(what)
}

/// A fresh echo identifier and sequence number: each probe is its own flow.
fn next_id() -> (u16, u16) {
    static SEQ: AtomicU16 = AtomicU16::new(1);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let id = (std::process::id() as u16)
        .wrapping_mul(31)
        .wrapping_add(seq);
    (id, seq)
}

/// An ICMP echo of either family.
pub fn ping_ip(ns: &str, dst: IpAddr, timeout: Duration) -> Result<Duration> {
    echo(ns, dst, timeout)
}

/// The Internet checksum (RFC 1071) of an ICMP message.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One ICMP echo request to `dst` from inside `ns`; the round-trip time of
/// the matching reply. Uses a raw socket (root), so it works whatever
/// `ping_group_range` says in that namespace.
pub fn ping(ns: &str, dst: Ipv4Addr, timeout: Duration) -> Result<Duration> {
    echo(ns, IpAddr::V4(dst), timeout)
}

/// [`ping`] over ICMPv6 (the kernel fills in the checksum of a raw ICMPv6
/// socket's messages).
pub fn ping6(ns: &str, dst: Ipv6Addr, timeout: Duration) -> Result<Duration> {
    echo(ns, IpAddr::V6(dst), timeout)
}

/// An echo request and its reply, in either family: an IPv4 raw socket
/// hands back the IP header before the ICMP message, an ICMPv6 one does not.
fn echo(ns: &str, dst: IpAddr, timeout: Duration) -> Result<Duration> {
    let what = || format!("ping {dst}{}", in_ns(ns));
    let v6 = dst.is_ipv6();
    let (domain, proto, request, reply) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6, 128u8, 129u8)
    } else {
        (Domain::IPV4, Protocol::ICMPV4, 8, 0)
    };
    let sock = socket_in_domain(ns, domain, Type::RAW, proto, what)?;
    // Each probe is its own flow: conntrack keys ICMP echoes by identifier,
    // so reusing one would let a later probe pass as "established" through
    // a policy applied after an earlier one.
    let (id, seq) = next_id();
    let mut pkt = [
        request, 0, 0, 0, 0, 0, 0, 0, b'v', b'p', b'c', b'c', b't', b'l', 0, 0,
    ];
    pkt[4..6].copy_from_slice(&id.to_be_bytes());
    pkt[6..8].copy_from_slice(&seq.to_be_bytes());
    if !v6 {
        let c = checksum(&pkt);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
    }
    let start = Instant::now();
    sock.send_to(&pkt, &SocketAddr::from((dst, 0)).into())
        .ctx(what)?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
    loop {
        let left = timeout
            .checked_sub(start.elapsed())
            .filter(|d| !d.is_zero());
        let Some(left) = left else {
            return Err(Error::new(Kind::Timeout, what(), "no reply (timed out)"));
        };
        sock.set_read_timeout(Some(left)).ctx(what)?;
        let (n, from) = match sock.recv_from(&mut buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            r => r.ctx(what)?,
        };
        // SAFETY: recv_from initialised the first n bytes.
        let b: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
        let skip = if v6 {
            0
        } else {
            (b.first().copied().unwrap_or(0) & 0x0f) as usize * 4
        };
        let Some(icmp) = b.get(skip..skip + 8) else {
            continue;
        };
        let from_dst = from.as_socket().is_some_and(|a| a.ip() == dst);
        if from_dst
            && icmp[0] == reply
            && icmp[4..6] == id.to_be_bytes()
            && icmp[6..8] == seq.to_be_bytes()
        {
            return Ok(start.elapsed());
        }
    }
}

/// A TCP connect to `dst:port` from inside `ns` (closed right away); the
/// time the handshake took.
pub fn tcp_connect(ns: &str, dst: Ipv4Addr, port: u16, timeout: Duration) -> Result<Duration> {
    let what = || format!("tcpConnect {dst}:{port}{}", in_ns(ns));
    let sock = socket_in(ns, Type::STREAM, Protocol::TCP, what)?;
    let start = Instant::now();
    sock.connect_timeout(&SocketAddrV4::new(dst, port).into(), timeout)
        .ctx(what)?;
    Ok(start.elapsed())
}

/// A TCP connect of either family.
pub fn tcp_connect_ip(ns: &str, dst: IpAddr, port: u16, timeout: Duration) -> Result<Duration> {
    let IpAddr::V6(d6) = dst else {
        let IpAddr::V4(d4) = dst else { unreachable!() };
        return tcp_connect(ns, d4, port, timeout);
    };
    let what = || format!("tcpConnect [{d6}]:{port}{}", in_ns(ns));
    let sock = socket_in_domain(ns, Domain::IPV6, Type::STREAM, Protocol::TCP, what)?;
    let start = Instant::now();
    sock.connect_timeout(&SocketAddr::from((d6, port)).into(), timeout)
        .ctx(what)?;
    Ok(start.elapsed())
}
