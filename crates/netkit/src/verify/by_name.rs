//! Which namespaces have their links read by name rather than dumped
//! ([`ByName`]), and which of those links are read light (ioctls).
//!
//! A veth's two ends: when its op says the peer's namespace is a leaf (a
//! subnet's: `leaf`), the `ns` end (the router's) is read light and the
//! subnet's end is dumped whole, and its IFLA_LINK must name the light end's index (see
//! compare.rs, `pair_drift`). Only namespaces where every op is of a kind
//! that needs nothing of a link but its index, state and MTU qualify: the
//! host namespace, and any with a VXLAN link or its entries, keep the dump.

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap, FxHashSet};

use super::makes;
use crate::{
    observe::{self, ByName},
    plan::Op,
};

/// What verify reads differently for the light ends, by namespace name
/// (borrowed from the ops: thousands of subnets, no copies).
#[derive(Debug, Default)]
pub struct Plan<'a> {
    /// The namespaces to read by name, with what to read in each.
    pub by_name: FxHashMap<&'a str, ByName>,
    /// For each namespace holding the whole end of a light one: the
    /// namespaces whose id it is asked for (to tell its ends' peers apart).
    pub ids: FxHashMap<&'a str, BTreeSet<String>>,
}

/// Which namespaces are read by name, and the ids their light ends need.
pub fn plan(ops: &[Op]) -> Plan<'_> {
    let made = || ops.iter().filter(|o| makes(o));
    let mut unfit: FxHashSet<&str> = FxHashSet::from_iter([""]);
    for op in made().filter(|o| !fits(o)) {
        unfit.extend(op.namespaces());
    }
    let mut out: FxHashMap<&str, ByName> = FxHashMap::default();
    let mut ids: FxHashMap<&str, BTreeSet<String>> = FxHashMap::default();
    for op in made() {
        // Light only where the op says the other end is a leaf's (a
        // subnet's): the same in every plan that holds the veth, a command's
        // part of the state or the whole of it. A peering's ends and a
        // gateway's are read whole, so their kind and alias are checked.
        if let Op::VethAdd {
            ns,
            name,
            peer_ns,
            leaf: true,
            ..
        } = op
        {
            if !unfit.contains(ns.as_str()) {
                out.entry(ns).or_default().light.insert(name.clone());
                let asked = ids.entry(peer_ns).or_default();
                if !asked.contains(ns) {
                    asked.insert(ns.clone());
                }
            }
        }
    }
    // Every other link the ops of those namespaces name, read whole.
    for op in made() {
        for (ns, link) in links_named(op).into_iter().flatten() {
            if let Some(by) = out.get_mut(ns) {
                if !by.light.contains(link) && !by.full.contains(link) {
                    by.full.insert(link.to_string());
                }
            }
        }
    }
    Plan { by_name: out, ids }
}

/// Whether a link's index, state and MTU are all the op's check needs of it.
fn fits(op: &Op) -> bool {
    matches!(
        op,
        Op::NetnsAdd { .. }
            | Op::VethAdd { .. }
            | Op::LinkUp { .. }
            | Op::AddrAdd { .. }
            | Op::RouteAdd { .. }
            | Op::SysctlSet { .. }
            | Op::NftApply { .. }
    )
}

/// The links an op names (two at most), with their namespaces.
fn links_named(op: &Op) -> [Option<(&str, &str)>; 2] {
    match op {
        Op::NetnsAdd { ns, .. } => [Some((ns, "lo")), None],
        Op::VethAdd {
            ns,
            name,
            peer_ns,
            peer_name,
            ..
        } => [Some((ns, name)), Some((peer_ns, peer_name))],
        Op::LinkUp { ns, name } => [Some((ns, name)), None],
        Op::AddrAdd { ns, dev, .. } => [Some((ns, dev)), None],
        Op::RouteAdd { ns, route } => [route.dev.as_deref().map(|d| (ns.as_str(), d)), None],
        Op::SysctlSet { ns, key, .. } => match observe::sysctl_source(key) {
            observe::SysctlSource::Netconf { conf, .. } if conf != "all" && conf != "default" => {
                [Some((ns, conf)), None]
            }
            _ => [None, None],
        },
        _ => [None, None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;

    fn names(by: &ByName) -> (Vec<&str>, Vec<&str>) {
        (
            by.light.iter().map(String::as_str).collect(),
            by.full.iter().map(String::as_str).collect(),
        )
    }

    #[test]
    fn a_router_reads_its_subnet_ends_light_and_the_rest_whole() {
        let ops = plan::parse(
            r#"[
            {"op":"netnsAdd","ns":"r","tag":"t"},
            {"op":"sysctlSet","ns":"r","key":"net/ipv4/conf/all/rp_filter","value":"1"},
            {"op":"vethAdd","ns":"","name":"vg-1","alias":"t","peerNs":"r","peerName":"gw","peerAlias":"t"},
            {"op":"addrAdd","ns":"r","dev":"gw","cidr":"100.64.0.2/30"},
            {"op":"netnsAdd","ns":"h0","tag":"t"},
            {"op":"vethAdd","ns":"r","name":"s0","alias":"t","peerNs":"h0","peerName":"eth0","peerAlias":"t","leaf":true},
            {"op":"routeAdd","ns":"r","dst":"10.0.0.2/32","dev":"s0"},
            {"op":"netnsAdd","ns":"h1","tag":"t"},
            {"op":"vethAdd","ns":"r","name":"s1","alias":"t","peerNs":"h1","peerName":"eth0","peerAlias":"t","leaf":true},
            {"op":"routeDel","ns":"r","dst":"10.9.0.0/16","dev":"old"},
            {"op":"routeAdd","ns":"h1","dst":"default","via":"10.0.1.1","dev":"eth0"}
        ]"#,
        )
        .unwrap();
        let p = plan(&ops);
        let by = &p.by_name;
        // The host namespace is never read by name; hosts (one veth each) dump theirs.
        assert_eq!(by.keys().copied().collect::<Vec<_>>(), vec!["r"]);
        // gw's other end is in the host namespace, which no plan makes: whole.
        assert_eq!(names(&by["r"]), (vec!["s0", "s1"], vec!["gw", "lo"]));
        // Each namespace with a whole end asks for r's id.
        let mut asking: Vec<(&str, Vec<&str>)> = p
            .ids
            .iter()
            .map(|(ns, of)| (*ns, of.iter().map(String::as_str).collect()))
            .collect();
        asking.sort();
        assert_eq!(asking, vec![("h0", vec!["r"]), ("h1", vec!["r"])]);
    }

    #[test]
    fn a_veth_between_two_namespaces_of_many_veths_is_read_whole_at_both_ends() {
        let ops = plan::parse(
            r#"[
            {"op":"netnsAdd","ns":"h0","tag":"t"},
            {"op":"netnsAdd","ns":"h1","tag":"t"},
            {"op":"netnsAdd","ns":"h2","tag":"t"},
            {"op":"netnsAdd","ns":"g0","tag":"t"},
            {"op":"vethAdd","ns":"r","name":"s0","alias":"t","peerNs":"h0","peerName":"eth0","peerAlias":"t","leaf":true},
            {"op":"vethAdd","ns":"r","name":"s1","alias":"t","peerNs":"h1","peerName":"eth0","peerAlias":"t","leaf":true},
            {"op":"vethAdd","ns":"r","name":"s2","alias":"t","peerNs":"h2","peerName":"eth0","peerAlias":"t","leaf":true},
            {"op":"vethAdd","ns":"q","name":"s0","alias":"t","peerNs":"g0","peerName":"eth0","peerAlias":"t","leaf":true},
            {"op":"vethAdd","ns":"r","name":"px-q","alias":"p","peerNs":"q","peerName":"px-r","peerAlias":"p"}
        ]"#,
        )
        .unwrap();
        let by = plan(&ops).by_name;
        assert_eq!(names(&by["r"]), (vec!["s0", "s1", "s2"], vec!["px-q"]));
        assert_eq!(names(&by["q"]), (vec!["s0"], vec!["px-r"]));
    }

    /// A VPC without subnets, peered: its router holds one veth, as a
    /// subnet's namespace does, but the op names no leaf, so both ends are
    /// read whole, in the whole state's plan and in a command's part alike.
    #[test]
    fn a_peering_to_a_namespace_of_one_veth_is_read_whole() {
        let whole = r#"
            {"op":"netnsAdd","ns":"r","tag":"t"},
            {"op":"netnsAdd","ns":"h0","tag":"t"},
            {"op":"vethAdd","ns":"r","name":"s0","alias":"t","peerNs":"h0","peerName":"eth0","peerAlias":"t","leaf":true},
            {"op":"vethAdd","ns":"r","name":"s1","alias":"t","peerNs":"h1","peerName":"eth0","peerAlias":"t","leaf":true},
            {"op":"vethAdd","ns":"r","name":"px-e","alias":"p","peerNs":"e","peerName":"px-r","peerAlias":"p"}"#;
        for ops in [
            format!(r#"[{whole}, {{"op":"netnsAdd","ns":"e","tag":"t"}}]"#),
            format!("[{whole}]"),
        ] {
            let ops = plan::parse(&ops).unwrap();
            let by = plan(&ops).by_name;
            assert_eq!(names(&by["r"]), (vec!["s0", "s1"], vec!["lo", "px-e"]));
            assert!(!by.contains_key("e"));
        }
    }

    #[test]
    fn a_namespace_with_an_overlay_link_keeps_its_dump_and_a_veth_not_to_a_leaf_is_read_whole() {
        let ops = plan::parse(
            r#"[
            {"op":"vethAdd","ns":"a","name":"x","alias":"t","peerNs":"b","peerName":"y","peerAlias":"t"},
            {"op":"vethAdd","ns":"c","name":"x","alias":"t","peerNs":"d","peerName":"y","peerAlias":"t","leaf":true},
            {"op":"vethAdd","ns":"c","name":"z","alias":"t","peerNs":"e","peerName":"y","peerAlias":"t","leaf":true},
            {"op":"fdbAdd","ns":"c","dev":"vx","mac":"02:00:00:00:00:01","dst":"192.0.2.1"}
        ]"#,
        )
        .unwrap();
        let p = plan(&ops);
        assert!(p.by_name.is_empty() && p.ids.is_empty(), "{p:?}");
    }
}
