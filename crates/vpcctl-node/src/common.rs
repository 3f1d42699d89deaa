//! What every binding file shares: the error mapping, the trip to a
//! blocking thread, and one op run through the executor.

use netkit::{exec, plan::Op, Kind};

pub type Result<T> = napi::Result<T>;

/// A netkit error as JavaScript gets it: its message after the kind's
/// stable code in brackets (`[EXISTS] vethAdd ...`), which src/native.ts
/// takes off into `VpcctlError.native`. The code travels in the text
/// because napi-rs rejects an async call's promise with a fixed `Status`
/// as the error's `code`.
pub fn err(e: netkit::Error) -> napi::Error {
    coded(e.kind(), e)
}

/// Any other failure (a worker that panicked, a join error).
pub fn other(e: impl std::fmt::Display) -> napi::Error {
    coded(Kind::Other, e)
}

fn coded(kind: Kind, e: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(format!("[{}] {e}", kind.code()))
}

/// Runs blocking netkit work (files, libnftables, waits) off the runtime workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> netkit::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(other)?
        .map_err(err)
}

/// Runs one op through the executor (with its timeout and undo on overrun).
pub async fn run(op: Op) -> Result<()> {
    exec::execute_one(&op, exec::Options::default().timeout)
        .await
        .map_err(err)
}
