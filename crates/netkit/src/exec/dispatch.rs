//! What each op does to the kernel, and the undo it leaves: one arm per op.

use super::{
    blocking,
    nfttable::{self, TableApply},
    state::Exec,
    Undo,
};
use crate::{
    addr,
    error::{Error, Result},
    link::{self, Veth},
    netns,
    plan::Op,
    route, sysctl,
};

impl Exec {
    /// Applies one op; returns its undo if it changed something.
    pub(super) async fn apply(&self, op: &Op) -> Result<Option<Undo>> {
        Ok(match op {
            Op::NetnsAdd { .. } => self.make_netns(op, &[]).await?.0,
            Op::NetnsDel { ns } => {
                self.note_deleted(ns);
                // Unmounts contend on the kernel's mount lock: few threads.
                let _permit = self.netns_pool.acquire().await.expect("semaphore closed");
                let (ns, pids) = (ns.clone(), self.pids.clone());
                blocking(move || {
                    if pids.get().is_none() {
                        let _ = pids.set(netns::scan_pids()?);
                    }
                    netns::del_with(&ns, pids.get())
                })
                .await?;
                None
            }
            Op::VethAdd {
                ns,
                name,
                alias,
                peer_ns,
                peer_name,
                peer_alias,
                mtu,
                ..
            } => {
                let v = Veth {
                    ns: ns.clone(),
                    name: name.clone(),
                    alias: alias.clone(),
                    peer_ns: peer_ns.clone(),
                    peer_name: peer_name.clone(),
                    peer_alias: peer_alias.clone(),
                    mtu: *mtu,
                };
                // A leftover veth may be replaced: its old indexes are stale.
                self.links.forget(ns, name);
                self.links.forget(peer_ns, peer_name);
                link::veth_add(
                    &self.conns.get(ns).await?,
                    &self.conns.get(peer_ns).await?,
                    &v,
                )
                .await?;
                let del = Op::LinkDel {
                    ns: ns.clone(),
                    name: name.clone(),
                    alias: None,
                };
                // Deleted explicitly even when the peer's namespace goes too:
                // a namespace is destroyed by a kernel worker after the
                // rollback returns, and until then this end (with its
                // addresses and routes) would still be up in `ns`.
                Some(Undo {
                    op: del,
                    gone_with: vec![ns.clone()],
                })
            }
            Op::LinkDel { ns, name, alias } => {
                self.links.forget(ns, name);
                let h = self.conns.get(ns).await?;
                if let Some(want) = alias {
                    let held = link::get(&h, ns, name).await?;
                    if held.is_some_and(|l| l.alias.as_deref() != Some(want)) {
                        return Ok(None);
                    }
                }
                link::del(&h, ns, name).await?;
                None
            }
            Op::LinkUp { ns, name } => {
                let h = self.conns.get(ns).await?;
                let Some(l) = link::get(&h, ns, name).await? else {
                    return Err(Error::os(
                        op.to_string(),
                        std::io::Error::from_raw_os_error(libc::ENODEV),
                    ));
                };
                if l.up {
                    None
                } else {
                    link::set_up(&h, ns, name, true).await?;
                    Undo::here(Op::LinkDown {
                        ns: ns.clone(),
                        name: name.clone(),
                    })
                }
            }
            Op::LinkDown { ns, name } => {
                link::set_up(&self.conns.get(ns).await?, ns, name, false).await?;
                None
            }
            Op::AddrAdd { ns, dev, cidr } => {
                let index = self
                    .links
                    .get(&self.conns, ns, dev, || op.to_string())
                    .await?;
                let added =
                    addr::add(&self.conns.get(ns).await?, ns, dev, Some(index), cidr).await?;
                added
                    .then(|| {
                        Undo::here(Op::AddrDel {
                            ns: ns.clone(),
                            dev: dev.clone(),
                            cidr: cidr.clone(),
                        })
                    })
                    .flatten()
            }
            Op::AddrDel { ns, dev, cidr } => {
                let removed = addr::del(&self.conns.get(ns).await?, ns, dev, cidr).await?;
                removed
                    .then(|| {
                        Undo::here(Op::AddrAdd {
                            ns: ns.clone(),
                            dev: dev.clone(),
                            cidr: cidr.clone(),
                        })
                    })
                    .flatten()
            }
            Op::RouteAdd { ns, route: r } => {
                let index = match &r.dev {
                    Some(dev) => Some(
                        self.links
                            .get(&self.conns, ns, dev, || op.to_string())
                            .await?,
                    ),
                    None => None,
                };
                let replaced = route::add(&self.conns.get(ns).await?, ns, r, index).await?;
                Undo::here(match replaced {
                    // Put back the route this one took over.
                    Some(old) => Op::RouteAdd {
                        ns: ns.clone(),
                        route: old,
                    },
                    None => Op::RouteDel {
                        ns: ns.clone(),
                        route: r.clone(),
                    },
                })
            }
            Op::RouteDel { ns, route: r } => {
                route::del(&self.conns.get(ns).await?, ns, r).await?;
                None
            }
            // A namespace this execution made goes whole on rollback: no
            // old value to keep.
            Op::SysctlSet { ns, key, value } if self.made(ns) => {
                let (n, k, v) = (ns.clone(), key.clone(), value.clone());
                blocking(move || sysctl::set(&n, &k, &v)).await?;
                None
            }
            Op::SysctlSet { ns, key, value } => {
                let (n, k, v) = (ns.clone(), key.clone(), value.clone());
                let old = blocking(move || sysctl::swap(&n, &k, &v)).await?;
                (old != *value)
                    .then(|| {
                        Undo::here(Op::SysctlSet {
                            ns: ns.clone(),
                            key: key.clone(),
                            value: old,
                        })
                    })
                    .flatten()
            }
            Op::NftApply {
                ns, family, table, ..
            } => {
                // A namespace this plan made has no table to restore yet,
                // unless an earlier op of the plan made one.
                let fresh = self.nft.touched(ns, family, table) && self.made(ns);
                let apply = TableApply::of(op, fresh);
                self.nft
                    .run_in(ns, move |lease, _| apply.apply_here(lease))
                    .await?
            }
            Op::VxlanAdd(_)
            | Op::FdbAdd { .. }
            | Op::FdbDel { .. }
            | Op::NeighAdd { .. }
            | Op::NeighDel { .. } => self.apply_overlay(op).await?,
            Op::NftDelete { ns, family, table } => {
                self.nft.touched(ns, family, table);
                let (what, family, table) = (op.to_string(), family.clone(), table.clone());
                self.nft
                    .run_in(ns, move |lease, ns| {
                        nfttable::delete_here(lease, what, ns, &family, &table)
                    })
                    .await?
            }
        })
    }
}
