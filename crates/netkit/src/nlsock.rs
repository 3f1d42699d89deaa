//! A blocking netlink socket for reads made by a thread inside a namespace:
//! one request at a time, each reply awaited under the socket's receive
//! timeout (an overrun is an error, not a hang). Used where a thread visits
//! a namespace to read several things at once (verify): no async runtime,
//! no extra thread hop. Also the two reads rtnetlink crates lack:
//! RTM_GETNETCONF and nftables' NFT_MSG_GETGEN. [`exchange`] is netkit's
//! one blocking send/receive loop: the setup of a new namespace
//! (conn::request_sync) and sock_diag use it too.

use std::{
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
    time::Duration,
};

/// struct nlmsghdr's size: where a message's payload starts.
pub const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_ACK: u16 = 4;
pub const NLM_F_DUMP: u16 = 0x300;

pub const RTM_GETLINK: u16 = 18;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_GETROUTE: u16 = 26;
const RTM_NEWNETCONF: u16 = 80;
const RTM_GETNETCONF: u16 = 82;
/// (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN / NFT_MSG_NEWGEN.
const NFT_GETGEN: u16 = (10 << 8) | 16;
const NFT_NEWGEN: u16 = (10 << 8) | 15;
const NFTA_GEN_ID: u16 = 1;

/// NETCONFA_IFINDEX values for `net.ipv4.conf.all` and `.default`.
pub const NETCONF_ALL: i32 = -1;
pub const NETCONF_DEFAULT: i32 = -2;
const NETCONFA_IFINDEX: u16 = 1;

pub struct NlSock {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

// Receive buffers are reused by the thread that opens sockets one after
// another (verify opens two per namespace): a fresh zeroed 64 KiB each
// time was a memset and page faults per socket.
thread_local! {
    static SPARE_BUF: std::cell::Cell<Option<Vec<u8>>> = const { std::cell::Cell::new(None) };
}

const BUF_LEN: usize = 64 << 10;

impl Drop for NlSock {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        SPARE_BUF.with(|b| b.set(Some(buf)));
    }
}

/// setsockopt(2) of a plain value.
fn set_opt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: the kernel reads size_of::<T>() bytes of a value we borrow.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// For poll(2) over several sockets (NFLOG readers of many namespaces).
impl AsFd for NlSock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl NlSock {
    /// A socket of netlink protocol `proto` in the calling thread's netns.
    pub fn open(proto: libc::c_int, timeout: Duration) -> io::Result<NlSock> {
        // SAFETY: plain socket calls; the fd is owned right away.
        let fd = unsafe {
            let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            OwnedFd::from_raw_fd(fd)
        };
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        set_opt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
        let buf = SPARE_BUF
            .with(|b| b.take())
            .filter(|b| b.len() == BUF_LEN)
            .unwrap_or_else(|| vec![0; BUF_LEN]);
        Ok(NlSock { fd, seq: 0, buf })
    }

    /// A NETLINK_ROUTE socket with strict checking of dump requests
    /// (NETLINK_GET_STRICT_CHK), so that the kernel honours their filters:
    /// a route dump for one table walks that table only, not also the local
    /// table (three entries per address: a router's thousands).
    pub fn route(timeout: Duration) -> io::Result<NlSock> {
        let s = Self::open(libc::NETLINK_ROUTE, timeout)?;
        set_opt(
            &s.fd,
            libc::SOL_NETLINK,
            libc::NETLINK_GET_STRICT_CHK,
            &(1 as libc::c_int),
        )?;
        Ok(s)
    }

    /// Sends message `kind` with `payload` (a dump if `dump`) and hands each
    /// reply message of that request, whole (header included), to `each`
    /// until the dump is done or the single reply came. An NLMSG_ERROR
    /// reply becomes the error it carries.
    pub fn request(
        &mut self,
        kind: u16,
        dump: bool,
        payload: &[u8],
        each: impl FnMut(u16, &[u8]),
    ) -> io::Result<()> {
        self.seq += 1;
        let flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
        let mut m = message(kind, flags, payload);
        exchange(self.fd.as_fd(), &mut m, self.seq, &mut self.buf, each)
    }

    /// Sends a command (message `kind`, `payload`) that answers nothing but
    /// the ack NLM_F_ACK asks for; its NLMSG_ERROR errno becomes the error.
    pub fn command(&mut self, kind: u16, payload: &[u8]) -> io::Result<()> {
        self.seq += 1;
        let mut m = message(kind, NLM_F_REQUEST | NLM_F_ACK, payload);
        exchange(self.fd.as_fd(), &mut m, self.seq, &mut self.buf, |_, _| {})
    }

    /// Waits (up to the socket's receive timeout) for one datagram the
    /// kernel sends on its own (a multicast or NFLOG message) and hands each
    /// netlink message in it, whole, to `each`. False when the timeout
    /// passed with nothing received.
    pub fn receive(&mut self, mut each: impl FnMut(u16, &[u8])) -> io::Result<bool> {
        let n = loop {
            // SAFETY: recv into a buffer we own on an open socket.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                )
            };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(false),
                _ => return Err(e),
            }
        };
        let mut off = 0;
        while off + NLMSG_HDRLEN <= n {
            let b = &self.buf[off..n];
            let mlen = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
            if mlen < NLMSG_HDRLEN || mlen > b.len() {
                return Err(io::Error::other("malformed netlink message"));
            }
            each(u16::from_ne_bytes([b[4], b[5]]), &b[..mlen]);
            off += (mlen + 3) & !3;
        }
        Ok(true)
    }

    /// The IPv4 devconf of `ifindex` (or [`NETCONF_ALL`], [`NETCONF_DEFAULT`])
    /// as RTM_GETNETCONF gives it: (NETCONFA_* type, value) pairs, see
    /// [`netconf_attr`].
    pub fn netconf(&mut self, ifindex: i32) -> io::Result<Vec<(u16, i32)>> {
        // struct netconfmsg { u8 family } padded to 4, then NETCONFA_IFINDEX.
        let mut p = vec![libc::AF_INET as u8, 0, 0, 0];
        push_attr(&mut p, NETCONFA_IFINDEX, &ifindex.to_ne_bytes());
        let mut out = Vec::new();
        self.request(RTM_GETNETCONF, false, &p, |t, m| {
            if t == RTM_NEWNETCONF && m.len() >= NLMSG_HDRLEN + 4 {
                for (k, v) in attrs(&m[NLMSG_HDRLEN + 4..]) {
                    if v.len() == 4 {
                        out.push((k, i32::from_ne_bytes(v.try_into().unwrap())));
                    }
                }
            }
        })?;
        Ok(out)
    }
}

impl NlSock {
    /// The id this socket's namespace gives the namespace open as `ns_fd`
    /// (RTM_GETNSID with NETNSA_FD): None when it gave it none. What
    /// IFLA_LINK_NETNSID of a link here means: its peer is in that namespace.
    pub fn nsid_of(&mut self, ns_fd: BorrowedFd<'_>) -> io::Result<Option<i32>> {
        const RTM_NEWNSID: u16 = 88;
        const RTM_GETNSID: u16 = 90;
        const NETNSA_NSID: u16 = 1;
        const NETNSA_FD: u16 = 3;
        // struct rtgenmsg { u8 family } padded to 4, then NETNSA_FD.
        let mut p = vec![libc::AF_UNSPEC as u8, 0, 0, 0];
        push_attr(&mut p, NETNSA_FD, &(ns_fd.as_raw_fd() as u32).to_ne_bytes());
        let mut id = None;
        self.request(RTM_GETNSID, false, &p, |t, m| {
            if t == RTM_NEWNSID && m.len() >= NLMSG_HDRLEN + 4 {
                id = attrs(&m[NLMSG_HDRLEN + 4..])
                    .find(|(k, v)| *k == NETNSA_NSID && v.len() == 4)
                    .map(|(_, v)| i32::from_ne_bytes(v.try_into().unwrap()));
            }
        })?;
        Ok(id.filter(|i| *i >= 0))
    }
}

/// A netlink message: header (length, `kind`, `flags`, sequence 0, port 0)
/// and `payload`.
pub fn message(kind: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + payload.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    m
}

/// The one send/receive loop of netkit's blocking netlink sockets. Sends
/// `msg` (a whole message, see [`message`]) on `fd` with sequence number
/// `seq`, then hands each reply to that request, whole, to `each` until a
/// dump is done (NLMSG_DONE) or, for a request that is no dump, its one
/// reply came: an answer, or the ack (NLMSG_ERROR 0) NLM_F_ACK asks for.
/// An NLMSG_ERROR reply with an errno becomes that error; replies to other
/// sequence numbers (late ones) are skipped. `buf` receives; a reply
/// larger than it is an error. A receive timeout set on the socket makes a
/// silent kernel an error ("timed out"), not a hang.
pub fn exchange(
    fd: BorrowedFd<'_>,
    msg: &mut [u8],
    seq: u32,
    buf: &mut [u8],
    mut each: impl FnMut(u16, &[u8]),
) -> io::Result<()> {
    msg[8..12].copy_from_slice(&seq.to_ne_bytes());
    let flags = u16::from_ne_bytes([msg[6], msg[7]]);
    let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
    let fd = fd.as_raw_fd();
    // SAFETY: send of a buffer we own on an open socket.
    if unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    loop {
        // SAFETY: recv into a buffer we own; MSG_TRUNC reports the real
        // length of a datagram that did not fit.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "netlink read timed out",
                    ))
                }
                _ => return Err(e),
            }
        }
        let n = n as usize;
        if n == 0 {
            return Ok(()); // nothing more will come
        }
        if n > buf.len() {
            return Err(io::Error::other("netlink reply larger than the buffer"));
        }
        let mut off = 0;
        while off + NLMSG_HDRLEN <= n {
            let b = &buf[off..n];
            let mlen = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
            if mlen < NLMSG_HDRLEN || mlen > b.len() {
                return Err(io::Error::other("malformed netlink reply"));
            }
            let mtype = u16::from_ne_bytes(b[4..6].try_into().unwrap());
            let mseq = u32::from_ne_bytes(b[8..12].try_into().unwrap());
            off += (mlen + 3) & !3;
            if mseq != seq {
                continue; // a late reply to an earlier request
            }
            match mtype {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR if mlen >= NLMSG_HDRLEN + 4 => {
                    let code = i32::from_ne_bytes(b[16..20].try_into().unwrap());
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::from_raw_os_error(-code))
                    };
                }
                _ => {
                    each(mtype, &b[..mlen]);
                    if !dump {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// The netconf attribute that mirrors an IPv4 devconf sysctl name.
pub fn netconf_attr(name: &str) -> Option<u16> {
    match name {
        "forwarding" => Some(2),
        "rp_filter" => Some(3),
        "proxy_arp" => Some(5), // NETCONFA_PROXY_NEIGH for AF_INET
        _ => None,
    }
}

/// The nftables generation id of the calling thread's netns: it moves with
/// every committed nftables transaction there.
pub fn nft_gen(timeout: Duration) -> io::Result<u32> {
    let mut s = NlSock::open(libc::NETLINK_NETFILTER, timeout)?;
    // struct nfgenmsg { family AF_UNSPEC, version NFNETLINK_V0, res_id 0 }
    let mut gen = None;
    s.request(NFT_GETGEN, false, &[0, 0, 0, 0], |t, m| {
        if t == NFT_NEWGEN && m.len() >= NLMSG_HDRLEN + 4 {
            gen = attrs(&m[NLMSG_HDRLEN + 4..])
                .find(|(k, v)| *k == NFTA_GEN_ID && v.len() == 4)
                .map(|(_, v)| u32::from_be_bytes(v.try_into().unwrap()));
        }
    })?;
    gen.ok_or_else(|| io::Error::other("no nftables generation in the reply"))
}

/// The payload of a link dump without statistics: struct ifinfomsg
/// (AF_UNSPEC) and IFLA_EXT_MASK = RTEXT_FILTER_SKIP_STATS, which spares
/// the kernel and the parser most of each message.
pub fn link_dump_payload() -> Vec<u8> {
    const IFLA_EXT_MASK: u16 = 29;
    const RTEXT_FILTER_SKIP_STATS: u32 = 1 << 3;
    let mut p = vec![0u8; 16];
    push_attr(
        &mut p,
        IFLA_EXT_MASK,
        &RTEXT_FILTER_SKIP_STATS.to_ne_bytes(),
    );
    p
}

/// An RTM_GETLINK request for one link, by name (no stats).
pub fn link_get_payload(name: &str) -> Vec<u8> {
    const IFLA_IFNAME: u16 = 3;
    let mut p = link_dump_payload();
    let mut n = name.as_bytes().to_vec();
    n.push(0);
    push_attr(&mut p, IFLA_IFNAME, &n);
    p
}

/// Appends attribute `kind` with `data` to `p`, padded to 4 bytes.
pub fn push_attr(p: &mut Vec<u8>, kind: u16, data: &[u8]) {
    p.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    p.extend_from_slice(&kind.to_ne_bytes());
    p.extend_from_slice(data);
    while p.len() % 4 != 0 {
        p.push(0);
    }
}

/// Netlink attributes in `b`: (type without flag bits, value).
pub fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            return None;
        }
        let v = &b[4..len];
        b = &b[((len + 3) & !3).min(b.len())..];
        Some((kind, v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_with_padding() {
        let mut p = Vec::new();
        push_attr(&mut p, 1, &(-1i32).to_ne_bytes());
        push_attr(&mut p, 3, b"ab");
        push_attr(&mut p, 0x8000 | 7, &5u32.to_ne_bytes());
        let got: Vec<(u16, Vec<u8>)> = attrs(&p).map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                (1, (-1i32).to_ne_bytes().to_vec()),
                (3, b"ab".to_vec()),
                (7, 5u32.to_ne_bytes().to_vec())
            ]
        );
        // A truncated attribute ends the walk instead of reading past the end.
        assert_eq!(attrs(&p[..6]).count(), 0);
    }

    #[test]
    fn netconf_names() {
        assert_eq!(netconf_attr("forwarding"), Some(2));
        assert_eq!(netconf_attr("rp_filter"), Some(3));
        assert_eq!(netconf_attr("proxy_arp"), Some(5));
        assert_eq!(netconf_attr("accept_redirects"), None);
    }
}
