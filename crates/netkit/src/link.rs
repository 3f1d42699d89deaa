//! Links: veth pairs with the peer created in place, lookups by name with a
//! kernel-side filter, up/down, alias (the ownership tag), delete.

use std::os::fd::AsRawFd;

use futures::TryStreamExt;
use netlink_packet_route::link::{
    InfoData, InfoVeth, LinkAttribute, LinkFlags, LinkInfo as Info, LinkMessage,
};
use rtnetlink::{Handle, LinkUnspec, LinkVeth};
use serde::Serialize;

use crate::{
    error::{in_ns, Context, Result},
    netns,
};

/// A veth pair: `name` in `ns`, its peer `peer_name` created directly inside `peer_ns`.
#[derive(Debug, Clone, Default)]
pub struct Veth {
    pub ns: String,
    pub name: String,
    pub alias: Option<String>,
    pub peer_ns: String,
    pub peer_name: String,
    pub peer_alias: Option<String>,
    pub mtu: Option<u32>,
}

impl Veth {
    pub fn describe(&self) -> String {
        format!(
            "vethAdd {}{} <-> {}{}",
            self.name,
            in_ns(&self.ns),
            self.peer_name,
            in_ns(&self.peer_ns)
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    pub up: bool,
    pub mtu: u32,
    pub mac: Option<String>,
    pub kind: Option<String>,
    /// IFLA_LINK: for a veth, its peer's index (in the peer's namespace).
    pub peer: Option<u32>,
    /// IFLA_LINK_NETNSID: the id (in this link's namespace) of the
    /// namespace its peer is in; None when the peer is beside it.
    pub peer_netnsid: Option<i32>,
}

impl From<LinkMessage> for LinkInfo {
    fn from(m: LinkMessage) -> Self {
        let mut info = LinkInfo {
            index: m.header.index,
            name: String::new(),
            alias: None,
            up: m.header.flags.contains(LinkFlags::Up),
            mtu: 0,
            mac: None,
            kind: None,
            peer: None,
            peer_netnsid: None,
        };
        for a in m.attributes {
            match a {
                LinkAttribute::IfName(n) => info.name = n,
                LinkAttribute::IfAlias(a) => info.alias = Some(a),
                LinkAttribute::Mtu(v) => info.mtu = v,
                LinkAttribute::Link(i) => info.peer = Some(i),
                LinkAttribute::LinkNetNsId(id) => info.peer_netnsid = Some(id),
                LinkAttribute::Address(b) if b.len() == 6 => {
                    info.mac = Some(
                        b.iter()
                            .map(|x| format!("{x:02x}"))
                            .collect::<Vec<_>>()
                            .join(":"),
                    )
                }
                LinkAttribute::LinkInfo(infos) => {
                    info.kind = infos.into_iter().find_map(|i| match i {
                        Info::Kind(k) => Some(k.to_string()),
                        _ => None,
                    })
                }
                _ => {}
            }
        }
        info
    }
}

/// How long a veth's name may stay taken by a link on its way out.
const VANISH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Creates the pair over `h` (a connection in `v.ns`), its peer created
/// inside `v.peer_ns` (IFLA_NET_NS_FD in the peer's info), so no link is
/// ever moved. The kernel ignores IFLA_IFALIAS at creation and cannot bring
/// the peer up before the pair is linked (ENOTCONN), so aliases and ups
/// follow as setlinks (the order is explained below), the peer's over
/// `peer_h` (in `v.peer_ns`).
/// If those fail the pair is removed again.
pub async fn veth_add(h: &Handle, peer_h: &Handle, v: &Veth) -> Result<()> {
    let peer_fd = netns::open(&v.peer_ns)?;
    let mut peer = LinkUnspec::new_with_name(&v.peer_name).setns_by_fd(peer_fd.as_raw_fd());
    let mut main = LinkVeth::new(&v.name, &v.peer_name);
    if let Some(m) = v.mtu {
        peer = peer.mtu(m);
        main = main.mtu(m);
    }
    let msg = main
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
        .build();
    let mut r = h
        .link()
        .add(msg.clone())
        .execute()
        .await
        .ctx(|| v.describe());
    // The name is taken. By this object's own link (its alias), left by an
    // earlier run: remove it and try again. Or, the name here being free, the
    // peer's name is taken by this object's own end (the peer alias) whose
    // partner was renamed or moved away behind vpcctl's back: remove that
    // end (its partner goes with it) and try again. Or by a link on its way out: a
    // namespace being destroyed (a rebuild, a create right after a delete, a
    // command killed after netnsDel) frees its veths' other ends a moment
    // after the unmount, when the kernel's cleanup runs; and a command killed
    // between the add and its alias left a pair whose namespace end the next
    // run rebuilds. So wait a little for the name to come free; a link that
    // stays (someone else's) keeps the EEXIST, and is never touched.
    let deadline = std::time::Instant::now() + VANISH_WAIT;
    while r.as_ref().is_err_and(|e| e.errno() == Some(libc::EEXIST)) {
        match get(h, &v.ns, &v.name).await? {
            Some(l) if v.alias.is_some() && l.alias == v.alias => del(h, &v.ns, &v.name).await?,
            Some(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Some(_) => break,
            None => match get(peer_h, &v.peer_ns, &v.peer_name).await? {
                Some(p) if v.peer_alias.is_some() && p.alias == v.peer_alias => {
                    del(peer_h, &v.peer_ns, &v.peer_name).await?
                }
                Some(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await
                }
                Some(_) => break,
                None => {}
            },
        }
        r = h
            .link()
            .add(msg.clone())
            .execute()
            .await
            .ctx(|| v.describe());
        if std::time::Instant::now() >= deadline {
            break;
        }
    }
    drop(peer_fd);
    r?;

    let mut peer_set = LinkUnspec::new_with_name(&v.peer_name).up();
    if let Some(a) = &v.peer_alias {
        peer_set = peer_set.alias(a);
    }
    // In this order, because IPv6 walks the namespace's whole routing table
    // (rt6_sync_up/down) at each NETDEV_CHANGE of an up link, a router's
    // table holds ~7 routes per dual-stack subnet, and the walks hold the
    // rtnl lock: an alias set while the link is down sends no such event;
    // up while its peer is down, the link is not ready and nothing walks;
    // the peer coming up (carrier on) makes the one walk. Before, the alias
    // of an up link added one or two: 7% more on a 500-subnet dual-stack apply.
    let set = |h: &Handle, m: LinkMessage| {
        let req = h.link().set(m);
        async move { req.execute().await }
    };
    let r = async {
        if let Some(a) = &v.alias {
            set(h, LinkUnspec::new_with_name(&v.name).alias(a).build()).await?;
        }
        set(h, LinkUnspec::new_with_name(&v.name).up().build()).await?;
        set(peer_h, peer_set.build()).await
    }
    .await;
    if let Err(e) = r {
        let _ = del(h, &v.ns, &v.name).await;
        return Err(e).ctx(|| v.describe());
    }
    Ok(())
}

fn is_absent(e: &crate::Error) -> bool {
    e.errno() == Some(libc::ENODEV)
}

/// One link by name, asked of the kernel by name (no dump). None if absent.
pub async fn get(h: &Handle, ns: &str, name: &str) -> Result<Option<LinkInfo>> {
    let r = h.link().get().match_name(name).execute().try_next().await;
    match r.ctx(|| format!("linkGet {name}{}", in_ns(ns))) {
        Ok(m) => Ok(m.map(LinkInfo::from)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One link by index. None if absent.
pub async fn get_index(h: &Handle, ns: &str, index: u32) -> Result<Option<LinkInfo>> {
    let r = h.link().get().match_index(index).execute().try_next().await;
    match r.ctx(|| format!("linkGet #{index}{}", in_ns(ns))) {
        Ok(m) => Ok(m.map(LinkInfo::from)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The index of link `dev`, or ENODEV under `what` (the operation that
/// needs it) if there is none.
pub async fn index_of(h: &Handle, ns: &str, dev: &str, what: impl Fn() -> String) -> Result<u32> {
    match get(h, ns, dev).await? {
        Some(l) => Ok(l.index),
        None => Err(crate::Error::errno_of(what(), libc::ENODEV)),
    }
}

pub async fn list(h: &Handle, ns: &str) -> Result<Vec<LinkInfo>> {
    let msgs: Vec<LinkMessage> = h
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .ctx(|| format!("linkList{}", in_ns(ns)))?;
    Ok(msgs.into_iter().map(LinkInfo::from).collect())
}

async fn set(h: &Handle, what: impl FnOnce() -> String, msg: LinkMessage) -> Result<()> {
    h.link().set(msg).execute().await.ctx(what)
}

pub async fn set_up(h: &Handle, ns: &str, name: &str, up: bool) -> Result<()> {
    let b = LinkUnspec::new_with_name(name);
    let msg = if up { b.up() } else { b.down() }.build();
    set(
        h,
        || format!("link{} {name}{}", if up { "Up" } else { "Down" }, in_ns(ns)),
        msg,
    )
    .await
}

/// Sets IFLA_IFALIAS (vpcctl's ownership tag, also used on `lo` for namespaces).
pub async fn set_alias(h: &Handle, ns: &str, name: &str, alias: &str) -> Result<()> {
    let msg = LinkUnspec::new_with_name(name).alias(alias).build();
    set(h, || format!("linkAlias {name}{}", in_ns(ns)), msg).await
}

/// Deletes by name; absent is success. Deleting one end of a veth removes both.
pub async fn del(h: &Handle, ns: &str, name: &str) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    match h
        .link()
        .del_with_message(msg)
        .execute()
        .await
        .ctx(|| format!("linkDel {name}{}", in_ns(ns)))
    {
        Err(e) if is_absent(&e) => Ok(()),
        r => r,
    }
}
