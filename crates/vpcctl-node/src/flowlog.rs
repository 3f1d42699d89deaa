//! Flow logs: the NFLOG records that the policy tables' `log group` rules
//! hand to user space, read by sockets opened inside each subnet namespace
//! (netkit::nflog). One reader follows any number of namespaces with one
//! poll(2), on a blocking thread; no process is spawned.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use napi_derive::napi;
use netkit::nflog;

use crate::common::{blocking, other, Result};

/// One logged decision: the first packet of a new connection.
#[napi(object)]
pub struct FlowLogRecord {
    /// When the reader received it (ms since the epoch).
    pub time: f64,
    /// The namespace whose rules logged it.
    pub ns: String,
    pub src: String,
    pub dst: String,
    /// TCP/UDP ports; absent for other protocols.
    pub sport: Option<u32>,
    pub dport: Option<u32>,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub proto: u32,
    /// The log prefix of the rule that logged it.
    pub prefix: String,
}

/// What one `read` got.
#[napi(object)]
pub struct FlowLogBatch {
    pub records: Vec<FlowLogRecord>,
    /// Datagrams the kernel dropped since the last read because the reader fell behind.
    pub lost: u32,
}

/// Listens to one NFLOG group in namespaces added with `subscribe`, until
/// `close()` or until it is garbage-collected (the sockets close, and the
/// kernel unbinds the group).
#[napi]
pub struct FlowLogReader {
    group: u16,
    subs: Arc<Mutex<Vec<nflog::Subscription>>>,
    names: Arc<Mutex<Vec<String>>>,
}

#[napi]
impl FlowLogReader {
    #[napi(constructor)]
    pub fn new(group: u16) -> Self {
        FlowLogReader {
            group,
            subs: Arc::default(),
            names: Arc::default(),
        }
    }

    /// Binds the group inside `ns`. Rejects with `[BUSY]` when another
    /// reader (another `vpcctl flow-logs --follow`) already listens there:
    /// the kernel allows one listener per group and namespace.
    #[napi]
    pub async fn subscribe(&self, ns: String) -> Result<()> {
        let group = self.group;
        let name = ns.clone();
        let sub =
            blocking(move || nflog::subscribe(&ns, group, Duration::from_millis(500))).await?;
        self.subs.lock().map_err(other)?.push(sub);
        self.names.lock().map_err(other)?.push(name);
        Ok(())
    }

    /// Waits up to `waitMs` for records in any subscribed namespace and
    /// returns what came, up to about `max`; empty when nothing came.
    #[napi]
    pub async fn read(&self, wait_ms: u32, max: u32) -> Result<FlowLogBatch> {
        let subs = self.subs.clone();
        let names = self.names.lock().map_err(other)?.clone();
        let batch = blocking(move || {
            let mut subs = subs.lock().map_err(|e| {
                netkit::Error::new(netkit::Kind::Other, "flow log reader", e.to_string())
            })?;
            nflog::read_many(
                &mut subs,
                Duration::from_millis(wait_ms.into()),
                max as usize,
            )
        })
        .await?;
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
            .floor();
        let records = batch
            .records
            .into_iter()
            .map(|(i, r)| FlowLogRecord {
                time,
                ns: names.get(i).cloned().unwrap_or_default(),
                src: r.src.to_string(),
                dst: r.dst.to_string(),
                sport: r.sport.map(u32::from),
                dport: r.dport.map(u32::from),
                proto: r.proto.into(),
                prefix: r.prefix,
            })
            .collect();
        Ok(FlowLogBatch {
            records,
            lost: batch.lost,
        })
    }

    /// Closes every socket (the kernel unbinds the group). Harmless twice.
    #[napi]
    pub fn close(&self) -> Result<()> {
        self.subs.lock().map_err(other)?.clear();
        self.names.lock().map_err(other)?.clear();
        Ok(())
    }
}
