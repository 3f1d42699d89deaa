//! Who listens on a TCP port (or holds a UDP port) inside a namespace, asked
//! of the kernel over NETLINK_SOCK_DIAG (an inet_diag dump of LISTEN
//! sockets, or of every UDP socket, IPv4 and IPv6, filtered by port in the
//! kernel) instead of by connecting: a connect cannot tell whose listener
//! answered, and UDP has no connect to try. A socket's inode then maps to the
//! processes holding it through /proc/<pid>/fd.

use std::{
    fs,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use crate::{
    error::{in_ns, Context, Result},
    netns,
    nlsock::{NlSock, NLMSG_HDRLEN},
};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const TCP_LISTEN: u32 = 10;
/// struct inet_diag_req_v2: family, protocol, ext, pad, states, then the
/// 48-byte inet_diag_sockid.
const REQ_LEN: usize = 56;
/// struct inet_diag_msg: family, state, timer, retrans, sockid (48),
/// expires, rqueue, wqueue, uid, inode.
const MSG_LEN: usize = 72;

/// A TCP socket in LISTEN state and the processes that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub addr: IpAddr,
    pub port: u16,
    /// Owner uid of the socket, as the kernel reports it.
    pub uid: u32,
    pub inode: u32,
    /// Processes with the socket open (empty if none could be found, e.g.
    /// /proc hidden); sorted.
    pub pids: Vec<u32>,
}

/// Which sockets a dump asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP sockets in LISTEN.
    Tcp,
    /// UDP sockets in any state: a bound one is "closed", a connected one
    /// "established", and both hold their port.
    Udp,
}

/// The request (struct inet_diag_req_v2): a dump of `family` sockets of
/// `proto`, with the source port in the socket id (the kernel skips
/// sockets on other ports).
fn request(family: u8, proto: Proto, port: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(REQ_LEN);
    let (protocol, states) = match proto {
        Proto::Tcp => (libc::IPPROTO_TCP, 1u32 << TCP_LISTEN),
        Proto::Udp => (libc::IPPROTO_UDP, u32::MAX),
    };
    b.extend_from_slice(&[family, protocol as u8, 0, 0]);
    b.extend_from_slice(&states.to_ne_bytes());
    b.extend_from_slice(&port.to_be_bytes()); // idiag_sport
    b.resize(REQ_LEN, 0); // dport, addresses, ifindex, cookie: any
    b
}

/// Parses one inet_diag_msg; None for a short or foreign message.
fn parse_msg(m: &[u8]) -> Option<Listener> {
    if m.len() < MSG_LEN {
        return None;
    }
    let family = m[0];
    let port = u16::from_be_bytes([m[4], m[5]]);
    let src = &m[8..24];
    let addr = match i32::from(family) {
        libc::AF_INET => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        libc::AF_INET6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(src).ok()?)),
        _ => return None,
    };
    let word = |at: usize| u32::from_ne_bytes(m[at..at + 4].try_into().unwrap());
    Some(Listener {
        addr,
        port,
        uid: word(64),
        inode: word(68),
        pids: vec![],
    })
}

/// Runs one dump and collects the listeners on `port`.
fn dump(
    s: &mut NlSock,
    family: u8,
    proto: Proto,
    port: u16,
    out: &mut Vec<Listener>,
) -> std::io::Result<()> {
    let r = s.request(
        SOCK_DIAG_BY_FAMILY,
        true,
        &request(family, proto, port),
        |kind, m| {
            // Filtered again here: the kernel's port filter is a courtesy.
            if kind == SOCK_DIAG_BY_FAMILY {
                out.extend(parse_msg(&m[NLMSG_HDRLEN..]).filter(|l| l.port == port));
            }
        },
    );
    match r {
        // IPv6 compiled out: no IPv6 listeners to report.
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) && i32::from(family) == libc::AF_INET6 => {
            Ok(())
        }
        r => r,
    }
}

/// The TCP listeners (IPv4 and IPv6) on `port` inside netns `ns` ("" = this
/// process's), with the pids holding each socket.
pub fn tcp_listeners(ns: &str, port: u16) -> Result<Vec<Listener>> {
    holders(ns, Proto::Tcp, port)
}

/// The UDP sockets (IPv4 and IPv6) bound to `port` inside netns `ns`, with
/// the pids holding each socket.
pub fn udp_sockets(ns: &str, port: u16) -> Result<Vec<Listener>> {
    holders(ns, Proto::Udp, port)
}

fn holders(ns: &str, proto: Proto, port: u16) -> Result<Vec<Listener>> {
    let what = || format!("sock_diag {proto:?} sockets on port {port}{}", in_ns(ns));
    // A dump that never ends must become an error, not a hang.
    let open = || NlSock::open(libc::NETLINK_SOCK_DIAG, Duration::from_secs(2));
    let mut s = netns::run_in(ns, open)?.ctx(what)?;
    let mut out = vec![];
    dump(&mut s, libc::AF_INET as u8, proto, port, &mut out).ctx(what)?;
    dump(&mut s, libc::AF_INET6 as u8, proto, port, &mut out).ctx(what)?;
    if out.is_empty() {
        return Ok(out);
    }
    let inodes: Vec<u32> = out.iter().map(|l| l.inode).collect();
    // Usually a process of the namespace holds the socket; one that opened
    // it and then left (or got it over a unix socket) is found by a wider scan.
    let mut owners = socket_owners(&pids_of(ns)?, &inodes);
    if owners.iter().all(|(_, p)| p.is_empty()) {
        owners = socket_owners(&all_pids(), &inodes);
    }
    for l in &mut out {
        if let Some((_, p)) = owners.iter().find(|(i, _)| *i == l.inode) {
            l.pids.clone_from(p);
        }
    }
    Ok(out)
}

fn pids_of(ns: &str) -> Result<Vec<u32>> {
    if ns.is_empty() {
        let me = fs::metadata("/proc/self/ns/net").ctx(|| "own netns".into())?;
        use std::os::unix::fs::MetadataExt;
        return Ok(netns::scan_pids()?
            .remove(&(me.dev(), me.ino()))
            .unwrap_or_default());
    }
    netns::pids_in(ns)
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc").map_or_else(
        |_| vec![],
        |rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        },
    )
}

/// For each socket inode, the pids among `pids` that have it open (from the
/// `socket:[inode]` links in /proc/<pid>/fd).
pub fn socket_owners(pids: &[u32], inodes: &[u32]) -> Vec<(u32, Vec<u32>)> {
    let mut out: Vec<(u32, Vec<u32>)> = inodes.iter().map(|&i| (i, vec![])).collect();
    for &pid in pids {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.filter_map(|e| e.ok()) {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = socket_inode(&target.to_string_lossy()) else {
                continue;
            };
            if let Some((_, p)) = out.iter_mut().find(|(i, _)| *i == inode) {
                if !p.contains(&pid) {
                    p.push(pid);
                }
            }
        }
    }
    for (_, p) in &mut out {
        p.sort_unstable();
    }
    out
}

/// `socket:[12345]` -> 12345.
fn socket_inode(link: &str) -> Option<u32> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let r = request(libc::AF_INET as u8, Proto::Tcp, 8080);
        assert_eq!(r.len(), REQ_LEN);
        assert_eq!(r[0], libc::AF_INET as u8);
        assert_eq!(r[1], libc::IPPROTO_TCP as u8);
        assert_eq!(u32::from_ne_bytes(r[4..8].try_into().unwrap()), 1 << 10);
        assert_eq!(&r[8..10], &8080u16.to_be_bytes());
        let u = request(libc::AF_INET6 as u8, Proto::Udp, 53);
        assert_eq!(u[1], libc::IPPROTO_UDP as u8);
        assert_eq!(u32::from_ne_bytes(u[4..8].try_into().unwrap()), u32::MAX);
        assert_eq!(&u[8..10], &53u16.to_be_bytes());
    }

    #[test]
    fn parses_a_message() {
        let mut m = vec![0u8; MSG_LEN];
        m[0] = libc::AF_INET as u8;
        m[1] = TCP_LISTEN as u8;
        m[4..6].copy_from_slice(&80u16.to_be_bytes());
        m[8..12].copy_from_slice(&[10, 0, 1, 2]);
        m[64..68].copy_from_slice(&65534u32.to_ne_bytes());
        m[68..72].copy_from_slice(&4242u32.to_ne_bytes());
        let l = parse_msg(&m).unwrap();
        assert_eq!(l.addr, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2)));
        assert_eq!((l.port, l.uid, l.inode), (80, 65534, 4242));
        assert!(parse_msg(&m[..40]).is_none());
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode("socket:[123]"), Some(123));
        assert_eq!(socket_inode("pipe:[123]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }
}
