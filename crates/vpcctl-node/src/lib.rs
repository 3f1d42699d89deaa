//! vpcctl's native module: a thin N-API face over netkit. Every function
//! returns a Promise; kernel work runs on napi's tokio runtime or its
//! blocking pool, never on the JS thread. Errors reject with netkit's
//! message, which names the operation and the object.

use std::{collections::HashMap, fmt::Display, net::Ipv4Addr, time::Duration};

use napi::{
    bindgen_prelude::FnArgs,
    threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode},
    Status,
};
use napi_derive::napi;
use netkit::{
    addr, conn, exec, link, netns, netview, nft, nstag, observe, plan, plan::Op, probe, route,
    sockdiag, spawn, sysctl, verify,
};

/// mimalloc: the executor allocates from many threads at once, where glibc
/// malloc spent ~10% of an apply's CPU (perf), half of it for Rust code.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Result<T> = napi::Result<T>;

fn err(e: impl Display) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

/// Runs blocking netkit work (files, libnftables, waits) off the runtime workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> netkit::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(err)?
        .map_err(err)
}

async fn run(op: Op) -> Result<()> {
    exec::run_one(&op, exec::Options::default().timeout)
        .await
        .map_err(err)
}

/// Creates named netns `name` (under /run/netns), brings its `lo` up and
/// sets `lo`'s alias to `tag` (vpcctl's ownership tag).
#[napi]
pub async fn netns_add(name: String, tag: Option<String>) -> Result<()> {
    run(Op::NetnsAdd {
        ns: name,
        tag: tag.unwrap_or_default(),
    })
    .await
}

/// Kills every process in netns `name`, then removes it. Absent is success.
#[napi]
pub async fn netns_del(name: String) -> Result<()> {
    run(Op::NetnsDel { ns: name }).await
}

/// Whether `name` is a mounted network namespace under /run/netns.
#[napi]
pub async fn netns_exists(name: String) -> bool {
    netns::exists(&name)
}

/// Names of the network namespaces under /run/netns, sorted.
#[napi]
pub async fn netns_list() -> Result<Vec<String>> {
    blocking(netns::list).await
}

/// The ownership tag of netns `name` (the alias of its `lo`), or null.
#[napi]
pub async fn netns_tag(name: String) -> Result<Option<String>> {
    let h = conn::connect(&name).map_err(err)?;
    Ok(link::get(&h, &name, "lo")
        .await
        .map_err(err)?
        .and_then(|l| l.alias))
}

/// The ownership tags (alias of `lo`) of many namespaces in one call, in
/// order; null for none or for an absent namespace. One synchronous GET per
/// namespace: much cheaper than `netnsTag` each (a connection each).
#[napi]
pub async fn netns_tags(names: Vec<String>) -> Result<Vec<Option<String>>> {
    blocking(move || nstag::lo_aliases(&names)).await
}

/// Pids of the processes whose network namespace is `name`.
#[napi]
pub async fn netns_pids(name: String) -> Result<Vec<u32>> {
    blocking(move || netns::pids_in(&name)).await
}

#[napi(object)]
pub struct VethSpec {
    /// Namespace of the first end ("" = this process's).
    pub ns: String,
    pub name: String,
    pub alias: Option<String>,
    /// Namespace the peer is created in directly.
    pub peer_ns: String,
    pub peer_name: String,
    pub peer_alias: Option<String>,
    pub mtu: Option<u32>,
}

/// Creates a veth pair whose peer is made directly inside `peerNs`; both
/// ends up, aliases set.
#[napi]
pub async fn veth_add(spec: VethSpec) -> Result<()> {
    run(Op::VethAdd {
        ns: spec.ns,
        name: spec.name,
        alias: spec.alias,
        peer_ns: spec.peer_ns,
        peer_name: spec.peer_name,
        peer_alias: spec.peer_alias,
        mtu: spec.mtu,
    })
    .await
}

#[napi(object)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    pub up: bool,
    pub mtu: u32,
    pub mac: Option<String>,
    pub kind: Option<String>,
}

impl From<link::LinkInfo> for LinkInfo {
    fn from(l: link::LinkInfo) -> Self {
        LinkInfo {
            index: l.index,
            name: l.name,
            alias: l.alias,
            up: l.up,
            mtu: l.mtu,
            mac: l.mac,
            kind: l.kind,
        }
    }
}

/// One link by name (a kernel-filtered GET, not a dump), or null.
#[napi]
pub async fn link_get(ns: String, name: String) -> Result<Option<LinkInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    Ok(link::get(&h, &ns, &name)
        .await
        .map_err(err)?
        .map(LinkInfo::from))
}

/// Every link in `ns`.
#[napi]
pub async fn link_list(ns: String) -> Result<Vec<LinkInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    Ok(link::list(&h, &ns)
        .await
        .map_err(err)?
        .into_iter()
        .map(LinkInfo::from)
        .collect())
}

/// Deletes a link (both ends for a veth). Absent is success.
#[napi]
pub async fn link_del(ns: String, name: String) -> Result<()> {
    run(Op::LinkDel { ns, name }).await
}

/// Adds an IPv4 address (`10.0.1.1/24`) to `dev`. Already there is success.
#[napi]
pub async fn addr_add(ns: String, dev: String, cidr: String) -> Result<()> {
    run(Op::AddrAdd { ns, dev, cidr }).await
}

/// Removes an IPv4 address from `dev`. Absent is success.
#[napi]
pub async fn addr_del(ns: String, dev: String, cidr: String) -> Result<()> {
    run(Op::AddrDel { ns, dev, cidr }).await
}

#[napi(object)]
pub struct AddrInfo {
    pub dev: String,
    pub cidr: String,
}

/// Every IPv4 address in `ns` with its device.
#[napi]
pub async fn addr_list(ns: String) -> Result<Vec<AddrInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    let list = addr::list(&h, &ns).await.map_err(err)?;
    Ok(list
        .into_iter()
        .map(|a| AddrInfo {
            dev: a.dev,
            cidr: a.cidr,
        })
        .collect())
}

/// An IPv4 route of the main table.
#[napi(object)]
pub struct RouteInfo {
    /// `default` or a CIDR.
    pub dst: String,
    pub dev: Option<String>,
    pub via: Option<String>,
    pub onlink: Option<bool>,
    pub src: Option<String>,
}

impl From<RouteInfo> for route::Route {
    fn from(r: RouteInfo) -> Self {
        route::Route {
            dst: r.dst,
            dev: r.dev,
            via: r.via,
            onlink: r.onlink.unwrap_or(false),
            src: r.src,
        }
    }
}

/// Adds an IPv4 route to the main table; a route to the same destination
/// on the same device is replaced, one on another device is refused (EEXIST).
#[napi]
pub async fn route_add(ns: String, route: RouteInfo) -> Result<()> {
    run(Op::RouteAdd {
        ns,
        route: route.into(),
    })
    .await
}

/// Deletes an IPv4 route. Absent is success.
#[napi]
pub async fn route_del(ns: String, route: RouteInfo) -> Result<()> {
    run(Op::RouteDel {
        ns,
        route: route.into(),
    })
    .await
}

/// The IPv4 routes of the main table in `ns`.
#[napi]
pub async fn route_list(ns: String) -> Result<Vec<RouteInfo>> {
    let h = conn::connect(&ns).map_err(err)?;
    let list = route::list(&h, &ns).await.map_err(err)?;
    Ok(list
        .into_iter()
        .map(|r| RouteInfo {
            dst: r.dst,
            dev: r.dev,
            via: r.via,
            onlink: Some(r.onlink),
            src: r.src,
        })
        .collect())
}

#[napi(object)]
pub struct NetViewLink {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    pub loopback: bool,
}

#[napi(object)]
pub struct NetViewRoute {
    /// `default` or a CIDR.
    pub dst: String,
    /// The device's name; absent for blackhole/unreachable and multipath routes.
    pub dev: Option<String>,
    pub via: Option<String>,
    /// 254 main, 253 default, 255 local, or a policy table.
    pub table: u32,
    /// rtm_protocol: 2 kernel, 3 boot, 4 static, 16 dhcp, ...
    pub protocol: u32,
    /// rtm_scope: 0 universe, 253 link, 254 host.
    pub scope: u32,
    /// rtm_type: 1 unicast, 2 local, 3 broadcast, 6 blackhole, 7 unreachable, 8 prohibit, ...
    pub kind: u32,
    pub metric: u32,
}

/// A namespace's IPv4 network in one read: links, addresses, the routes of
/// every table, and the tables its policy rules look up.
#[napi(object)]
pub struct NetView {
    pub links: Vec<NetViewLink>,
    pub addrs: Vec<AddrInfo>,
    pub routes: Vec<NetViewRoute>,
    pub rule_tables: Vec<u32>,
}

/// Links, addresses, routes of all tables and rule tables of `ns`, read
/// in one call (four dumps over one connection).
#[napi]
pub async fn net_view(ns: String) -> Result<NetView> {
    let h = conn::connect(&ns).map_err(err)?;
    let v = netview::read(&h, &ns).await.map_err(err)?;
    let name = |i: u32| {
        v.links
            .iter()
            .find(|l| l.index == i)
            .map(|l| l.name.clone())
    };
    Ok(NetView {
        addrs: v
            .addrs
            .iter()
            .filter_map(|a| {
                Some(AddrInfo {
                    dev: name(a.index)?,
                    cidr: a.cidr.clone(),
                })
            })
            .collect(),
        routes: v
            .routes
            .iter()
            .map(|r| NetViewRoute {
                dst: r.dst.clone(),
                dev: r.oif.and_then(name),
                via: r.via.clone(),
                table: r.table,
                protocol: r.protocol.into(),
                scope: r.scope.into(),
                kind: r.kind.into(),
                metric: r.metric,
            })
            .collect(),
        rule_tables: v.rule_tables.clone(),
        links: v
            .links
            .into_iter()
            .map(|l| NetViewLink {
                index: l.index,
                name: l.name,
                alias: l.alias,
                up: l.up,
                loopback: l.loopback,
            })
            .collect(),
    })
}

/// Reads `/proc/sys/<key>` (e.g. `net/ipv4/ip_forward`) inside `ns`.
#[napi]
pub async fn sysctl_get(ns: String, key: String) -> Result<String> {
    blocking(move || sysctl::get(&ns, &key)).await
}

/// Writes `/proc/sys/<key>` inside `ns`.
#[napi]
pub async fn sysctl_set(ns: String, key: String, value: String) -> Result<()> {
    run(Op::SysctlSet { ns, key, value }).await
}

/// Replaces table `family table` in `ns` whole, in one transaction.
/// `rulesetJson` is a JSON array of libnftables objects that go inside the
/// table (chains, sets, maps, rules, elements), each naming that family
/// and table. On error the previous table is left as it was.
#[napi]
pub async fn nft_apply(
    ns: String,
    family: String,
    table: String,
    ruleset_json: String,
) -> Result<()> {
    run(Op::NftApply {
        ns,
        family,
        table,
        ruleset: plan::Ruleset::from_text(ruleset_json),
    })
    .await
}

/// Deletes table `family table` in `ns`. Absent is success.
#[napi]
pub async fn nft_delete(ns: String, family: String, table: String) -> Result<()> {
    run(Op::NftDelete { ns, family, table }).await
}

/// The table as libnftables JSON (`{"nftables":[...]}`), or null if absent.
#[napi]
pub async fn nft_list_table(ns: String, family: String, table: String) -> Result<Option<String>> {
    Ok(blocking(move || nft::list_table(&ns, &family, &table))
        .await?
        .map(|v| v.to_string()))
}

/// The whole ruleset of `ns` as libnftables JSON.
#[napi]
pub async fn nft_list_ruleset(ns: String) -> Result<String> {
    Ok(blocking(move || nft::list_ruleset(&ns)).await?.to_string())
}

#[napi(object)]
pub struct NftStatus {
    pub ok: bool,
    pub version: Option<String>,
    pub error: Option<String>,
}

/// Whether libnftables (Debian package libnftables1) loads and answers.
#[napi]
pub async fn nft_available() -> NftStatus {
    match tokio::task::spawn_blocking(nft::available)
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
    {
        Ok(v) => NftStatus {
            ok: true,
            version: Some(v),
            error: None,
        },
        Err(e) => NftStatus {
            ok: false,
            version: None,
            error: Some(e),
        },
    }
}

#[napi(object)]
pub struct ProbeResult {
    pub ok: bool,
    pub rtt_ms: Option<f64>,
    pub error: Option<String>,
}

async fn probe_result(
    f: impl FnOnce() -> netkit::Result<Duration> + Send + 'static,
) -> ProbeResult {
    match blocking(f).await {
        Ok(d) => ProbeResult {
            ok: true,
            rtt_ms: Some(d.as_secs_f64() * 1e3),
            error: None,
        },
        Err(e) => ProbeResult {
            ok: false,
            rtt_ms: None,
            error: Some(e.reason),
        },
    }
}

fn ipv4(s: &str) -> netkit::Result<Ipv4Addr> {
    s.parse()
        .map_err(|_| netkit::Error::msg(format!("address \"{s}\""), "not an IPv4 address"))
}

/// One ICMP echo from inside `ns` to `dst`.
#[napi]
pub async fn ping(ns: String, dst: String, timeout_ms: u32) -> ProbeResult {
    probe_result(move || probe::ping(&ns, ipv4(&dst)?, Duration::from_millis(timeout_ms.into())))
        .await
}

/// A TCP connect from inside `ns` to `dst:port` (closed right away).
#[napi]
pub async fn tcp_connect(ns: String, dst: String, port: u16, timeout_ms: u32) -> ProbeResult {
    probe_result(move || {
        probe::tcp_connect(
            &ns,
            ipv4(&dst)?,
            port,
            Duration::from_millis(timeout_ms.into()),
        )
    })
    .await
}

#[napi(object)]
pub struct SpawnOptions {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Added to the inherited environment.
    pub env: Option<HashMap<String, String>>,
    pub cwd: Option<String>,
    /// stdout and stderr are appended to this file.
    pub log_file: String,
}

/// Starts `argv` inside `ns` as a detached process in its own session
/// (stdin /dev/null, output appended to `logFile`); resolves to its pid.
/// It is reaped by the addon, so it never lingers as a zombie.
#[napi]
pub async fn spawn_detached(ns: String, argv: Vec<String>, options: SpawnOptions) -> Result<u32> {
    let opts = spawn::SpawnOptions {
        uid: options.uid,
        gid: options.gid,
        env: options.env.unwrap_or_default(),
        cwd: options.cwd.map(Into::into),
        log_file: options.log_file.into(),
    };
    blocking(move || spawn::spawn_detached(&ns, &argv, &opts)).await
}

/// Runs `argv` inside `ns` with this process's stdio; resolves to its exit
/// code (128 + signal if killed).
#[napi]
pub async fn run_in_netns(ns: String, argv: Vec<String>) -> Result<i32> {
    blocking(move || spawn::run(&ns, &argv)).await
}

/// Whether process `pid` exists and is not a zombie.
#[napi]
pub async fn pid_alive(pid: u32) -> bool {
    spawn::pid_alive(pid)
}

/// A TCP socket listening inside a namespace, and who holds it.
#[napi(object)]
pub struct TcpListener {
    pub addr: String,
    pub port: u32,
    /// Owner uid of the socket.
    pub uid: u32,
    pub inode: u32,
    /// Processes with the socket open (empty if none could be found).
    pub pids: Vec<u32>,
}

/// The TCP sockets (IPv4 and IPv6) listening on `port` inside `ns`, asked
/// of the kernel over sock_diag (not by connecting), with their holders' pids.
#[napi]
pub async fn tcp_listeners(ns: String, port: u16) -> Result<Vec<TcpListener>> {
    let list = blocking(move || sockdiag::tcp_listeners(&ns, port)).await?;
    Ok(list
        .into_iter()
        .map(|l| TcpListener {
            addr: l.addr.to_string(),
            port: l.port.into(),
            uid: l.uid,
            inode: l.inode,
            pids: l.pids,
        })
        .collect())
}

#[napi(object)]
pub struct UserIds {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The user named `name` as the system's user database (NSS: /etc/passwd,
/// LDAP, ...) knows it, or null. A name, never a number.
#[napi]
pub async fn user_lookup(name: String) -> Result<Option<UserIds>> {
    blocking(move || {
        Ok(spawn::user(&name)?.map(|u| UserIds {
            name: u.name,
            uid: u.uid,
            gid: u.gid,
        }))
    })
    .await
}

#[napi(object)]
pub struct ExecuteOptions {
    /// Ops in flight at once (default 64).
    pub concurrency: Option<u32>,
    /// 1-based index of an op made to fail with `injected fault` (tests);
    /// env VPCCTL_FAULT_AT otherwise.
    pub fault_at: Option<u32>,
    /// Per-op timeout in ms (default 5000).
    pub timeout_ms: Option<u32>,
}

/// Opaque to callers: what execute() learnt about a namespace's nftables
/// ruleset right after the plan's last nft op there (its generation id,
/// which moves with every nftables change in that namespace). Stored by the
/// caller and handed back to verify(), so that an unchanged ruleset is
/// confirmed without listing it.
#[napi(object)]
#[derive(Clone)]
pub struct NftMark {
    pub gen: u32,
    /// Reserved (not set yet).
    pub digest: Option<String>,
}

#[napi(object)]
pub struct ExecuteResult {
    pub ops: u32,
    pub elapsed_ms: f64,
    /// Per namespace where the plan ran nft ops ("" = the host).
    pub nft: HashMap<String, NftMark>,
}

/// `(done, total)` progress callback.
type Progress = ThreadsafeFunction<
    FnArgs<(u32, u32)>,
    napi::bindgen_prelude::Unknown<'static>,
    FnArgs<(u32, u32)>,
    Status,
    false,
>;

/// Runs a plan (JSON array of ops, docs/plan-ops.md) in one call: ops
/// pipelined along their dependencies, undone in reverse on the first
/// failure. Rejects with `op K (what): cause; rolled back N ops`, or, when
/// a namespace deletion had completed (which no undo can bring back), with
/// `op K (what): cause; not rolled back: N ops done, ...` and the kernel
/// left as the completed ops made it.
#[napi(
    ts_args_type = "planJson: string, options?: ExecuteOptions | undefined | null, onProgress?: ((done: number, total: number) => void) | undefined | null"
)]
pub async fn execute(
    plan_json: String,
    options: Option<ExecuteOptions>,
    on_progress: Option<Progress>,
) -> Result<ExecuteResult> {
    let ops = plan::parse(&plan_json).map_err(err)?;
    let mut opts = exec::Options::default();
    if let Some(o) = options {
        opts.concurrency = o.concurrency.map_or(opts.concurrency, |c| c as usize);
        opts.fault_at = o.fault_at.map(|k| k as usize);
        opts.timeout = o
            .timeout_ms
            .map_or(opts.timeout, |ms| Duration::from_millis(ms.into()));
    }
    // Each call crosses into JS: at most every ~1% of the plan or 50 ms,
    // and always the last one.
    let throttle = exec::ProgressThrottle::default();
    let progress = move |done: usize, total: usize| {
        if let Some(cb) = on_progress.as_ref().filter(|_| throttle.pass(done, total)) {
            cb.call(
                (done as u32, total as u32).into(),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        }
    };
    let r = exec::execute(&ops, &opts, &progress).await.map_err(err)?;
    Ok(ExecuteResult {
        ops: r.ops as u32,
        elapsed_ms: r.elapsed.as_secs_f64() * 1e3,
        nft: r
            .nft
            .into_iter()
            .map(|(ns, m)| {
                (
                    ns,
                    NftMark {
                        gen: m.gen,
                        digest: None,
                    },
                )
            })
            .collect(),
    })
}

/// One op of a verified plan that the kernel does not hold as the op would make it.
#[napi(object)]
pub struct Drift {
    /// 0-based index of the op in the plan given to verify.
    pub index: u32,
    /// One line: what is wrong, naming the object and namespace.
    pub detail: String,
    /// 'missing' (the object is absent) or 'differs' (present, not as made).
    pub kind: String,
}

#[napi(object)]
pub struct VerifyOptions {
    /// Marks from earlier executes, by namespace ("" = the host). Without a
    /// mark, a table is listed and compared by content (slower, still exact).
    pub nft: Option<HashMap<String, NftMark>>,
    /// Threads reading namespaces at once (default 2).
    pub concurrency: Option<u32>,
    /// Limit of each kernel read in ms (default 5000).
    pub timeout_ms: Option<u32>,
    /// Read sysctls that only /proc/sys has (`ip_unprivileged_port_start`;
    /// default true). Each is a path lookup whose cost grows with the number
    /// of namespaces: about a third of a 500-subnet verify. When false they
    /// are not checked (netlink-readable ones, ip_forward, rp_filter,
    /// proxy_arp, still are).
    pub proc_sysctls: Option<bool>,
}

/// Checks every op of a plan (the JSON that execute() takes) against the
/// kernel without changing anything, one visit per namespace; resolves to
/// the ops that do not hold. Removal ops are ignored. A missing namespace
/// gives one drift (on its netnsAdd, or the first op there).
#[napi]
pub async fn verify(plan_json: String, options: Option<VerifyOptions>) -> Result<Vec<Drift>> {
    let ops = plan::parse(&plan_json).map_err(err)?;
    let mut opts = verify::Options::default();
    if let Some(o) = options {
        if let Some(marks) = o.nft {
            opts.nft = marks
                .into_iter()
                .map(|(ns, m)| (ns, observe::NftMark { gen: m.gen }))
                .collect();
        }
        opts.concurrency = o.concurrency.map_or(opts.concurrency, |c| c as usize);
        opts.timeout = o
            .timeout_ms
            .map_or(opts.timeout, |ms| Duration::from_millis(ms.into()));
        opts.proc_sysctls = o.proc_sysctls.unwrap_or(opts.proc_sysctls);
    }
    let drifts = blocking(move || verify::verify(&ops, &opts)).await?;
    Ok(drifts
        .into_iter()
        .map(|d| Drift {
            index: d.index as u32,
            detail: d.detail,
            kind: d.kind.as_str().to_string(),
        })
        .collect())
}

/// An exclusive lock on a file, held until `release()` (or until this
/// process ends: the kernel drops it then, so a crash leaves no stale lock).
#[napi]
pub struct FileLock {
    held: Option<netkit::lock::FileLock>,
}

#[napi]
impl FileLock {
    /// Lets the next waiter in. Releasing twice is harmless.
    #[napi]
    pub fn release(&mut self) {
        self.held = None;
    }
}

/// Takes the lock on `path` (created, mode 0600), waiting up to `timeoutMs`
/// for another holder; rejects with the holder's pid if it is not released.
#[napi]
pub async fn lock_file(path: String, timeout_ms: u32) -> Result<FileLock> {
    let timeout = Duration::from_millis(timeout_ms.into());
    let held = blocking(move || netkit::lock::acquire(&path, timeout)).await?;
    Ok(FileLock { held: Some(held) })
}
