//! VXLAN links for a VPC whose routers are on several hosts (flannel's vxlan
//! model): made by a request over a connection in the executor's own
//! namespace (the host), with the target namespace given as IFLA_NET_NS_FD,
//! as `ip link add ... netns NS` does. The kernel then creates the link
//! directly in the target namespace while its underlay (`dev`, looked up in
//! the requesting socket's namespace) and its UDP socket stay in the host:
//! nothing is moved afterwards. No group, no remote, learning off: the
//! link only sends where static FDB entries (`fdbAdd`) say.

use std::{net::Ipv4Addr, time::Duration};

use futures::TryStreamExt;
use netlink_packet_route::link::{
    InfoData, InfoVxlan, LinkAttribute, LinkInfo as Info, LinkMessage,
};
use rtnetlink::{Handle, LinkUnspec, LinkVxlan};

use crate::{
    error::{in_ns, Context, Error, Kind, Result},
    link::{self, LinkInfo},
    neigh, netns,
};

/// IANA's VXLAN port, the default of `port`.
pub const DEFAULT_PORT: u16 = 4789;

/// How long a VNI taken on the host is waited for (see [`add`]), and how often it is tried.
const VNI_WAIT: Duration = Duration::from_secs(2);
const VNI_POLL: Duration = Duration::from_millis(20);

/// A vxlanAdd op: link `name` in `ns`, VNI `vni`, sending from `local` over
/// the host's link `dev` to UDP `port`; `mtu` and `mac` (IFLA_ADDRESS) if
/// given, else the kernel's (underlay MTU - 50, a random MAC). `alias` is
/// the ownership tag, as on veths.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vxlan {
    pub ns: String,
    pub name: String,
    pub vni: u32,
    pub local: String,
    pub dev: String,
    pub port: Option<u16>,
    pub mtu: Option<u32>,
    pub alias: String,
    pub mac: Option<String>,
}

impl Vxlan {
    pub fn describe(&self) -> String {
        format!(
            "vxlanAdd {} vni {} dev {}{}",
            self.name,
            self.vni,
            self.dev,
            in_ns(&self.ns)
        )
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }

    /// What the plan's JSON can get wrong, said before anything runs.
    pub fn check(&self) -> Result<(), String> {
        if self.vni == 0 || self.vni >= 1 << 24 {
            return Err(format!("vni {} is not in 1..16777215", self.vni));
        }
        if self.local.parse::<Ipv4Addr>().is_err() {
            return Err(format!("local \"{}\" is not an IPv4 address", self.local));
        }
        if self.port == Some(0) {
            return Err("port 0 is not a UDP port".into());
        }
        if self.name.is_empty() || self.name.len() > 15 || self.dev.is_empty() {
            return Err("name and dev must be link names (1 to 15 bytes)".into());
        }
        if self.alias.is_empty() {
            return Err("alias (the ownership tag) is empty".into());
        }
        if let Some(m) = &self.mac {
            neigh::unicast_mac(m)?;
        }
        Ok(())
    }

    /// Whether the link found carries this op's configuration (`underlay`:
    /// the index of `dev` in the host).
    fn matches(&self, l: &LinkInfo, seen: &Seen, underlay: u32) -> bool {
        let mac_ok = match &self.mac {
            Some(m) => l.mac.as_deref() == Some(m.to_ascii_lowercase().as_str()),
            None => true,
        };
        seen.vni == Some(self.vni)
            && seen.local == self.local.parse().ok()
            && seen.underlay == Some(underlay)
            && seen.port == Some(self.port())
            && seen.learning == Some(false)
            && seen.group.is_none()
            && mac_ok
            && self.mtu.is_none_or(|m| m == l.mtu)
    }
}

/// A VXLAN link's configuration as the kernel reports it (IFLA_INFO_DATA).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    pub vni: Option<u32>,
    pub local: Option<Ipv4Addr>,
    /// IFLA_VXLAN_LINK: the underlay's index, in the namespace of the socket.
    pub underlay: Option<u32>,
    pub port: Option<u16>,
    pub learning: Option<bool>,
    /// A multicast group or unicast remote (vxlanAdd sets neither).
    pub group: Option<Ipv4Addr>,
}

impl Seen {
    pub fn of(infos: &[InfoVxlan]) -> Seen {
        let mut s = Seen::default();
        for i in infos {
            match i {
                InfoVxlan::Id(v) => s.vni = Some(*v),
                InfoVxlan::Local(a) => s.local = Some(*a),
                InfoVxlan::Link(i) => s.underlay = Some(*i),
                InfoVxlan::Port(p) => s.port = Some(*p),
                InfoVxlan::Learning(b) => s.learning = Some(*b),
                InfoVxlan::Group(a) if !a.is_unspecified() => s.group = Some(*a),
                _ => {}
            }
        }
        s
    }
}

/// The link `name` of `h`'s namespace, with its VXLAN configuration if it
/// is a VXLAN link. None if absent.
pub async fn get(h: &Handle, ns: &str, name: &str) -> Result<Option<(LinkInfo, Option<Seen>)>> {
    let r = h.link().get().match_name(name).execute().try_next().await;
    let msg: Option<LinkMessage> = match r.ctx(|| format!("linkGet {name}{}", in_ns(ns))) {
        Ok(m) => m,
        Err(e) if e.errno() == Some(libc::ENODEV) => None,
        Err(e) => return Err(e),
    };
    Ok(msg.map(|m| {
        let seen = m.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
                Info::Data(InfoData::Vxlan(v)) => Some(Seen::of(v)),
                _ => None,
            }),
            _ => None,
        });
        (LinkInfo::from(m), seen)
    }))
}

/// What [`add`] did, for the undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Made (or re-made over a leftover of this op's): undo deletes it.
    Made,
    /// The same link was there as this op makes it: nothing changed.
    Kept,
    /// The same link was there but down: set up (undo sets it down).
    Raised,
}

/// Makes the link over `host` (a connection in the executor's namespace,
/// where `underlay` is the index of `v.dev`); `h` is a connection in
/// `v.ns`, for the alias (the kernel ignores IFLA_IFALIAS at creation) and
/// for a link of that name already there. One with the same alias is this
/// op's own: kept if it is configured as the op says, else replaced; one
/// with another alias (or none) is someone else's and is refused. An
/// EEXIST with no such link means the host already has a VXLAN link with
/// this VNI and port: retried for up to [`VNI_WAIT`] (a namespace being
/// destroyed may still hold it), then refused.
pub async fn add(host: &Handle, h: &Handle, v: &Vxlan, underlay: u32) -> Result<Added> {
    let what = || v.describe();
    let ns_fd = netns::open(&v.ns)?;
    let msg = message(v, underlay, std::os::fd::AsRawFd::as_raw_fd(&ns_fd))?;
    let mut r = host.link().add(msg.clone()).execute().await.ctx(what);
    let mut waited = Duration::ZERO;
    while r.as_ref().is_err_and(|e| e.errno() == Some(libc::EEXIST)) {
        match get(h, &v.ns, &v.name).await? {
            // A link with this VNI in a namespace being destroyed holds it
            // until the kernel's cleanup worker gets to it (a router rebuilt:
            // its netnsDel, then this op at once): wait for that a little.
            None if waited < VNI_WAIT => {
                tokio::time::sleep(VNI_POLL).await;
                waited += VNI_POLL;
                r = host.link().add(msg.clone()).execute().await.ctx(what);
            }
            None => {
                return Err(Error::new(
                    Kind::Exists,
                    what(),
                    format!(
                        "the host already has a VXLAN link with VNI {} on UDP port {}",
                        v.vni,
                        v.port()
                    ),
                ))
            }
            Some((l, _)) if l.alias.as_deref() != Some(v.alias.as_str()) => {
                let alias = l.alias.map_or("none".into(), |a| format!("\"{a}\""));
                return Err(Error::new(
                    Kind::Foreign,
                    what(),
                    format!(
                        "link {}{} exists with alias {alias}, not \"{}\": refusing to take over a link that is not this one's",
                        v.name,
                        in_ns(&v.ns),
                        v.alias
                    ),
                ));
            }
            Some((l, Some(seen))) if v.matches(&l, &seen, underlay) => {
                if l.up {
                    return Ok(Added::Kept);
                }
                link::set_up(h, &v.ns, &v.name, true).await?;
                return Ok(Added::Raised);
            }
            Some(_) => {
                // This op's own link, configured otherwise (an older plan's):
                // made again as the op says.
                link::del(h, &v.ns, &v.name).await?;
                r = host.link().add(msg.clone()).execute().await.ctx(what);
            }
        }
    }
    drop(ns_fd);
    r?;
    let alias = LinkUnspec::new_with_name(&v.name).alias(&v.alias).build();
    if let Err(e) = h.link().set(alias).execute().await {
        let _ = link::del(h, &v.ns, &v.name).await;
        return Err(e).ctx(what);
    }
    Ok(Added::Made)
}

/// The RTM_NEWLINK request: the link up, in `ns_fd`'s namespace.
fn message(v: &Vxlan, underlay: u32, ns_fd: i32) -> Result<LinkMessage> {
    let bad = |e: String| Error::new(Kind::Invalid, v.describe(), e);
    v.check().map_err(bad)?;
    let local: Ipv4Addr = v.local.parse().expect("checked");
    let mut b = LinkVxlan::new(&v.name, v.vni)
        .dev(underlay)
        .local(local)
        .port(v.port())
        .learning(false)
        .up()
        .setns_by_fd(ns_fd);
    if let Some(m) = v.mtu {
        b = b.mtu(m);
    }
    if let Some(m) = &v.mac {
        b = b.address(neigh::unicast_mac(m).map_err(bad)?.to_vec());
    }
    Ok(b.build())
}
