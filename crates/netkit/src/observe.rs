//! What the kernel holds in one namespace, read in one visit by a thread
//! inside it: one dump each of links, IPv4 addresses and routes (read by
//! [`rtparse`]; in a namespace of many veths, links by name instead, see
//! [`ByName`]), the IPv4
//! devconf sysctls through RTM_GETNETCONF, other sysctls from /proc/sys,
//! and nftables tables (the generation id first; a table is listed only
//! when the generation is not the one the caller remembers). Read-only.

use std::{
    collections::{hash_map::Entry, BTreeSet, HashMap},
    ffi::CString,
    fs::File,
    io::{self, Read},
    net::Ipv4Addr,
    os::fd::{AsFd, AsRawFd, FromRawFd},
    time::Duration,
};

use serde_json::Value;

use crate::{
    ifreq,
    link::LinkInfo,
    neigh::Neigh,
    nft::{self, Nft},
    nlsock::{self, NlSock},
    overlayview,
    route::Route,
    rtparse, vxlan,
};

/// What an execution learnt about a namespace's nftables ruleset after its
/// last nft op there: the generation id, which moves with every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NftMark {
    pub gen: u32,
}

/// What to read in a namespace besides its links, addresses and routes.
#[derive(Debug, Default, Clone)]
pub struct Need {
    /// Sysctl keys as the plan spells them (`net/ipv4/ip_forward`).
    pub sysctls: BTreeSet<String>,
    /// nftables tables (family, name).
    pub tables: BTreeSet<(String, String)>,
    /// The generation at which the tables are known to hold what the plan
    /// says (from an earlier execution): then they are not listed.
    pub mark: Option<NftMark>,
    /// Links whose FDB and IPv4 neighbour entries are read (VXLAN links the
    /// plan puts entries on).
    pub overlay: BTreeSet<String>,
    /// Also dump IPv6 addresses and routes (the plan puts some here).
    pub inet6: bool,
    /// Read these links by name instead of dumping them all.
    pub by_name: Option<ByName>,
    /// Namespaces whose id here is read (`Snapshot::nsids`): those of the
    /// light ends whose other ends are here.
    pub nsids: BTreeSet<String>,
}

/// The links of a namespace read by name, not by a dump: a router's. Each
/// veth's message in a dump costs a walk of the namespace's table of peer
/// namespace ids ([`crate::ifreq`]), so a dump of N veths whose peers are
/// in N namespaces is quadratic. `light` ones are read with ioctls (index,
/// up, MTU: no alias, no kind; the caller confirms them from the other end,
/// whose IFLA_LINK and IFLA_LINK_NETNSID name their index and namespace,
/// see `Need::nsids`), the `full` ones with one
/// RTM_GETLINK each. Links that are in neither are not seen at all: a
/// route through one reads as a route through no known link.
#[derive(Debug, Default, Clone)]
pub struct ByName {
    pub light: BTreeSet<String>,
    pub full: BTreeSet<String>,
}

/// A table as observed.
#[derive(Debug, Clone, PartialEq)]
pub enum TableSeen {
    /// The namespace's ruleset generation is still the remembered one.
    Unchanged,
    /// Listed: libnftables JSON (`{"nftables":[...]}`), None if absent.
    Listed(Option<Value>),
}

/// One namespace as read.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub links: HashMap<String, LinkInfo>,
    /// Links read with ioctls ([`ByName::light`]): their alias and kind
    /// are unknown (None in `links`), not absent.
    pub light: BTreeSet<String>,
    /// (link index, `a.b.c.d/len`).
    pub addrs: Vec<(u32, String)>,
    /// IPv4 unicast routes of the main table.
    pub routes: Vec<Route>,
    /// Sysctl values by key; Err if unreadable (e.g. no such device).
    pub sysctls: HashMap<String, Result<String, String>>,
    pub gen: Option<u32>,
    pub tables: HashMap<(String, String), TableSeen>,
    /// VXLAN links by name: MAC and configuration.
    pub vxlans: HashMap<String, (Option<String>, vxlan::Seen)>,
    /// FDB entries (MAC, destination) of the links of `Need::overlay` that exist.
    pub fdb: HashMap<String, Vec<(String, Option<Ipv4Addr>)>>,
    /// IPv4 neighbour entries of the links of `Need::overlay` that exist.
    pub neigh: HashMap<String, Vec<(Ipv4Addr, Neigh)>>,
    /// The ids this namespace gives those of `Need::nsids` (None: none given,
    /// or the namespace could not be opened).
    pub nsids: HashMap<String, Option<i32>>,
}

impl Snapshot {
    pub fn link(&self, name: &str) -> Option<&LinkInfo> {
        self.links.get(name)
    }
}

/// How a sysctl key is read: an IPv4 devconf value through netconf
/// (`conf` = "all", "default" or a device name; `attr` its NETCONFA_*), or
/// a file under /proc/sys.
#[derive(Debug, PartialEq)]
pub enum SysctlSource<'a> {
    Netconf { conf: &'a str, attr: u16 },
    Proc,
}

pub fn sysctl_source(key: &str) -> SysctlSource<'_> {
    if key == "net/ipv4/ip_forward" {
        // The same value as net.ipv4.conf.all.forwarding.
        return SysctlSource::Netconf {
            conf: "all",
            attr: nlsock::netconf_attr("forwarding").expect("known"),
        };
    }
    let parts: Vec<&str> = key.split('/').collect();
    if let ["net", "ipv4", "conf", conf, name] = parts[..] {
        if let Some(attr) = nlsock::netconf_attr(name) {
            return SysctlSource::Netconf { conf, attr };
        }
    }
    SysctlSource::Proc
}

/// Reads `/proc/sys/<key>` as the calling thread's netns sees it, from a
/// descriptor of /proc/sys opened once: a lookup from there is about half
/// the cost of one from `/` (~30 µs), which hundreds of namespaces feel.
fn read_sysctl(proc_sys: &File, key: &str) -> io::Result<String> {
    if key
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid sysctl key",
        ));
    }
    let path = CString::new(key).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: openat on a directory descriptor we hold; the new fd is owned at once.
    let fd = unsafe {
        libc::openat(
            proc_sys.as_raw_fd(),
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    let mut f = unsafe { File::from_raw_fd(fd) };
    let mut v = String::new();
    f.read_to_string(&mut v)?;
    Ok(v.trim_end().to_string())
}

/// /proc/sys, for [`observe_here`] (open it once, anywhere).
pub fn open_proc_sys() -> io::Result<File> {
    File::open("/proc/sys")
}

/// Reads the namespace the calling thread is in. `timeout` bounds each
/// netlink read; `proc_sys` is from [`open_proc_sys`]; `ns_files` holds the
/// namespaces of `need.nsids` that could be opened.
pub fn observe_here(
    need: &Need,
    timeout: Duration,
    proc_sys: &File,
    ns_files: &HashMap<String, File>,
) -> io::Result<Snapshot> {
    let mut snap = Snapshot::default();
    let mut s = NlSock::route(timeout)?;
    let ctx =
        |what: &'static str| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));

    let links = match &need.by_name {
        None => dump_links(&mut s, &mut snap).map_err(ctx("link dump"))?,
        Some(by) => {
            snap.light = by.light.clone();
            links_by_name(&mut s, by).map_err(ctx("link read"))?
        }
    };
    let by_index: HashMap<u32, String> = links.iter().map(|l| (l.index, l.name.clone())).collect();
    // Read by name, a namespace's routes may go through links not read:
    // those are named by index (an ioctl on a second descriptor, as the
    // socket is busy with the dump).
    let names = match need.by_name {
        Some(_) => Some(s.as_fd().try_clone_to_owned()?),
        None => None,
    };
    let dev_name = |i: u32| {
        by_index.get(&i).cloned().or_else(|| {
            let fd = names.as_ref()?;
            ifreq::name_of(fd.as_fd(), i).ok().flatten()
        })
    };
    snap.links = links.into_iter().map(|l| (l.name.clone(), l)).collect();

    let families: &[i32] = if need.inet6 {
        &[libc::AF_INET, libc::AF_INET6]
    } else {
        &[libc::AF_INET]
    };
    for &family in families {
        // struct ifaddrmsg of the family.
        let mut ifaddr = [0u8; 8];
        ifaddr[0] = family as u8;
        s.request(nlsock::RTM_GETADDR, true, &ifaddr, |_, m| {
            snap.addrs.extend(rtparse::addr(m));
        })
        .map_err(ctx("address dump"))?;

        // struct rtmsg, rtm_table main (a filter: the socket is strict).
        let mut rtmsg = [0u8; 12];
        rtmsg[0] = family as u8;
        rtmsg[4] = libc::RT_TABLE_MAIN;
        s.request(nlsock::RTM_GETROUTE, true, &rtmsg, |_, m| {
            snap.routes.extend(rtparse::route(m, dev_name));
        })
        .map_err(ctx("route dump"))?;
    }

    for ns in &need.nsids {
        let id = match ns_files.get(ns) {
            Some(f) => s.nsid_of(f.as_fd()).map_err(ctx("namespace id"))?,
            None => None,
        };
        snap.nsids.insert(ns.clone(), id);
    }

    for dev in &need.overlay {
        if let Some(index) = snap.links.get(dev).map(|l| l.index) {
            snap.fdb.insert(
                dev.clone(),
                overlayview::fdb(&mut s, index).map_err(ctx("fdb dump"))?,
            );
            snap.neigh.insert(
                dev.clone(),
                overlayview::neigh(&mut s, index).map_err(ctx("neighbour dump"))?,
            );
        }
    }

    let mut netconf: HashMap<i32, Vec<(u16, i32)>> = HashMap::new();
    for key in &need.sysctls {
        let value = match sysctl_source(key) {
            SysctlSource::Netconf { conf, attr } => {
                let index = match conf {
                    "all" => Some(nlsock::NETCONF_ALL),
                    "default" => Some(nlsock::NETCONF_DEFAULT),
                    dev => snap.links.get(dev).map(|l| l.index as i32),
                };
                match index {
                    None => Err(format!("no link {conf}")),
                    Some(i) => {
                        if let Entry::Vacant(e) = netconf.entry(i) {
                            e.insert(s.netconf(i).map_err(ctx("netconf"))?);
                        }
                        netconf[&i]
                            .iter()
                            .find(|(k, _)| *k == attr)
                            .map(|(_, v)| v.to_string())
                            .ok_or_else(|| "not reported by netconf".to_string())
                    }
                }
            }
            SysctlSource::Proc => read_sysctl(proc_sys, key).map_err(|e| e.to_string()),
        };
        snap.sysctls.insert(key.clone(), value);
    }
    drop(s);

    if !need.tables.is_empty() {
        let gen = nlsock::nft_gen(timeout).map_err(ctx("nftables generation"))?;
        snap.gen = Some(gen);
        let unchanged = need.mark.is_some_and(|m| m.gen == gen);
        let mut ctx_nft: Option<Nft> = None;
        for (family, table) in &need.tables {
            let seen = if unchanged {
                TableSeen::Unchanged
            } else {
                if ctx_nft.is_none() {
                    ctx_nft = Some(Nft::new().map_err(io::Error::other)?);
                }
                let n = ctx_nft.as_mut().expect("made above");
                let fam = nft::parse_family(family).map_err(io::Error::other)?;
                TableSeen::Listed(n.list_table(fam, table).map_err(io::Error::other)?)
            };
            snap.tables.insert((family.clone(), table.clone()), seen);
        }
    }
    Ok(snap)
}

/// Every link of the namespace, by one dump (VXLAN links' settings too).
fn dump_links(s: &mut NlSock, snap: &mut Snapshot) -> io::Result<Vec<LinkInfo>> {
    let mut links = Vec::new();
    // struct ifinfomsg, AF_UNSPEC: every link.
    s.request(
        nlsock::RTM_GETLINK,
        true,
        &nlsock::link_dump_payload(),
        |_, m| {
            if let Some(l) = rtparse::link(m) {
                if l.kind.as_deref() == Some("vxlan") {
                    snap.vxlans
                        .extend(overlayview::vxlan(m).map(|v| (l.name.clone(), v)));
                }
                links.push(l);
            }
        },
    )?;
    Ok(links)
}

/// The links `by` names that exist (see [`ByName`]).
fn links_by_name(s: &mut NlSock, by: &ByName) -> io::Result<Vec<LinkInfo>> {
    let mut links = Vec::new();
    for name in &by.full {
        let mut found = None;
        match s.request(
            nlsock::RTM_GETLINK,
            false,
            &nlsock::link_get_payload(name),
            |_, m| found = rtparse::link(m),
        ) {
            Ok(()) => links.extend(found),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {}
            Err(e) => return Err(e),
        }
    }
    for name in &by.light {
        if let Some(seen) = ifreq::by_name(s.as_fd(), name)? {
            links.push(LinkInfo {
                index: seen.index,
                name: name.clone(),
                up: seen.up,
                mtu: seen.mtu,
                ..Default::default()
            });
        }
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctls_read_through_netconf_where_it_has_them() {
        assert_eq!(
            sysctl_source("net/ipv4/ip_forward"),
            SysctlSource::Netconf {
                conf: "all",
                attr: 2
            }
        );
        assert_eq!(
            sysctl_source("net/ipv4/conf/default/rp_filter"),
            SysctlSource::Netconf {
                conf: "default",
                attr: 3
            }
        );
        assert_eq!(
            sysctl_source("net/ipv4/conf/sn-a/proxy_arp"),
            SysctlSource::Netconf {
                conf: "sn-a",
                attr: 5
            }
        );
        assert_eq!(
            sysctl_source("net/ipv4/ip_unprivileged_port_start"),
            SysctlSource::Proc
        );
        assert_eq!(
            sysctl_source("net/ipv4/conf/all/accept_redirects"),
            SysctlSource::Proc
        );
    }
}
