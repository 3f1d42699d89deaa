//! The floor of the benchmark: the kernel objects vpcctl makes for one VPC
//! with N subnets (src/plan/build.ts), made by one process that does nothing
//! but ask the kernel. No planner, no state file, no name lookups, no undo
//! log: what is left is the kernel's own cost, which vpcctl is measured
//! against.
//!
//!   floor create N [VPC]   router netns + N subnets (same names, addresses,
//!                          routes, sysctls, aliases and nft tables as vpcctl)
//!   floor delete [VPC]     unmount + unlink every namespace of the VPC
//!
//! Subnet i is `s<i>`, 10.(i>>8).(i&255).0/24 in VPC 10.0.0.0/8, public when
//! i is even (bench/topology.mjs and bench/seed.sh use the same scheme).
//! Prints one JSON line of phase timings on stdout.

use std::{
    ffi::{c_char, c_int, c_void, CStr, CString},
    fs::{self, File, OpenOptions},
    net::{IpAddr, Ipv4Addr},
    os::fd::{AsRawFd, RawFd},
    time::Instant,
};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage},
    link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage},
    route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType},
    AddressFamily, RouteNetlinkMessage,
};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

const NETNS_DIR: &str = "/run/netns";

fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("floor: {what}: {e}");
    std::process::exit(1)
}

fn check(what: &str, rc: c_int) {
    if rc < 0 {
        die(what, std::io::Error::last_os_error());
    }
}

// --- the topology ---------------------------------------------------------

struct Subnet {
    name: String,
    net: [u8; 4],
    public: bool,
}

fn subnet(i: usize) -> Subnet {
    Subnet { name: format!("s{i}"), net: [10, (i >> 8) as u8, (i & 255) as u8, 0], public: i % 2 == 0 }
}

fn ip(net: [u8; 4], host: u8) -> Ipv4Addr {
    Ipv4Addr::new(net[0], net[1], net[2], host)
}

/// Router end of a subnet's veth: "sn-" + the network in hex (names.ts).
fn link_name(net: [u8; 4]) -> String {
    format!("sn-{:08x}", u32::from_be_bytes(net))
}

// --- namespaces -------------------------------------------------------------

/// Makes netns `name` the way DESIGN.md says (unshare, bind-mount the
/// thread's netns onto /run/netns/NAME), runs `inside` while the thread is
/// in it, and returns to `home`. Returns an fd of the new namespace.
fn netns_add(name: &str, home: RawFd, inside: impl FnOnce()) -> File {
    let path = format!("{NETNS_DIR}/{name}");
    OpenOptions::new().write(true).create_new(true).open(&path).unwrap_or_else(|e| die(&path, e));
    let cpath = CString::new(path.clone()).unwrap();
    unsafe {
        check("unshare", libc::unshare(libc::CLONE_NEWNET));
        check(
            "bind mount",
            libc::mount(c"/proc/thread-self/ns/net".as_ptr(), cpath.as_ptr(), c"none".as_ptr(), libc::MS_BIND, std::ptr::null()),
        );
    }
    let fd = File::open(&path).unwrap_or_else(|e| die(&path, e));
    inside();
    unsafe { check("setns home", libc::setns(home, libc::CLONE_NEWNET)) };
    fd
}

fn enter(fd: RawFd) {
    unsafe { check("setns", libc::setns(fd, libc::CLONE_NEWNET)) };
}

/// /run/netns must be a shared mount point, as iproute2 and netkit make it,
/// so that later namespaces' mounts propagate.
fn prepare_netns_dir() {
    fs::create_dir_all(NETNS_DIR).unwrap_or_else(|e| die(NETNS_DIR, e));
    let dir = CString::new(NETNS_DIR).unwrap();
    let shared = libc::MS_SHARED | libc::MS_REC;
    unsafe {
        if libc::mount(std::ptr::null(), dir.as_ptr(), c"none".as_ptr(), shared, std::ptr::null()) != 0 {
            check("bind netns dir", libc::mount(dir.as_ptr(), dir.as_ptr(), c"none".as_ptr(), libc::MS_BIND | libc::MS_REC, std::ptr::null()));
            check("share netns dir", libc::mount(std::ptr::null(), dir.as_ptr(), c"none".as_ptr(), shared, std::ptr::null()));
        }
    }
}

/// Sysctls are per netns and resolved against the writing thread's netns.
fn sysctl(key: &str, value: &str) {
    let p = format!("/proc/sys/{key}");
    fs::write(&p, value).unwrap_or_else(|e| die(&p, e));
}

// --- rtnetlink, pipelined -----------------------------------------------------

/// One NETLINK_ROUTE socket (in the netns that opened it). Requests are
/// appended to one buffer and sent together: the kernel runs every message
/// of a send() in order, so later requests may depend on earlier ones
/// without waiting for their acks. Acks are read back in bulk.
struct Nl {
    sock: Socket,
    buf: Vec<u8>,
    seq: u32,
    unacked: u32,
    what: &'static str,
}

impl Nl {
    fn new(what: &'static str) -> Nl {
        let sock = Socket::new(NETLINK_ROUTE).unwrap_or_else(|e| die("netlink socket", e));
        // Room for thousands of acks so the sender never has to stop and read.
        let size: c_int = 32 << 20;
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &size as *const c_int as *const c_void,
                std::mem::size_of::<c_int>() as u32,
            );
        }
        Nl { sock, buf: Vec::with_capacity(64 << 10), seq: 0, unacked: 0, what }
    }

    fn push(&mut self, msg: RouteNetlinkMessage, flags: u16) {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        m.finalize();
        let start = self.buf.len();
        self.buf.resize(start + m.buffer_len(), 0);
        m.serialize(&mut self.buf[start..]);
        self.unacked += 1;
        if self.buf.len() > 48 << 10 {
            self.send();
        }
    }

    fn send(&mut self) {
        if !self.buf.is_empty() {
            self.sock.send(&self.buf, 0).unwrap_or_else(|e| die("netlink send", e));
            self.buf.clear();
        }
    }

    /// Sends what is buffered and reads every outstanding ack; any error is fatal.
    fn finish(&mut self) {
        self.send();
        let mut rx = vec![0u8; 256 << 10];
        while self.unacked > 0 {
            let n = self.sock.recv(&mut &mut rx[..], 0).unwrap_or_else(|e| die("netlink recv", e));
            let mut off = 0;
            while off + 16 <= n {
                let len = u32::from_ne_bytes(rx[off..off + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(rx[off + 4..off + 6].try_into().unwrap());
                if kind == NLMSG_ERROR {
                    let code = i32::from_ne_bytes(rx[off + 16..off + 20].try_into().unwrap());
                    if code != 0 {
                        let seq = u32::from_ne_bytes(rx[off + 8..off + 12].try_into().unwrap());
                        die(&format!("{} request {seq}", self.what), std::io::Error::from_raw_os_error(-code));
                    }
                    self.unacked -= 1;
                }
                off += (len + 3) & !3;
            }
        }
    }

    /// Link `index`: up, and/or its alias (vpcctl's ownership tag).
    fn set_link(&mut self, index: u32, up: bool, alias: &str) {
        let mut m = LinkMessage::default();
        m.header.index = index;
        if up {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        }
        m.attributes.push(LinkAttribute::IfAlias(alias.into()));
        self.push(RouteNetlinkMessage::SetLink(m), 0);
    }

    /// A veth `name` (index `index`, up) whose peer `eth0` is created
    /// directly in the netns `peer_ns` with index 2. Choosing both indexes
    /// lets every later request name the links without asking the kernel.
    fn veth(&mut self, index: u32, name: &str, peer_ns: RawFd) {
        let mut peer = LinkMessage::default();
        peer.header.index = 2;
        peer.attributes.push(LinkAttribute::IfName("eth0".into()));
        peer.attributes.push(LinkAttribute::NetNsFd(peer_ns));
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(name.into()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.push(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL);
    }

    fn addr(&mut self, index: u32, a: Ipv4Addr, len: u8) {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = len;
        m.header.index = index;
        m.attributes.push(AddressAttribute::Local(IpAddr::V4(a)));
        m.attributes.push(AddressAttribute::Address(IpAddr::V4(a)));
        self.push(RouteNetlinkMessage::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL);
    }

    /// A main-table route to `dst/len` out of `oif`, via `gw` or on-link.
    fn route(&mut self, dst: Ipv4Addr, len: u8, oif: u32, gw: Option<Ipv4Addr>) {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.destination_prefix_length = len;
        m.header.table = 254; // RT_TABLE_MAIN
        m.header.protocol = RouteProtocol::Static;
        m.header.kind = RouteType::Unicast;
        m.header.scope = if gw.is_some() { RouteScope::Universe } else { RouteScope::Link };
        if len > 0 {
            m.attributes.push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
        }
        m.attributes.push(RouteAttribute::Oif(oif));
        if let Some(g) = gw {
            m.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(g)));
        }
        self.push(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_REPLACE);
    }
}

// --- libnftables, loaded at run time (no -dev package needed) ------------------

struct Nft {
    ctx_new: unsafe extern "C" fn(u32) -> *mut c_void,
    ctx_free: unsafe extern "C" fn(*mut c_void),
    buffer_error: unsafe extern "C" fn(*mut c_void) -> c_int,
    error_buffer: unsafe extern "C" fn(*mut c_void) -> *const c_char,
    run_cmd: unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int,
}

impl Nft {
    fn load() -> Nft {
        unsafe {
            let lib = libc::dlopen(c"libnftables.so.1".as_ptr(), libc::RTLD_NOW);
            if lib.is_null() {
                die("dlopen libnftables.so.1", CStr::from_ptr(libc::dlerror()).to_string_lossy());
            }
            let sym = |name: &CStr| {
                let p = libc::dlsym(lib, name.as_ptr());
                if p.is_null() {
                    die("dlsym", name.to_string_lossy());
                }
                p
            };
            Nft {
                ctx_new: std::mem::transmute(sym(c"nft_ctx_new")),
                ctx_free: std::mem::transmute(sym(c"nft_ctx_free")),
                buffer_error: std::mem::transmute(sym(c"nft_ctx_buffer_error")),
                error_buffer: std::mem::transmute(sym(c"nft_ctx_get_error_buffer")),
                run_cmd: std::mem::transmute(sym(c"nft_run_cmd_from_buffer")),
            }
        }
    }

    /// Runs `cmd` (nft syntax, one transaction) in the calling thread's netns
    /// with a context made there, as vpcctl does: one context per namespace.
    /// libnftables select()s on its socket, which aborts for a descriptor
    /// above 1023 (FD_SETSIZE), and with thousands of namespaces open the
    /// next free one is far above that: the context takes the low
    /// descriptor `low` keeps free for it (the kernel hands out the lowest).
    fn run(&self, what: &str, cmd: &str, low: &mut LowFd) {
        let c = CString::new(cmd).unwrap();
        low.release();
        unsafe {
            let ctx = (self.ctx_new)(0);
            (self.buffer_error)(ctx);
            if (self.run_cmd)(ctx, c.as_ptr()) != 0 {
                let err = CStr::from_ptr((self.error_buffer)(ctx)).to_string_lossy().into_owned();
                die(what, err);
            }
            (self.ctx_free)(ctx);
        }
        low.hold();
    }
}

/// A low descriptor held open (on /dev/null) so that it is free, and the
/// lowest free, at the moment a libnftables context opens its socket.
struct LowFd(Option<File>);

impl LowFd {
    fn new() -> LowFd {
        let mut l = LowFd(None);
        l.hold();
        l
    }
    fn hold(&mut self) {
        self.0 = Some(File::open("/dev/null").unwrap_or_else(|e| die("/dev/null", e)));
    }
    fn release(&mut self) {
        self.0 = None;
    }
}

/// Two descriptors per namespace (its file and its netlink socket) stay
/// open until the end: raise the soft limit on open files to the hard one.
fn raise_nofile() {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Table `inet vpcctl` with its content, in one transaction. The namespace
/// is new, so nothing is replaced: vpcctl's nftApply prepends `add table;
/// delete table` to replace in place, and a deleted table makes closing the
/// context wait for an RCU grace period (nft_rcv_nl_event flushes the
/// destroy work), ~10+ ms per namespace. Set FLOOR_NFT_REPLACE=1 to measure
/// that idiom here.
fn table(body: &str) -> String {
    let replace = std::env::var_os("FLOOR_NFT_REPLACE").is_some_and(|v| v == "1");
    let prefix = if replace { "add table inet vpcctl\ndelete table inet vpcctl\n" } else { "" };
    format!("{prefix}table inet vpcctl {{\n{body}}}\n")
}

/// src/firewall/policy.ts compiled for the bench policy: ingress allow tcp 80, deny tcp 22.
const POLICY: &str = r#"  chain ingress {
    type filter hook input priority 0; policy accept;
    ct state established,related accept comment "established"
    ct state invalid drop comment "invalid"
    iifname "lo" accept comment "loopback"
    tcp dport 80 counter accept comment "ingress[0]"
    tcp dport 22 counter drop comment "ingress[1]"
  }
  chain egress {
    type filter hook output priority 0; policy accept;
    ct state established,related accept comment "established"
    ct state invalid drop comment "invalid"
    oifname "lo" accept comment "loopback"
  }
"#;

/// src/firewall/router.ts for a VPC without internet gateway (the sandbox has no uplink).
fn router_table(subnets: &[Subnet]) -> String {
    let set = |name: &str, public: bool| {
        let elems: Vec<String> = subnets
            .iter()
            .filter(|s| s.public == public)
            .map(|s| format!("{}/24", ip(s.net, 0)))
            .collect();
        let elements = if elems.is_empty() { String::new() } else { format!("    elements = {{ {} }}\n", elems.join(", ")) };
        format!("  set {name} {{\n    type ipv4_addr\n    flags interval\n{elements}  }}\n")
    };
    format!(
        "{}{}{}",
        set("public", true),
        set("private", false),
        r#"  chain forward {
    type filter hook forward priority 0; policy accept;
    ct state established,related accept comment "replies"
    iifname "px-*" oifname "px-*" counter drop comment "peering is not transitive"
    iifname "px-*" oifname "igw0" counter drop comment "no edge-to-edge routing"
    iifname "igw0" oifname "px-*" counter drop comment "no edge-to-edge routing"
    iifname "igw0" ct status dnat counter accept comment "published ports"
    ip saddr @private oifname "igw0" counter drop comment "private subnets have no internet"
    iifname "igw0" ip daddr @private counter drop comment "private subnets are not reachable from outside"
  }
"#
    )
}

// --- the two commands ---------------------------------------------------------

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn create(n: usize, vpc: &str) {
    let t0 = Instant::now();
    prepare_netns_dir();
    let home = File::open("/proc/thread-self/ns/net").unwrap_or_else(|e| die("own netns", e));
    let nft = Nft::load();
    raise_nofile();
    let mut low = LowFd::new();
    let subnets: Vec<Subnet> = (0..n).map(subnet).collect();

    // The router: IPv6 off, forwarding, strict rp_filter, proxy ARP, `lo` up and tagged.
    let mut router: Option<Nl> = None;
    let router_ns = netns_add(&format!("vpcr-{vpc}"), home.as_raw_fd(), || {
        for (k, v) in [
            // IPv6 off in the router before its links exist (src/plan/build.ts VPC_IPV6).
            ("net/ipv6/conf/all/disable_ipv6", "1"),
            ("net/ipv6/conf/default/disable_ipv6", "1"),
            ("net/ipv4/ip_forward", "1"),
            ("net/ipv4/conf/all/rp_filter", "1"),
            ("net/ipv4/conf/default/rp_filter", "1"),
            ("net/ipv4/conf/all/proxy_arp", "1"),
        ] {
            sysctl(k, v);
        }
        let mut nl = Nl::new("router");
        nl.set_link(1, true, &format!("vpcctl:router:{vpc}"));
        router = Some(nl);
    });
    let mut router = router.unwrap();

    // Host namespaces: each gets its socket and policy table while the
    // thread is inside it (nothing there depends on eth0 existing yet).
    let t_ns = Instant::now();
    let mut hosts: Vec<(File, Nl)> = Vec::with_capacity(n);
    for s in &subnets {
        let mut nl = None;
        let fd = netns_add(&format!("ns-{vpc}-{}", s.name), home.as_raw_fd(), || {
            nft.run("host table", &table(POLICY), &mut low);
            let mut h = Nl::new("host");
            h.set_link(1, true, &format!("vpcctl:host:{vpc}/{}", s.name));
            h.send();
            nl = Some(h);
        });
        hosts.push((fd, nl.unwrap()));
    }
    let ns_ms = ms(t_ns);

    // Router side: veth with its peer born in the host netns, tag, gateway
    // address and the /32 route to the host. Host side: peer up and tagged,
    // host address, default route (public) or VPC route (private).
    let t_links = Instant::now();
    for (i, s) in subnets.iter().enumerate() {
        let index = 100 + i as u32;
        let tag = format!("vpcctl:subnet:{vpc}/{}", s.name);
        router.veth(index, &link_name(s.net), hosts[i].0.as_raw_fd());
        router.set_link(index, false, &tag);
        router.addr(index, ip(s.net, 1), 32);
        router.route(ip(s.net, 2), 32, index, None);
        // The kernel handles a send() synchronously, so the veth exists once
        // the router's buffer is flushed; the host requests may go right after.
        router.send();
        let h = &mut hosts[i].1;
        h.set_link(2, true, &tag);
        h.addr(2, ip(s.net, 2), 24);
        if s.public {
            h.route(Ipv4Addr::UNSPECIFIED, 0, 2, Some(ip(s.net, 1)));
        } else {
            h.route(Ipv4Addr::new(10, 0, 0, 0), 8, 2, Some(ip(s.net, 1)));
        }
        h.send();
    }
    router.finish();
    for (_, h) in hosts.iter_mut() {
        h.finish();
    }
    let links_ms = ms(t_links);

    // The router's table last: its sets list every subnet.
    let t_nft = Instant::now();
    enter(router_ns.as_raw_fd());
    nft.run("router table", &table(&router_table(&subnets)), &mut low);
    enter(home.as_raw_fd());
    let router_nft_ms = ms(t_nft);

    drop(hosts);
    let total = ms(t0);
    println!(
        "{{\"op\":\"create\",\"n\":{n},\"total_ms\":{total:.2},\"netns_ms\":{ns_ms:.2},\"links_ms\":{links_ms:.2},\"router_nft_ms\":{router_nft_ms:.2}}}"
    );
}

/// Teardown is namespace deletion: detach the bind mount, unlink the file,
/// and the kernel destroys the namespace with its links in the background.
fn delete(vpc: &str) {
    let t0 = Instant::now();
    let host_prefix = format!("ns-{vpc}-");
    let router = format!("vpcr-{vpc}");
    let umount_flags = if std::env::var_os("FLOOR_UMOUNT_SYNC").is_some_and(|v| v == "1") { 0 } else { libc::MNT_DETACH };
    let mut count = 0;
    let entries = fs::read_dir(NETNS_DIR).unwrap_or_else(|e| die(NETNS_DIR, e));
    for e in entries {
        let name = e.unwrap().file_name().into_string().unwrap_or_default();
        if !(name.starts_with(&host_prefix) || name == router) {
            continue;
        }
        let p = CString::new(format!("{NETNS_DIR}/{name}")).unwrap();
        unsafe {
            libc::umount2(p.as_ptr(), umount_flags);
            check("unlink", libc::unlink(p.as_ptr()));
        }
        count += 1;
    }
    println!("{{\"op\":\"delete\",\"namespaces\":{count},\"total_ms\":{:.2}}}", ms(t0));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let vpc_at = |i: usize| args.get(i).cloned().unwrap_or_else(|| "bench".into());
    match args.get(1).map(String::as_str) {
        Some("create") => {
            let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or_else(|| die("usage", "floor create N [VPC]"));
            if n > 65536 {
                die("usage", "N is at most 65536 (/24 subnets of 10.0.0.0/8)");
            }
            create(n, &vpc_at(3))
        }
        Some("delete") => delete(&vpc_at(2)),
        _ => die("usage", "floor create N [VPC] | floor delete [VPC]"),
    }
}
