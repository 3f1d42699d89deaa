//! Unit tests of [`super::check`]: ops against hand-made snapshots.

use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::{link::LinkInfo, observe::TableSeen, plan, route::Route};

const PLAN: &str = r#"[
    {"op":"netnsAdd","ns":"r","tag":"vpcctl:r"},
    {"op":"sysctlSet","ns":"r","key":"net/ipv4/conf/all/rp_filter","value":"1"},
    {"op":"netnsAdd","ns":"h","tag":"vpcctl:h"},
    {"op":"vethAdd","ns":"r","name":"sn-a","alias":"t","peerNs":"h","peerName":"eth0","peerAlias":"t","mtu":1400},
    {"op":"addrAdd","ns":"r","dev":"sn-a","cidr":"10.0.1.1/32"},
    {"op":"routeAdd","ns":"r","dst":"10.0.1.2/32","dev":"sn-a"},
    {"op":"addrAdd","ns":"h","dev":"eth0","cidr":"10.0.1.2/24"},
    {"op":"routeAdd","ns":"h","dst":"default","via":"10.0.1.1","dev":"eth0"},
    {"op":"nftApply","ns":"h","family":"inet","table":"vpcctl","ruleset":[{"chain":{"family":"inet","table":"vpcctl","name":"c"}}]},
    {"op":"addrDel","ns":"h","dev":"eth0","cidr":"10.9.9.9/32"},
    {"op":"linkUp","ns":"h","name":"eth0"}
]"#;

fn link(index: u32, name: &str, alias: &str, kind: &str) -> LinkInfo {
    LinkInfo {
        index,
        name: name.into(),
        alias: (!alias.is_empty()).then(|| alias.into()),
        up: true,
        mtu: if name == "lo" { 65536 } else { 1400 },
        mac: None,
        kind: (!kind.is_empty()).then(|| kind.into()),
        ..Default::default()
    }
}

/// Snapshots in which every op of PLAN holds.
fn good() -> HashMap<String, Option<Snapshot>> {
    let mut r = Snapshot::default();
    for l in [link(1, "lo", "vpcctl:r", ""), link(5, "sn-a", "t", "veth")] {
        r.links.insert(l.name.clone(), l);
    }
    r.addrs.push((5, "10.0.1.1/32".into()));
    r.routes.push(Route {
        dst: "10.0.1.2/32".into(),
        dev: Some("sn-a".into()),
        ..Default::default()
    });
    r.sysctls
        .insert("net/ipv4/conf/all/rp_filter".into(), Ok("1".into()));
    let mut h = Snapshot::default();
    for l in [link(1, "lo", "vpcctl:h", ""), link(2, "eth0", "t", "veth")] {
        h.links.insert(l.name.clone(), l);
    }
    h.addrs.push((2, "10.0.1.2/24".into()));
    h.routes.push(Route {
        dst: "default".into(),
        dev: Some("eth0".into()),
        via: Some("10.0.1.1".into()),
        src: Some("10.0.1.2".into()),
        ..Default::default()
    });
    h.tables
        .insert(("inet".into(), "vpcctl".into()), TableSeen::Unchanged);
    HashMap::from([("r".to_string(), Some(r)), ("h".to_string(), Some(h))])
}

fn drifts(edit: impl FnOnce(&mut Snapshot, &mut Snapshot)) -> Vec<(usize, &'static str, String)> {
    let ops = plan::parse(PLAN).unwrap();
    let mut s = good();
    let mut r = s.remove("r").unwrap().unwrap();
    let mut h = s.remove("h").unwrap().unwrap();
    edit(&mut r, &mut h);
    s.insert("r".into(), Some(r));
    s.insert("h".into(), Some(h));
    check(&ops, &s)
        .into_iter()
        .map(|d| (d.index, d.kind.as_str(), d.detail))
        .collect()
}

#[test]
fn a_plan_that_holds_has_no_drift() {
    assert_eq!(drifts(|_, _| {}), vec![]);
}

#[test]
fn links_are_checked_for_presence_kind_alias_mtu_and_state() {
    let d = drifts(|_, h| h.links.get_mut("eth0").unwrap().up = false);
    assert_eq!(
        d,
        vec![
            (3, "differs", "link eth0 in h is down".into()),
            (10, "differs", "link eth0 in h is down".into())
        ]
    );
    let d = drifts(|r, _| r.links.get_mut("sn-a").unwrap().alias = Some("x".into()));
    assert_eq!(
        d,
        vec![(
            3,
            "differs",
            "link sn-a in r has alias \"x\", want \"t\"".into()
        )]
    );
    let d = drifts(|r, _| r.links.get_mut("sn-a").unwrap().mtu = 1500);
    assert_eq!(
        d,
        vec![(
            3,
            "differs",
            "link sn-a in r has mtu 1500, want 1400".into()
        )]
    );
    let d = drifts(|_, h| h.links.get_mut("eth0").unwrap().kind = Some("dummy".into()));
    assert_eq!(
        d,
        vec![(3, "differs", "link eth0 in h is a dummy, not a veth".into())]
    );
    let d = drifts(|_, h| h.links.get_mut("lo").unwrap().alias = None);
    assert_eq!(
        d,
        vec![(
            2,
            "differs",
            "netns h has tag none, want \"vpcctl:h\"".into()
        )]
    );
    // A link gone takes its address with it: each op that needs it drifts.
    let d = drifts(|r, _| {
        r.links.remove("sn-a");
        r.addrs.clear();
        r.routes.clear();
    });
    assert_eq!(
        d,
        vec![
            (3, "missing", "link sn-a in r is missing".into()),
            (
                4,
                "missing",
                "address 10.0.1.1/32 missing on sn-a in r (no link sn-a)".into()
            ),
            (
                5,
                "missing",
                "route 10.0.1.2/32 dev sn-a in r is missing".into()
            ),
        ]
    );
}

#[test]
fn addresses_routes_sysctls_tables() {
    let d = drifts(|_, h| h.addrs[0].1 = "10.0.1.2/16".into());
    assert_eq!(
        d,
        vec![(
            6,
            "missing",
            "address 10.0.1.2/24 missing on eth0 in h".into()
        )]
    );
    let d = drifts(|_, h| h.routes[0].via = Some("10.0.1.9".into()));
    assert_eq!(
        d,
        vec![(
            7,
            "differs",
            "route default in h differs: it is default via 10.0.1.9 dev eth0, want default via 10.0.1.1 dev eth0".into()
        )]
    );
    let d = drifts(|r, _| r.routes.clear());
    assert_eq!(
        d,
        vec![(
            5,
            "missing",
            "route 10.0.1.2/32 dev sn-a in r is missing".into()
        )]
    );
    let d = drifts(|r, _| {
        r.sysctls
            .insert("net/ipv4/conf/all/rp_filter".into(), Ok("0".into()));
    });
    assert_eq!(
        d,
        vec![(
            1,
            "differs",
            "net.ipv4.conf.all.rp_filter in r is 0, want 1".into()
        )]
    );
    let d = drifts(|_, h| {
        h.tables
            .insert(("inet".into(), "vpcctl".into()), TableSeen::Listed(None));
    });
    assert_eq!(
        d,
        vec![(8, "missing", "table inet vpcctl in h is missing".into())]
    );
    let listed = json!({"nftables": [{"chain": {"family": "inet", "table": "vpcctl", "name": "c", "handle": 1}}]});
    let d = drifts(|_, h| {
        h.tables.insert(
            ("inet".into(), "vpcctl".into()),
            TableSeen::Listed(Some(listed)),
        );
    });
    assert_eq!(d, vec![]);
}

#[test]
fn a_missing_namespace_is_one_drift() {
    let ops = plan::parse(PLAN).unwrap();
    let mut s = good();
    s.insert("h".into(), None);
    let d = check(&ops, &s);
    // Not the veth, nor the address and route on its router end, nor
    // anything inside h: the namespace's netnsAdd alone.
    assert_eq!(
        d,
        vec![Drift {
            index: 2,
            detail: "netns h is missing".into(),
            kind: DriftKind::Missing
        }]
    );
    // Without a netnsAdd in the plan, the first op that works there.
    let ops: Vec<Op> = ops
        .into_iter()
        .filter(|o| !matches!(o, Op::NetnsAdd { ns, .. } if ns == "h"))
        .collect();
    assert_eq!(check(&ops, &s)[0].index, 2);
    assert_eq!(check(&ops, &s).len(), 1);
}

#[test]
fn needs_ask_for_what_the_plan_makes() {
    let ops = plan::parse(PLAN).unwrap();
    let mut opts = Options {
        nft: HashMap::from([("h".to_string(), NftMark { gen: 7 })]),
        ..Default::default()
    };
    let n = needs(&ops, &opts);
    let names: Vec<&str> = n.iter().map(|(ns, _)| ns.as_str()).collect();
    assert_eq!(names, ["r", "h"]);
    assert!(n[0].1.sysctls.contains("net/ipv4/conf/all/rp_filter"));
    assert!(n[0].1.tables.is_empty() && n[0].1.mark.is_none());
    assert_eq!(n[1].1.mark, Some(NftMark { gen: 7 }));
    assert!(n[1]
        .1
        .tables
        .contains(&("inet".to_string(), "vpcctl".to_string())));
    // Without /proc-only sysctls, netconf ones are still read.
    opts.proc_sysctls = false;
    assert!(needs(&ops, &opts)[0]
        .1
        .sysctls
        .contains("net/ipv4/conf/all/rp_filter"));
    let proc_op = plan::parse(
        r#"[{"op":"sysctlSet","ns":"h","key":"net/ipv4/ip_unprivileged_port_start","value":"0"}]"#,
    )
    .unwrap();
    assert!(needs(&proc_op, &opts)[0].1.sysctls.is_empty());
    opts.proc_sysctls = true;
    assert_eq!(needs(&proc_op, &opts)[0].1.sysctls.len(), 1);
}

#[test]
fn a_cancelled_read_stops_before_its_next_namespace() {
    let ops = plan::parse(PLAN).unwrap();
    let opts = Options {
        cancel: Some(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
            true,
        ))),
        ..Default::default()
    };
    let err = verify(&ops, &opts).expect_err("a cancelled read has no result");
    assert!(err.to_string().contains("cancelled"), "{err}");
}

/// The router's end read light: index, state and MTU only, no alias or kind.
fn light(r: &mut Snapshot, h: &mut Snapshot) {
    let l = r.links.get_mut("sn-a").unwrap();
    (l.alias, l.kind) = (None, None);
    r.light.insert("sn-a".into());
    let eth0 = h.links.get_mut("eth0").unwrap();
    (eth0.peer, eth0.peer_netnsid) = (Some(5), Some(0));
    h.nsids.insert("r".into(), Some(0));
}

#[test]
fn a_light_end_is_the_veth_whose_other_end_names_its_index() {
    assert_eq!(drifts(light), vec![]);
    let d = drifts(|r, h| {
        light(r, h);
        h.links.get_mut("eth0").unwrap().peer = Some(9);
    });
    assert_eq!(
        d,
        vec![(
            3,
            "differs",
            "link sn-a in r is not the peer of eth0 in h".into()
        )]
    );
    let d = drifts(|r, h| {
        light(r, h);
        h.links.get_mut("eth0").unwrap().peer = None;
    });
    assert_eq!(d.len(), 1, "{d:?}");
    // Index 5, but of a link beside eth0 (no namespace id), or in a
    // namespace other than r (another id): not the router's sn-a.
    for (peer_ns, r_id) in [(None, Some(0)), (Some(1), Some(0)), (Some(0), None)] {
        let d = drifts(|r, h| {
            light(r, h);
            h.links.get_mut("eth0").unwrap().peer_netnsid = peer_ns;
            h.nsids.insert("r".into(), r_id);
        });
        assert_eq!(
            d,
            vec![(
                3,
                "differs",
                "link sn-a in r is not the peer of eth0 in h".into()
            )],
            "{peer_ns:?} {r_id:?}"
        );
    }
    let d = drifts(|r, h| {
        light(r, h);
        r.links.get_mut("sn-a").unwrap().up = false;
    });
    assert_eq!(d, vec![(3, "differs", "link sn-a in r is down".into())]);
    let d = drifts(|r, h| {
        light(r, h);
        r.links.get_mut("sn-a").unwrap().mtu = 1500;
    });
    assert_eq!(
        d,
        vec![(
            3,
            "differs",
            "link sn-a in r has mtu 1500, want 1400".into()
        )]
    );
    // The whole end is still read whole: its kind and alias count.
    let d = drifts(|r, h| {
        light(r, h);
        h.links.get_mut("eth0").unwrap().alias = Some("x".into());
    });
    assert_eq!(
        d,
        vec![(
            3,
            "differs",
            "link eth0 in h has alias \"x\", want \"t\"".into()
        )]
    );
}

#[test]
fn a_plan_checked_in_two_halves_gives_what_one_pass_gives() {
    // PLAN 600 times over: 6,600 ops, split in two halves of 3,300.
    let one = plan::parse(PLAN).unwrap();
    let ops: Vec<Op> = (0..600).flat_map(|_| one.iter().cloned()).collect();
    let both = |s: &HashMap<String, Option<Snapshot>>| {
        let whole = check_in(&ops, s, usize::MAX);
        assert_eq!(check_in(&ops, s, 1), whole);
        whole
    };
    assert_eq!(both(&good()), vec![]);
    // Each linkUp of eth0 (op 10 of each copy) drifts, in op order.
    let mut s = good();
    s.get_mut("h")
        .unwrap()
        .as_mut()
        .unwrap()
        .links
        .get_mut("eth0")
        .unwrap()
        .up = false;
    let d = both(&s);
    assert!(
        d.len() >= 600 && d.windows(2).all(|w| w[0].index < w[1].index),
        "{d:?}"
    );
    assert!(d
        .iter()
        .any(|x| x.index == 6_600 - 1 && x.detail.contains("is down")));
    // A missing namespace met by both halves: one drift, on its first netnsAdd.
    let mut s = good();
    s.insert("h".into(), None);
    let want = vec![Drift {
        index: 2,
        detail: "netns h is missing".into(),
        kind: DriftKind::Missing,
    }];
    assert_eq!(both(&s), want);
    // Without a netnsAdd: the first op of the plan that works there.
    let ops: Vec<Op> = ops
        .into_iter()
        .filter(|o| !matches!(o, Op::NetnsAdd { ns, .. } if ns == "h"))
        .collect();
    let d = check_in(&ops, &s, 1);
    assert_eq!((d.len(), d[0].index), (1, 2));
    assert_eq!(d, check_in(&ops, &s, usize::MAX));
}
