//! rtnetlink connections whose socket lives in a given netns, and a per-execution
//! cache of one connection per namespace.

use std::{
    collections::HashMap,
    os::fd::{AsFd, FromRawFd, IntoRawFd, OwnedFd},
    sync::{Arc, Mutex},
};

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, TokioSocket};
use rtnetlink::{
    packet_core::{NetlinkMessage, NLM_F_ACK, NLM_F_REQUEST},
    packet_route::RouteNetlinkMessage,
    Handle,
};
use tokio::sync::OnceCell;

use crate::{
    error::{in_ns, Context, Result},
    netns, nlsock,
};

/// Opens a NETLINK_ROUTE socket on the calling thread; the socket belongs to
/// the netns the thread is in at that moment, wherever it is used later.
pub fn route_socket() -> std::io::Result<OwnedFd> {
    let s = Socket::new(NETLINK_ROUTE)?;
    // Large batches queue many acks; a big receive buffer avoids ENOBUFS.
    let _ = s.set_rx_buf_sz(4 << 20);
    // SAFETY: into_raw_fd hands over sole ownership of the descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(s.into_raw_fd()) })
}

/// Sends one request (with NLM_F_ACK) on a socket from [`route_socket`]
/// and waits for its ack, on the calling thread. Lets the thread that makes
/// a namespace also set it up, without a trip through the async connection.
/// Use it before the socket is handed to [`from_socket`].
pub fn request_sync(fd: &OwnedFd, msg: RouteNetlinkMessage) -> std::io::Result<()> {
    let mut m = NetlinkMessage::from(msg);
    m.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    m.finalize();
    let mut buf = vec![0u8; m.buffer_len()];
    m.serialize(&mut buf);
    let mut rx = vec![0u8; 8192];
    nlsock::exchange(fd.as_fd(), &mut buf, 1, &mut rx, |_, _| {})
}

/// Wraps a socket from [`route_socket`] into a Handle and spawns its
/// connection on the current tokio runtime.
pub fn from_socket(fd: OwnedFd) -> Handle {
    // SAFETY: `fd` is an owned, open netlink socket.
    let socket = unsafe { TokioSocket::from_raw_fd(fd.into_raw_fd()) };
    let (conn, handle, _) = rtnetlink::from_socket(socket);
    tokio::spawn(conn);
    handle
}

/// A connection in `ns` (must be called inside a tokio runtime).
pub fn connect(ns: &str) -> Result<Handle> {
    let fd = netns::run_in(ns, route_socket)?.ctx(|| format!("netlink socket{}", in_ns(ns)))?;
    Ok(from_socket(fd))
}

/// One rtnetlink Handle per namespace for the length of an execution.
/// Dropping the cache (or an entry) closes those connections, which lets
/// deleted namespaces actually go away.
#[derive(Default)]
pub struct Conns(Mutex<HashMap<String, Arc<OnceCell<Handle>>>>);

impl Conns {
    pub async fn get(&self, ns: &str) -> Result<Handle> {
        let cell = self
            .0
            .lock()
            .unwrap()
            .entry(ns.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async { connect(ns) })
            .await
            .cloned()
    }

    /// Replaces the entry with a freshly made connection (after netnsAdd).
    pub fn insert(&self, ns: &str, handle: Handle) {
        self.0
            .lock()
            .unwrap()
            .insert(ns.to_string(), Arc::new(OnceCell::new_with(Some(handle))));
    }

    pub fn forget(&self, ns: &str) {
        self.0.lock().unwrap().remove(ns);
    }
}
