//! Against the real kernel. Run only inside a throwaway sandbox
//! (scripts/sandbox.sh sets VPCCTL_SANDBOX=1): new net, mount and pid
//! namespaces, tmpfs on /run. Every test uses its own namespace names.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, TcpListener},
    time::{Duration, Instant},
};

use netkit::{addr, conn, etcns, exec, link, netns, nflog, nft, plan, probe, route, spawn, sysctl};
use serde_json::{json, Value};

#[macro_use]
mod common;

/// A veth `ns_a`/`dev_a` (10.77.N.1/24) <-> `ns_b`/eth0 (10.77.N.2/24), both namespaces fresh.
async fn pair(ns_a: &str, ns_b: &str, dev_a: &str, n: u8) -> rtnetlink::Handle {
    netns::add(ns_a).unwrap();
    netns::add(ns_b).unwrap();
    let (ha, hb) = (conn::connect(ns_a).unwrap(), conn::connect(ns_b).unwrap());
    for (h, ns) in [(&ha, ns_a), (&hb, ns_b)] {
        link::set_up(h, ns, "lo", true).await.unwrap();
    }
    let v = link::Veth {
        ns: ns_a.into(),
        name: dev_a.into(),
        alias: Some("vpcctl:test".into()),
        peer_ns: ns_b.into(),
        peer_name: "eth0".into(),
        peer_alias: Some("vpcctl:peer".into()),
        mtu: Some(1400),
    };
    link::veth_add(&ha, &hb, &v).await.unwrap();
    assert!(
        addr::add(&ha, ns_a, dev_a, None, &format!("10.77.{n}.1/24"))
            .await
            .unwrap()
    );
    assert!(
        addr::add(&hb, ns_b, "eth0", None, &format!("10.77.{n}.2/24"))
            .await
            .unwrap()
    );
    ha
}

#[test]
fn netns_made_used_and_removed() {
    sandbox_only!();
    let ns = "nk-netns";
    netns::add(ns).unwrap();
    assert!(netns::exists(ns));
    assert!(netns::list().unwrap().contains(&ns.to_string()));
    // A plain file (what a crash between create and mount leaves) is not a
    // namespace; a name the mount table escapes still is one.
    std::fs::write(netns::path("nk-plain"), "").unwrap();
    netns::add("nk sp").unwrap();
    let listed = netns::list().unwrap();
    assert!(!listed.contains(&"nk-plain".to_string()), "{listed:?}");
    assert!(listed.contains(&"nk sp".to_string()), "{listed:?}");
    netns::del("nk sp").unwrap();
    std::fs::remove_file(netns::path("nk-plain")).unwrap();
    let err = netns::add(ns).unwrap_err().to_string();
    assert_eq!(err, "netns \"nk-netns\": File exists (os error 17)");
    let inside = netns::run_in(ns, || {
        std::fs::read_link("/proc/thread-self/ns/net").unwrap()
    })
    .unwrap();
    let here = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    assert_ne!(inside, here, "run_in entered the namespace");
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        here,
        "and left it"
    );
    assert_eq!(netns::pids_in(ns).unwrap(), Vec::<u32>::new());
    netns::del(ns).unwrap();
    assert!(!netns::exists(ns));
    netns::del(ns).unwrap(); // absent is success
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veth_peer_in_namespace_with_address_and_routes() {
    sandbox_only!();
    let (a, b) = ("nk-link-a", "nk-link-b");
    let ha = pair(a, b, "sn-test", 1).await;
    let hb = conn::connect(b).unwrap();

    let la = link::get(&ha, a, "sn-test")
        .await
        .unwrap()
        .expect("router end");
    assert!(la.up);
    assert_eq!(
        (la.alias.as_deref(), la.mtu, la.kind.as_deref()),
        (Some("vpcctl:test"), 1400, Some("veth"))
    );
    let lb = link::get(&hb, b, "eth0")
        .await
        .unwrap()
        .expect("peer made inside its namespace");
    assert!(lb.up);
    assert_eq!((lb.alias.as_deref(), lb.mtu), (Some("vpcctl:peer"), 1400));
    assert!(
        link::get(&ha, a, "eth0").await.unwrap().is_none(),
        "peer is not in the router namespace"
    );
    assert!(link::get(&ha, a, "nope").await.unwrap().is_none());

    let addrs = addr::list(&hb, b).await.unwrap();
    assert!(
        addrs.contains(&addr::AddrInfo {
            dev: "eth0".into(),
            cidr: "10.77.1.2/24".into()
        }),
        "{addrs:?}"
    );
    assert!(
        !addr::add(&hb, b, "eth0", None, "10.77.1.2/24")
            .await
            .unwrap(),
        "EEXIST is success"
    );
    let e = addr::add(&hb, b, "nope0", None, "10.77.9.9/32")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "addrAdd 10.77.9.9/32 on nope0 in netns \"nk-link-b\": No such device (os error 19)"
    );

    let default = route::Route {
        dst: "default".into(),
        via: Some("10.77.1.1".into()),
        dev: Some("eth0".into()),
        ..Default::default()
    };
    route::add(&hb, b, &default, None).await.unwrap();
    assert_eq!(
        route::add(&hb, b, &default, None).await.unwrap(),
        Some(default.clone())
    ); // replace semantics
    let host = route::Route {
        dst: "10.77.1.2/32".into(),
        dev: Some("sn-test".into()),
        ..Default::default()
    };
    route::add(&ha, a, &host, None).await.unwrap();
    let onlink = route::Route {
        dst: "10.99.0.0/16".into(),
        via: Some("10.99.0.1".into()),
        dev: Some("sn-test".into()),
        onlink: true,
        ..Default::default()
    };
    route::add(&ha, a, &onlink, None).await.unwrap();
    let rb = route::list(&hb, b).await.unwrap();
    assert!(rb.contains(&default), "{rb:?}");
    let ra = route::list(&ha, a).await.unwrap();
    assert!(ra.contains(&host) && ra.contains(&onlink), "{ra:?}");
    route::del(&ha, a, &onlink).await.unwrap();
    route::del(&ha, a, &onlink).await.unwrap(); // absent is success
    assert!(!route::list(&ha, a).await.unwrap().contains(&onlink));

    assert!(addr::del(&hb, b, "eth0", "10.77.1.2/24").await.unwrap());
    assert!(!addr::del(&hb, b, "eth0", "10.77.1.2/24").await.unwrap());

    sysctl::set(a, "net/ipv4/ip_forward", "1").unwrap();
    assert_eq!(sysctl::get(a, "net/ipv4/ip_forward").unwrap(), "1");
    assert_eq!(
        sysctl::get(b, "net/ipv4/ip_forward").unwrap(),
        "0",
        "sysctls are per namespace"
    );

    link::del(&ha, a, "sn-test").await.unwrap();
    link::del(&ha, a, "sn-test").await.unwrap();
    assert!(
        link::get(&hb, b, "eth0").await.unwrap().is_none(),
        "deleting one end removes the pair"
    );
    netns::del(a).unwrap();
    netns::del(b).unwrap();
}

fn ruleset(port: u16) -> Vec<Value> {
    let t = |o: Value| o;
    vec![
        t(
            json!({"set": {"family": "inet", "table": "nk", "name": "ports", "type": "inet_service", "elem": [22, port]}}),
        ),
        t(
            json!({"set": {"family": "inet", "table": "nk", "name": "nets", "type": "ipv4_addr", "flags": ["interval"],
            "elem": [{"prefix": {"addr": "10.0.1.0", "len": 24}}, "10.0.2.5"]}}),
        ),
        t(
            json!({"chain": {"family": "inet", "table": "nk", "name": "post", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}),
        ),
        t(
            json!({"rule": {"family": "inet", "table": "nk", "chain": "post", "comment": "snat", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@nets"}},
            {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "px-*"}},
            {"counter": null}, {"snat": {"family": "ip", "addr": "100.64.0.2"}}]}}),
        ),
        t(
            json!({"chain": {"family": "inet", "table": "nk", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}),
        ),
        t(
            json!({"rule": {"family": "inet", "table": "nk", "chain": "input", "expr": [
            {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
            {"accept": null}]}}),
        ),
        t(
            json!({"rule": {"family": "inet", "table": "nk", "chain": "input", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@ports"}},
            {"accept": null}]}}),
        ),
    ]
}

#[test]
fn nft_table_replaced_whole_or_not_at_all() {
    sandbox_only!();
    let ns = "nk-nft";
    netns::add(ns).unwrap();
    assert!(nft::available().is_ok());
    assert_eq!(nft::list_table(ns, "inet", "nk").unwrap(), None);
    nft::apply_table(ns, "inet", "nk", &ruleset(8080)).unwrap();
    nft::apply_table(ns, "inet", "nk", &ruleset(8081)).unwrap(); // replace
    let listed = nft::list_table(ns, "inet", "nk").unwrap().expect("table");
    let text = listed.to_string();
    assert!(text.contains("8081") && !text.contains("8080"), "{text}");
    assert_eq!(
        nft::listed_objects(&listed).len(),
        7,
        "2 sets, 2 chains, 3 rules"
    );
    // what libnftables lists can be applied back (the executor's undo)
    nft::apply_table(ns, "inet", "nk", &nft::listed_objects(&listed)).unwrap();
    let relisted = nft::list_table(ns, "inet", "nk").unwrap().unwrap();
    assert_eq!(nft::listed_objects(&relisted), nft::listed_objects(&listed));

    let mut broken = ruleset(9090);
    broken.push(json!({"rule": {"family": "inet", "table": "nk", "chain": "input", "expr": [{"jump": {"target": "missing"}}]}}));
    let err = nft::apply_table(ns, "inet", "nk", &broken)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("nftApply inet nk in netns \"nk-nft\": "),
        "{err}"
    );
    let after = nft::list_table(ns, "inet", "nk").unwrap().unwrap();
    assert_eq!(
        nft::listed_objects(&after),
        nft::listed_objects(&relisted),
        "previous table unchanged"
    );

    let foreign = vec![json!({"chain": {"family": "inet", "table": "other", "name": "x"}})];
    assert!(nft::apply_table(ns, "inet", "nk", &foreign)
        .unwrap_err()
        .to_string()
        .contains("must name family"));
    let unknown =
        vec![json!({"chain": {"family": "inet", "table": "nk", "name": "x", "bogus": 1}})];
    assert!(
        nft::apply_table(ns, "inet", "nk", &unknown).is_err(),
        "fields the schema would drop are refused"
    );

    // the host (sandbox) namespace is untouched
    assert_eq!(nft::list_table("", "inet", "nk").unwrap(), None);
    assert!(nft::list_ruleset(ns)
        .unwrap()
        .to_string()
        .contains("\"nk\""));
    nft::delete_table(ns, "inet", "nk").unwrap();
    nft::delete_table(ns, "inet", "nk").unwrap();
    assert_eq!(nft::list_table(ns, "inet", "nk").unwrap(), None);
    netns::del(ns).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_talk_over_veth() {
    sandbox_only!();
    let (a, b) = ("nk-talk-a", "nk-talk-b");
    pair(a, b, "sn-talk", 2).await;
    let listener = netns::run_in(b, || TcpListener::bind("10.77.2.2:7000"))
        .unwrap()
        .unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        s.write_all(b"hi").unwrap();
        peer
    });
    let rtt =
        probe::tcp_connect(a, Ipv4Addr::new(10, 77, 2, 2), 7000, Duration::from_secs(2)).unwrap();
    assert!(rtt < Duration::from_secs(1));
    assert_eq!(server.join().unwrap().ip().to_string(), "10.77.2.1");
    let e = probe::tcp_connect(a, Ipv4Addr::new(10, 77, 2, 2), 7001, Duration::from_secs(2))
        .unwrap_err();
    assert!(e.to_string().contains("Connection refused"), "{e}");

    probe::ping(a, Ipv4Addr::new(10, 77, 2, 2), Duration::from_secs(2)).unwrap();
    probe::ping(b, Ipv4Addr::new(10, 77, 2, 1), Duration::from_secs(2)).unwrap();
    let e = probe::ping(a, Ipv4Addr::new(10, 77, 2, 3), Duration::from_millis(300)).unwrap_err();
    assert!(e.to_string().contains("no reply"), "{e}");
    // nothing reaches outside namespaces we made: the other end has no route there
    assert!(probe::ping(b, Ipv4Addr::new(10, 77, 99, 1), Duration::from_millis(200)).is_err());

    // a process started inside the namespace, listed, killed by netns deletion
    let log = std::env::temp_dir().join("nk-talk.log");
    let _ = std::fs::remove_file(&log); // spawn appends: start from nothing
    let argv: Vec<String> = ["sh", "-c", "readlink /proc/self/ns/net; exec sleep 30"]
        .map(String::from)
        .to_vec();
    let pid = spawn::spawn_detached(
        b,
        &argv,
        &spawn::SpawnOptions {
            log_file: log.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    let t = Instant::now();
    while !netns::pids_in(b).unwrap().contains(&pid) {
        assert!(t.elapsed() < Duration::from_secs(2), "process not in netns");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(spawn::pid_alive(pid));
    // In the namespace from its fork on; its first line is written once sh has run readlink.
    let t = Instant::now();
    while std::fs::metadata(&log).map_or(0, |m| m.len()) == 0 {
        assert!(t.elapsed() < Duration::from_secs(2), "nothing logged");
        std::thread::sleep(Duration::from_millis(10));
    }
    let code = spawn::run(b, &["sh".into(), "-c".into(), "exit 3".into()]).unwrap();
    assert_eq!(code, 3);
    netns::del(a).unwrap();
    netns::del(b).unwrap();
    let t = Instant::now();
    while spawn::pid_alive(pid) {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "process survived its namespace"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.starts_with("net:["), "{out}");
}

/// A process started in a namespace sees `/etc/netns/NS/*` as `/etc/*` (as
/// under `ip netns exec`), in a mount namespace of its own: the machine's
/// /etc is unchanged, and a namespace without such a directory keeps it.
/// /etc is copy-on-write in the sandbox (scripts/sandbox.sh).
#[test]
fn spawned_processes_see_the_namespace_etc() {
    sandbox_only!();
    let (ns, bare) = ("nk-etc", "nk-etc-bare");
    netns::add(ns).unwrap();
    netns::add(bare).unwrap();
    let dir = std::path::Path::new(etcns::ETC_NETNS).join(ns);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hosts"), "10.9.9.9 only.in.nk-etc\n").unwrap();
    let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    let sh = |script: &str| -> Vec<String> { ["sh", "-c", script].map(String::from).to_vec() };
    // exit 0 only if the child sees the namespace's file and a mount namespace other than ours
    let own_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let script = format!(
        "grep -q only.in.nk-etc /etc/hosts && [ \"$(readlink /proc/self/ns/mnt)\" != '{}' ]",
        own_mnt.display()
    );
    assert_eq!(spawn::run(ns, &sh(&script)).unwrap(), 0);
    // the mount stayed in the child's namespace
    assert_eq!(std::fs::read_to_string("/etc/hosts").unwrap(), host_hosts);
    // no /etc/netns/<bare>: the machine's /etc/hosts, and no new mount namespace
    let script = format!(
        "! grep -q only.in.nk-etc /etc/hosts && [ \"$(readlink /proc/self/ns/mnt)\" = '{}' ]",
        own_mnt.display()
    );
    assert_eq!(spawn::run(bare, &sh(&script)).unwrap(), 0);
    // a detached app gets the same view, also as an unprivileged user
    let log = std::env::temp_dir().join("nk-etc.log");
    let _ = std::fs::remove_file(&log);
    let pid = spawn::spawn_detached(
        ns,
        &sh("cat /etc/hosts"),
        &spawn::SpawnOptions {
            uid: Some(65534),
            gid: Some(65534),
            log_file: log.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    let t = Instant::now();
    while spawn::pid_alive(pid) {
        assert!(t.elapsed() < Duration::from_secs(2), "cat did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "10.9.9.9 only.in.nk-etc\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    netns::del(ns).unwrap();
    netns::del(bare).unwrap();
}

/// NFLOG: a rule's `log group` reaches a subscription opened inside the
/// namespace, decoded (prefix naming the rule, 5-tuple); new connections
/// only (ct state new), so the established rest of a flow is not logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nflog_records_the_rule_and_the_flow() {
    sandbox_only!();
    let ns = "nk-flog";
    netns::add(ns).unwrap();
    let h = conn::connect(ns).unwrap();
    link::set_up(&h, ns, "lo", true).await.unwrap();
    let t = |o: Value| o;
    let rules = vec![
        t(
            json!({"chain": {"family": "inet", "table": "nk", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}),
        ),
        t(
            json!({"rule": {"family": "inet", "table": "nk", "chain": "input", "expr": [
            {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["new"]}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 7777}},
            {"limit": {"rate": 100, "per": "second"}},
            {"log": {"prefix": "ingress[1]", "group": 7}},
            {"reject": {"type": "tcp reset"}}]}}),
        ),
    ];
    nft::apply_table(ns, "inet", "nk", &rules).unwrap();
    let mut sub = nflog::subscribe(ns, 7, Duration::from_millis(500)).unwrap();
    assert_eq!(
        nflog::subscribe(ns, 7, Duration::from_millis(100))
            .err()
            .map(|e| e.kind()),
        Some(netkit::Kind::Busy),
        "one listener per group"
    );
    let e = probe::tcp_connect(
        ns,
        Ipv4Addr::new(127, 0, 0, 1),
        7777,
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
    let mut got = Vec::new();
    for _ in 0..4 {
        got.extend(sub.receive().unwrap());
        if !got.is_empty() {
            break;
        }
    }
    let r = got.first().expect("a record");
    assert_eq!(r.prefix, "ingress[1]");
    assert_eq!(
        (r.proto, r.dst, r.dport),
        (6, Ipv4Addr::new(127, 0, 0, 1).into(), Some(7777))
    );
    assert_eq!(r.hook, Some(1), "input");
    // nothing else was logged (another port, the same group)
    assert!(probe::tcp_connect(
        ns,
        Ipv4Addr::new(127, 0, 0, 1),
        7778,
        Duration::from_secs(1)
    )
    .is_err());
    assert!(sub.receive().unwrap().is_empty());
    netns::del(ns).unwrap();
}

/// A VPC of `n` subnets as the planner would write it.
fn vpc_plan(prefix: &str, n: usize) -> Vec<plan::Op> {
    let router = format!("{prefix}-r");
    let mut ops = vec![
        json!({"op": "netnsAdd", "ns": router, "tag": "vpcctl:test"}),
        json!({"op": "sysctlSet", "ns": router, "key": "net/ipv4/ip_forward", "value": "1"}),
    ];
    for i in 0..n {
        let (hi, lo) = (i / 256, i % 256);
        let host = format!("{prefix}-h{i}");
        let dev = format!("sn-{i}");
        let gw = format!("10.{}.{lo}.1", 100 + hi);
        ops.push(json!({"op": "netnsAdd", "ns": host, "tag": "vpcctl:test"}));
        ops.push(json!({"op": "vethAdd", "ns": router, "name": dev, "alias": "vpcctl:test", "peerNs": host, "peerName": "eth0", "peerAlias": "vpcctl:test"}));
        ops.push(json!({"op": "addrAdd", "ns": router, "dev": dev, "cidr": format!("{gw}/32")}));
        ops.push(json!({"op": "routeAdd", "ns": router, "dst": format!("10.{}.{lo}.2/32", 100 + hi), "dev": dev}));
        ops.push(json!({"op": "addrAdd", "ns": host, "dev": "eth0", "cidr": format!("10.{}.{lo}.2/24", 100 + hi)}));
        ops.push(json!({"op": "routeAdd", "ns": host, "dst": "default", "via": gw, "dev": "eth0", "onlink": true}));
        ops.push(json!({"op": "nftApply", "ns": host, "family": "inet", "table": "vpcctl", "ruleset": [
            {"chain": {"family": "inet", "table": "vpcctl", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
            {"rule": {"family": "inet", "table": "vpcctl", "chain": "input", "expr": [
                {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}]}));
    }
    plan::parse(&Value::Array(ops).to_string()).unwrap()
}

/// Every thread named `name` is in the process's own netns: none was
/// left, or born, inside a namespace it worked in.
fn threads_at_home(name: &str) {
    use std::os::unix::fs::MetadataExt;
    let id = |p: String| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let home = id("/proc/self/ns/net".into());
    let mut seen = 0;
    for t in std::fs::read_dir("/proc/self/task").unwrap() {
        let tid = t.unwrap().file_name().into_string().unwrap();
        let comm =
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        seen += 1;
        let ns = id(format!("/proc/self/task/{tid}/ns/net"));
        assert!(
            ns.is_none() || ns == home,
            "thread {tid} ({name}) is in another netns"
        );
    }
    assert!(seen > 0, "no thread named {name}");
}

/// The executor's threads (runtime workers and blocking pool, including
/// ones spawned while it ran) all end up in the process's netns.
#[test]
fn executor_threads_stay_home() {
    sandbox_only!();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("nk-home")
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ops = vpc_plan("nk-hm", 40);
        exec::execute(&ops, &exec::Options::default(), &|_, _| {})
            .await
            .unwrap();
        // deferred frees of nft contexts run on the blocking pool
        tokio::time::sleep(Duration::from_millis(200)).await;
        threads_at_home("nk-home");
        delete_all("nk-hm").await;
        threads_at_home("nk-home");
    });
}

fn leftovers(prefix: &str) -> Vec<String> {
    netns::list()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Deletes every namespace whose name starts with `prefix`, in one plan.
async fn delete_all(prefix: &str) {
    let teardown: Vec<plan::Op> = leftovers(prefix)
        .into_iter()
        .map(|ns| plan::Op::NetnsDel { ns })
        .collect();
    exec::execute(&teardown, &exec::Options::default(), &|_, _| {})
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_runs_plan_and_rolls_back_on_fault() {
    sandbox_only!();
    let ops = vpc_plan("nk-ex", 3);
    let progress = std::sync::Mutex::new(vec![]);
    let report = exec::execute(&ops, &exec::Options::default(), &|d, t| {
        progress.lock().unwrap().push((d, t))
    })
    .await
    .unwrap();
    assert_eq!(report.ops, ops.len());
    assert_eq!(
        progress.lock().unwrap().last(),
        Some(&(ops.len(), ops.len()))
    );
    assert_eq!(sysctl::get("nk-ex-r", "net/ipv4/ip_forward").unwrap(), "1");
    probe::ping(
        "nk-ex-h0",
        Ipv4Addr::new(10, 100, 2, 2),
        Duration::from_secs(2),
    )
    .expect("subnets routed through the router");
    assert!(nft::list_table("nk-ex-h1", "inet", "vpcctl")
        .unwrap()
        .is_some());

    // a second plan that fails at its last op leaves the kernel as it was
    let mut more = vpc_plan("nk-ex2", 2);
    more.push(plan::Op::AddrAdd {
        ns: "nk-ex-h0".into(),
        dev: "eth0".into(),
        cidr: "10.100.0.9/24".into(),
    });
    more.push(plan::Op::NftDelete {
        ns: "nk-ex-h1".into(),
        family: "inet".into(),
        table: "vpcctl".into(),
    });
    more.push(plan::Op::SysctlSet {
        ns: "nk-ex-r".into(),
        key: "net/ipv4/ip_forward".into(),
        value: "0".into(),
    });
    let k = more.len();
    let opts = exec::Options {
        fault_at: Some(k),
        concurrency: 1,
        ..Default::default()
    };
    let err = exec::execute(&more, &opts, &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("op {k} (sysctlSet net/ipv4/ip_forward=0 in netns \"nk-ex-r\"): injected fault; rolled back {} ops", k - 1));
    assert_eq!(leftovers("nk-ex2"), Vec::<String>::new());
    let h0 = conn::connect("nk-ex-h0").unwrap();
    assert!(!addr::list(&h0, "nk-ex-h0")
        .await
        .unwrap()
        .iter()
        .any(|a| a.cidr == "10.100.0.9/24"));
    drop(h0); // its socket would keep nk-ex-h0 alive after deletion
    assert!(
        nft::list_table("nk-ex-h1", "inet", "vpcctl")
            .unwrap()
            .is_some(),
        "deleted table restored"
    );

    // a real kernel error names the op; earlier ops are undone
    let bad: Vec<plan::Op> = plan::parse(
        &json!([
            {"op": "netnsAdd", "ns": "nk-ex3", "tag": ""},
            {"op": "addrAdd", "ns": "nk-ex3", "dev": "missing0", "cidr": "10.1.1.1/32"}
        ])
        .to_string(),
    )
    .unwrap();
    let err = exec::execute(&bad, &exec::Options::default(), &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "op 2 (addrAdd 10.1.1.1/32 on missing0 in netns \"nk-ex3\"): No such device (os error 19); rolled back 1 ops");
    assert_eq!(leftovers("nk-ex3"), Vec::<String>::new());

    // a setup op run inside its namespace's creation (fused) fails as
    // itself: the ops before it in that visit count as done and are undone
    let fused: Vec<plan::Op> = plan::parse(
        &json!([
            {"op": "netnsAdd", "ns": "nk-ex5", "tag": ""},
            {"op": "sysctlSet", "ns": "nk-ex5", "key": "net/ipv4/ip_unprivileged_port_start", "value": "0"},
            {"op": "nftApply", "ns": "nk-ex5", "family": "inet", "table": "t", "ruleset": [
                {"chain": {"family": "inet", "table": "t", "name": "a"}}]},
            {"op": "sysctlSet", "ns": "nk-ex5", "key": "net/ipv4/no_such_key", "value": "1"}
        ])
        .to_string(),
    )
    .unwrap();
    let err = exec::execute(&fused, &exec::Options::default(), &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "op 4 (sysctlSet net/ipv4/no_such_key=1 in netns \"nk-ex5\"): No such file or directory (os error 2); rolled back 3 ops");
    assert_eq!(leftovers("nk-ex5"), Vec::<String>::new());

    // a table made earlier in the same plan is replaced, not created twice
    let twice: Vec<plan::Op> = plan::parse(
        &json!([
            {"op": "netnsAdd", "ns": "nk-ex4", "tag": ""},
            {"op": "nftApply", "ns": "nk-ex4", "family": "inet", "table": "t", "ruleset": [
                {"chain": {"family": "inet", "table": "t", "name": "a"}}]},
            {"op": "nftApply", "ns": "nk-ex4", "family": "inet", "table": "t", "ruleset": [
                {"chain": {"family": "inet", "table": "t", "name": "b"}}]}
        ])
        .to_string(),
    )
    .unwrap();
    exec::execute(&twice, &exec::Options::default(), &|_, _| {})
        .await
        .unwrap();
    let listed = nft::list_table("nk-ex4", "inet", "t").unwrap().unwrap();
    let chains: Vec<&str> = listed["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["chain"]["name"].as_str())
        .collect();
    assert_eq!(chains, vec!["b"]);

    // Deleting the hosts destroys them at once (their veth ends in the
    // router go with them): nothing keeps a deleted namespace alive.
    let hosts: Vec<plan::Op> = leftovers("nk-ex")
        .into_iter()
        .filter(|ns| ns != "nk-ex-r")
        .map(|ns| plan::Op::NetnsDel { ns })
        .collect();
    exec::execute(&hosts, &exec::Options::default(), &|_, _| {})
        .await
        .unwrap();
    let router = conn::connect("nk-ex-r").unwrap();
    let t = Instant::now();
    loop {
        let veths = link::list(&router, "nk-ex-r")
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.name.starts_with("sn-"))
            .count();
        if veths == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{veths} deleted host namespaces still alive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(router);
    delete_all("nk-ex").await;
    assert_eq!(leftovers("nk-ex"), Vec::<String>::new());
}

/// An op that overruns its limit on a blocking thread still finishes; the
/// executor waits for it and undoes it, so a timeout leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_timeout_leaves_nothing_behind() {
    sandbox_only!();
    let opts = exec::Options {
        timeout: Duration::from_micros(1),
        ..Default::default()
    };
    let mut timed_out = 0;
    // On an idle machine an op may finish inside the timer's first tick
    // (1 ms): try until a few have run out, not a fixed number of times.
    for i in 0..60 {
        if timed_out >= 3 {
            break;
        }
        let ns = format!("nk-to{i}");
        let ops = vec![
            plan::Op::NetnsAdd {
                ns: ns.clone(),
                tag: String::new(),
            },
            plan::Op::SysctlSet {
                ns: ns.clone(),
                key: "net/ipv4/ip_forward".into(),
                value: "1".into(),
            },
        ];
        match exec::execute(&ops, &opts, &|_, _| {}).await {
            Ok(_) => netns::del(&ns).unwrap(),
            Err(e) => {
                assert!(e.to_string().contains("timed out after"), "{e}");
                assert_eq!(leftovers(&ns), Vec::<String>::new(), "{e}");
                timed_out += 1;
            }
        }
        let one = exec::execute_one(
            &plan::Op::NetnsAdd {
                ns: ns.clone(),
                tag: String::new(),
            },
            Duration::from_micros(1),
        )
        .await;
        match one {
            Ok(()) => netns::del(&ns).unwrap(),
            Err(e) => {
                assert!(e.to_string().contains("timed out after"), "{e}");
                assert_eq!(leftovers(&ns), Vec::<String>::new(), "{e}");
            }
        }
    }
    assert!(timed_out > 0, "a 1 µs limit never ran out");
}

/// Pipelining: a VPC of N subnets (default 500, env NETKIT_SCALE) built and torn down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_scale() {
    sandbox_only!();
    let n: usize = std::env::var("NETKIT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let ops = vpc_plan("nk-sc", n);
    let r = exec::execute(&ops, &exec::Options::default(), &|_, _| {})
        .await
        .unwrap();
    eprintln!("executor: {n} subnets, {} ops in {:?}", r.ops, r.elapsed);
    let last = format!("nk-sc-h{}", n - 1);
    assert!(nft::list_table(&last, "inet", "vpcctl").unwrap().is_some());
    let teardown: Vec<plan::Op> = leftovers("nk-sc")
        .into_iter()
        .map(|ns| plan::Op::NetnsDel { ns })
        .collect();
    let t = exec::execute(&teardown, &exec::Options::default(), &|_, _| {})
        .await
        .unwrap();
    eprintln!(
        "executor: teardown of {} namespaces in {:?}",
        t.ops, t.elapsed
    );
    assert!(
        r.elapsed < Duration::from_secs(20),
        "way too slow: {:?}",
        r.elapsed
    );
}

/// What a `kill -9` leaves behind must not block the next run: an empty
/// /run/netns entry (killed between creating the file and mounting onto it),
/// and a veth of the same object whose other namespace is still held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_leftovers_do_not_block_recreation() {
    sandbox_only!();
    std::fs::write(netns::path("nk-stale"), b"").unwrap();
    assert!(
        !netns::exists("nk-stale"),
        "a plain file is not a namespace"
    );
    netns::add("nk-stale").unwrap();
    assert!(netns::exists("nk-stale"));
    netns::del("nk-stale").unwrap();

    netns::add("nk-left-r").unwrap();
    netns::add("nk-left-h").unwrap();
    let (hr, hh) = (
        conn::connect("nk-left-r").unwrap(),
        conn::connect("nk-left-h").unwrap(),
    );
    let v = link::Veth {
        ns: "nk-left-r".into(),
        name: "sn-test".into(),
        alias: Some("vpcctl:subnet:t/s".into()),
        peer_ns: "nk-left-h".into(),
        peer_name: "eth0".into(),
        peer_alias: Some("vpcctl:subnet:t/s".into()),
        mtu: None,
    };
    link::veth_add(&hr, &hh, &v).await.unwrap();
    // Hold the host namespace open, as a kernel still destroying it would.
    let held = std::fs::File::open(netns::path("nk-left-h")).unwrap();
    netns::del("nk-left-h").unwrap();
    assert!(
        link::get(&hr, "nk-left-r", "sn-test")
            .await
            .unwrap()
            .is_some(),
        "the old pair lingers"
    );
    netns::add("nk-left-h").unwrap();
    let hh = conn::connect("nk-left-h").unwrap();
    link::veth_add(&hr, &hh, &v).await.unwrap();
    assert!(link::get(&hh, "nk-left-h", "eth0").await.unwrap().is_some());

    // A link of the same name with another owner's alias is never replaced.
    let foreign = link::Veth {
        alias: Some("someone-else".into()),
        ..v.clone()
    };
    let err = link::veth_add(&hr, &hh, &foreign).await.unwrap_err();
    assert_eq!(err.errno(), Some(libc::EEXIST));
    assert_eq!(err.kind(), netkit::Kind::Exists);
    drop(held);
    netns::del("nk-left-h").unwrap();

    // A pair with no alias (a command killed between the add and its
    // alias) whose namespace is on its way out: the name comes free when the
    // kernel finishes destroying that namespace, and the add waits for it.
    netns::add("nk-left-h").unwrap();
    let hh = conn::connect("nk-left-h").unwrap();
    let bare = link::Veth {
        name: "sn-bare".into(),
        alias: None,
        peer_alias: None,
        ..v.clone()
    };
    link::veth_add(&hr, &hh, &bare).await.unwrap();
    drop(hh); // its socket would keep the namespace alive too
    let held = std::fs::File::open(netns::path("nk-left-h")).unwrap();
    netns::del("nk-left-h").unwrap();
    let dying = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(held);
    });
    netns::add("nk-left-h").unwrap();
    let hh = conn::connect("nk-left-h").unwrap();
    let mine = link::Veth {
        name: "sn-bare".into(),
        ..v.clone()
    };
    link::veth_add(&hr, &hh, &mine)
        .await
        .expect("the add waits for the dying pair's name");
    dying.await.unwrap();
    let now = link::get(&hr, "nk-left-r", "sn-bare")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.alias, mine.alias, "the new pair, not the old one");
    netns::del("nk-left-h").unwrap();
    netns::del("nk-left-r").unwrap();
}

/// A plan that replaces a route and then fails puts the old route back,
/// instead of deleting the destination's route altogether.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_restores_a_replaced_route() {
    sandbox_only!();
    let run = |ops: Value| async move {
        let ops = plan::parse(&ops.to_string()).unwrap();
        exec::execute(&ops, &exec::Options::default(), &|_, _| {}).await
    };
    let old = route::Route {
        dst: "10.88.0.0/16".into(),
        dev: Some("lo".into()),
        ..Default::default()
    };
    run(json!([
        {"op": "netnsAdd", "ns": "nk-rt", "tag": ""},
        {"op": "routeAdd", "ns": "nk-rt", "dst": "10.88.0.0/16", "dev": "lo"}
    ]))
    .await
    .unwrap();
    let h = conn::connect("nk-rt").unwrap();
    assert!(route::list(&h, "nk-rt").await.unwrap().contains(&old));

    let err = run(json!([
        {"op": "routeAdd", "ns": "nk-rt", "dst": "10.88.0.0/16", "dev": "lo", "src": "127.0.0.1"},
        {"op": "sysctlSet", "ns": "nk-rt", "key": "net/ipv4/no_such_key", "value": "1"}
    ]))
    .await
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("op 2 (sysctlSet"), "{err}");
    let routes = route::list(&h, "nk-rt").await.unwrap();
    assert!(
        routes.contains(&old),
        "the replaced route is back: {routes:?}"
    );
    assert!(
        !routes.iter().any(|r| r.src.is_some()),
        "the new one is gone: {routes:?}"
    );

    // Replacing outside a plan reports what it replaced.
    let new = route::Route {
        src: Some("127.0.0.1".into()),
        ..old.clone()
    };
    assert_eq!(
        route::add(&h, "nk-rt", &new, None).await.unwrap(),
        Some(old.clone())
    );
    assert_eq!(
        route::add(&h, "nk-rt", &new, None).await.unwrap(),
        Some(new.clone())
    );
    drop(h);
    netns::del("nk-rt").unwrap();
}

/// A route to the same destination on another device is someone else's
/// (on the host: the LAN, a VPN): routeAdd fails rather than take it over,
/// and leaves it exactly as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_add_never_takes_another_devices_route() {
    sandbox_only!();
    netns::add("nk-rx").unwrap();
    let h = conn::connect("nk-rx").unwrap();
    let v = link::Veth {
        ns: "nk-rx".into(),
        name: "rx-a".into(),
        peer_ns: "nk-rx".into(),
        peer_name: "rx-b".into(),
        ..Default::default()
    };
    link::veth_add(&h, &h, &v).await.unwrap();
    let theirs = route::Route {
        dst: "10.86.0.0/16".into(),
        dev: Some("rx-a".into()),
        ..Default::default()
    };
    route::add(&h, "nk-rx", &theirs, None).await.unwrap();
    let ours = route::Route {
        dst: "10.86.0.0/16".into(),
        dev: Some("rx-b".into()),
        ..Default::default()
    };
    let err = route::add(&h, "nk-rx", &ours, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the route 10.86.0.0/16 dev rx-a is there and not on rx-b"),
        "{err}"
    );
    let routes = route::list(&h, "nk-rx").await.unwrap();
    assert!(routes.contains(&theirs), "{routes:?}");
    assert!(!routes.contains(&ours), "{routes:?}");

    // Through a plan: the plan fails, and its earlier steps are undone.
    let ops = plan::parse(
        &json!([
            {"op": "routeAdd", "ns": "nk-rx", "dst": "10.85.0.0/16", "dev": "rx-b"},
            {"op": "routeAdd", "ns": "nk-rx", "dst": "10.86.0.0/16", "dev": "rx-b"}
        ])
        .to_string(),
    )
    .unwrap();
    let err = exec::execute(&ops, &exec::Options::default(), &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("refusing to replace"), "{err}");
    let routes = route::list(&h, "nk-rx").await.unwrap();
    assert!(routes.contains(&theirs), "{routes:?}");
    assert!(
        !routes.iter().any(|r| r.dst == "10.85.0.0/16"),
        "{routes:?}"
    );

    // All tables, with what tells whose a route is: an address gives a
    // `proto kernel` route in main and a `local` one in the local table.
    assert!(addr::add(&h, "nk-rx", "rx-a", None, "10.84.0.1/24")
        .await
        .unwrap());
    let all = route::list_all(&h, "nk-rx").await.unwrap();
    assert!(
        all.iter()
            .any(|r| r.dst == "10.86.0.0/16" && r.table == 254 && r.kind == 1),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|r| r.dst == "10.84.0.0/24" && r.table == 254 && r.protocol == 2),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|r| r.dst == "10.84.0.1/32" && r.table == 255 && r.kind == 2),
        "{all:?}"
    );
    drop(h);
    netns::del("nk-rx").unwrap();
}

/// A plan that fails after deleting a namespace is not rolled back: the
/// deletion stands, and so does everything else that completed (here a
/// host's table deleted before), so the kernel is the new state minus the
/// ops that did not run, and the error says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_does_not_roll_back_after_a_namespace_deletion() {
    sandbox_only!();
    exec::execute(&vpc_plan("nk-nr", 2), &exec::Options::default(), &|_, _| {})
        .await
        .unwrap();
    let teardown = vec![
        plan::Op::NftDelete {
            ns: "nk-nr-h1".into(),
            family: "inet".into(),
            table: "vpcctl".into(),
        },
        plan::Op::NetnsDel {
            ns: "nk-nr-h0".into(),
        },
        plan::Op::SysctlSet {
            ns: "nk-nr-r".into(),
            key: "net/ipv4/ip_forward".into(),
            value: "0".into(),
        },
    ];
    let opts = exec::Options {
        fault_at: Some(3),
        concurrency: 1,
        ..Default::default()
    };
    let err = exec::execute(&teardown, &opts, &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "op 3 (sysctlSet net/ipv4/ip_forward=0 in netns \"nk-nr-r\"): injected fault; not rolled back: 2 ops done, deletions among them");
    let mut left = leftovers("nk-nr");
    left.sort();
    assert_eq!(
        left,
        ["nk-nr-h1", "nk-nr-r"],
        "the deleted namespace stays deleted"
    );
    assert!(
        nft::list_table("nk-nr-h1", "inet", "vpcctl")
            .unwrap()
            .is_none(),
        "the table deleted before is not put back"
    );
    assert_eq!(sysctl::get("nk-nr-r", "net/ipv4/ip_forward").unwrap(), "1");
    delete_all("nk-nr").await;
}
