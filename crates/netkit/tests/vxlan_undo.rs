//! The cross-host data plane's ops when things go wrong, against the real
//! kernel (sandbox only): a plan that fails after them undoes each one
//! (a made link deleted, added entries removed, replaced and deleted ones
//! put back), a link that is not vxlanAdd's own is refused, a leftover of
//! its own is re-made as the op says, a VNI already taken on the host and
//! a missing underlay are clear errors. The router namespaces are made
//! outside the plans, so a rollback cannot just delete them.

use netkit::{exec, link, neigh, netns};
use serde_json::json;

#[macro_use]
mod common;
mod overlay;

use overlay::*;

/// Makes router namespace `ns` outside any plan.
fn router(ns: &str) {
    netns::add(ns).unwrap();
}

/// Options that fail the plan at its last op, run one op at a time so that
/// every op before it has completed (the last op here waits for nothing).
fn fail_at_end(ops: &[netkit::plan::Op]) -> exec::Options {
    exec::Options {
        fault_at: Some(ops.len()),
        concurrency: 1,
        ..Default::default()
    }
}

/// A last op for plans to fail at: harmless if it ran.
fn tail(r: &str) -> serde_json::Value {
    json!({"op": "sysctlSet", "ns": r, "key": "net/ipv4/ip_forward", "value": "1"})
}

#[test]
fn a_failing_plan_undoes_vxlan_fdb_and_neigh() {
    sandbox_only!();
    let p = "nkv-u";
    let (a, b) = underlay(p);
    router(&a.router);
    let r = &a.router;

    // Made by the failing plan: all undone, the link too.
    let mut v = vec![
        vxlan_op(&a, "vx0"),
        json!({"op": "neighAdd", "ns": r, "dev": "vx0", "addr": b.vtep, "mac": b.mac}),
        json!({"op": "fdbAdd", "ns": r, "dev": "vx0", "mac": b.mac, "dst": b.under}),
    ];
    v.push(tail(r));
    let plan = ops(serde_json::Value::Array(v));
    let err = on_host(&a.host, &plan, fail_at_end(&plan)).unwrap_err();
    assert!(err.ends_with("injected fault; rolled back 3 ops"), "{err}");
    assert!(seen(r, "vx0").is_none(), "the link made is deleted");

    // A plan that made the router namespace too, rolled back, frees the
    // VNI on the host at once: the same plan runs again right after.
    let r2 = format!("{p}-r5");
    let mut again = vec![json!({"op": "netnsAdd", "ns": r2, "tag": "t"})];
    let mut vx = vxlan_op(&a, "vx5");
    vx["ns"] = json!(r2);
    vx["vni"] = json!(VNI + 5);
    again.push(vx);
    again.push(tail(&r2));
    let again = ops(serde_json::Value::Array(again));
    let err = on_host(&a.host, &again, fail_at_end(&again)).unwrap_err();
    assert!(err.ends_with("rolled back 2 ops"), "{err}");
    on_host(&a.host, &again, Default::default()).expect("the VNI is free again");
    assert!(seen(&r2, "vx5").is_some());

    // A router rebuilt: its namespace deleted (the link in it goes with it,
    // in the kernel's cleanup worker, later), then made again at once.
    let gone = ops(json!([{"op": "netnsDel", "ns": r2}]));
    on_host(&a.host, &gone, Default::default()).unwrap();
    on_host(&a.host, &again, Default::default()).expect("waits for the dying link's VNI");
    assert!(seen(&r2, "vx5").is_some());

    // On a link that stays: entries added are removed, entries replaced
    // are put back as they were.
    on_host(&a.host, &router_plan(&a, &b, true), Default::default()).unwrap();
    let (c_mac, c_vtep) = ("02:76:78:00:00:03", "172.16.0.3");
    let change = ops(json!([
        {"op": "fdbAdd", "ns": r, "dev": "vx0", "mac": c_mac, "dst": "192.0.2.3"},
        {"op": "neighAdd", "ns": r, "dev": "vx0", "addr": c_vtep, "mac": c_mac},
        {"op": "fdbAdd", "ns": r, "dev": "vx0", "mac": b.mac, "dst": "192.0.2.9"},
        {"op": "neighAdd", "ns": r, "dev": "vx0", "addr": b.vtep, "mac": c_mac},
        tail(r),
    ]));
    let err = on_host(&a.host, &change, fail_at_end(&change)).unwrap_err();
    assert!(err.ends_with("rolled back 4 ops"), "{err}");
    assert_eq!(fdb_dst(r, "vx0", c_mac), None);
    assert_eq!(neigh_of(r, "vx0", c_vtep), None);
    assert_eq!(
        fdb_dst(r, "vx0", &b.mac),
        Some(b.under.parse().unwrap()),
        "replaced dst put back"
    );
    let b_entry = neigh::Neigh {
        mac: Some(b.mac.clone()),
        permanent: true,
    };
    assert_eq!(
        neigh_of(r, "vx0", &b.vtep),
        Some(b_entry.clone()),
        "replaced MAC put back"
    );

    // Entries deleted by a failing plan come back.
    let del = ops(json!([
        {"op": "fdbDel", "ns": r, "dev": "vx0", "mac": b.mac, "dst": b.under},
        {"op": "neighDel", "ns": r, "dev": "vx0", "addr": b.vtep},
        tail(r),
    ]));
    let err = on_host(&a.host, &del, fail_at_end(&del)).unwrap_err();
    assert!(err.ends_with("rolled back 2 ops"), "{err}");
    assert_eq!(fdb_dst(r, "vx0", &b.mac), Some(b.under.parse().unwrap()));
    assert_eq!(neigh_of(r, "vx0", &b.vtep), Some(b_entry));

    // And the tunnel still works once b has its side.
    on_host(&b.host, &router_plan(&b, &a, false), Default::default()).unwrap();
    ping(&a, &b).expect("a -> b after the rollbacks");
    cleanup(p);
}

#[test]
fn vxlan_add_refuses_what_is_not_its_own() {
    sandbox_only!();
    let p = "nkv-f";
    let (a, _) = underlay(p);
    router(&a.router);
    let r = &a.router;

    // A link of that name with another alias: refused, left as it was.
    rt().block_on(async {
        let h = netkit::conn::connect(r).unwrap();
        let v = link::Veth {
            ns: r.clone(),
            name: "vx0".into(),
            alias: Some("other-tool".into()),
            peer_ns: r.clone(),
            peer_name: "vx0-peer".into(),
            ..Default::default()
        };
        link::veth_add(&h, &h, &v).await.unwrap();
    });
    let index = index_in(r, "vx0");
    let plan = ops(json!([vxlan_op(&a, "vx0")]));
    let err = on_host(&a.host, &plan, Default::default()).unwrap_err();
    assert_eq!(
        err,
        format!("op 1 (vxlanAdd vx0 vni {VNI} dev eth-u in netns \"{r}\"): link vx0 in netns \"{r}\" exists with alias \"other-tool\", not \"vpcctl:{r}\": refusing to take over a link that is not this one's; rolled back 0 ops")
    );
    assert_eq!(index_in(r, "vx0"), index, "the foreign link is untouched");

    // A leftover of its own (same alias) configured otherwise: re-made as the op says.
    let mut old = vxlan_op(&a, "vx1");
    old["vni"] = json!(7);
    on_host(&a.host, &ops(json!([old])), Default::default()).unwrap();
    let before = index_in(r, "vx1");
    on_host(
        &a.host,
        &ops(json!([vxlan_op(&a, "vx1")])),
        Default::default(),
    )
    .unwrap();
    let (_, s) = seen(r, "vx1").unwrap();
    assert_eq!(s.vni, Some(VNI));
    assert_ne!(index_in(r, "vx1"), before, "made again");

    // The VNI is the host's to give once per UDP port: a second router on
    // the same host cannot take it.
    let r2 = format!("{p}-r9");
    router(&r2);
    let mut other = vxlan_op(&a, "vx2");
    other["ns"] = json!(r2);
    let err = on_host(&a.host, &ops(json!([other])), Default::default()).unwrap_err();
    assert!(
        err.ends_with(&format!(
            "the host already has a VXLAN link with VNI {VNI} on UDP port 4789; rolled back 0 ops"
        )),
        "{err}"
    );
    assert!(index_in(&r2, "vx2").is_none());

    // No such underlay in the host.
    let mut bad = vxlan_op(&a, "vx3");
    bad["dev"] = json!("nope0");
    let err = on_host(&a.host, &ops(json!([bad])), Default::default()).unwrap_err();
    assert!(
        err.contains("underlay nope0 in the host namespace: No such device"),
        "{err}"
    );
    assert!(index_in(r, "vx3").is_none());
    cleanup(p);
}
