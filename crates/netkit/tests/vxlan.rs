//! The cross-host data plane against the real kernel, only inside the
//! sandbox (scripts/sandbox.sh): traffic over the tunnel, the link as
//! vxlanAdd makes it, a re-run that changes nothing, deletions, drift.
//! The two-host lab is in overlay/. Every test uses its own names.

use std::{net::UdpSocket, os::fd::AsRawFd, time::Duration};

use netkit::{exec, neigh, netns, vxlan};
use serde_json::json;

#[macro_use]
mod common;
mod overlay;

use overlay::*;

#[test]
fn vxlan_tunnel_carries_traffic_between_hosts() {
    sandbox_only!();
    let p = "nkv-t";
    let (a, b) = underlay(p);
    assert!(ping(&a, &b).is_err(), "no router yet");
    on_host(&a.host, &router_plan(&a, &b, false), Default::default()).unwrap();
    on_host(&b.host, &router_plan(&b, &a, false), Default::default()).unwrap();

    // Each router reaches the subnet behind the other over the tunnel,
    // though neither router namespace holds an underlay link.
    ping(&a, &b).expect("a -> b over the tunnel");
    ping(&b, &a).expect("b -> a over the tunnel");

    // The link is made in the router, its underlay (and socket) stay in the host.
    let (l, s) = seen(&a.router, "vx0").expect("vx0 in the router");
    assert!(index_in(&a.host, "vx0").is_none(), "not in the host");
    assert_eq!(
        (
            l.kind.as_deref(),
            l.alias.as_deref(),
            l.up,
            l.mtu,
            l.mac.as_deref()
        ),
        (
            Some("vxlan"),
            Some("vpcctl:nkv-t-r1"),
            true,
            MTU,
            Some(a.mac.as_str())
        )
    );
    assert_eq!(
        s,
        vxlan::Seen {
            vni: Some(VNI),
            local: Some(a.under.parse().unwrap()),
            underlay: index_in(&a.host, "eth-u"),
            port: Some(4789),
            learning: Some(false),
            group: None,
        },
        "learning off, no group or remote"
    );
    assert_eq!(
        fdb_dst(&a.router, "vx0", &b.mac),
        Some(b.under.parse().unwrap())
    );
    assert_eq!(
        neigh_of(&a.router, "vx0", &b.vtep),
        Some(neigh::Neigh {
            mac: Some(b.mac.clone()),
            permanent: true
        })
    );
    // No learning: b's frames taught a's link nothing beyond the static entry.
    assert_eq!(
        fdb_dst(&b.router, "vx0", &a.mac),
        Some(a.under.parse().unwrap())
    );

    // Running the plan again changes nothing: the link is the same one,
    // and a copy of it that fails at its end, rolled back, undoes nothing,
    // since no op recorded an undo (each found its object as it says).
    let again = router_plan(&a, &b, true);
    let index = index_in(&a.router, "vx0");
    on_host(&a.host, &again, Default::default()).unwrap();
    assert_eq!(index_in(&a.router, "vx0"), index, "not made again");
    let k = again.len();
    let fail = exec::Options {
        fault_at: Some(k),
        ..Default::default()
    };
    let err = on_host(&a.host, &again, fail).unwrap_err();
    assert!(
        err.ends_with(&format!("injected fault; rolled back {} ops", k - 1)),
        "{err}"
    );
    assert_eq!(index_in(&a.router, "vx0"), index);
    assert_eq!(
        fdb_dst(&a.router, "vx0", &b.mac),
        Some(b.under.parse().unwrap())
    );
    assert!(neigh_of(&a.router, "vx0", &b.vtep).is_some());
    ping(&a, &b).expect("still carries traffic");

    // Verify: the plan holds; then each object drifts in its own way.
    let plan = router_plan(&a, &b, false);
    assert_eq!(verify_on(&a.host, &plan), vec![]);
    let at = |kind: &str| {
        plan.iter()
            .position(|o| o.to_string().starts_with(kind))
            .unwrap()
    };
    let swap = ops(json!([
        {"op": "neighAdd", "ns": a.router, "dev": "vx0", "addr": b.vtep, "mac": "02:00:00:00:00:99"},
        {"op": "fdbAdd", "ns": a.router, "dev": "vx0", "mac": b.mac, "dst": "192.0.2.99"},
    ]));
    on_host(&a.host, &swap, Default::default()).unwrap();
    let drift = verify_on(&a.host, &plan);
    let kinds: Vec<_> = drift.iter().map(|d| (d.index, d.kind.as_str())).collect();
    assert_eq!(
        kinds,
        vec![(at("neighAdd"), "differs"), (at("fdbAdd"), "differs")],
        "{drift:?}"
    );
    assert!(
        drift[1].detail.contains("it sends to 192.0.2.99"),
        "{drift:?}"
    );
    // Running the plan again repairs both (each replaced in place).
    on_host(&a.host, &again, Default::default()).unwrap();
    assert_eq!(verify_on(&a.host, &plan), vec![]);
    let down = ops(json!([{"op": "linkDel", "ns": a.router, "name": "vx0"}]));
    on_host(&a.host, &down, Default::default()).unwrap();
    let drift = verify_on(&a.host, &plan);
    assert_eq!(drift[0].index, at("vxlanAdd"), "{drift:?}");
    assert_eq!(drift[0].detail, "link vx0 in nkv-t-r1 is missing");
    assert!(
        drift
            .iter()
            .any(|d| d.index == at("fdbAdd") && d.detail.contains("no link vx0")),
        "{drift:?}"
    );
    on_host(&a.host, &again, Default::default()).unwrap();
    assert_eq!(verify_on(&a.host, &plan), vec![], "re-made");
    ping(&a, &b).expect("carries traffic again");

    // fdbDel and neighDel remove the entries (twice: absent is success),
    // and traffic stops.
    let del = ops(json!([
        {"op": "fdbDel", "ns": a.router, "dev": "vx0", "mac": b.mac, "dst": b.under},
        {"op": "neighDel", "ns": a.router, "dev": "vx0", "addr": b.vtep},
        {"op": "fdbDel", "ns": a.router, "dev": "vx0", "mac": b.mac, "dst": b.under},
        {"op": "neighDel", "ns": a.router, "dev": "vx0", "addr": b.vtep},
    ]));
    on_host(&a.host, &del, Default::default()).unwrap();
    assert_eq!(fdb_dst(&a.router, "vx0", &b.mac), None);
    assert_eq!(neigh_of(&a.router, "vx0", &b.vtep), None);
    assert!(ping(&a, &b).is_err(), "no entry: no flooding, nothing sent");
    cleanup(p);
}

/// The MTU the planner passes (underlay MTU - 50) is the most the tunnel
/// carries: a datagram filling it with DF set crosses (its 1500-byte outer
/// packet fits the underlay), one byte more is refused at the sender.
#[test]
fn tunnel_mtu_is_the_underlay_mtu_less_the_encapsulation() {
    sandbox_only!();
    let p = "nkv-m";
    let (a, b) = underlay(p);
    on_host(&a.host, &router_plan(&a, &b, false), Default::default()).unwrap();
    on_host(&b.host, &router_plan(&b, &a, false), Default::default()).unwrap();
    let dst = format!("{}.1:9000", b.lan);
    let rx = netns::run_in(&b.router, || UdpSocket::bind(&dst))
        .unwrap()
        .unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let tx = netns::run_in(&a.router, || UdpSocket::bind(format!("{}.1:0", a.lan)))
        .unwrap()
        .unwrap();
    // IP_PMTUDISC_DO: DF set, never fragmented locally.
    let on: libc::c_int = libc::IP_PMTUDISC_DO;
    // SAFETY: setsockopt of an int on a socket we own.
    let rc = unsafe {
        libc::setsockopt(
            tx.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    let full = vec![7u8; MTU as usize - 28]; // IPv4 20 + UDP 8
    tx.send_to(&full, &dst).unwrap();
    let mut buf = vec![0u8; 2048];
    let (n, _) = rx.recv_from(&mut buf).expect("a full-MTU datagram crosses");
    assert_eq!(n, full.len());
    let over = vec![7u8; MTU as usize - 27];
    let e = tx.send_to(&over, &dst).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE), "{e}");
    cleanup(p);
}
