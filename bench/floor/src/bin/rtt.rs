//! Per-packet cost: TCP round trips between two subnet hosts, through the
//! VPC router and both hosts' policy tables, for one or more host pairs.
//!
//!   rtt [-n COUNT] [-w WARMUP] [-b BLOCKS] [-p PORT] [-c] LABEL:SERVER_NS:SERVER_IP:CLIENT_NS ...
//!
//! With -c each timed round trip is on a new connection (connect, one
//! round trip; the close is not timed): what a new connection costs, which
//! is where flow logs act (their rules see only a connection's first
//! packet). Without it, all round trips share one established connection.
//!
//! A namespace is a name in /run/netns or an absolute path to a namespace file.
//!
//! For each pair a thread that entered SERVER_NS echoes, and the main thread
//! opens a connection from inside CLIENT_NS. After WARMUP untimed round trips
//! per pair, COUNT timed ones per pair are made in BLOCKS blocks, the pairs
//! taking turns block by block: whatever else the machine is doing hits every
//! pair alike, so their ratio holds even when absolute times drift.
//! 64-byte messages, TCP_NODELAY. Port 80 is the one the bench policy
//! allows. All threads are pinned to one CPU: where the scheduler puts them
//! otherwise changes a round trip by 2x from run to run, far more than what
//! is measured. Prints one JSON object keyed by LABEL.

use std::{
    fs::File,
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    os::fd::AsRawFd,
    sync::mpsc,
    time::{Duration, Instant},
};

fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("rtt: {what}: {e}");
    std::process::exit(1)
}

fn enter_file(f: &File, what: &str) {
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        die(&format!("setns {what}"), std::io::Error::last_os_error());
    }
}

/// A name in /run/netns, or a path to a namespace file (`/proc/PID/root/run/netns/NAME`
/// reaches a namespace another mount namespace holds: a simulated cluster host's).
fn enter(ns: &str) {
    let path = if ns.starts_with('/') { ns.to_string() } else { format!("/run/netns/{ns}") };
    let f = File::open(path).unwrap_or_else(|e| die(ns, e));
    enter_file(&f, ns);
}

/// Pins the calling thread to the last CPU it may run on.
fn pin() {
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return;
        }
        let last = (0..libc::CPU_SETSIZE as usize).rev().find(|&c| libc::CPU_ISSET(c, &set));
        if let Some(c) = last {
            libc::CPU_ZERO(&mut set);
            libc::CPU_SET(c, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

struct Pair {
    label: String,
    conn: TcpStream,
    samples: Vec<f64>,
    /// -c: a new connection per round trip, made from inside this netns.
    fresh: Option<(File, SocketAddr)>,
}

fn serve(ns: String, port: u16, ready: mpsc::Sender<()>) {
    pin();
    enter(&ns);
    let l = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| die(&format!("bind in {ns}"), e));
    ready.send(()).unwrap();
    // One connection at a time: the client closes each before the next (-c), or keeps one.
    loop {
        let (mut s, _) = l.accept().unwrap_or_else(|e| die("accept", e));
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
    }
}

fn connect(label: &str, addr: &SocketAddr) -> TcpStream {
    let conn = TcpStream::connect_timeout(addr, Duration::from_secs(5)).unwrap_or_else(|e| die(&format!("{label} connect"), e));
    conn.set_nodelay(true).unwrap();
    // A lost packet must fail the run, not hang it.
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn
}

fn round_trip(p: &mut Pair, buf: &mut [u8; 64], home: &File) -> f64 {
    if let Some((ns, addr)) = &p.fresh {
        // The netns switch is not timed; connect and the round trip are.
        enter_file(ns, "client");
        let t = Instant::now();
        let mut c = connect(&p.label, addr);
        enter_file(home, "home");
        c.write_all(buf).unwrap_or_else(|e| die(&format!("{} write", p.label), e));
        c.read_exact(buf).unwrap_or_else(|e| die(&format!("{} read", p.label), e));
        return t.elapsed().as_secs_f64() * 1e6;
    }
    let t = Instant::now();
    p.conn.write_all(buf).unwrap_or_else(|e| die(&format!("{} write", p.label), e));
    p.conn.read_exact(buf).unwrap_or_else(|e| die(&format!("{} read", p.label), e));
    t.elapsed().as_secs_f64() * 1e6
}

fn main() {
    let mut count = 2000usize;
    let mut warmup = 200usize;
    let mut blocks = 10usize;
    let mut port = 80u16;
    let mut fresh = false;
    let mut specs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| die("usage", format!("{name} needs a number")));
        match a.as_str() {
            "-n" => count = val("-n"),
            "-w" => warmup = val("-w"),
            "-b" => blocks = val("-b"),
            "-p" => port = val("-p") as u16,
            "-c" => fresh = true,
            _ => specs.push(a),
        }
    }
    if specs.is_empty() || blocks == 0 || count < blocks {
        die("usage", "rtt [-n COUNT] [-w WARMUP] [-b BLOCKS] [-p PORT] [-c] LABEL:SERVER_NS:SERVER_IP:CLIENT_NS ...");
    }
    pin();
    let home = File::open("/proc/thread-self/ns/net").unwrap_or_else(|e| die("own netns", e));
    let mut pairs = Vec::new();
    for spec in &specs {
        let f: Vec<&str> = spec.split(':').collect();
        let [label, server_ns, server_ip, client_ns] = f[..] else { die("pair", format!("{spec}: want LABEL:SERVER_NS:SERVER_IP:CLIENT_NS")) };
        let (tx, rx) = mpsc::channel();
        let ns = server_ns.to_string();
        std::thread::spawn(move || serve(ns, port, tx));
        rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|e| die("server start", e));
        // The socket belongs to the netns it was made in, whatever the thread does next.
        enter(client_ns);
        let addr: SocketAddr = format!("{server_ip}:{port}").parse().unwrap_or_else(|e| die("address", e));
        // Without -c, the one connection all round trips share; with it, a first one that is closed at once.
        let conn = connect(label, &addr);
        enter_file(&home, "home");
        let fresh = fresh.then(|| {
            let ns = File::open(format!("/run/netns/{client_ns}")).unwrap_or_else(|e| die(client_ns, e));
            (ns, addr)
        });
        if fresh.is_some() {
            conn.shutdown(std::net::Shutdown::Both).ok();
        }
        pairs.push(Pair { label: label.to_string(), conn, samples: Vec::with_capacity(count), fresh });
    }
    let mut buf = [7u8; 64];
    for p in pairs.iter_mut() {
        for _ in 0..warmup {
            round_trip(p, &mut buf, &home);
        }
    }
    let per_block = count / blocks;
    for b in 0..blocks {
        let n = if b + 1 == blocks { count - per_block * (blocks - 1) } else { per_block };
        for p in pairs.iter_mut() {
            for _ in 0..n {
                let us = round_trip(p, &mut buf, &home);
                p.samples.push(us);
            }
        }
    }
    let mut out = Vec::new();
    for p in pairs.iter_mut() {
        let s = &mut p.samples;
        s.sort_by(|x, y| x.partial_cmp(y).unwrap());
        let q = |f: f64| s[((s.len() as f64 - 1.0) * f).round() as usize];
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        out.push(format!(
            "\"{}\":{{\"count\":{},\"median_us\":{:.2},\"p99_us\":{:.2},\"mean_us\":{mean:.2},\"min_us\":{:.2}}}",
            p.label,
            s.len(),
            q(0.5),
            q(0.99),
            s[0]
        ));
    }
    println!("{{{}}}", out.join(","));
}
