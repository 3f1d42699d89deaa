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
    // O_CLOEXEC (std's default): processes spawned while it is held must not
    // inherit it. O_NOFOLLOW: the pid is written into the file, so a symlink
    // planted in a shared state dir must not make that a write elsewhere.
    let mut open = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::os(what(), e))?;
    if !open.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Error::new(Kind::Other, what(), "not a regular file"));
    }
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
            let by = match pid_in(&mut open) {
                None => String::new(),
                Some(pid) => format!(" by pid {pid}"),
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

/// Who holds the lock on `path` now, without waiting and without creating
/// the file: None when nobody does (or there is no regular file there),
/// else the pid its holder wrote (None inside if unreadable). Taking the
/// lock for an instant is the only reliable test with flock.
pub fn holder(path: &str) -> Result<Option<Option<u32>>> {
    let what = || format!("lock {path}");
    // Read-only, and never through a symlink: only a lock file of ours is asked.
    let open = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(Error::os(what(), e)),
    };
    if !open.metadata().is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    match Flock::lock(open, FlockArg::LockExclusiveNonblock) {
        Ok(_free) => Ok(None),
        Err((mut f, Errno::EWOULDBLOCK)) => Ok(Some(pid_in(&mut f))),
        Err((_, e)) => Err(e).ctx(what),
    }
}

/// The holder's pid as it wrote it into the lock file (a few digits: never
/// more is read, whatever the file has become).
fn pid_in(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(16).read_to_string(&mut text).ok()?;
    text.trim().parse().ok().filter(|p| *p > 0)
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

        assert_eq!(holder(path).unwrap(), Some(Some(std::process::id())));
        drop(first);
        assert_eq!(holder(path).unwrap(), None, "free: nobody holds it");
        let second = acquire(path, Duration::from_millis(10));
        assert!(second.is_ok(), "free once the holder is gone");
        drop(second);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(holder(path).unwrap(), None, "no lock file: none made");
        assert!(!std::path::Path::new(path).exists());
    }

    #[test]
    fn a_symlink_in_place_of_the_lock_is_neither_written_through_nor_asked() {
        let dir = std::env::temp_dir().join(format!("netkit-lock-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("someone-elses");
        std::fs::write(&target, "keep me").unwrap();
        let path = dir.join("lock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let path = path.to_str().unwrap();

        assert!(acquire(path, Duration::from_millis(10)).is_err());
        assert_eq!(holder(path).unwrap(), None);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
