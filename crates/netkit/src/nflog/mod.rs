//! NFLOG: the packets that nftables `log group N` statements hand to user
//! space, read over netlink (NETLINK_NETFILTER, subsystem ULOG) by a socket
//! opened inside the namespace whose rules log them: no `ulogd`, no
//! process. A subscription binds one group (NFULNL_CFG_CMD_BIND) and asks
//! for the first bytes of each packet (NFULNL_COPY_PACKET), enough for the
//! IP (v4 or v6) and TCP/UDP headers; `decode` turns a message into a
//! record: the log prefix (which names the rule that decided) and the
//! 5-tuple.
//!
//! This file holds the subscription and the reading; `decode` the packets.

mod decode;

use std::{
    os::fd::{AsFd, AsRawFd},
    time::Duration,
};

pub use decode::{decode, FlowRecord};

use crate::{
    error::{in_ns, Context, Error, Kind, Result},
    netns,
    nlsock::{push_attr, NlSock},
};

const NFNL_SUBSYS_ULOG: u16 = 4;
const NFULNL_MSG_CONFIG: u16 = (NFNL_SUBSYS_ULOG << 8) | 1;
const NFULA_CFG_CMD: u16 = 1;
const NFULA_CFG_MODE: u16 = 2;
const NFULA_CFG_TIMEOUT: u16 = 4;
/// How long the kernel may hold records to batch them (1/100 s): 0.2 s,
/// not its default second, so `--follow` shows a connection promptly.
const FLUSH_TIMEOUT: u32 = 20;
const NFULNL_CFG_CMD_BIND: u8 = 1;
const NFULNL_COPY_PACKET: u8 = 2;
/// An IPv4 header (up to 60 bytes with options) or an IPv6 one (40) with
/// a few extension headers, and the ports after it.
const COPY_RANGE: u32 = 128;

/// struct nfgenmsg: family, version NFNETLINK_V0, the group (big-endian).
fn nfgen(family: u8, group: u16) -> Vec<u8> {
    let mut p = vec![family, 0];
    p.extend_from_slice(&group.to_be_bytes());
    p
}

/// A bound NFLOG group in one namespace.
pub struct Subscription {
    sock: NlSock,
    ns: String,
    group: u16,
}

/// Subscribes to group `group` in namespace `ns` (the socket is opened by a
/// thread inside it, and stays there). `wait` bounds each `receive`. One
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
    pub fn receive(&mut self) -> Result<Vec<FlowRecord>> {
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
