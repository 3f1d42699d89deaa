//! The cross-host data plane (vxlanAdd, fdbAdd/fdbDel, neighAdd/neighDel)
//! against the real kernel, only inside the sandbox (scripts/sandbox.sh).
//! Two "hosts" are two namespaces joined by a veth underlay on 192.0.2.0/24;
//! each runs the executor inside itself, as an agent runs it on its own
//! machine, so a plan's "" is that host. Each host gets a router namespace
//! with a VXLAN link to the other's, static FDB and neighbour entries and
//! routes, as the cluster planner will write them. Every test uses its own
//! names.

use std::{
    net::Ipv4Addr,
    time::Duration,
};

use netkit::{
    addr, conn, exec, link, neigh, netns,
    plan::{self, Op},
    probe, vxlan,
};
use serde_json::{json, Value};

#[macro_use]
mod common;

const VNI: u32 = 4242;
const UNDERLAY_MTU: u32 = 1500;
/// What the planner passes: the underlay's MTU less VXLAN's 50 bytes.
const MTU: u32 = UNDERLAY_MTU - 50;

/// One side: host namespace, its underlay address, its router namespace,
/// the router's VTEP overlay address, VXLAN MAC, and a subnet behind it.
struct Side {
    host: String,
    under: String,
    router: String,
    vtep: String,
    mac: String,
    lan: String,
}

fn side(p: &str, i: u8) -> Side {
    Side {
        host: format!("{p}-h{i}"),
        under: format!("192.0.2.{i}"),
        router: format!("{p}-r{i}"),
        vtep: format!("172.16.0.{i}"),
        mac: format!("02:76:78:00:00:0{i}"),
        lan: format!("10.99.{i}"),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Two host namespaces joined by veth `eth-u` (192.0.2.1/24 <-> .2/24).
fn underlay(p: &str) -> (Side, Side) {
    let (a, b) = (side(p, 1), side(p, 2));
    rt().block_on(async {
        for s in [&a, &b] {
            netns::add(&s.host).unwrap();
        }
        let (ha, hb) = (conn::connect(&a.host).unwrap(), conn::connect(&b.host).unwrap());
        for (h, s) in [(&ha, &a), (&hb, &b)] {
            link::set_up(h, &s.host, "lo", true).await.unwrap();
        }
        let v = link::Veth {
            ns: a.host.clone(),
            name: "eth-u".into(),
            peer_ns: b.host.clone(),
            peer_name: "eth-u".into(),
            mtu: Some(UNDERLAY_MTU),
            ..Default::default()
        };
        link::veth_add(&ha, &hb, &v).await.unwrap();
        for (h, s) in [(&ha, &a), (&hb, &b)] {
            addr::add(h, &s.host, "eth-u", None, &format!("{}/24", s.under))
                .await
                .unwrap();
        }
    });
    (a, b)
}

/// Runs `ops` with the executor inside namespace `host` (its threads are
/// born there, so the plan's "" is `host`).
fn on_host(host: &str, ops: &[Op], opts: exec::Options) -> Result<exec::Report, String> {
    let (host, ops) = (host.to_string(), ops.to_vec());
    std::thread::spawn(move || {
        netns::run_in(&host, || {
            rt().block_on(exec::execute(&ops, &opts, &|_, _| {}))
                .map_err(|e| e.to_string())
        })
        .unwrap()
    })
    .join()
    .unwrap()
}

fn ops(v: Value) -> Vec<Op> {
    plan::parse(&v.to_string()).unwrap()
}

fn vxlan_op(me: &Side, name: &str) -> Value {
    json!({"op": "vxlanAdd", "ns": me.router, "name": name, "vni": VNI, "local": me.under,
        "dev": "eth-u", "mtu": MTU, "alias": format!("vpcctl:{}", me.router), "mac": me.mac})
}

/// What the cluster planner makes on `me` for a VPC spanning `me` and
/// `other`: the VXLAN link `vx0` with the VTEP address, the other router's
/// FDB and neighbour entries, a route to its VTEP and to the subnet behind
/// it; a subnet address on the router's lo. Without the netnsAdd if `made`.
fn router_plan(me: &Side, other: &Side, made: bool) -> Vec<Op> {
    let r = &me.router;
    let mut v = vec![];
    if !made {
        v.push(json!({"op": "netnsAdd", "ns": r, "tag": format!("vpcctl:{r}")}));
    }
    v.extend([
        vxlan_op(me, "vx0"),
        json!({"op": "addrAdd", "ns": r, "dev": "vx0", "cidr": format!("{}/32", me.vtep)}),
        json!({"op": "addrAdd", "ns": r, "dev": "lo", "cidr": format!("{}.1/32", me.lan)}),
        json!({"op": "routeAdd", "ns": r, "dst": format!("{}/32", other.vtep), "dev": "vx0"}),
        json!({"op": "neighAdd", "ns": r, "dev": "vx0", "addr": other.vtep, "mac": other.mac}),
        json!({"op": "fdbAdd", "ns": r, "dev": "vx0", "mac": other.mac, "dst": other.under}),
        json!({"op": "routeAdd", "ns": r, "dst": format!("{}.0/24", other.lan), "via": other.vtep, "dev": "vx0"}),
    ]);
    ops(Value::Array(v))
}

fn ping(from: &Side, to: &Side) -> Result<Duration, String> {
    let dst: Ipv4Addr = format!("{}.1", to.lan).parse().unwrap();
    probe::ping(&from.router, dst, Duration::from_secs(2)).map_err(|e| e.to_string())
}

/// The VXLAN link `name` of `ns` as the kernel has it.
fn seen(ns: &str, name: &str) -> Option<(link::LinkInfo, vxlan::Seen)> {
    rt().block_on(async {
        let h = conn::connect(ns).unwrap();
        vxlan::get(&h, ns, name)
            .await
            .unwrap()
            .map(|(l, s)| (l, s.expect("a vxlan link")))
    })
}

fn index_in(ns: &str, name: &str) -> Option<u32> {
    rt().block_on(async {
        let h = conn::connect(ns).unwrap();
        link::get(&h, ns, name).await.unwrap().map(|l| l.index)
    })
}

fn fdb_dst(ns: &str, dev: &str, mac: &str) -> Option<Ipv4Addr> {
    rt().block_on(async {
        let h = conn::connect(ns).unwrap();
        let i = link::get(&h, ns, dev).await.unwrap()?.index;
        neigh::fdb_get(&h, &|| "fdb".into(), i, neigh::unicast_mac(mac).unwrap())
            .await
            .unwrap()
    })
}

fn neigh_of(ns: &str, dev: &str, addr: &str) -> Option<neigh::Neigh> {
    rt().block_on(async {
        let h = conn::connect(ns).unwrap();
        let i = link::get(&h, ns, dev).await.unwrap()?.index;
        neigh::neigh_get(&h, &|| "neigh".into(), i, addr.parse().unwrap())
            .await
            .unwrap()
    })
}

fn cleanup(p: &str) {
    for ns in netns::list().unwrap() {
        if ns.starts_with(&format!("{p}-")) {
            netns::del(&ns).unwrap();
        }
    }
}

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
        (l.kind.as_deref(), l.alias.as_deref(), l.up, l.mtu, l.mac.as_deref()),
        (Some("vxlan"), Some("vpcctl:nkv-t-r1"), true, MTU, Some(a.mac.as_str()))
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
    assert_eq!(fdb_dst(&a.router, "vx0", &b.mac), Some(b.under.parse().unwrap()));
    assert_eq!(
        neigh_of(&a.router, "vx0", &b.vtep),
        Some(neigh::Neigh {
            mac: Some(b.mac.clone()),
            permanent: true
        })
    );
    // No learning: b's frames taught a's link nothing beyond the static entry.
    assert_eq!(fdb_dst(&b.router, "vx0", &a.mac), Some(a.under.parse().unwrap()));

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
    assert!(err.ends_with(&format!("injected fault; rolled back {} ops", k - 1)), "{err}");
    assert_eq!(index_in(&a.router, "vx0"), index);
    assert_eq!(fdb_dst(&a.router, "vx0", &b.mac), Some(b.under.parse().unwrap()));
    assert!(neigh_of(&a.router, "vx0", &b.vtep).is_some());
    ping(&a, &b).expect("still carries traffic");

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
