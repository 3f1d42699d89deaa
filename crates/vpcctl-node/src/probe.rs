//! Reachability probes from inside a namespace: ICMP echo, TCP connect.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use napi_derive::napi;
use netkit::probe;

use crate::common::blocking;

#[napi(object)]
pub struct ProbeResult {
    pub ok: bool,
    pub rtt_ms: Option<f64>,
    pub error: Option<String>,
}

async fn probe_result(
    f: impl FnOnce() -> netkit::Result<Duration> + Send + 'static,
) -> ProbeResult {
    ProbeResult::of(blocking(f).await.map_err(|e| e.reason))
}

impl ProbeResult {
    /// A probe's round-trip time, or why it got no answer.
    fn of(r: std::result::Result<Duration, String>) -> Self {
        match r {
            Ok(d) => ProbeResult {
                ok: true,
                rtt_ms: Some(d.as_secs_f64() * 1e3),
                error: None,
            },
            Err(error) => ProbeResult {
                ok: false,
                rtt_ms: None,
                error: Some(error),
            },
        }
    }
}

fn ipv4(s: &str) -> netkit::Result<Ipv4Addr> {
    s.parse().map_err(|_| {
        netkit::Error::new(
            netkit::Kind::Invalid,
            format!("address \"{s}\""),
            "not an IPv4 address",
        )
    })
}

fn ip_any(s: &str) -> netkit::Result<IpAddr> {
    s.parse().map_err(|_| {
        netkit::Error::new(
            netkit::Kind::Invalid,
            format!("address \"{s}\""),
            "not an IP address",
        )
    })
}

/// One ICMP echo (ICMPv6 for an IPv6 `dst`) from inside `ns` to `dst`.
#[napi]
pub async fn ping(ns: String, dst: String, timeout_ms: u32) -> ProbeResult {
    probe_result(move || {
        probe::ping_ip(&ns, ip_any(&dst)?, Duration::from_millis(timeout_ms.into()))
    })
    .await
}

/// A TCP connect from inside `ns` to `dst:port` (closed right away).
#[napi]
pub async fn tcp_connect(ns: String, dst: String, port: u16, timeout_ms: u32) -> ProbeResult {
    probe_result(move || {
        probe::tcp_connect_ip(
            &ns,
            ip_any(&dst)?,
            port,
            Duration::from_millis(timeout_ms.into()),
        )
    })
    .await
}

#[napi(object)]
pub struct PingTarget {
    /// The source namespace.
    pub ns: String,
    pub dst: String,
}

/// Many ICMP echoes at once (one raw socket per source namespace, one
/// deadline for all): results in the order of `probes`. For
/// `test-connectivity --all`, where one probe at a time costs a timeout per
/// unreachable pair.
#[napi]
pub async fn ping_many(
    probes: Vec<PingTarget>,
    timeout_ms: u32,
) -> crate::common::Result<Vec<ProbeResult>> {
    let batch = probes
        .into_iter()
        .map(|p| {
            Ok(netkit::pingmany::Probe {
                dst: ipv4(&p.dst)?,
                ns: p.ns,
            })
        })
        .collect::<netkit::Result<Vec<_>>>()
        .map_err(crate::common::err)?;
    let results = blocking(move || {
        netkit::pingmany::ping_many(&batch, Duration::from_millis(timeout_ms.into()))
    })
    .await?;
    Ok(results
        .into_iter()
        .map(|r| ProbeResult::of(r.map_err(|e| e.to_string())))
        .collect())
}
