//! What vpcctl checks before it takes anything: sock_diag listeners, the
//! tags of namespaces read in one call, and netns deletion's refusals,
//! against the real kernel. Run only inside the sandbox (scripts/sandbox.sh sets VPCCTL_SANDBOX=1).

use std::net::TcpListener;

use netkit::{conn, exec, link, netns, nstag, plan, sockdiag};

mod common;
use common::sandboxed;

#[test]
fn listeners_by_port_v4_and_v6_with_their_holder() {
    if !sandboxed() {
        return;
    }
    let ns = "sd-listen";
    netns::add(ns).unwrap();
    // Opened inside the namespace by this process, which lives outside it:
    // the holder is found by the wider /proc scan.
    let v4 = netns::run_in(ns, || TcpListener::bind("0.0.0.0:8081"))
        .unwrap()
        .unwrap();
    let v6 = netns::run_in(ns, || TcpListener::bind("[::]:8082"))
        .unwrap()
        .unwrap();
    let me = std::process::id();

    let l4 = sockdiag::tcp_listeners(ns, 8081).unwrap();
    assert_eq!(l4.len(), 1, "{l4:?}");
    assert_eq!(l4[0].addr.to_string(), "0.0.0.0");
    assert_eq!(l4[0].port, 8081);
    assert_eq!(l4[0].pids, vec![me]);
    let l6 = sockdiag::tcp_listeners(ns, 8082).unwrap();
    assert_eq!(l6.len(), 1, "{l6:?}");
    assert_eq!(l6[0].addr.to_string(), "::");
    assert_eq!(l6[0].pids, vec![me]);

    // Another port, and the same port in another namespace: nothing.
    assert!(sockdiag::tcp_listeners(ns, 8083).unwrap().is_empty());
    assert!(sockdiag::tcp_listeners("", 8081).unwrap().is_empty());
    // Closed listeners are gone from the kernel's answer.
    drop(v4);
    assert!(sockdiag::tcp_listeners(ns, 8081).unwrap().is_empty());
    drop(v6);
    assert!(sockdiag::tcp_listeners(ns, 8082).unwrap().is_empty());
    netns::del(ns).unwrap();
}

#[test]
fn netns_del_leaves_paths_outside_and_symlinks_alone() {
    if !sandboxed() {
        return;
    }
    std::fs::create_dir_all("/run/netns").unwrap();
    std::fs::write("/run/sd-victim", "x").unwrap();
    for bad in ["../sd-victim", "", "..", "a/b"] {
        assert!(netns::del(bad).is_err(), "{bad:?} refused");
    }
    assert!(std::path::Path::new("/run/sd-victim").exists());
    // A symlink to this process's own namespace: deleting "it" would kill
    // every process of the namespace, this test included.
    let link = "/run/netns/sd-link";
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink("/proc/self/ns/net", link).unwrap();
    let e = netns::del("sd-link").unwrap_err();
    assert!(e.to_string().contains("symlink"), "{e}");
    assert!(std::fs::symlink_metadata(link).is_ok(), "left in place");
    std::fs::remove_file(link).unwrap();
    std::fs::remove_file("/run/sd-victim").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lo_aliases_of_many_namespaces_in_one_call() {
    if !sandboxed() {
        return;
    }
    let add = plan::Op::NetnsAdd {
        ns: "tg-tagged".into(),
        tag: "vpcctl:host:a/b".into(),
    };
    exec::execute_one(&add, exec::Options::default().timeout)
        .await
        .unwrap();
    netns::add("tg-plain").unwrap();
    let names: Vec<String> = ["tg-tagged", "tg-plain", "tg-absent"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        nstag::lo_aliases(&names).unwrap(),
        vec![Some("vpcctl:host:a/b".to_string()), None, None]
    );
    netns::del("tg-tagged").unwrap();
    netns::del("tg-plain").unwrap();
}

/// A plan that rebuilds a namespace and makes its veth again is refused
/// before anything runs when the veth's name on the side it does not
/// rebuild is held by a link that nothing in the plan removes (a bridge,
/// a veth of someone else's): the namespace and what runs in it stay. A
/// veth whose other end is in the namespace being rebuilt goes with it:
/// that plan runs. (No `ip` here: a process forked while the test above
/// holds a listener would keep it open.)
#[test]
fn a_rebuild_is_refused_before_it_starts_when_a_foreign_link_holds_its_name() {
    if !sandboxed() {
        return;
    }
    let (r, h, x) = ("pf-r", "pf-h", "pf-x");
    for ns in [r, h, x] {
        netns::add(ns).unwrap();
    }
    let rebuild = plan::parse(&format!(
        r#"[{{"op":"netnsDel","ns":"{h}"}},{{"op":"netnsAdd","ns":"{h}","tag":"t"}},
            {{"op":"vethAdd","ns":"{r}","name":"sn-0","alias":"t","peerNs":"{h}","peerName":"eth0","peerAlias":"t"}}]"#
    ))
    .unwrap();
    let rt = common::runtime();
    let execute = |ops| common::execute_on(&rt, ops);
    let id_of = |ns: &str| {
        let m = std::fs::metadata(netns::path(ns)).unwrap();
        std::os::unix::fs::MetadataExt::ino(&m)
    };
    let hr = rt.block_on(async { conn::connect(r) }).unwrap();
    // Someone else's veth: sn-0 in pf-r, untagged, its peer `peer` in `to`.
    let veth = |to: &str, peer: &str| {
        let ht = rt.block_on(async { conn::connect(to) }).unwrap();
        let v = link::Veth {
            ns: r.into(),
            name: "sn-0".into(),
            alias: None,
            peer_ns: to.into(),
            peer_name: peer.into(),
            peer_alias: None,
            mtu: None,
        };
        rt.block_on(link::veth_add(&hr, &ht, &v)).unwrap();
    };

    // A bridge, then a veth of someone else's (its peer in pf-x): refused, pf-h untouched.
    for foreign in 0..2 {
        if foreign == 0 {
            let bridge = rtnetlink::LinkBridge::new("sn-0").build();
            rt.block_on(hr.link().add(bridge).execute()).unwrap();
        } else {
            veth(x, "p0");
        }
        let before = id_of(h);
        let e = execute(&rebuild).unwrap_err();
        assert_eq!(e.kind(), netkit::error::Kind::Foreign, "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("link sn-0 in netns \"{r}\": in the way")),
            "{e}"
        );
        assert_eq!(id_of(h), before, "{h} was not deleted");
        rt.block_on(link::del(&hr, r, "sn-0")).unwrap();
    }

    // In pf-h, which the plan rebuilds: a bridge at eth0 is refused too (it
    // would go with the namespace), the namespace kept.
    let hh = rt.block_on(async { conn::connect(h) }).unwrap();
    let bridge = rtnetlink::LinkBridge::new("eth0").build();
    rt.block_on(hh.link().add(bridge).execute()).unwrap();
    let before = id_of(h);
    let e = execute(&rebuild).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("link eth0 in netns \"{h}\": in the way: a bridge")),
        "{e}"
    );
    assert_eq!(id_of(h), before, "{h} was not deleted");
    rt.block_on(link::del(&hh, h, "eth0")).unwrap();
    drop(hh); // its socket would keep pf-h alive after the plan deletes it

    // sn-0 a veth whose other end is in pf-h (untagged): it goes with pf-h, the plan runs.
    veth(h, "old0");
    execute(&rebuild).unwrap();
    // The pair made again, both ends' tags changed behind vpcctl's back: a
    // pair of vpcctl's, which the rebuild replaces.
    for (ns, l) in [(r, "sn-0"), (h, "eth0")] {
        let hn = rt.block_on(async { conn::connect(ns) }).unwrap();
        let i = rt.block_on(link::get(&hn, ns, l)).unwrap().unwrap().index;
        let set = rtnetlink::LinkUnspec::new_with_index(i)
            .alias("changed")
            .build();
        rt.block_on(hn.link().set(set).execute()).unwrap();
    }
    execute(&rebuild).unwrap();
    let hh = rt.block_on(async { conn::connect(h) }).unwrap();
    let names: Vec<String> = rt
        .block_on(link::list(&hh, h))
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(
        names.contains(&"eth0".to_string()) && !names.contains(&"old0".to_string()),
        "{names:?}"
    );
    for ns in [r, h, x] {
        netns::del(ns).unwrap();
    }
}

#[test]
fn a_tagged_link_del_deletes_only_the_link_that_carries_its_alias() {
    if !sandboxed() {
        return;
    }
    let ns = "ld-r";
    netns::add(ns).unwrap();
    let rt = common::runtime();
    let execute = |ops: &str| common::execute_on(&rt, &plan::parse(ops).unwrap());
    let del =
        format!(r#"[{{"op":"linkDel","ns":"{ns}","name":"px-0","alias":"vpcctl:peer:a~b"}}]"#);
    let h = rt.block_on(async { conn::connect(ns) }).unwrap();
    let present = || rt.block_on(link::get(&h, ns, "px-0")).unwrap();

    // Someone else's bridge at the name: left alone, and the op succeeds.
    let bridge = rtnetlink::LinkBridge::new("px-0").build();
    rt.block_on(h.link().add(bridge).execute()).unwrap();
    execute(&del).unwrap();
    assert_eq!(present().and_then(|l| l.kind).as_deref(), Some("bridge"));
    // Tagged as the op says: deleted. Absent: a success too.
    rt.block_on(link::set_alias(&h, ns, "px-0", "vpcctl:peer:a~b"))
        .unwrap();
    execute(&del).unwrap();
    assert!(present().is_none());
    execute(&del).unwrap();
    drop(h);
    netns::del(ns).unwrap();
}
