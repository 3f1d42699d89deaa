//! File locks that a crashed holder cannot leave behind.

use std::time::Duration;

use napi_derive::napi;

use crate::common::{blocking, Result};

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

/// Another process holding a lock, as `lockHolder` finds it.
#[napi(object)]
pub struct LockHolder {
    /// The pid the holder wrote into the file; absent if unreadable.
    pub pid: Option<u32>,
}

/// Who holds the lock on `path` now, without waiting and without creating
/// the file: null when nobody does (or there is no lock file).
#[napi]
pub async fn lock_holder(path: String) -> Result<Option<LockHolder>> {
    let found = blocking(move || netkit::lock::holder(&path)).await?;
    Ok(found.map(|pid| LockHolder { pid }))
}
