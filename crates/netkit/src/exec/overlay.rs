//! The ops of the cross-host data plane (docs/plan-ops.md): a VXLAN link
//! whose underlay is in the executor's own namespace, and the static FDB
//! and neighbour entries on it. Each add returns the undo that puts back
//! what it changed: a delete if it made the entry, the old value if it
//! replaced one, nothing if the entry was already as the op says.

use super::{state::Exec, Undo};
use crate::{
    error::{Error, Kind, Result},
    neigh::{self, Change},
    plan::Op,
    vxlan::{self, Added},
};

/// The namespace the executor runs in, where VXLAN underlays are.
const HOST: &str = "";

impl Exec {
    pub(super) async fn apply_overlay(&self, op: &Op) -> Result<Option<Undo>> {
        let what = || op.to_string();
        let bad = |e: String| Error::new(Kind::Invalid, what(), e);
        Ok(match op {
            Op::VxlanAdd(v) => {
                let underlay = self
                    .links
                    .get(&self.conns, HOST, &v.dev, || {
                        format!("underlay {} in the host namespace", v.dev)
                    })
                    .await?;
                // A leftover of this op's may be replaced: its index is stale.
                self.links.forget(&v.ns, &v.name);
                let host = self.conns.get(HOST).await?;
                let h = self.conns.get(&v.ns).await?;
                let (ns, name) = (v.ns.clone(), v.name.clone());
                match vxlan::add(&host, &h, v, underlay).await? {
                    // Deleted explicitly even when its namespace goes too:
                    // the kernel destroys a namespace (and the link in it)
                    // in a worker after the rollback returns, and until then
                    // the link holds its VNI on the host, so a retry at once
                    // would find it taken. A linkDel frees it before returning.
                    Added::Made => Some(Undo {
                        op: Op::LinkDel {
                            ns,
                            name,
                            alias: None,
                        },
                        gone_with: vec![],
                    }),
                    Added::Raised => Undo::here(Op::LinkDown { ns, name }),
                    Added::Kept => None,
                }
            }
            Op::FdbAdd { ns, dev, mac, dst } => {
                let index = self.links.get(&self.conns, ns, dev, what).await?;
                let (m, d) = (
                    neigh::unicast_mac(mac).map_err(bad)?,
                    neigh::ipv4(dst, "dst").map_err(bad)?,
                );
                let h = self.conns.get(ns).await?;
                let fdb = |op: fn(String, String, String, String) -> Op, dst: String| {
                    Undo::here(op(ns.clone(), dev.clone(), mac.clone(), dst))
                };
                match neigh::fdb_add(&h, &what, index, m, d).await? {
                    Change::Added => fdb(fdb_del, dst.clone()),
                    Change::Replaced(old) => fdb(fdb_add, old.to_string()),
                    Change::Unchanged => None,
                }
            }
            Op::FdbDel { ns, dev, mac, dst } => {
                let Some(index) = self.index_if_any(ns, dev, &what).await? else {
                    return Ok(None); // the link, and its entries, are gone
                };
                let (m, d) = (
                    neigh::unicast_mac(mac).map_err(bad)?,
                    neigh::ipv4(dst, "dst").map_err(bad)?,
                );
                let h = self.conns.get(ns).await?;
                neigh::fdb_del(&h, &what, index, m, d)
                    .await?
                    .then(|| Undo::here(fdb_add(ns.clone(), dev.clone(), mac.clone(), dst.clone())))
                    .flatten()
            }
            Op::NeighAdd { ns, dev, addr, mac } => {
                let index = self.links.get(&self.conns, ns, dev, what).await?;
                let (a, m) = (
                    neigh::ipv4(addr, "addr").map_err(bad)?,
                    neigh::unicast_mac(mac).map_err(bad)?,
                );
                let h = self.conns.get(ns).await?;
                match neigh::neigh_add(&h, &what, index, a, m).await? {
                    Change::Added => Undo::here(neigh_del(ns, dev, addr)),
                    Change::Replaced(old) => Undo::here(restore(ns, dev, addr, old)),
                    Change::Unchanged => None,
                }
            }
            Op::NeighDel { ns, dev, addr } => {
                let Some(index) = self.index_if_any(ns, dev, &what).await? else {
                    return Ok(None);
                };
                let a = neigh::ipv4(addr, "addr").map_err(bad)?;
                let h = self.conns.get(ns).await?;
                match neigh::neigh_del(&h, &what, index, a).await? {
                    Some(old) => Undo::here(restore(ns, dev, addr, old)),
                    None => None,
                }
            }
            _ => unreachable!("not an overlay op: {op}"),
        })
    }

    /// The index of link `dev` of `ns`, None if it has none (ENODEV).
    async fn index_if_any(
        &self,
        ns: &str,
        dev: &str,
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<Option<u32>> {
        match self.links.get(&self.conns, ns, dev, what).await {
            Ok(i) => Ok(Some(i)),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn fdb_add(ns: String, dev: String, mac: String, dst: String) -> Op {
    Op::FdbAdd { ns, dev, mac, dst }
}

fn fdb_del(ns: String, dev: String, mac: String, dst: String) -> Op {
    Op::FdbDel { ns, dev, mac, dst }
}

fn neigh_del(ns: &str, dev: &str, addr: &str) -> Op {
    Op::NeighDel {
        ns: ns.into(),
        dev: dev.into(),
        addr: addr.into(),
    }
}

/// The undo that puts back a neighbour entry as it was: a permanent one as
/// such; a learnt one is only removed (the kernel learns it again).
fn restore(ns: &str, dev: &str, addr: &str, old: neigh::Neigh) -> Op {
    match old.mac {
        Some(mac) if old.permanent => Op::NeighAdd {
            ns: ns.into(),
            dev: dev.into(),
            addr: addr.into(),
            mac,
        },
        _ => neigh_del(ns, dev, addr),
    }
}
