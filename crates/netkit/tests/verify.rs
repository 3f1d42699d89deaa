//! verify against the real kernel (inside scripts/sandbox.sh only): a plan
//! made by the executor verifies clean; each kind of object broken behind
//! its back is named as exactly the op that made it; counters moving and a
//! foreign table give no drift; re-running the drifted ops repairs them.

#[macro_use]
mod common;

use std::{collections::HashMap, time::Duration};

use common::{check, index_of, run, vpc};
use netkit::{
    addr, conn, exec, link, netns,
    nft::Nft,
    observe::NftMark,
    plan::Op,
    probe, route, sysctl,
    verify::{Drift, DriftKind},
};

/// Runs an nft command (nft syntax) inside `ns`.
fn nft_cmd(ns: &str, cmd: &str) {
    netns::run_in(ns, || Nft::new().unwrap().run(cmd))
        .unwrap()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
}

fn handle_of(ns: &str, chain: &str, comment: &str) -> u64 {
    let listed = netkit::nft::list_table(ns, "inet", "vpcctl")
        .unwrap()
        .unwrap();
    listed["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| {
            let r = o.get("rule")?;
            (r["chain"] == chain && r["comment"] == comment).then(|| r["handle"].as_u64().unwrap())
        })
        .unwrap()
}

/// Asserts that exactly op `index` drifted, of `kind`, with `detail` in its
/// text; then re-runs that op (or `repair`) and asserts all is clean again.
fn expect_one(
    ops: &[Op],
    marks: &mut HashMap<String, NftMark>,
    index: usize,
    kind: DriftKind,
    detail: &str,
    repair: Option<Op>,
) {
    for m in [marks.clone(), HashMap::new()] {
        let d = check(ops, &m);
        assert_eq!(
            d.len(),
            1,
            "want one drift for op {index} ({}), got {d:?}",
            ops[index]
        );
        assert_eq!((d[0].index, d[0].kind), (index, kind), "{d:?}");
        assert!(
            d[0].detail.contains(detail),
            "{:?} lacks {detail:?}",
            d[0].detail
        );
    }
    let fix = repair.unwrap_or_else(|| ops[index].clone());
    let r = run(&[fix]);
    marks.extend(r.nft);
    assert_eq!(check(ops, marks), vec![], "after repair of op {index}");
}

#[test]
fn verify_names_each_broken_object_and_nothing_else() {
    sandbox_only!();
    let ops = vpc("vf", 2);
    let report = run(&ops);
    let mut marks = report.nft.clone();
    // Marks for every namespace the plan ran nft ops in.
    assert_eq!(marks.len(), 3, "{marks:?}");
    assert!(marks.contains_key("vf-r") && marks.contains_key("vf-h1"));
    assert_eq!(check(&ops, &marks), vec![]);
    assert_eq!(
        check(&ops, &HashMap::new()),
        vec![],
        "by content, without marks"
    );

    // Counters move with traffic (ping host 0 -> router): no drift, by content.
    let r = probe::ping(
        "vf-h0",
        "10.60.0.1".parse().unwrap(),
        Duration::from_secs(2),
    );
    assert!(r.is_ok(), "{r:?}");
    let listed = netkit::nft::list_table("vf-h0", "inet", "vpcctl")
        .unwrap()
        .unwrap()
        .to_string();
    assert!(
        listed.contains("\"packets\":1"),
        "the egress counter moved: {listed}"
    );
    assert_eq!(check(&ops, &HashMap::new()), vec![]);
    // A foreign table beside ours changes the generation: listed, still no drift.
    nft_cmd(
        "vf-h0",
        "add table inet foreign; add chain inet foreign c { type filter hook input priority 10; }",
    );
    assert_eq!(check(&ops, &marks), vec![]);

    let rns = "vf-r";
    let addr_op = index_of(
        &ops,
        |o| matches!(o, Op::AddrAdd { ns, dev, .. } if ns == rns && dev == "sn-1"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(async { conn::connect(rns) }).unwrap();
    rt.block_on(addr::del(&h, rns, "sn-1", "10.60.1.1/32"))
        .unwrap();
    // The kernel drops the routes of a link that loses its last address:
    // both ops drift, and running both again repairs them.
    let d = check(&ops, &marks);
    assert_eq!(
        d,
        vec![
            Drift {
                index: addr_op,
                detail: "address 10.60.1.1/32 missing on sn-1 in vf-r".into(),
                kind: DriftKind::Missing
            },
            Drift {
                index: addr_op + 1,
                detail: "route 10.60.1.2/32 dev sn-1 in vf-r is missing".into(),
                kind: DriftKind::Missing
            },
        ]
    );
    run(&[ops[addr_op].clone(), ops[addr_op + 1].clone()]);
    assert_eq!(check(&ops, &marks), vec![]);

    let route_op = index_of(
        &ops,
        |o| matches!(o, Op::RouteAdd { ns, route } if ns == "vf-h1" && route.dst == "10.0.0.0/8"),
    );
    let hh = rt.block_on(async { conn::connect("vf-h1") }).unwrap();
    let r = route::Route {
        dst: "10.0.0.0/8".into(),
        dev: Some("eth0".into()),
        ..Default::default()
    };
    rt.block_on(route::del(&hh, "vf-h1", &r)).unwrap();
    expect_one(
        &ops,
        &mut marks,
        route_op,
        DriftKind::Missing,
        "route 10.0.0.0/8 via 10.60.1.1 dev eth0 in vf-h1 is missing",
        None,
    );
    // The same destination by another gateway differs.
    let other = route::Route {
        dst: "10.0.0.0/8".into(),
        dev: Some("eth0".into()),
        via: Some("10.60.1.9".into()),
        onlink: true,
        ..Default::default()
    };
    rt.block_on(route::add(&hh, "vf-h1", &other, None)).unwrap();
    expect_one(
        &ops,
        &mut marks,
        route_op,
        DriftKind::Differs,
        "it is 10.0.0.0/8 via 10.60.1.9 dev eth0, want 10.0.0.0/8 via 10.60.1.1 dev eth0",
        None,
    );

    // A link set down: the veth op names it; linkUp repairs it.
    let veth_op = index_of(
        &ops,
        |o| matches!(o, Op::VethAdd { peer_ns, .. } if peer_ns == "vf-h0"),
    );
    rt.block_on(link::set_up(
        &rt.block_on(async { conn::connect("vf-h0") }).unwrap(),
        "vf-h0",
        "eth0",
        false,
    ))
    .unwrap();
    // The kernel drops the routes through a link set down: they drift too.
    let route0 = index_of(
        &ops,
        |o| matches!(o, Op::RouteAdd { ns, .. } if ns == "vf-h0"),
    );
    assert_eq!(
        check(&ops, &marks),
        vec![
            Drift {
                index: veth_op,
                detail: "link eth0 in vf-h0 is down".into(),
                kind: DriftKind::Differs
            },
            Drift {
                index: route0,
                detail: "route 10.0.0.0/8 via 10.60.0.1 dev eth0 in vf-h0 is missing".into(),
                kind: DriftKind::Missing
            },
        ]
    );
    let up = Op::LinkUp {
        ns: "vf-h0".into(),
        name: "eth0".into(),
    };
    run(&[up, ops[route0].clone()]);
    assert_eq!(check(&ops, &marks), vec![]);

    // Sysctls: through netconf (rp_filter) and /proc (unprivileged ports).
    let rp_op = index_of(
        &ops,
        |o| matches!(o, Op::SysctlSet { key, .. } if key == "net/ipv4/conf/all/rp_filter"),
    );
    sysctl::set(rns, "net/ipv4/conf/all/rp_filter", "0").unwrap();
    expect_one(
        &ops,
        &mut marks,
        rp_op,
        DriftKind::Differs,
        "net.ipv4.conf.all.rp_filter in vf-r is 0, want 1",
        None,
    );
    let fwd_op = index_of(
        &ops,
        |o| matches!(o, Op::SysctlSet { key, .. } if key == "net/ipv4/ip_forward"),
    );
    sysctl::set(rns, "net/ipv4/ip_forward", "0").unwrap();
    expect_one(
        &ops,
        &mut marks,
        fwd_op,
        DriftKind::Differs,
        "net.ipv4.ip_forward in vf-r is 0, want 1",
        None,
    );
    let pa_op = index_of(
        &ops,
        |o| matches!(o, Op::SysctlSet { key, .. } if key == "net/ipv4/conf/all/proxy_arp"),
    );
    sysctl::set(rns, "net/ipv4/conf/all/proxy_arp", "0").unwrap();
    expect_one(
        &ops,
        &mut marks,
        pa_op,
        DriftKind::Differs,
        "proxy_arp in vf-r is 0, want 1",
        None,
    );
    let port_op = index_of(
        &ops,
        |o| matches!(o, Op::SysctlSet { ns, key, .. } if ns == "vf-h1" && key.ends_with("port_start")),
    );
    sysctl::set("vf-h1", "net/ipv4/ip_unprivileged_port_start", "1024").unwrap();
    expect_one(
        &ops,
        &mut marks,
        port_op,
        DriftKind::Differs,
        "ip_unprivileged_port_start in vf-h1 is 1024, want 0",
        None,
    );

    // nftables: a rule deleted, a chain flushed, a rule added, a set element
    // removed, the table deleted.
    let pol_op = index_of(
        &ops,
        |o| matches!(o, Op::NftApply { ns, .. } if ns == "vf-h1"),
    );
    let h = handle_of("vf-h1", "ingress", "ingress[0]");
    nft_cmd(
        "vf-h1",
        &format!("delete rule inet vpcctl ingress handle {h}"),
    );
    expect_one(
        &ops,
        &mut marks,
        pol_op,
        DriftKind::Differs,
        "table inet vpcctl in vf-h1 differs: rule 4 of chain ingress is missing",
        None,
    );
    nft_cmd("vf-h1", "flush chain inet vpcctl egress");
    expect_one(
        &ops,
        &mut marks,
        pol_op,
        DriftKind::Differs,
        "rule 1 of chain egress is missing",
        None,
    );
    nft_cmd("vf-h1", "add rule inet vpcctl ingress tcp dport 22 accept");
    expect_one(
        &ops,
        &mut marks,
        pol_op,
        DriftKind::Differs,
        "rule 6 of chain ingress was added",
        None,
    );
    nft_cmd("vf-h1", "chain inet vpcctl ingress { policy accept; }");
    expect_one(
        &ops,
        &mut marks,
        pol_op,
        DriftKind::Differs,
        "chain ingress changed",
        None,
    );
    let router_op = index_of(&ops, |o| matches!(o, Op::NftApply { ns, .. } if ns == rns));
    nft_cmd(rns, "delete element inet vpcctl private { 10.60.1.0/24 }");
    expect_one(
        &ops,
        &mut marks,
        router_op,
        DriftKind::Differs,
        "set private has other elements",
        None,
    );
    nft_cmd("vf-h1", "delete table inet vpcctl");
    expect_one(
        &ops,
        &mut marks,
        pol_op,
        DriftKind::Missing,
        "table inet vpcctl in vf-h1 is missing",
        None,
    );

    // A missing namespace: one drift, on its netnsAdd, nothing else of it.
    netns::del("vf-h1").unwrap();
    let d = check(&ops, &marks);
    let add_op = index_of(
        &ops,
        |o| matches!(o, Op::NetnsAdd { ns, .. } if ns == "vf-h1"),
    );
    assert_eq!(
        d,
        vec![Drift {
            index: add_op,
            detail: "netns vf-h1 is missing".into(),
            kind: DriftKind::Missing
        }]
    );
    for ns in ["vf-r", "vf-h0"] {
        netns::del(ns).unwrap();
    }
}

/// linkUp sets a link up; when a later op fails, its undo sets it down again.
#[test]
fn link_up_and_its_undo() {
    sandbox_only!();
    let ops = vpc("lu", 1);
    run(&ops);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(async { conn::connect("lu-h0") }).unwrap();
    let is_up = || {
        rt.block_on(link::get(&h, "lu-h0", "eth0"))
            .unwrap()
            .unwrap()
            .up
    };
    rt.block_on(link::set_up(&h, "lu-h0", "eth0", false))
        .unwrap();
    let up = Op::LinkUp {
        ns: "lu-h0".into(),
        name: "eth0".into(),
    };
    let bad = Op::AddrAdd {
        ns: "lu-h0".into(),
        dev: "nope".into(),
        cidr: "10.1.1.1/32".into(),
    };
    let rt2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let e = rt2
        .block_on(exec::execute(
            &[up.clone(), bad],
            &exec::Options::default(),
            &|_, _| {},
        ))
        .unwrap_err();
    assert!(e.to_string().contains("rolled back 1 ops"), "{e}");
    assert!(!is_up(), "the rollback set it down again");
    run(std::slice::from_ref(&up));
    assert!(is_up());
    run(&[up]); // already up: nothing to do, no error
    assert!(is_up());
    let e = rt2
        .block_on(exec::execute(
            &[Op::LinkUp {
                ns: "lu-h0".into(),
                name: "nope".into(),
            }],
            &exec::Options::default(),
            &|_, _| {},
        ))
        .unwrap_err();
    assert!(e.to_string().contains("linkUp nope"), "{e}");
    for ns in ["lu-r", "lu-h0"] {
        netns::del(ns).unwrap();
    }
}

/// The index of the op making the veth into host namespace `host`.
fn veth_to(ops: &[Op], host: &str) -> usize {
    index_of(
        ops,
        |o| matches!(o, Op::VethAdd { peer_ns, .. } if peer_ns == host),
    )
}

/// Asserts that op `index` drifted with exactly `detail`, among others.
fn assert_drift(d: &[Drift], index: usize, detail: &str) {
    assert!(
        d.iter().any(|d| d.index == index && d.detail == detail),
        "want op {index}: {detail}; got {d:?}"
    );
}

/// A veth made behind vpcctl's back: `name` in `ns` (with `alias`), its peer `peer_name` in `peer_ns`.
fn foreign_veth(ns: &str, name: &str, alias: &str, peer_ns: &str, peer_name: &str) -> link::Veth {
    link::Veth {
        ns: ns.into(),
        name: name.into(),
        alias: Some(alias.into()),
        peer_ns: peer_ns.into(),
        peer_name: peer_name.into(),
        peer_alias: None,
        mtu: None,
    }
}

/// A router's ends of its subnets' veths are read by name (ioctls), not
/// dumped (verify/by_name.rs): set down, given another MTU or replaced by a
/// link that is not the subnet's peer, each is still named.
#[test]
fn router_ends_read_by_name_still_drift() {
    sandbox_only!();
    let ops = vpc("vl", 3);
    let marks = run(&ops).nft;
    assert_eq!(check(&ops, &marks), vec![]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(async { conn::connect("vl-r") }).unwrap();
    let veth1 = veth_to(&ops, "vl-h1");
    rt.block_on(link::set_up(&h, "vl-r", "sn-1", false))
        .unwrap();
    let d = check(&ops, &marks);
    assert!(
        d.iter().any(|d| d.index == veth1
            && d.kind == DriftKind::Differs
            && d.detail == "link sn-1 in vl-r is down"),
        "{d:?}"
    );
    rt.block_on(link::set_up(&h, "vl-r", "sn-1", true)).unwrap();
    // The kernel dropped the route through it when it went down.
    let route1 = index_of(
        &ops,
        |o| matches!(o, Op::RouteAdd { ns, route } if ns == "vl-r" && route.dev.as_deref() == Some("sn-1")),
    );
    run(&ops[route1..=route1]);
    assert_eq!(check(&ops, &marks), vec![]);

    // sn-1 deleted (its pair goes with it) and a new sn-1 made whose peer
    // is elsewhere, and a new eth0 in vl-h1 whose peer is elsewhere too:
    // both ends exist, up, with the right aliases, but are not one veth.
    rt.block_on(link::del(&h, "vl-r", "sn-1")).unwrap();
    let tag = "vpcctl:vl/1".to_string();
    let h1 = rt.block_on(async { conn::connect("vl-h1") }).unwrap();
    let other = "vl-x";
    netns::add(other).unwrap();
    let hx = rt.block_on(async { conn::connect(other) }).unwrap();
    let veth = |ns: &str, name: &str, peer: &str| foreign_veth(ns, name, &tag, other, peer);
    rt.block_on(link::veth_add(&h, &hx, &veth("vl-r", "sn-1", "a")))
        .unwrap();
    rt.block_on(link::veth_add(&h1, &hx, &veth("vl-h1", "eth0", "b")))
        .unwrap();
    let d = check(&ops, &marks);
    assert_drift(
        &d,
        veth1,
        "link sn-1 in vl-r is not the peer of eth0 in vl-h1",
    );
    netns::del(other).unwrap();

    // An impostor by coincidence (found by a hostile test): subnet 0's eth0
    // moved away, the router end sn-0 (index 2) kept, and a new eth0 whose
    // peer is the first link (index 2 as well) of a fresh namespace.
    let veth0 = veth_to(&ops, "vl-h0");
    let h0 = rt.block_on(async { conn::connect("vl-h0") }).unwrap();
    let (away, fresh) = ("vl-away", "vl-fresh");
    netns::add(away).unwrap();
    netns::add(fresh).unwrap();
    let away_fd = netns::open(away).unwrap();
    rt.block_on(
        h0.link()
            .set(
                rtnetlink::LinkUnspec::new_with_name("eth0")
                    .setns_by_fd(std::os::fd::AsRawFd::as_raw_fd(&away_fd))
                    .build(),
            )
            .execute(),
    )
    .unwrap();
    let hf = rt.block_on(async { conn::connect(fresh) }).unwrap();
    let impostor = foreign_veth("vl-h0", "eth0", "vpcctl:vl/0", fresh, "p0");
    rt.block_on(link::veth_add(&h0, &hf, &impostor)).unwrap();
    // Usually p0 and sn-0 both have index 2 (not always: the kernel may
    // number p0 otherwise); the unit tests pin the coincidence itself.
    let d = check(&ops, &marks);
    assert_drift(
        &d,
        veth0,
        "link sn-0 in vl-r is not the peer of eth0 in vl-h0",
    );
    netns::del(fresh).unwrap();
    netns::del(away).unwrap();

    // The router end of subnet 2 renamed behind our back: missing, while
    // the subnet's end (our alias) stays. Re-running the veth op removes
    // that end (the renamed partner goes with it) and makes the pair again;
    // with the ops on its two ends, all holds again (found by a hostile
    // test: the re-run failed with EEXIST on the peer's name, forever).
    let veth2 = veth_to(&ops, "vl-h2");
    let sn2 = rt.block_on(link::get(&h, "vl-r", "sn-2")).unwrap().unwrap();
    rt.block_on(
        h.link()
            .set(
                rtnetlink::LinkUnspec::new_with_index(sn2.index)
                    .down()
                    .build(),
            )
            .execute(),
    )
    .unwrap();
    rt.block_on(
        h.link()
            .set(
                rtnetlink::LinkUnspec::new_with_index(sn2.index)
                    .name("zz")
                    .build(),
            )
            .execute(),
    )
    .unwrap();
    let d = check(&ops, &marks);
    assert_drift(&d, veth2, "link sn-2 in vl-r is missing");
    let on_pair = |o: &Op| match o {
        Op::AddrAdd { ns, dev, .. } => {
            (ns == "vl-r" && dev == "sn-2") || (ns == "vl-h2" && dev == "eth0")
        }
        Op::RouteAdd { ns, route } => {
            let dev = route.dev.as_deref();
            (ns == "vl-r" && dev == Some("sn-2")) || (ns == "vl-h2" && dev == Some("eth0"))
        }
        _ => false,
    };
    let mut repair = vec![ops[veth2].clone()];
    repair.extend(ops.iter().filter(|o| on_pair(o)).cloned());
    run(&repair);
    assert!(
        rt.block_on(link::get(&h, "vl-r", "zz")).unwrap().is_none(),
        "the renamed end went with its pair"
    );
    let d = check(&ops, &marks);
    assert!(d.iter().all(|d| d.index != veth2), "{d:?}");

    // The same with the subnet's end not ours (no alias: someone else's
    // link of that name): never touched, the op refused.
    rt.block_on(link::del(&h, "vl-r", "sn-2")).unwrap(); // the pair, eth0 with it
    let h2 = rt.block_on(async { conn::connect("vl-h2") }).unwrap();
    let theirs = "vl-theirs";
    netns::add(theirs).unwrap();
    let ht = rt.block_on(async { conn::connect(theirs) }).unwrap();
    let mut foreign = foreign_veth("vl-h2", "eth0", "", theirs, "t0");
    foreign.alias = None;
    rt.block_on(link::veth_add(&h2, &ht, &foreign)).unwrap();
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let r = mt.block_on(exec::execute(
        &ops[veth2..=veth2],
        &exec::Options::default(),
        &|_, _| {},
    ));
    // Refused before anything runs (exec/preflight.rs), naming it.
    let e = r.expect_err("a foreign eth0 is not ours to remove");
    assert!(
        e.to_string()
            .starts_with("link eth0 in netns \"vl-h2\": in the way: a veth without vpcctl's tag"),
        "{e}"
    );
    assert!(
        rt.block_on(link::get(&h2, "vl-h2", "eth0"))
            .unwrap()
            .is_some(),
        "the foreign eth0 is still there"
    );
    netns::del(theirs).unwrap();
}
