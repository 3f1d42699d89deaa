//! What every binding file shares: the error mapping, the trip to a
//! blocking thread, and one op run through the executor.

use std::fmt::Display;

use netkit::{exec, plan::Op};

pub type Result<T> = napi::Result<T>;

pub fn err(e: impl Display) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

/// Runs blocking netkit work (files, libnftables, waits) off the runtime workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> netkit::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(err)?
        .map_err(err)
}

/// Runs one op through the executor (with its timeout and undo on overrun).
pub async fn run(op: Op) -> Result<()> {
    exec::execute_one(&op, exec::Options::default().timeout)
        .await
        .map_err(err)
}
