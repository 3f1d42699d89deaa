//! Named network namespaces under /run/netns, made in-process (never by
//! forking), and `run_in` to do work inside one without leaving the thread there.

use std::{
    collections::HashMap,
    fs::{self, File, OpenOptions},
    io,
    os::{fd::AsFd, unix::fs::MetadataExt},
    path::PathBuf,
    sync::Mutex,
};

use nix::{
    mount::{mount, umount2, MntFlags, MsFlags},
    sched::{setns, unshare, CloneFlags},
    sys::{
        signal::{kill, Signal},
        statfs::{statfs, NSFS_MAGIC},
    },
    unistd::Pid,
};

use crate::error::{Context, Error, Kind, Result};

pub const NETNS_DIR: &str = "/run/netns";

/// A namespace name is one path component under /run/netns: no '/', not
/// empty, no "..": a name read from a file or a plan can never reach a path
/// outside the directory (the callers check ownership; this is the last line).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && !name.contains("..")
        && name != "."
        && !name.contains('\0')
}

fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Error::new(
            Kind::Invalid,
            what(name),
            "invalid namespace name (one path component under /run/netns)",
        ))
    }
}

pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

fn what(name: &str) -> String {
    format!("netns \"{name}\"")
}

/// Opens the namespace file of `name`; `""` is the process's own netns.
pub fn open(name: &str) -> Result<File> {
    let p = if name.is_empty() {
        PathBuf::from("/proc/self/ns/net")
    } else {
        path(name)
    };
    File::open(p).ctx(|| what(name))
}

/// Puts the calling thread back into its saved netns when dropped, even on
/// panic. If that is impossible the thread would keep running in the wrong
/// namespace, so the process aborts instead.
struct Restore(File);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Err(e) = setns(self.0.as_fd(), CloneFlags::CLONE_NEWNET) {
            eprintln!("netkit: cannot restore thread netns: {e}");
            std::process::abort();
        }
    }
}

fn save_current() -> Result<Restore> {
    File::open("/proc/thread-self/ns/net")
        .map(Restore)
        .ctx(|| "open own thread netns".into())
}

/// Runs `f` on the calling thread inside netns `ns` and restores the
/// thread's netns afterwards. Sockets opened by `f` stay in `ns`.
/// `""` runs `f` as is.
pub fn run_in<T>(ns: &str, f: impl FnOnce() -> T) -> Result<T> {
    if ns.is_empty() {
        return Ok(f());
    }
    let target = open(ns)?;
    let _restore = save_current()?;
    setns(target.as_fd(), CloneFlags::CLONE_NEWNET).ctx(|| format!("setns into {}", what(ns)))?;
    Ok(f())
}

/// Visits namespaces in turn from one thread, like [`run_in`] but cheaper
/// per visit, for verify's hundreds: the thread's own netns is opened once,
/// and the thread goes from one visited namespace straight to the next,
/// returning home only when the visitor is dropped (one setns per visit,
/// not two). Use it on the thread that made it, and drop it there.
pub struct Visitor {
    home: File,
    /// Whether the thread is away from `home`.
    away: std::cell::Cell<bool>,
}

impl Drop for Visitor {
    fn drop(&mut self) {
        if self.away.get() {
            if let Err(e) = setns(self.home.as_fd(), CloneFlags::CLONE_NEWNET) {
                eprintln!("netkit: cannot restore thread netns: {e}");
                std::process::abort();
            }
        }
    }
}

impl Visitor {
    /// Remembers the calling thread's netns.
    pub fn new() -> Result<Visitor> {
        Ok(Visitor {
            home: save_current()?
                .0
                .try_clone()
                .ctx(|| "own thread netns".into())?,
            away: std::cell::Cell::new(false),
        })
    }

    /// Runs `f` on the calling thread inside `ns` (`""`: the netns the
    /// thread was in at [`Visitor::new`]). `Ok(None)` when no namespace
    /// `ns` exists. No stat before the open: the open says it, and setns
    /// refuses a file that is no network namespace.
    pub fn visit<T>(&self, ns: &str, f: impl FnOnce() -> T) -> Result<Option<T>> {
        if ns.is_empty() {
            if self.away.get() {
                setns(self.home.as_fd(), CloneFlags::CLONE_NEWNET)
                    .ctx(|| "return to own thread netns".into())?;
                self.away.set(false);
            }
            return Ok(Some(f()));
        }
        check_name(ns)?;
        let target = match File::open(path(ns)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            r => r.ctx(|| what(ns))?,
        };
        // Away from here on: even a failed setns may not have left the thread home.
        self.away.set(true);
        setns(target.as_fd(), CloneFlags::CLONE_NEWNET)
            .ctx(|| format!("setns into {}", what(ns)))?;
        Ok(Some(f()))
    }
}

/// Like iproute2: /run/netns must be a shared mount point so that mounts
/// made under it propagate to other mount namespaces.
fn prepare_dir() -> Result<()> {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap();
    if *done {
        return Ok(());
    }
    let ctx = || format!("prepare {NETNS_DIR}");
    fs::create_dir_all(NETNS_DIR).ctx(ctx)?;
    let shared = MsFlags::MS_SHARED | MsFlags::MS_REC;
    if let Err(nix::Error::EINVAL) =
        mount(None::<&str>, NETNS_DIR, Some("none"), shared, None::<&str>)
    {
        // Not a mount point yet: bind it onto itself, then make it shared.
        mount(
            Some(NETNS_DIR),
            NETNS_DIR,
            Some("none"),
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(ctx)?;
        mount(None::<&str>, NETNS_DIR, Some("none"), shared, None::<&str>).ctx(ctx)?;
    }
    *done = true;
    Ok(())
}

/// Creates netns `name` on the calling thread and runs `inside` in it before
/// the thread returns to its own netns (used to open sockets in the new
/// namespace for free). Fails with EEXIST if the name is taken.
pub fn add_with<T>(name: &str, inside: impl FnOnce() -> T) -> Result<T> {
    check_name(name)?;
    prepare_dir()?;
    let p = path(name);
    let create = || OpenOptions::new().write(true).create_new(true).open(&p);
    match create() {
        // A plain file where no namespace is mounted is what a process killed
        // between creating the file and mounting onto it leaves: reuse the name.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !exists(name) => {
            fs::remove_file(&p).ctx(|| what(name))?;
            create().ctx(|| what(name))?;
        }
        r => {
            r.ctx(|| what(name))?;
        }
    }
    let made = (|| {
        let _restore = save_current()?;
        unshare(CloneFlags::CLONE_NEWNET).ctx(|| format!("unshare for {}", what(name)))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &p,
            Some("none"),
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("bind-mount {}", what(name)))?;
        Ok(inside())
    })();
    if made.is_err() {
        let _ = fs::remove_file(&p);
    }
    made
}

pub fn add(name: &str) -> Result<()> {
    add_with(name, || ())
}

/// True if `name` is a mounted network namespace (not a stale empty file).
pub fn exists(name: &str) -> bool {
    // statfs on the path: one syscall (a listing checks hundreds of them).
    statfs(&path(name)).is_ok_and(|s| s.filesystem_type() == NSFS_MAGIC)
}

pub fn list() -> Result<Vec<String>> {
    let rd = match fs::read_dir(NETNS_DIR) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        r => r.ctx(|| format!("list {NETNS_DIR}"))?,
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| exists(n))
        .collect();
    names.sort();
    Ok(names)
}

/// Which processes are in which network namespace, from one scan of
/// /proc: (nsfs dev, inode) of the namespace -> pids, sorted.
pub type NsPids = HashMap<(u64, u64), Vec<u32>>;

pub fn scan_pids() -> Result<NsPids> {
    let mut map = NsPids::new();
    for pid in fs::read_dir("/proc")
        .ctx(|| "read /proc".into())?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
    {
        if let Ok(m) = fs::metadata(format!("/proc/{pid}/ns/net")) {
            map.entry((m.dev(), m.ino())).or_default().push(pid);
        }
    }
    for pids in map.values_mut() {
        pids.sort_unstable();
    }
    Ok(map)
}

fn ns_id(name: &str) -> Result<(u64, u64)> {
    let meta = fs::metadata(path(name)).ctx(|| what(name))?;
    Ok((meta.dev(), meta.ino()))
}

/// Processes whose network namespace is `name` (same nsfs dev + inode).
pub fn pids_in(name: &str) -> Result<Vec<u32>> {
    let id = ns_id(name)?;
    Ok(scan_pids()?.remove(&id).unwrap_or_default())
}

/// Unmounts a namespace file. A plain (synchronous) unmount lets the kernel
/// release the namespace at once; after a lazy one (MNT_DETACH, what
/// `ip netns del` does) kernel 6.18 keeps the namespace, with its links and
/// memory, until some later unmount, so a bulk delete would leave them all
/// alive. MNT_DETACH is only the fallback when the mount is busy. Not
/// mounted (a stale file) is success.
fn unmount(p: &std::path::Path) -> nix::Result<()> {
    let r = match umount2(p, MntFlags::UMOUNT_NOFOLLOW) {
        Err(nix::Error::EBUSY) => umount2(p, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW),
        r => r,
    };
    match r {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Kills every process in `name`, then unmounts and removes it. The kernel
/// destroys the namespace (and the veth peers in it) once nothing holds it.
/// Absent is success. A name that is not one path component, or an entry
/// that is a symlink (it would lead elsewhere: statfs and open follow it),
/// is refused untouched.
pub fn del(name: &str) -> Result<()> {
    del_with(name, None)
}

/// [`del`] with the processes found by an earlier [`scan_pids`] (one scan
/// for a whole teardown instead of one per namespace: a scan stats every
/// process). A process that entered the namespace after that scan is not
/// killed; it keeps the (unmounted) namespace alive until it exits.
pub fn del_with(name: &str, pids: Option<&NsPids>) -> Result<()> {
    check_name(name)?;
    let p = path(name);
    match fs::symlink_metadata(&p) {
        Err(_) => return Ok(()),
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::new(
                Kind::Foreign,
                what(name),
                "is a symlink, not a namespace: left alone",
            ));
        }
        Ok(_) => {}
    }
    if exists(name) {
        let id = ns_id(name)?;
        let found = match pids {
            Some(map) => map.get(&id).cloned().unwrap_or_default(),
            None => scan_pids()?.remove(&id).unwrap_or_default(),
        };
        for pid in found {
            // Checked again: a pid from an earlier scan may have been reused.
            let still_there =
                fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| (m.dev(), m.ino()) == id);
            if still_there {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
    unmount(&p).ctx(|| what(name))?;
    match fs::remove_file(&p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).ctx(|| what(name)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_path_component() {
        for ok in ["ns-a-b", "vpcr-x", "foreign", "a.b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../../tmp/x",
            "a/b",
            "/abs",
            "x/..",
            "..x",
            "a\0b",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn del_refuses_bad_names_without_touching_anything() {
        // Not run as a kernel test: these must fail before any syscall.
        for bad in ["", "..", "../../tmp/x", "a/b"] {
            let e = del(bad).unwrap_err();
            assert!(e.to_string().contains("invalid namespace name"), "{e}");
        }
        assert!(add("../x").is_err());
    }
}
