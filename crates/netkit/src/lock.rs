//! An exclusive lock on a file (flock(2)) for callers that must take turns,
//! such as vpcctl processes sharing one state. The kernel releases it when
//! the holder's descriptor closes, so also when the holder dies: a crash
//! leaves no stale lock for the next run to wait out.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    os::unix::fs::OpenOptionsExt,
    thread,
    time::{Duration, Instant},
};

use nix::{
    errno::Errno,
    fcntl::{Flock, FlockArg},
};

use crate::error::{Context, Error, Kind, Result};

/// Held until dropped. The file (created with mode 0600) holds the pid of the
/// holder, for the message of whoever waits in vain.
#[derive(Debug)]
pub struct FileLock {
    _file: Flock<File>,
}

/// Takes the lock on `path`, waiting up to `timeout` for its holder.
/// Blocking: call it off any async runtime's workers.
pub fn acquire(path: &str, timeout: Duration) -> Result<FileLock> {
    let what = || format!("lock {path}");
    // O_CLOEXEC (std's default): processes spawned while it is held must not inherit it.
    let mut open = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::os(what(), e))?;
    // Polled, not a blocking flock: a wait must end after `timeout`.
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    let mut file = loop {
        match Flock::lock(open, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => break locked,
            Err((f, Errno::EWOULDBLOCK | Errno::EINTR)) => open = f,
            Err((_, e)) => return Err(e).ctx(what),
        }
        if start.elapsed() >= timeout {
            let mut holder = String::new();
            let _ = open.read_to_string(&mut holder);
            let by = match holder.trim() {
                "" => String::new(),
                pid => format!(" by pid {pid}"),
            };
            return Err(Error::new(
                Kind::Busy,
                what(),
                format!("still held{by} after {timeout:?}"),
            ));
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    };
    // Best effort: the pid is only for messages.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    Ok(FileLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_and_is_told_who_holds_it() {
        let dir = std::env::temp_dir().join(format!("netkit-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lock");
        let path = path.to_str().unwrap();

        let first = acquire(path, Duration::from_millis(10)).unwrap();
        // flock belongs to the open file, so a second open in this process contends.
        let err = acquire(path, Duration::from_millis(30))
            .unwrap_err()
            .to_string();
        assert!(err.contains("still held by pid"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");

        drop(first);
        let second = acquire(path, Duration::from_millis(10));
        assert!(second.is_ok(), "free once the holder is gone");
        drop(second);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
