//! NFLOG: the packets that nftables `log group N` statements hand to user
//! space, read over netlink (NETLINK_NETFILTER, subsystem ULOG) by a socket
//! opened inside the namespace whose rules log them: no `ulogd`, no
//! process. A subscription binds one group (NFULNL_CFG_CMD_BIND) and asks
//! for the first bytes of each packet (NFULNL_COPY_PACKET), enough for the
//! IPv4 and TCP/UDP headers; `decode` turns a message into a record: the
//! log prefix (which names the rule that decided) and the 5-tuple.

use std::{
    net::Ipv4Addr,
    os::fd::{AsFd, AsRawFd},
    time::Duration,
};

use crate::{
    error::{in_ns, Context, Error, Kind, Result},
    netns,
    nlsock::{attrs, push_attr, NlSock},
};

const NFNL_SUBSYS_ULOG: u16 = 4;
const NFULNL_MSG_PACKET: u16 = NFNL_SUBSYS_ULOG << 8;
const NFULNL_MSG_CONFIG: u16 = (NFNL_SUBSYS_ULOG << 8) | 1;
const NFULA_CFG_CMD: u16 = 1;
const NFULA_CFG_MODE: u16 = 2;
const NFULA_CFG_TIMEOUT: u16 = 4;
/// How long the kernel may hold records to batch them (1/100 s): 0.2 s,
/// not its default second, so `--follow` shows a connection promptly.
const FLUSH_TIMEOUT: u32 = 20;
const NFULNL_CFG_CMD_BIND: u8 = 1;
const NFULNL_COPY_PACKET: u8 = 2;
const NFULA_PACKET_HDR: u16 = 1;
const NFULA_IFINDEX_INDEV: u16 = 4;
const NFULA_IFINDEX_OUTDEV: u16 = 5;
const NFULA_PAYLOAD: u16 = 9;
const NFULA_PREFIX: u16 = 10;
const NLMSG_HDRLEN: usize = 16;
/// IPv4 header (up to 60 bytes with options) and the ports after it.
const COPY_RANGE: u32 = 64;

/// One logged packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// The `log prefix` of the rule that logged it.
    pub prefix: String,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP).
    pub proto: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// TCP/UDP ports; None for other protocols.
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// Netfilter hook (0 prerouting, 1 input, 2 forward, 3 output, 4 postrouting).
    pub hook: Option<u8>,
    pub indev: Option<u32>,
    pub outdev: Option<u32>,
}

/// struct nfgenmsg: family, version NFNETLINK_V0, the group (big-endian).
fn nfgen(family: u8, group: u16) -> Vec<u8> {
    let mut p = vec![family, 0];
    p.extend_from_slice(&group.to_be_bytes());
    p
}

/// The record in a whole NFLOG netlink message (header included); None for
/// anything else (another message, a packet that is not IPv4).
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
    // IPv4: version 4, header length from IHL, protocol, addresses, then the ports.
    if p.len() < 20 || p[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let proto = p[9];
    let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    let fragment = u16::from_be_bytes([p[6], p[7]]) & 0x1fff != 0;
    let ports =
        (matches!(proto, 6 | 17) && !fragment && ihl >= 20 && p.len() >= ihl + 4).then(|| {
            (
                u16::from_be_bytes([p[ihl], p[ihl + 1]]),
                u16::from_be_bytes([p[ihl + 2], p[ihl + 3]]),
            )
        });
    Some(FlowRecord {
        prefix,
        proto,
        src,
        dst,
        sport: ports.map(|p| p.0),
        dport: ports.map(|p| p.1),
        hook,
        indev,
        outdev,
    })
}

/// A bound NFLOG group in one namespace.
pub struct Subscription {
    sock: NlSock,
    ns: String,
    group: u16,
}

/// Subscribes to group `group` in namespace `ns` (the socket is opened by a
/// thread inside it, and stays there). `wait` bounds each `next`. One
/// listener per group and namespace: the kernel refuses a second (EBUSY).
pub fn subscribe(ns: &str, group: u16, wait: Duration) -> Result<Subscription> {
    let what = || format!("nflog group {group}{}", in_ns(ns));
    let mut sock = netns::run_in(ns, || NlSock::open(libc::NETLINK_NETFILTER, wait))?.ctx(what)?;
    let mut bind = nfgen(libc::AF_UNSPEC as u8, group);
    push_attr(&mut bind, NFULA_CFG_CMD, &[NFULNL_CFG_CMD_BIND]);
    match sock.command(NFULNL_MSG_CONFIG, &bind) {
        // The kernel answers EPERM (another socket owns the group) before
        // EBUSY (this one already bound it): both mean someone listens.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EBUSY)) => {
            return Err(Error::new(
                Kind::Busy,
                what(),
                "another reader listens to this group here (one per group and namespace)",
            ));
        }
        r => r.ctx(what)?,
    }
    let mut mode = nfgen(libc::AF_UNSPEC as u8, group);
    let mut m = COPY_RANGE.to_be_bytes().to_vec();
    m.extend_from_slice(&[NFULNL_COPY_PACKET, 0]);
    push_attr(&mut mode, NFULA_CFG_MODE, &m);
    sock.command(NFULNL_MSG_CONFIG, &mode).ctx(what)?;
    let mut timeout = nfgen(libc::AF_UNSPEC as u8, group);
    push_attr(
        &mut timeout,
        NFULA_CFG_TIMEOUT,
        &FLUSH_TIMEOUT.to_be_bytes(),
    );
    sock.command(NFULNL_MSG_CONFIG, &timeout).ctx(what)?;
    Ok(Subscription {
        sock,
        ns: ns.to_string(),
        group,
    })
}

impl Subscription {
    /// The records that arrive within the wait given to `subscribe` (one
    /// datagram's worth; empty when nothing came).
    pub fn next(&mut self) -> Result<Vec<FlowRecord>> {
        let mut out = Vec::new();
        let what = || format!("nflog group {}{}", self.group, in_ns(&self.ns));
        self.sock.receive(|_, m| out.extend(decode(m))).ctx(what)?;
        Ok(out)
    }
}

/// What [`read_many`] got: records with the index of the subscription
/// (namespace) that got each, and how many the kernel dropped because a
/// socket's buffer was full (ENOBUFS: the reader fell behind).
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<(usize, FlowRecord)>,
    pub lost: u32,
}

/// Waits up to `wait` for records on any of `subs` (one poll(2) over all
/// of them, so one thread follows any number of namespaces), then takes
/// what is ready, up to about `max` records. Empty when nothing came.
pub fn read_many(subs: &mut [Subscription], wait: Duration, max: usize) -> Result<Batch> {
    let mut batch = Batch::default();
    if subs.is_empty() {
        std::thread::sleep(wait);
        return Ok(batch);
    }
    let mut timeout = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
    while batch.records.len() < max {
        let mut fds: Vec<libc::pollfd> = subs
            .iter()
            .map(|s| libc::pollfd {
                fd: s.sock.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: poll over descriptors the subscriptions own, for their lifetime.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).ctx(|| "poll of nflog sockets".to_string());
        }
        if n == 0 {
            break;
        }
        // What is ready now is taken without waiting again.
        timeout = 0;
        for (i, fd) in fds.iter().enumerate() {
            if fd.revents == 0 {
                continue;
            }
            let sub = &mut subs[i];
            let mut got = Vec::new();
            match sub.sock.receive(|_, m| got.extend(decode(m))) {
                Ok(_) => batch.records.extend(got.into_iter().map(|r| (i, r))),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => batch.lost += 1,
                Err(e) => {
                    return Err(e).ctx(|| format!("nflog group {}{}", sub.group, in_ns(&sub.ns)))
                }
            }
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            (6, Ipv4Addr::new(10, 0, 1, 2), Ipv4Addr::new(10, 0, 2, 2))
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
        assert!(decode(&message("x", &[0x60; 40])).is_none());
        assert!(decode(&message("x", &[])).is_none());
        let mut other = message("x", &ipv4(6, 5, &[0, 1, 0, 2]));
        other[4] = 1;
        assert!(decode(&other).is_none());
    }
}
