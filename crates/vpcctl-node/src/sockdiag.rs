//! Who listens on a TCP port, or holds a UDP port, inside a namespace (sock_diag).

use napi_derive::napi;
use netkit::sockdiag;

use crate::common::{blocking, Result};

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
    Ok(list.into_iter().map(to_js).collect())
}

/// The UDP sockets (IPv4 and IPv6) bound to `port` inside `ns` (sock_diag),
/// with their holders' pids: what `publish --protocol udp` must not take.
#[napi]
pub async fn udp_sockets(ns: String, port: u16) -> Result<Vec<TcpListener>> {
    let list = blocking(move || sockdiag::udp_sockets(&ns, port)).await?;
    Ok(list.into_iter().map(to_js).collect())
}

fn to_js(l: sockdiag::Listener) -> TcpListener {
    TcpListener {
        addr: l.addr.to_string(),
        port: l.port.into(),
        uid: l.uid,
        inode: l.inode,
        pids: l.pids,
    }
}
