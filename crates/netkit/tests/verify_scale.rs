//! The cost of verify at scale, against the real kernel (inside
//! scripts/sandbox.sh only).

#[macro_use]
mod common;

use std::{collections::HashMap, time::Instant};

use common::{check, run, vpc};
use netkit::{netns, verify};

/// CPU time of this process so far (user + system), in ms.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage fills a struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 * 1e3 + v.tv_usec as f64 * 1e-3;
    t(u.ru_utime) + t(u.ru_stime)
}

/// The cost of verify for a VPC of N subnets (default 500, env NETKIT_SCALE),
/// with marks (tables confirmed by generation) and without (all listed).
#[test]
fn verify_scale() {
    sandbox_only!();
    let n: usize = std::env::var("NETKIT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let ops = vpc("vs", n);
    let t = Instant::now();
    let report = run(&ops);
    eprintln!(
        "verify_scale: apply of {n} subnets ({} ops) in {:?}",
        ops.len(),
        t.elapsed()
    );
    assert_eq!(report.nft.len(), n + 1);
    // NETKIT_PROF=K: verify K more times (for a profiler).
    let k: usize = std::env::var("NETKIT_PROF")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for _ in 0..k {
        let (t, c) = (Instant::now(), cpu_ms());
        check(&ops, &report.nft);
        eprintln!(
            "verify_scale: again: {:?} wall, {:.1} ms cpu",
            t.elapsed(),
            cpu_ms() - c
        );
    }
    // NETKIT_VERIFY_THREADS=1,2,3 compares thread counts (default: 2 only).
    let threads: Vec<usize> = std::env::var("NETKIT_VERIFY_THREADS")
        .unwrap_or("2".into())
        .split(',')
        .filter_map(|t| t.parse().ok())
        .collect();
    let none = HashMap::new();
    for (marks, proc_sysctls, how) in [
        (&report.nft, true, "with marks"),
        (&report.nft, false, "with marks, no /proc sysctls"),
        (&none, true, "by content"),
    ] {
        for &concurrency in threads.iter() {
            let opts = verify::Options {
                nft: marks.clone(),
                concurrency,
                proc_sysctls,
                ..Default::default()
            };
            let (t, c) = (Instant::now(), cpu_ms());
            assert_eq!(verify::verify(&ops, &opts).unwrap(), vec![]);
            eprintln!(
                "verify_scale: verify {how}, {concurrency} threads: {:?} wall, {:.1} ms cpu",
                t.elapsed(),
                cpu_ms() - c
            );
        }
    }
    netns::del(&format!("vs-h{}", n / 2)).unwrap();
    let d = check(&ops, &report.nft);
    assert_eq!(d.len(), 1, "{d:?}");
    for i in (0..n).filter(|i| *i != n / 2) {
        netns::del(&format!("vs-h{i}")).unwrap();
    }
    netns::del("vs-r").unwrap();
}
