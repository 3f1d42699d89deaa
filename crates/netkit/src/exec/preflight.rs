//! Before a plan runs: the name each of its veths takes in a namespace the
//! plan does not make must be free, or held by something the plan itself
//! removes: vpcctl's own link of that object (its alias; vethAdd replaces
//! it), or one end of a pair whose other end is in a namespace the plan
//! deletes (it goes with that namespace). Anything else is a link vpcctl did
//! not make, which it never removes: the vethAdd would fail with EEXIST
//! only after the plan had deleted and rebuilt namespaces, stopping their
//! apps, for nothing, and again at every retry. So the plan is refused
//! before anything runs, naming the link.

use std::{collections::HashSet, os::fd::AsFd, time::Duration};

use crate::{
    conn::Conns,
    error::{in_ns, Error, Kind, Result},
    link::{self, LinkInfo},
    netns,
    nlsock::NlSock,
    plan::Op,
};

pub(super) async fn names_in_the_way(ops: &[Op], conns: &Conns) -> Result<()> {
    let made: HashSet<&str> = ops
        .iter()
        .filter_map(|o| match o {
            Op::NetnsAdd { ns, .. } => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    let deleted: Vec<&str> = ops
        .iter()
        .filter_map(|o| match o {
            Op::NetnsDel { ns } => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    for op in ops {
        let Op::VethAdd {
            ns,
            name,
            alias,
            peer_ns,
            peer_name,
            peer_alias,
            ..
        } = op
        else {
            continue;
        };
        for (at, link, tag) in [(ns, name, alias), (peer_ns, peer_name, peer_alias)] {
            if made.contains(at.as_str()) {
                continue;
            }
            let Some(l) = link::get(&conns.get(at).await?, at, link).await? else {
                continue;
            };
            if (tag.is_some() && l.alias == *tag) || goes_with_deleted(&l, at, &deleted)? {
                continue;
            }
            let what = match (l.kind.as_deref(), l.alias.as_deref()) {
                (Some("veth"), Some(a)) => format!("a veth tagged \"{a}\""),
                (Some("veth"), None) => "a veth without vpcctl's tag".to_string(),
                (Some(k), _) => format!("a {k}"),
                (None, _) => "a device".to_string(),
            };
            return Err(Error::new(
                Kind::Foreign,
                format!("link {link}{}", in_ns(at)),
                format!(
                    "in the way: {what} that vpcctl did not make, and does not remove; \
                     remove or rename it, then run again (nothing was changed)"
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `l`, a link in `at`, is a veth whose other end is in one of the
/// namespaces `deleted` (its IFLA_LINK_NETNSID is the id `at` gives it).
fn goes_with_deleted(l: &LinkInfo, at: &str, deleted: &[&str]) -> Result<bool> {
    let Some(id) = l.peer_netnsid.filter(|_| l.kind.as_deref() == Some("veth")) else {
        return Ok(false);
    };
    let files: Vec<std::fs::File> = deleted.iter().filter_map(|d| netns::open(d).ok()).collect();
    if files.is_empty() {
        return Ok(false);
    }
    netns::run_in(at, || -> std::io::Result<bool> {
        let mut s = NlSock::route(Duration::from_secs(2))?;
        for f in &files {
            if s.nsid_of(f.as_fd())? == Some(id) {
                return Ok(true);
            }
        }
        Ok(false)
    })?
    .map_err(|e| Error::os(format!("namespace ids{}", in_ns(at)), e))
}
