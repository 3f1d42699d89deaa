//! Namespace-setup fusion: a new namespace's sysctls and nft tables are
//! set while the thread that makes it is still inside, instead of two more
//! trips to a blocking thread and two more setns each. This is what the
//! floor does (bench/).

use std::os::fd::OwnedFd;

use rtnetlink::{packet_route::RouteNetlinkMessage, LinkUnspec};

use super::{blocking, nftctx::NftLease, nfttable::TableApply, state::Exec, Done, Undo};
use crate::{
    conn,
    error::{Context, Error, Result},
    netns,
    plan::Op,
    sysctl,
};

/// Whether `op` can run inside the thread visit that makes namespace `ns`:
/// a sysctl or nft table of that namespace.
pub(super) fn fusable(op: &Op, ns: &str) -> bool {
    matches!(op, Op::SysctlSet { ns: n, .. } | Op::NftApply { ns: n, .. } if n == ns)
}

/// A setup op made ready to run on the thread inside its new namespace.
enum Setup {
    Sysctl { key: String, value: String },
    Nft(TableApply, NftLease),
}

impl Setup {
    fn of(ex: &Exec, op: &Op) -> Setup {
        match op {
            Op::SysctlSet { key, value, .. } => Setup::Sysctl {
                key: key.clone(),
                value: value.clone(),
            },
            Op::NftApply {
                ns, family, table, ..
            } => {
                // The namespace is new: its table is too.
                ex.nft.touched(ns, family, table);
                Setup::Nft(TableApply::of(op, true), ex.nft.lease(ns))
            }
            _ => unreachable!("not fusable: {op}"),
        }
    }

    /// Runs on a thread inside the namespace `ns`, made moments ago: a
    /// sysctl has no old value to keep, a table no old table to replace.
    fn apply_in_new_ns(self, ns: &str) -> Result<Option<Undo>> {
        match self {
            Setup::Sysctl { key, value } => sysctl::set_here(ns, &key, &value).map(|()| None),
            Setup::Nft(table, lease) => {
                // Freed here, on this thread: a transaction that only
                // created a table does not make freeing wait (Nft::apply_table).
                let (undo, dead) = table.apply_here(&lease);
                drop(dead);
                undo
            }
        }
    }
}

impl Exec {
    /// Runs op `i` with the setup ops fused into it (only a NetnsAdd takes
    /// any): the result of `i` first, then those of the setup ops that ran.
    pub(super) async fn apply_fused(&self, i: usize, op: &Op, setup: &[(usize, &Op)]) -> Vec<Done> {
        if setup.is_empty() {
            return vec![(i, self.apply(op).await)];
        }
        match self.make_netns(op, setup).await {
            Ok((undo, done)) => std::iter::once((i, Ok(undo))).chain(done).collect(),
            Err(e) => vec![(i, Err(e))],
        }
    }

    /// Makes a namespace (`op` is its NetnsAdd) in one trip to a blocking
    /// thread: the namespace, its rtnetlink socket, `lo` up with its tag,
    /// then the `setup` ops (see [`fusable`]) while the thread is still
    /// inside. Returns the NetnsAdd's undo and each setup op's result, in
    /// order, up to the first that failed; a failed setup op leaves the
    /// namespace made.
    pub(super) async fn make_netns(
        &self,
        op: &Op,
        setup: &[(usize, &Op)],
    ) -> Result<(Option<Undo>, Vec<Done>)> {
        let Op::NetnsAdd { ns, tag } = op else {
            unreachable!("make_netns takes a NetnsAdd")
        };
        let _permit = self.netns_pool.acquire().await.expect("semaphore closed");
        let steps: Vec<(usize, Setup)> = setup
            .iter()
            .map(|&(k, o)| (k, Setup::of(self, o)))
            .collect();
        let (name, tag) = (ns.clone(), tag.clone());
        let what = op.to_string();
        let (fd, done) = blocking(move || {
            let inside = || -> Result<(OwnedFd, Vec<Done>)> {
                let fd = conn::route_socket().map_err(|e| Error::os(what.clone(), e))?;
                let lo = LinkUnspec::new_with_name("lo").up();
                let lo = if tag.is_empty() { lo } else { lo.alias(&tag) };
                conn::request_sync(&fd, RouteNetlinkMessage::SetLink(lo.build()))
                    .ctx(|| format!("lo up in netns \"{name}\""))?;
                let mut done = Vec::with_capacity(steps.len());
                for (k, step) in steps {
                    let r = step.apply_in_new_ns(&name);
                    let failed = r.is_err();
                    done.push((k, r));
                    if failed {
                        break;
                    }
                }
                Ok((fd, done))
            };
            let r = netns::add_with(&name, inside)?;
            if r.is_err() {
                let _ = netns::del(&name);
            }
            r
        })
        .await?;
        self.conns.insert(ns, conn::from_socket(fd));
        self.note_made(ns);
        let undo = Undo {
            op: Op::NetnsDel { ns: ns.clone() },
            gone_with: vec![],
        };
        Ok((Some(undo), done))
    }
}
