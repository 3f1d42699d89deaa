//! The alias of `lo` (the ownership tag callers put on a namespace) in many
//! namespaces at once: per namespace one socket opened inside it and one
//! synchronous RTM_GETLINK of ifindex 1 (loopback is always 1) without
//! statistics, no async connection. Callers check ownership before every
//! namespace deletion, so this is on the teardown path.

use std::{
    fs::File,
    io,
    os::fd::{AsFd, AsRawFd, OwnedFd},
};

use nix::sched::{setns, CloneFlags};
use rtnetlink::{
    packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_REQUEST},
    packet_route::{
        link::{LinkAttribute, LinkExtentMask, LinkMessage},
        RouteNetlinkMessage,
    },
};

use crate::{
    conn::route_socket,
    error::{Context, Error, Kind, Result},
    netns,
};

const LOOPBACK_IFINDEX: u32 = 1;

fn request() -> Vec<u8> {
    let mut lm = LinkMessage::default();
    lm.header.index = LOOPBACK_IFINDEX;
    lm.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    let mut m = NetlinkMessage::from(RouteNetlinkMessage::GetLink(lm));
    m.header.flags = NLM_F_REQUEST;
    m.header.sequence_number = 1;
    m.finalize();
    let mut buf = vec![0u8; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

/// A NETLINK_ROUTE socket inside `name`, the thread back in `home` after;
/// None when there is no such namespace.
fn socket_in(name: &str, home: &File) -> Result<Option<OwnedFd>> {
    let what = || format!("read the tag of netns \"{name}\"");
    if !netns::valid_name(name) {
        return Ok(None);
    }
    let target = match File::open(netns::path(name)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        r => r.ctx(what)?,
    };
    match setns(target.as_fd(), CloneFlags::CLONE_NEWNET) {
        // A plain file (a half-made entry), not a namespace: nothing to own there.
        Err(nix::Error::EINVAL) => return Ok(None),
        r => r.ctx(what)?,
    }
    let fd = route_socket();
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        eprintln!("netkit: cannot restore thread netns: {e}");
        std::process::abort();
    }
    Ok(Some(fd.ctx(what)?))
}

fn alias_via(fd: &OwnedFd, req: &[u8], name: &str) -> Result<Option<String>> {
    let what = || format!("read the tag of netns \"{name}\"");
    let raw = fd.as_raw_fd();
    // SAFETY: plain send/recv on an open socket with buffers we own.
    if unsafe { libc::send(raw, req.as_ptr().cast(), req.len(), 0) } < 0 {
        return Err(io::Error::last_os_error()).ctx(what);
    }
    let mut rx = vec![0u8; 16 * 1024];
    let n = loop {
        let n = unsafe { libc::recv(raw, rx.as_mut_ptr().cast(), rx.len(), 0) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e).ctx(what);
        }
    };
    let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[..n])
        .map_err(|e| Error::new(Kind::Other, what(), e.to_string()))?;
    match reply.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
            Ok(l.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::IfAlias(s) => Some(s),
                _ => None,
            }))
        }
        NetlinkPayload::Error(e) => Err(match e.code {
            Some(c) => Error::errno_of(what(), -c.get()),
            None => Error::new(Kind::Other, what(), "unexpected ack"),
        }),
        _ => Err(Error::new(Kind::Other, what(), "unexpected reply")),
    }
}

fn aliases_on_this_thread(names: &[String]) -> Result<Vec<Option<String>>> {
    let home = File::open("/proc/thread-self/ns/net").ctx(|| "open own thread netns".into())?;
    let req = request();
    names
        .iter()
        .map(|name| match socket_in(name, &home)? {
            Some(fd) => alias_via(&fd, &req, name),
            None => Ok(None),
        })
        .collect()
}

/// The alias of `lo` in each namespace, in order: None when it has none,
/// or when the name is not a mounted namespace. The first error fails the
/// whole. Large batches are split over two threads.
pub fn lo_aliases(names: &[String]) -> Result<Vec<Option<String>>> {
    if names.len() < 64 {
        return aliases_on_this_thread(names);
    }
    let (a, b) = names.split_at(names.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| aliases_on_this_thread(b));
        let mut out = aliases_on_this_thread(a)?;
        out.extend(other.join().expect("tag reader thread panicked")?);
        Ok(out)
    })
}

/// [`lo_aliases`] of one namespace.
pub fn lo_alias(name: &str) -> Result<Option<String>> {
    Ok(lo_aliases(&[name.to_string()])?.pop().flatten())
}
