//! Before a plan runs: the name each of its veths takes in a namespace
//! that exists before the plan (kept, or deleted and made again) must be
//! free, or held by what is vpcctl's and goes: a link with the op's alias
//! for that end (vethAdd replaces it, and its peer goes too: so only while
//! that peer is the pair's other end, tagged as vpcctl tags it, or goes
//! anyway, never one someone moved away or re-tagged), or a veth with an end in a namespace
//! the plan deletes (in a namespace it rebuilds, also the veth whose other
//! end is the op's other end's namespace: a pair of vpcctl's whose tag was
//! changed). Anything else (a bridge, someone else's veth) is a link vpcctl
//! did not make. It never removes one: in a kept namespace the vethAdd
//! would fail with EEXIST only after the plan had deleted and rebuilt
//! namespaces (their apps stopped), and again at every retry; in a rebuilt
//! one the link would go with vpcctl's namespace. So the plan is refused
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

/// A link at the name of a veth end a plan makes, that vpcctl did not make
/// and does not remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InTheWay {
    /// Its namespace ("" = the host's).
    pub ns: String,
    pub name: String,
    /// What it is: `a bridge`, `a veth tagged "x"`, `a veth without vpcctl's tag`.
    pub what: String,
}

impl InTheWay {
    fn error(&self) -> Error {
        Error::new(
            Kind::Foreign,
            format!("link {}{}", self.name, in_ns(&self.ns)),
            format!(
                "in the way: {} that vpcctl did not make, and does not remove; \
                 remove or rename it, then run again (nothing was changed)",
                self.what
            ),
        )
    }
}

/// The first link in the way of `ops` refuses the plan (the executor's check).
pub(super) async fn names_in_the_way(ops: &[Op], conns: &Conns) -> Result<()> {
    match in_the_way(ops, conns).await?.into_iter().next() {
        Some(link) => Err(link.error()),
        None => Ok(()),
    }
}

/// Every link in the way of `ops`, in plan order (empty: the plan may run).
/// Read only: what `status` asks of the plan `apply` would run.
pub async fn in_the_way(ops: &[Op], conns: &Conns) -> Result<Vec<InTheWay>> {
    let mut found = Vec::new();
    let deleted: HashSet<&str> = ops
        .iter()
        .filter_map(|o| match o {
            Op::NetnsDel { ns } => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    // Made by the plan and not there before it: nothing in them yet.
    let fresh: HashSet<&str> = ops
        .iter()
        .filter_map(|o| match o {
            Op::NetnsAdd { ns, .. } if !deleted.contains(ns.as_str()) => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    // Tagged links the plan deletes before a vethAdd (a repair of a pair
    // whose end was renamed, here onto another pair's name): they go first,
    // each only if it still carries its tag (dispatch).
    let mut tagged_dels: HashSet<(&str, &str, &str)> = HashSet::new();
    for op in ops {
        if let Op::LinkDel {
            ns,
            name,
            alias: Some(a),
        } = op
        {
            tagged_dels.insert((ns, name, a));
        }
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
        let sides = [
            (
                ns.as_str(),
                name,
                alias,
                (peer_ns.as_str(), peer_name, peer_alias),
            ),
            (
                peer_ns.as_str(),
                peer_name,
                peer_alias,
                (ns.as_str(), name, alias),
            ),
        ];
        for (at, link, tag, (other, other_name, other_tag)) in sides {
            if fresh.contains(at) || (!at.is_empty() && !netns::exists(at)) {
                continue;
            }
            let Some(l) = link::get(&conns.get(at).await?, at, link).await? else {
                continue;
            };
            let tagged_del = |a: &String| tagged_dels.contains(&(at, link.as_str(), a.as_str()));
            if l.alias.as_ref().is_some_and(tagged_del) {
                continue;
            }
            if tag.is_some() && l.alias == *tag {
                // vpcctl's end: vethAdd deletes it to make the pair again,
                // and its peer with it, wherever that is now (in a namespace
                // the plan rebuilds it goes with the namespace, whose tag
                // says whose it is).
                if deleted.contains(at) {
                    continue;
                }
                let far = (other, other_name.as_str(), other_tag.as_deref());
                if let Some(what) = peer_elsewhere(&l, at, far, &deleted, &fresh, conns).await? {
                    found.push(InTheWay {
                        ns: at.to_string(),
                        name: link.clone(),
                        what,
                    });
                }
                continue;
            }
            // What goes when the plan deletes namespaces: a veth with an end
            // in one. In a namespace the plan rebuilds, also the end of the
            // veth it makes again (its other end the op's other end's
            // namespace): a pair of vpcctl's whose tag was changed.
            let rebuilt = deleted.contains(at);
            let mut gone: Vec<&str> = deleted.iter().copied().collect();
            if rebuilt {
                gone.push(other);
            }
            if l.kind.as_deref() == Some("veth") && goes_with(&l, at, rebuilt, &gone)? {
                continue;
            }
            let what = match (l.kind.as_deref(), l.alias.as_deref()) {
                (Some("veth"), Some(a)) => format!("a veth tagged \"{a}\""),
                (Some("veth"), None) => "a veth without vpcctl's tag".to_string(),
                (Some(k), _) => format!("a {k}"),
                (None, _) => "a device".to_string(),
            };
            found.push(InTheWay {
                ns: at.to_string(),
                name: link.clone(),
                what,
            });
        }
    }
    Ok(found)
}

/// Whether veth `l`, in `at`, has its other end in one of `gone` (by its
/// IFLA_LINK_NETNSID, against the id `at` gives each), or beside it in
/// `at` when `at` itself goes (`at_goes`).
fn goes_with(l: &LinkInfo, at: &str, at_goes: bool, gone: &[&str]) -> Result<bool> {
    let Some(id) = l.peer_netnsid else {
        return Ok(at_goes);
    };
    Ok(namespace_of(id, at, gone)?.is_some())
}

/// Why vpcctl's end `l` (its tag at the op's name, in `at`) is not vpcctl's
/// to delete: its peer, which goes with it, is no longer the pair's other
/// end (`far`: that end's namespace and tag) but was re-tagged, in place or
/// moved to a namespace that stays. None while the peer is that end, is in a
/// namespace the plan deletes, or is in no namespace one can name (one being
/// destroyed: a rebuilt namespace's old end, freed a moment later).
async fn peer_elsewhere(
    l: &LinkInfo,
    at: &str,
    (other, other_name, other_tag): (&str, &str, Option<&str>),
    deleted: &HashSet<&str>,
    fresh: &HashSet<&str>,
    conns: &Conns,
) -> Result<Option<String>> {
    if l.kind.as_deref() != Some("veth") {
        return Ok(None);
    }
    let Some(id) = l.peer_netnsid else {
        return Ok(Some(format!(
            "a veth (its peer moved beside it{})",
            in_ns(at)
        )));
    };
    // Where it should be first: one id asked, not one per namespace.
    if !fresh.contains(other) && namespace_of(id, at, &[other])?.is_some() {
        if deleted.contains(other) {
            return Ok(None);
        }
        let h = conns.get(other).await?;
        let peer = match l.peer {
            Some(i) => link::get_index(&h, other, i).await?,
            None => None,
        };
        // At the other end's name it is named there, by its own side's check.
        let moved = |p: &LinkInfo| p.alias.as_deref() != other_tag && p.name != other_name;
        return Ok(peer.filter(moved).map(|p| {
            let tag = p
                .alias
                .map_or("untagged".to_string(), |a| format!("tagged \"{a}\""));
            format!("a veth (its peer {}{} {tag})", p.name, in_ns(other))
        }));
    }
    // Moved by someone (rare): where to, among the namespaces that have a name.
    let gone: Vec<&str> = deleted.iter().copied().collect();
    if namespace_of(id, at, &gone)?.is_some() {
        return Ok(None);
    }
    let mut named = vec![String::new()];
    if let Ok(dir) = std::fs::read_dir(netns::NETNS_DIR) {
        named.extend(
            dir.flatten()
                .filter_map(|e| e.file_name().into_string().ok()),
        );
    }
    let named: Vec<&str> = named.iter().map(String::as_str).collect();
    let Some(ns) = namespace_of(id, at, &named)? else {
        return Ok(None);
    };
    // Moved but still tagged as vpcctl tags that end: still vpcctl's.
    let peer = match l.peer {
        Some(i) => link::get_index(&conns.get(ns).await?, ns, i).await?,
        None => None,
    };
    if peer.is_some_and(|p| p.alias.as_deref() == other_tag) {
        return Ok(None);
    }
    Ok(Some(match ns {
        "" => "a veth (its peer moved to the host namespace, not tagged as vpcctl's)".to_string(),
        ns => format!("a veth (its peer moved to netns \"{ns}\", not tagged as vpcctl's)"),
    }))
}

/// Which of `candidates` is the namespace `at` knows by id `id` (the
/// IFLA_LINK_NETNSID of a link there), if any.
fn namespace_of<'a>(id: i32, at: &str, candidates: &[&'a str]) -> Result<Option<&'a str>> {
    let files: Vec<(&str, std::fs::File)> = candidates
        .iter()
        .filter_map(|ns| match *ns {
            "" => std::fs::File::open("/proc/self/ns/net")
                .ok()
                .map(|f| ("", f)),
            ns => netns::open(ns).ok().map(|f| (ns, f)),
        })
        .collect();
    if files.is_empty() {
        return Ok(None);
    }
    let found = netns::run_in(at, || -> std::io::Result<Option<usize>> {
        let mut s = NlSock::route(Duration::from_secs(2))?;
        for (i, (_, f)) in files.iter().enumerate() {
            if s.nsid_of(f.as_fd())? == Some(id) {
                return Ok(Some(i));
            }
        }
        Ok(None)
    })?
    .map_err(|e| Error::os(format!("namespace ids{}", in_ns(at)), e))?;
    Ok(found.map(|i| {
        candidates
            .iter()
            .find(|c| **c == files[i].0)
            .copied()
            .unwrap_or("")
    }))
}
