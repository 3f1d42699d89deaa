//! The dependency graph of a plan: which earlier ops each op must wait for,
//! so that the executor can pipeline ops while keeping the meaning of
//! their list order.

use std::collections::HashMap;

use crate::plan::Op;

/// What an op reads or writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Res {
    Ns(String),
    Link(String, String),
    Sysctl(String, String),
    Nft(String, String, String),
    Route(String),
    /// An FDB entry (namespace, link, MAC).
    Fdb(String, String, String),
    /// A neighbour entry (namespace, link, address).
    Neigh(String, String, String),
    /// What a link made in a namespace starts with: its `conf/default`
    /// sysctls (a link copies them when it is made).
    LinkDefaults(String),
}

/// The resources `op` touches: (key, written?).
fn resources(op: &Op) -> Vec<(Res, bool)> {
    let ns = op.ns().to_string();
    let link = |ns: &str, name: &str| (Res::Link(ns.to_string(), name.to_string()), true);
    // A tagged link's delete (a veth of vpcctl's, maybe renamed) takes its
    // peer wherever it is, with the addresses and routes on both ends: it is
    // a barrier in its namespace, so that a pair made again after it in the
    // list (which reads both namespaces) finds those routes gone. (It also
    // waits for every op before it: `dependencies`.)
    let barrier = matches!(
        op,
        Op::NetnsAdd { .. } | Op::NetnsDel { .. } | Op::LinkDel { alias: Some(_), .. }
    );
    let mut r = vec![(Res::Ns(ns.clone()), barrier)];
    match op {
        Op::NetnsAdd { .. } | Op::NetnsDel { .. } => {}
        Op::VethAdd {
            name,
            peer_ns,
            peer_name,
            ..
        } => {
            r.push((Res::Ns(peer_ns.clone()), false));
            r.push(link(&ns, name));
            r.push(link(peer_ns, peer_name));
            r.push((Res::LinkDefaults(ns.clone()), false));
            r.push((Res::LinkDefaults(peer_ns.clone()), false));
        }
        Op::LinkDel { name: dev, .. }
        | Op::LinkUp { name: dev, .. }
        | Op::LinkDown { name: dev, .. }
        | Op::AddrAdd { dev, .. }
        | Op::AddrDel { dev, .. } => r.push(link(&ns, dev)),
        Op::RouteAdd { route, .. } | Op::RouteDel { route, .. } => match &route.dev {
            Some(dev) => r.push(link(&ns, dev)),
            None => r.push((Res::Route(ns), true)),
        },
        Op::SysctlSet { key, .. } => {
            if key.contains("/conf/default/") {
                r.push((Res::LinkDefaults(ns.clone()), true));
            }
            r.push((Res::Sysctl(ns, key.clone()), true))
        }
        // The underlay is read in the executor's namespace.
        Op::VxlanAdd(v) => {
            r.push((Res::Ns(String::new()), false));
            r.push((Res::Link(String::new(), v.dev.clone()), false));
            r.push((Res::LinkDefaults(ns.clone()), false));
            r.push(link(&ns, &v.name));
        }
        // Entries on one link are independent of each other; the link is
        // read (a linkDel waits for them, they wait for its vxlanAdd).
        Op::FdbAdd { dev, mac, .. } | Op::FdbDel { dev, mac, .. } => {
            r.push((Res::Link(ns.clone(), dev.clone()), false));
            r.push((Res::Fdb(ns, dev.clone(), mac.clone()), true));
        }
        Op::NeighAdd { dev, addr, .. } | Op::NeighDel { dev, addr, .. } => {
            r.push((Res::Link(ns.clone(), dev.clone()), false));
            r.push((Res::Neigh(ns, dev.clone(), addr.clone()), true));
        }
        Op::NftApply { family, table, .. } | Op::NftDelete { family, table, .. } => {
            r.push((Res::Nft(ns, family.clone(), table.clone()), true))
        }
    }
    r
}

/// For each op, the earlier ops it must wait for: the last writer of every
/// resource it touches, and, if it writes, every reader since that write.
/// A route without `dev` also reads every link of its namespace seen so
/// far (its gateway must be reachable through one of them). A tagged
/// `linkDel` waits for every op before it: no undo brings a deleted link
/// back, so it runs only once they have all succeeded (the planner puts the
/// repair of a renamed veth last, and a failure anywhere else is then rolled
/// back before the old pair is touched).
pub fn dependencies(ops: &[Op]) -> Vec<Vec<usize>> {
    #[derive(Default)]
    struct Track {
        writer: Option<usize>,
        readers: Vec<usize>,
    }
    let mut state: HashMap<Res, Track> = HashMap::new();
    let mut links_of: HashMap<String, Vec<Res>> = HashMap::new();
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let mut res = resources(op);
            for (r, _) in &res {
                if let Res::Link(ns, _) = r {
                    if !state.contains_key(r) {
                        links_of.entry(ns.clone()).or_default().push(r.clone());
                    }
                }
            }
            if let Some((Res::Route(ns), _)) = res.last() {
                let links = links_of.get(ns).cloned().unwrap_or_default();
                res.extend(links.into_iter().map(|l| (l, false)));
            }
            let mut deps = match op {
                Op::LinkDel { alias: Some(_), .. } => (0..i).collect(),
                _ => Vec::new(),
            };
            for (r, write) in res {
                let t = state.entry(r).or_default();
                deps.extend(t.writer);
                if write {
                    deps.append(&mut t.readers);
                    t.writer = Some(i);
                } else {
                    t.readers.push(i);
                }
            }
            deps.sort_unstable();
            deps.dedup();
            deps.retain(|&d| d != i);
            deps
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{parse, tests::PLAN};

    #[test]
    fn dependency_graph_follows_resources() {
        let d = dependencies(&parse(PLAN).unwrap());
        assert_eq!(d[0], Vec::<usize>::new());
        assert_eq!(d[1], Vec::<usize>::new()); // independent namespaces run in parallel
        assert_eq!(d[2], vec![0, 1]); // veth waits for both namespaces
        assert_eq!(d[3], vec![0, 2]); // address waits for its link
        assert_eq!(d[4], vec![0, 3]); // same link: list order kept
        assert_eq!(d[5], vec![1, 2]);
        assert_eq!(d[6], vec![1, 5]); // devless route waits for the links of its ns
        assert_eq!(d[7], vec![0]);
        assert_eq!(d[8], vec![1]);
        assert_eq!(d[9], Vec::<usize>::new());
        // deleting a namespace waits for every op that used it
        assert_eq!(d[10], vec![1, 2, 5, 6, 8]);
        // linkUp waits for the last op on its link (the route on sn-a).
        assert_eq!(d[11], vec![0, 4]);
    }
}

#[cfg(test)]
mod barrier_tests {
    use super::*;
    use crate::plan::parse;

    #[test]
    fn a_tagged_link_delete_orders_its_namespace_and_the_pair_made_after_it() {
        let d = dependencies(
            &parse(
                r#"[
            {"op":"addrAdd","ns":"h","dev":"x","cidr":"10.0.0.9/24"},
            {"op":"linkDel","ns":"h","name":"moved1","alias":"t"},
            {"op":"vethAdd","ns":"r","name":"a","alias":"t","peerNs":"h","peerName":"eth0","peerAlias":"t"},
            {"op":"routeAdd","ns":"r","dst":"10.0.3.0/24","dev":"a"},
            {"op":"linkDel","ns":"r","name":"vx0"},
            {"op":"addrAdd","ns":"r","dev":"b","cidr":"10.0.9.1/24"},
            {"op":"linkDel","ns":"z","name":"moved2","alias":"u"}
        ]"#,
            )
            .unwrap(),
        );
        assert_eq!(d[6], vec![0, 1, 2, 3, 4, 5]); // in another namespace too
        assert_eq!(d[1], vec![0]); // waits for every op before it
        assert_eq!(d[2], vec![1]); // the pair made again waits for it
        assert_eq!(d[3], vec![2]); // and the route on the new pair for that
        assert_eq!(d[5], Vec::<usize>::new()); // an untagged delete orders only its link
    }
}

#[cfg(test)]
mod overlay_tests {
    use super::*;
    use crate::plan::parse;

    #[test]
    fn overlay_entries_wait_for_their_link_not_for_each_other() {
        let d = dependencies(
            &parse(
                r#"[
            {"op":"netnsAdd","ns":"r","tag":"t"},
            {"op":"vxlanAdd","ns":"r","name":"vx0","vni":42,"local":"192.0.2.1","dev":"eth0","alias":"a"},
            {"op":"fdbAdd","ns":"r","dev":"vx0","mac":"02:00:00:00:00:02","dst":"192.0.2.2"},
            {"op":"fdbAdd","ns":"r","dev":"vx0","mac":"02:00:00:00:00:03","dst":"192.0.2.3"},
            {"op":"neighAdd","ns":"r","dev":"vx0","addr":"172.16.0.2","mac":"02:00:00:00:00:02"},
            {"op":"fdbDel","ns":"r","dev":"vx0","mac":"02:00:00:00:00:02","dst":"192.0.2.2"},
            {"op":"linkDel","ns":"r","name":"vx0"}
        ]"#,
            )
            .unwrap(),
        );
        assert_eq!(d[1], vec![0]); // the link waits for its namespace
        assert_eq!(d[2], vec![0, 1]);
        assert_eq!(d[3], vec![0, 1]); // another MAC: in parallel with the first
        assert_eq!(d[4], vec![0, 1]);
        assert_eq!(d[5], vec![0, 1, 2]); // the same MAC: in list order
        assert_eq!(d[6], vec![0, 1, 2, 3, 4, 5]); // deleting the link waits for its entries
    }

    #[test]
    fn links_wait_for_the_default_sysctls_of_their_namespaces() {
        let d = dependencies(
            &parse(
                r#"[
            {"op":"netnsAdd","ns":"r","tag":"t"},
            {"op":"netnsAdd","ns":"h","tag":"t"},
            {"op":"sysctlSet","ns":"r","key":"net/ipv6/conf/default/addr_gen_mode","value":"1"},
            {"op":"sysctlSet","ns":"r","key":"net/ipv6/conf/all/forwarding","value":"1"},
            {"op":"vethAdd","ns":"h","name":"a","alias":"x","peerNs":"r","peerName":"b","peerAlias":"x"},
            {"op":"vxlanAdd","ns":"r","name":"vx0","vni":42,"local":"192.0.2.1","dev":"eth0","alias":"a"},
            {"op":"sysctlSet","ns":"h","key":"net/ipv6/conf/default/accept_dad","value":"0"}
        ]"#,
            )
            .unwrap(),
        );
        assert_eq!(d[3], vec![0]); // an `all` sysctl: no link waits for it
        assert_eq!(d[4], vec![0, 1, 2]); // the veth's end in r is made after r's default
        assert_eq!(d[5], vec![0, 2]);
        assert_eq!(d[6], vec![1, 4]); // a later default waits for the links made before it
    }
}
