//! IPv6 against the real kernel (issue 17): addresses without DAD, routes
//! of the IPv6 table (default `::/0`, via a global or a link-local
//! gateway), their read-back, and ICMPv6 echo. Run only inside a throwaway
//! sandbox (scripts/sandbox.sh); every test uses its own namespace names.

use std::time::Duration;

use netkit::{addr, conn, link, netns, probe, route, sysctl};

#[macro_use]
mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_addresses_routes_and_echo() {
    sandbox_only!();
    let (r, h) = ("nk6-router", "nk6-host");
    netns::add(r).unwrap();
    netns::add(h).unwrap();
    let (hr, hh) = (conn::connect(r).unwrap(), conn::connect(h).unwrap());
    for (c, ns) in [(&hr, r), (&hh, h)] {
        link::set_up(c, ns, "lo", true).await.unwrap();
    }
    // The router's links do no DAD (their link-local is usable at once), as a dual-stack router's.
    sysctl::set(r, "net/ipv6/conf/default/accept_dad", "0").unwrap();
    sysctl::set(r, "net/ipv6/conf/all/forwarding", "1").unwrap();
    let v = link::Veth {
        ns: r.into(),
        name: "sn-6".into(),
        alias: Some("vpcctl:test".into()),
        peer_ns: h.into(),
        peer_name: "eth0".into(),
        peer_alias: Some("vpcctl:peer".into()),
        mtu: None,
    };
    link::veth_add(&hr, &hh, &v).await.unwrap();
    assert!(addr::add(&hr, r, "sn-6", None, "fd00:77::1/64")
        .await
        .unwrap());
    assert!(addr::add(&hh, h, "eth0", None, "fd00:77::2/64")
        .await
        .unwrap());
    assert!(
        !addr::add(&hh, h, "eth0", None, "fd00:77::2/64")
            .await
            .unwrap(),
        "EEXIST is success"
    );
    // No DAD, but the kernel starts none (and keeps the address tentative)
    // until the veth's carrier is up, which linkwatch reports within a second.
    let start = std::time::Instant::now();
    while probe::ping_ip(h, "fd00:77::1".parse().unwrap(), Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "no ICMPv6 echo from the gateway"
        );
    }

    let addrs = addr::list6(&hh, h).await.unwrap();
    assert!(
        addrs.contains(&addr::AddrInfo {
            dev: "eth0".into(),
            cidr: "fd00:77::2/64".into()
        }),
        "{addrs:?}"
    );
    assert!(
        addrs.iter().all(|a| !a.cidr.starts_with("fe80:")),
        "{addrs:?}"
    );
    assert!(
        !addr::list(&hh, h)
            .await
            .unwrap()
            .iter()
            .any(|a| a.cidr.contains(':')),
        "the IPv4 listing has no IPv6 address"
    );

    let default = route::Route {
        dst: "::/0".into(),
        via: Some("fd00:77::1".into()),
        dev: Some("eth0".into()),
        ..Default::default()
    };
    assert_eq!(route::add(&hh, h, &default, None).await.unwrap(), None);
    assert_eq!(
        route::add(&hh, h, &default, None).await.unwrap(),
        Some(default.clone()),
        "re-adding one's own route replaces it"
    );
    // A peer's prefix via the far end's link-local, as a peering routes it.
    assert!(addr::add(&hr, r, "sn-6", None, "fe80::1/64").await.unwrap());
    let peer = route::Route {
        dst: "fd00:88::/56".into(),
        via: Some("fe80::2".into()),
        dev: Some("sn-6".into()),
        ..Default::default()
    };
    route::add(&hr, r, &peer, None).await.unwrap();
    let listed = route::list6(&hr, r).await.unwrap();
    assert!(listed.contains(&peer), "{listed:?}");
    assert!(
        !route::list(&hr, r)
            .await
            .unwrap()
            .iter()
            .any(|x| x.dst.contains(':')),
        "the IPv4 listing has no IPv6 route"
    );
    assert!(route::list6(&hh, h).await.unwrap().contains(&default));
    let all6 = route::list_all6(&hh, h).await.unwrap();
    assert!(
        all6.iter()
            .any(|e| e.dst == "::/0" && e.via.as_deref() == Some("fd00:77::1")),
        "{all6:?}"
    );

    // A foreign route to the same destination on another device is never taken over.
    let other = route::Route {
        dst: "fd00:88::/56".into(),
        dev: Some("lo".into()),
        ..Default::default()
    };
    let e = route::add(&hr, r, &other, None).await.unwrap_err();
    assert_eq!(e.kind(), netkit::Kind::Foreign, "{e}");

    // Family mismatches are refused before the kernel sees them.
    let mixed = route::Route {
        dst: "fd00:99::/56".into(),
        via: Some("10.0.0.1".into()),
        ..Default::default()
    };
    assert_eq!(
        route::add(&hr, r, &mixed, None).await.unwrap_err().kind(),
        netkit::Kind::Invalid
    );

    route::del(&hr, r, &peer).await.unwrap();
    route::del(&hr, r, &peer).await.unwrap(); // absent is success
    assert!(!route::list6(&hr, r).await.unwrap().contains(&peer));
    assert!(addr::del(&hh, h, "eth0", "fd00:77::2/64").await.unwrap());
    assert!(!addr::del(&hh, h, "eth0", "fd00:77::2/64").await.unwrap());
    netns::del(r).unwrap();
    netns::del(h).unwrap();
}
