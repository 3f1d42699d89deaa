//! The batch ping of `test-connectivity --all`, against the real kernel
//! (inside scripts/sandbox.sh only): answered, unanswered, unroutable and
//! missing-namespace probes in one batch, settled within one timeout.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use netkit::{addr, conn, link, netns, pingmany, Kind};

#[macro_use]
mod common;

/// A veth `a`/nk0 (10.77.40.1/24) <-> `b`/eth0 (10.77.40.2/24).
async fn pair(a: &str, b: &str) {
    netns::add(a).unwrap();
    netns::add(b).unwrap();
    let (ha, hb) = (conn::connect(a).unwrap(), conn::connect(b).unwrap());
    for (h, ns) in [(&ha, a), (&hb, b)] {
        link::set_up(h, ns, "lo", true).await.unwrap();
    }
    let v = link::Veth {
        ns: a.into(),
        name: "nk0".into(),
        alias: Some("vpcctl:test".into()),
        peer_ns: b.into(),
        peer_name: "eth0".into(),
        peer_alias: Some("vpcctl:peer".into()),
        mtu: None,
    };
    link::veth_add(&ha, &hb, &v).await.unwrap();
    assert!(addr::add(&ha, a, "nk0", None, "10.77.40.1/24")
        .await
        .unwrap());
    assert!(addr::add(&hb, b, "eth0", None, "10.77.40.2/24")
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_settles_every_probe_within_one_timeout() {
    sandbox_only!();
    let (a, b) = ("nk-pm-a", "nk-pm-b");
    pair(a, b).await;
    let probe = |ns: &str, dst: [u8; 4]| pingmany::Probe {
        ns: ns.into(),
        dst: Ipv4Addr::from(dst),
    };
    let mut batch = vec![
        probe(a, [10, 77, 40, 2]),            // answered
        probe(b, [10, 77, 40, 1]),            // answered, the other way
        probe(a, [10, 77, 40, 3]),            // on-link, nobody there: no reply
        probe(b, [10, 77, 99, 1]),            // no route: refused at once
        probe("nk-pm-none", [10, 77, 40, 2]), // no such namespace
    ];
    // Many probes from one socket, and the same pair twice.
    batch.extend((0..50).map(|_| probe(a, [10, 77, 40, 2])));
    let timeout = Duration::from_millis(400);
    let started = Instant::now();
    let r = pingmany::ping_many(&batch, timeout).unwrap();
    let took = started.elapsed();
    assert_eq!(r.len(), batch.len());
    assert!(r[0].as_ref().unwrap() < &Duration::from_millis(400));
    assert!(r[1].is_ok(), "{:?}", r[1]);
    let e = r[2].as_ref().unwrap_err();
    assert_eq!(e.kind(), Kind::Timeout, "{e}");
    let e = r[3].as_ref().unwrap_err();
    assert!(e.to_string().contains("unreachable"), "{e}");
    assert_eq!(r[4].as_ref().unwrap_err().kind(), Kind::NotFound);
    assert!(
        r[5..].iter().all(|x| x.is_ok()),
        "every repeated probe answered"
    );
    assert!(
        took < timeout + Duration::from_millis(600),
        "one timeout for the batch, not one per probe: {took:?}"
    );
    // The thread that opened the sockets is home again.
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        std::fs::read_link("/proc/self/ns/net").unwrap()
    );
    netns::del(a).unwrap();
    netns::del(b).unwrap();
}
