//! Shared by the kernel tests of the cross-host data plane (vxlan.rs,
//! vxlan_undo.rs): two "hosts" as two namespaces joined by a veth underlay
//! on 192.0.2.0/24, each running the executor inside itself, as an agent
//! runs it on its own machine, so a plan's "" is that host; per host a
//! router namespace with a VXLAN link to the other's, static FDB and
//! neighbour entries and routes, as the cluster planner will write them.
#![allow(dead_code)]

use std::{net::Ipv4Addr, time::Duration};

use netkit::{
    addr, conn, exec, link, neigh, netns,
    plan::{self, Op},
    probe, verify, vxlan,
};
use serde_json::{json, Value};

pub const VNI: u32 = 4242;
pub const UNDERLAY_MTU: u32 = 1500;
/// What the planner passes: the underlay's MTU less VXLAN's 50 bytes.
pub const MTU: u32 = UNDERLAY_MTU - 50;

/// One side: host namespace, its underlay address, its router namespace,
/// the router's VTEP overlay address, VXLAN MAC, and a subnet behind it.
pub struct Side {
    pub host: String,
    pub under: String,
    pub router: String,
    pub vtep: String,
    pub mac: String,
    pub lan: String,
}

pub fn side(p: &str, i: u8) -> Side {
    Side {
        host: format!("{p}-h{i}"),
        under: format!("192.0.2.{i}"),
        router: format!("{p}-r{i}"),
        vtep: format!("172.16.0.{i}"),
        mac: format!("02:76:78:00:00:0{i}"),
        lan: format!("10.99.{i}"),
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Two host namespaces joined by veth `eth-u` (192.0.2.1/24 <-> .2/24).
pub fn underlay(p: &str) -> (Side, Side) {
    let (a, b) = (side(p, 1), side(p, 2));
    rt().block_on(async {
        for s in [&a, &b] {
            netns::add(&s.host).unwrap();
        }
        let (ha, hb) = (
            conn::connect(&a.host).unwrap(),
            conn::connect(&b.host).unwrap(),
        );
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
pub fn on_host(host: &str, ops: &[Op], opts: exec::Options) -> Result<exec::Report, String> {
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

pub fn ops(v: Value) -> Vec<Op> {
    plan::parse(&v.to_string()).unwrap()
}

pub fn vxlan_op(me: &Side, name: &str) -> Value {
    json!({"op": "vxlanAdd", "ns": me.router, "name": name, "vni": VNI, "local": me.under,
        "dev": "eth-u", "mtu": MTU, "alias": format!("vpcctl:{}", me.router), "mac": me.mac})
}

/// What the cluster planner makes on `me` for a VPC spanning `me` and
/// `other`: the VXLAN link `vx0` with the VTEP address, the other router's
/// FDB and neighbour entries, a route to its VTEP and to the subnet behind
/// it; a subnet address on the router's lo. Without the netnsAdd if `made`.
pub fn router_plan(me: &Side, other: &Side, made: bool) -> Vec<Op> {
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

pub fn ping(from: &Side, to: &Side) -> Result<Duration, String> {
    let dst: Ipv4Addr = format!("{}.1", to.lan).parse().unwrap();
    probe::ping(&from.router, dst, Duration::from_secs(2)).map_err(|e| e.to_string())
}

/// The VXLAN link `name` of `ns` as the kernel has it.
pub fn seen(ns: &str, name: &str) -> Option<(link::LinkInfo, vxlan::Seen)> {
    rt().block_on(async {
        let h = conn::connect(ns).unwrap();
        vxlan::get(&h, ns, name)
            .await
            .unwrap()
            .map(|(l, s)| (l, s.expect("a vxlan link")))
    })
}

pub fn index_in(ns: &str, name: &str) -> Option<u32> {
    rt().block_on(async {
        let h = conn::connect(ns).unwrap();
        link::get(&h, ns, name).await.unwrap().map(|l| l.index)
    })
}

pub fn fdb_dst(ns: &str, dev: &str, mac: &str) -> Option<Ipv4Addr> {
    rt().block_on(async {
        let h = conn::connect(ns).unwrap();
        let i = link::get(&h, ns, dev).await.unwrap()?.index;
        neigh::fdb_get(&h, &|| "fdb".into(), i, neigh::unicast_mac(mac).unwrap())
            .await
            .unwrap()
    })
}

pub fn neigh_of(ns: &str, dev: &str, addr: &str) -> Option<neigh::Neigh> {
    rt().block_on(async {
        let h = conn::connect(ns).unwrap();
        let i = link::get(&h, ns, dev).await.unwrap()?.index;
        neigh::neigh_get(&h, &|| "neigh".into(), i, addr.parse().unwrap())
            .await
            .unwrap()
    })
}

pub fn cleanup(p: &str) {
    for ns in netns::list().unwrap() {
        if ns.starts_with(&format!("{p}-")) {
            netns::del(&ns).unwrap();
        }
    }
}

/// Verifies `ops` with the verifier inside namespace `host`.
pub fn verify_on(host: &str, ops: &[Op]) -> Vec<verify::Drift> {
    let (host, ops) = (host.to_string(), ops.to_vec());
    std::thread::spawn(move || {
        netns::run_in(&host, || verify::verify(&ops, &Default::default()).unwrap()).unwrap()
    })
    .join()
    .unwrap()
}
