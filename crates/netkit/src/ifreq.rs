//! A link's index, flags and MTU asked by name with the SIOCGIF* ioctls.
//!
//! Why not rtnetlink: every link message the kernel fills for a veth
//! carries the id of its peer's namespace (IFLA_LINK_NETNSID), found by a
//! linear walk of the asking namespace's id table (peernet2id). A router
//! holds one veth per subnet and one id per subnet namespace, so a dump of
//! its links is quadratic: ~115 ms of kernel time at 5,000 subnets, under
//! the rtnl lock that every other link dump waits for. These ioctls look a
//! link up by name in a hash and fill nothing else (no lock but RCU).

use std::{
    io,
    os::fd::{AsRawFd, BorrowedFd},
};

/// What the ioctls tell of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub index: u32,
    pub up: bool,
    pub mtu: u32,
}

/// `name`'s index, up flag and MTU in the namespace of socket `fd` (any
/// socket: netlink hands these ioctls to the device layer). None when no
/// link has that name.
pub fn by_name(fd: BorrowedFd<'_>, name: &str) -> io::Result<Option<Seen>> {
    let Some(mut req) = request(name) else {
        return Ok(None); // no link can have a name this long
    };
    if !ioctl(fd, libc::SIOCGIFINDEX, &mut req)? {
        return Ok(None);
    }
    // SAFETY (the three reads): each union member is read right after the
    // ioctl that wrote it.
    let index = unsafe { req.ifr_ifru.ifru_ifindex } as u32;
    if !ioctl(fd, libc::SIOCGIFFLAGS, &mut req)? {
        return Ok(None); // renamed or deleted in between
    }
    let up = unsafe { req.ifr_ifru.ifru_flags } as libc::c_int & libc::IFF_UP != 0;
    if !ioctl(fd, libc::SIOCGIFMTU, &mut req)? {
        return Ok(None);
    }
    let mtu = unsafe { req.ifr_ifru.ifru_mtu } as u32;
    Ok(Some(Seen { index, up, mtu }))
}

/// The name of the link with index `index` (SIOCGIFNAME), None if there
/// is none: for a route through a link that was not read by name.
pub fn name_of(fd: BorrowedFd<'_>, index: u32) -> io::Result<Option<String>> {
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_ifru.ifru_ifindex = index as libc::c_int;
    if !ioctl(fd, libc::SIOCGIFNAME, &mut req)? {
        return Ok(None);
    }
    let name: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Ok(Some(String::from_utf8_lossy(&name).into_owned()))
}

/// One SIOCGIF* request; false if the link does not exist (ENODEV).
fn ioctl(fd: BorrowedFd<'_>, cmd: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<bool> {
    // SAFETY: `req` is a whole struct ifreq the kernel reads the name of
    // and writes one union member into.
    if unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, req as *mut libc::ifreq) } == 0 {
        return Ok(true);
    }
    match io::Error::last_os_error() {
        e if e.raw_os_error() == Some(libc::ENODEV) => Ok(false),
        e => Err(e),
    }
}

/// A zeroed struct ifreq naming `name`, if it fits (IFNAMSIZ with its NUL).
fn request(name: &str) -> Option<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return None;
    }
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Some(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_seen_and_a_missing_name_is_none() {
        use std::os::fd::AsFd;
        let s = crate::nlsock::NlSock::route(std::time::Duration::from_secs(1)).unwrap();
        let s = s.as_fd();
        let lo = by_name(s, "lo").unwrap().expect("every namespace has lo");
        assert_eq!(lo.index, 1);
        assert_eq!(lo.mtu, 65536);
        assert!(by_name(s, "no-such-link0").unwrap().is_none());
        assert!(by_name(s, "a-name-far-too-long-for-a-link")
            .unwrap()
            .is_none());
        assert_eq!(name_of(s, 1).unwrap().as_deref(), Some("lo"));
        assert_eq!(name_of(s, 999_999).unwrap(), None);
    }
}
