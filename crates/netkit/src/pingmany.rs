//! Many ICMP echoes at once, for `test-connectivity --all`: 150 subnets are
//! 22,350 pairs, which one probe at a time (each unanswered one waiting out
//! its timeout) takes minutes. Here every source namespace gets one raw
//! socket, opened by one thread visiting the namespaces in turn; all
//! requests go out, and one poll(2) loop collects the replies of all
//! sockets until each probe is answered, refused or the single deadline
//! passes. The whole batch costs about one timeout, not one per pair.

use crate::probe::checksum;
use std::{
    collections::HashMap,
    io,
    mem::MaybeUninit,
    net::{Ipv4Addr, SocketAddr},
    os::fd::AsRawFd,
    sync::atomic::{AtomicU16, Ordering},
    time::{Duration, Instant},
};

use socket2::{Domain, Protocol, Socket, Type};

use crate::{
    error::{in_ns, Context, Error, Kind, Result},
    netns,
};

/// One probe: an echo from inside `ns` to `dst`.
#[derive(Debug, Clone)]
pub struct Probe {
    pub ns: String,
    pub dst: Ipv4Addr,
}

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_ECHO: u8 = 8;
/// `SOL_RAW` / `ICMP_FILTER` (linux/icmp.h): a mask of ICMP types the raw socket does not receive.
const SOL_RAW: libc::c_int = 255;
const ICMP_FILTER: libc::c_int = 1;
/// Room for every reply of a batch even while the loop is busy elsewhere.
const RCVBUF: libc::c_int = 4 << 20;
/// Sends per source: a request lost while a neighbour entry resolves (its
/// queue is short) gets a second chance at a third of the timeout.
const ATTEMPTS: usize = 2;

/// Identifiers differ per socket and per attempt: conntrack keys an echo
/// by (source, destination, identifier), and a reused one would let a
/// probe pass as "established" through a policy applied since.
static NEXT_ID: AtomicU16 = AtomicU16::new(1);

fn next_id() -> u16 {
    (std::process::id() as u16)
        .wrapping_mul(31)
        .wrapping_add(NEXT_ID.fetch_add(1, Ordering::Relaxed))
        .wrapping_add(0x4000)
}

fn echo(id: u16, seq: u16) -> [u8; 16] {
    let mut pkt = [
        ICMP_ECHO, 0, 0, 0, 0, 0, 0, 0, b'v', b'p', b'c', b'c', b't', b'l', 0, 0,
    ];
    pkt[4..6].copy_from_slice(&id.to_be_bytes());
    pkt[6..8].copy_from_slice(&seq.to_be_bytes());
    let c = checksum(&pkt);
    pkt[2..4].copy_from_slice(&c.to_be_bytes());
    pkt
}

fn setsockopt(
    sock: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    // SAFETY: value points to value.len() readable bytes for the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            value.len() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A source namespace's socket and its probes (indices into the batch).
struct Source {
    sock: Socket,
    probes: Vec<usize>,
    /// The identifier of each attempt.
    ids: Vec<u16>,
}

/// What a received ICMP message says about one of a source's probes.
enum Heard {
    Reply(usize),
    Unreachable(usize, u8),
}

/// An echo reply from `from`, or a destination-unreachable quoting one of our requests.
fn parse(src: &Source, batch: &[Probe], b: &[u8], from: Option<Ipv4Addr>) -> Option<Heard> {
    let ihl = (*b.first()? & 0x0f) as usize * 4;
    let icmp = b.get(ihl..ihl + 8)?;
    let ours = |id: &[u8], seq: &[u8]| -> Option<usize> {
        let id = u16::from_be_bytes([id[0], id[1]]);
        if !src.ids.contains(&id) {
            return None;
        }
        src.probes
            .get(u16::from_be_bytes([seq[0], seq[1]]) as usize)
            .copied()
    };
    match icmp[0] {
        ICMP_ECHO_REPLY => {
            let i = ours(&icmp[4..6], &icmp[6..8])?;
            (from == Some(batch[i].dst)).then_some(Heard::Reply(i))
        }
        ICMP_DEST_UNREACH => {
            // The quoted request: its IP header, then its first 8 bytes.
            let inner = b.get(ihl + 8..)?;
            let ihl2 = (*inner.first()? & 0x0f) as usize * 4;
            let dst = Ipv4Addr::new(*inner.get(16)?, inner[17], inner[18], inner[19]);
            let req = inner.get(ihl2..ihl2 + 8)?;
            let i = ours(&req[4..6], &req[6..8])?;
            (req[0] == ICMP_ECHO && dst == batch[i].dst).then_some(Heard::Unreachable(i, icmp[1]))
        }
        _ => None,
    }
}

fn unreachable_reason(code: u8) -> &'static str {
    match code {
        0 => "network unreachable",
        1 => "host unreachable",
        3 => "port unreachable",
        9 | 10 | 13 => "administratively prohibited",
        _ => "destination unreachable",
    }
}

/// Opens one raw ICMP socket per distinct source namespace, from one thread.
fn open_sources(batch: &[Probe], out: &mut [Option<Result<Duration>>]) -> Result<Vec<Source>> {
    let mut by_ns: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (i, p) in batch.iter().enumerate() {
        by_ns
            .entry(p.ns.as_str())
            .or_insert_with(|| {
                order.push(p.ns.as_str());
                Vec::new()
            })
            .push(i);
    }
    let visitor = netns::Visitor::new()?;
    let mut sources = Vec::new();
    for ns in order {
        let probes = by_ns.remove(ns).unwrap_or_default();
        let what = || format!("ping{}", in_ns(ns));
        let opened = visitor.visit(ns, || {
            Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
        });
        let sock = match opened {
            Ok(Some(Ok(s))) => s,
            Ok(None) => {
                for &i in &probes {
                    out[i] = Some(Err(Error::new(
                        Kind::NotFound,
                        what(),
                        "no such network namespace",
                    )));
                }
                continue;
            }
            Ok(Some(Err(e))) => return Err(e).ctx(what),
            Err(e) => return Err(e),
        };
        // Only what can answer a probe reaches the socket: echo replies and unreachables.
        let mask: u32 = !((1 << ICMP_ECHO_REPLY) | (1 << ICMP_DEST_UNREACH));
        setsockopt(&sock, SOL_RAW, ICMP_FILTER, &mask.to_ne_bytes()).ctx(what)?;
        // Best effort: without CAP_NET_ADMIN the default buffer (and the resend) remain.
        let _ = setsockopt(
            &sock,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &RCVBUF.to_ne_bytes(),
        );
        sock.set_nonblocking(true).ctx(what)?;
        sources.push(Source {
            sock,
            probes,
            ids: Vec::new(),
        });
    }
    drop(visitor);
    Ok(sources)
}

/// Sends attempt `attempt` of every still-open probe of `src`.
fn send_all(
    src: &mut Source,
    batch: &[Probe],
    out: &mut [Option<Result<Duration>>],
    sent: &mut [Instant],
) {
    let id = next_id();
    src.ids.push(id);
    for (seq, &i) in src.probes.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let pkt = echo(id, seq as u16);
        if src.ids.len() == 1 {
            sent[i] = Instant::now();
        }
        match src
            .sock
            .send_to(&pkt, &SocketAddr::from((batch[i].dst, 0)).into())
        {
            Ok(_) => {}
            // A full send buffer: the resend (or the deadline) settles it.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // No route, or a firewall refused it on the way out: settled now.
            Err(e) => {
                out[i] = Some(Err(Error::os(
                    format!("ping {}{}", batch[i].dst, in_ns(&batch[i].ns)),
                    e,
                )))
            }
        }
    }
}

/// Reads every queued message of `src`.
fn drain(src: &Source, batch: &[Probe], out: &mut [Option<Result<Duration>>], sent: &[Instant]) {
    let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
    loop {
        let (n, from) = match src.sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        // SAFETY: recv_from initialised the first n bytes.
        let b: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
        let from = from.as_socket_ipv4().map(|a| *a.ip());
        match parse(src, batch, b, from) {
            Some(Heard::Reply(i)) if out[i].is_none() => out[i] = Some(Ok(sent[i].elapsed())),
            Some(Heard::Unreachable(i, code)) if out[i].is_none() => {
                let what = format!("ping {}{}", batch[i].dst, in_ns(&batch[i].ns));
                out[i] = Some(Err(Error::new(Kind::Other, what, unreachable_reason(code))));
            }
            _ => {}
        }
    }
}

/// Every probe of `batch` at once; results in the batch's order. An
/// unanswered probe fails with a timeout once `timeout` has passed since
/// the batch started. Blocking: run it off the async runtime.
pub fn ping_many(batch: &[Probe], timeout: Duration) -> Result<Vec<Result<Duration>>> {
    let mut out: Vec<Option<Result<Duration>>> = (0..batch.len()).map(|_| None).collect();
    let mut sources = open_sources(batch, &mut out)?;
    let start = Instant::now();
    let mut sent = vec![start; batch.len()];
    let mut attempts = 0;
    let pending =
        |out: &[Option<Result<Duration>>], s: &Source| s.probes.iter().any(|&i| out[i].is_none());
    loop {
        let elapsed = start.elapsed();
        if attempts < ATTEMPTS && elapsed >= timeout / 3 * attempts as u32 {
            for k in 0..sources.len() {
                if pending(&out, &sources[k]) {
                    send_all(&mut sources[k], batch, &mut out, &mut sent);
                    // Replies start at once: take them now, before a socket's buffer fills.
                    let all: Vec<usize> = (0..sources.len()).collect();
                    for r in poll_ready(&sources, &all, Duration::ZERO)? {
                        drain(&sources[r], batch, &mut out, &sent);
                    }
                }
            }
            attempts += 1;
            continue;
        }
        let live: Vec<usize> = (0..sources.len())
            .filter(|&k| pending(&out, &sources[k]))
            .collect();
        let Some(left) = timeout.checked_sub(elapsed).filter(|d| !d.is_zero()) else {
            break;
        };
        if live.is_empty() {
            break;
        }
        let next_send = if attempts < ATTEMPTS {
            (timeout / 3 * attempts as u32).saturating_sub(elapsed)
        } else {
            left
        };
        let wait = left.min(next_send).max(Duration::from_millis(1));
        for k in poll_ready(&sources, &live, wait)? {
            drain(&sources[k], batch, &mut out, &sent);
        }
    }
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                let what = format!("ping {}{}", batch[i].dst, in_ns(&batch[i].ns));
                Err(Error::new(Kind::Timeout, what, "no reply (timed out)"))
            })
        })
        .collect())
}

/// poll(2) over the sockets of `which`: the ones readable within `wait`.
fn poll_ready(sources: &[Source], which: &[usize], wait: Duration) -> Result<Vec<usize>> {
    let mut fds: Vec<libc::pollfd> = which
        .iter()
        .map(|&k| libc::pollfd {
            fd: sources[k].sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: fds is a valid array of fds.len() pollfd structs for the call.
    let r = unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            wait.as_millis().min(i32::MAX as u128) as i32,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Vec::new());
        }
        return Err(Error::os("poll probe sockets", e));
    }
    Ok(fds
        .iter()
        .zip(which)
        .filter(|(f, _)| f.revents != 0)
        .map(|(_, &k)| k)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_checksum_verifies() {
        let pkt = echo(0x1234, 7);
        assert_eq!(checksum(&pkt), 0);
        assert_eq!(&pkt[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn unreachable_names_its_code() {
        assert_eq!(unreachable_reason(1), "host unreachable");
        assert_eq!(unreachable_reason(13), "administratively prohibited");
    }
}
