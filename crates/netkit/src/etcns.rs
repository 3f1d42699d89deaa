//! Per-namespace configuration files, the iproute2 way: `ip netns exec NS`
//! bind-mounts every entry of `/etc/netns/NS/` over the entry of the same
//! name in `/etc` (so `/etc/netns/NS/hosts` is the namespace's /etc/hosts)
//! in a private mount namespace of the command it runs. Processes netkit
//! starts in a namespace get the same view (spawn.rs), without `ip`.
//!
//! The work is split around fork: `binds` reads the directory and checks
//! each target in the parent (it allocates), `mount_all` only makes
//! syscalls and runs in the child between fork and exec.

use std::{
    ffi::CString,
    io,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

use nix::{
    mount::{mount, MsFlags},
    sched::{unshare, CloneFlags},
};

use crate::error::{Context, Result};

/// Where iproute2 looks for a namespace's own files.
pub const ETC_NETNS: &str = "/etc/netns";

/// One bind mount: `src` (under /etc/netns/NS) over `dst` (under /etc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub src: CString,
    pub dst: CString,
}

fn cstring(p: &Path) -> Option<CString> {
    CString::new(p.as_os_str().as_bytes()).ok()
}

/// The bind mounts for namespace `ns` under `etc` (normally "/etc"): one per
/// entry of `<etc>/netns/<ns>/` whose counterpart in `etc` exists and is of
/// the same kind (a file over a file, a directory over a directory; a
/// symlinked target, like a resolv.conf managed elsewhere, is followed as
/// iproute2's mount follows it). Entries without such a counterpart are
/// skipped, as `ip netns exec` skips them (with a warning there). No
/// directory: no binds. Sorted by name, so the order is stable.
pub fn binds_under(etc: &Path, ns: &str) -> Result<Vec<Bind>> {
    let dir = etc.join("netns").join(ns);
    let what = || format!("read {}", dir.display());
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e).ctx(what),
    };
    let mut names: Vec<PathBuf> = Vec::new();
    for entry in entries {
        names.push(PathBuf::from(entry.ctx(what)?.file_name()));
    }
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let (src, dst) = (dir.join(&name), etc.join(&name));
        let (Ok(s), Ok(d)) = (std::fs::metadata(&src), std::fs::metadata(&dst)) else {
            continue;
        };
        if s.is_dir() != d.is_dir() {
            continue;
        }
        if let (Some(src), Some(dst)) = (cstring(&src), cstring(&dst)) {
            out.push(Bind { src, dst });
        }
    }
    Ok(out)
}

/// `binds_under("/etc", ns)`.
pub fn binds(ns: &str) -> Result<Vec<Bind>> {
    binds_under(Path::new("/etc"), ns)
}

/// In the child between fork and exec: a private mount namespace whose
/// mounts never propagate back to the machine's (`/` made a recursive
/// slave, as iproute2 does: the machine's later mounts still show), then
/// each bind. Syscalls only, no allocation. Nothing to bind: nothing done,
/// the child keeps the parent's mount namespace.
///
/// # Safety
/// Meant for a `pre_exec` closure: call only in a freshly forked child.
pub unsafe fn mount_all(binds: &[Bind]) -> io::Result<()> {
    if binds.is_empty() {
        return Ok(());
    }
    unshare(CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&Path>,
        c"/",
        None::<&Path>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&Path>,
    )?;
    for b in binds {
        mount(
            Some(b.src.as_c_str()),
            b.dst.as_c_str(),
            None::<&Path>,
            MsFlags::MS_BIND,
            None::<&Path>,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_follow_the_entries_that_have_a_counterpart() {
        let etc = std::env::temp_dir().join(format!("netkit-etcns-{}", std::process::id()));
        let dir = etc.join("netns").join("ns-a");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(etc.join("ssl")).unwrap();
        for f in ["hosts", "resolv.conf"] {
            std::fs::write(etc.join(f), "host's\n").unwrap();
        }
        std::fs::write(dir.join("hosts"), "ns's\n").unwrap();
        std::fs::write(dir.join("resolv.conf"), "ns's\n").unwrap();
        std::fs::write(dir.join("nothing-there"), "x").unwrap(); // no /etc counterpart
        std::fs::write(dir.join("ssl"), "x").unwrap(); // a file over a directory
        let got = binds_under(&etc, "ns-a").unwrap();
        let names: Vec<String> = got
            .iter()
            .map(|b| {
                b.dst
                    .to_string_lossy()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["hosts", "resolv.conf"]);
        assert_eq!(
            got[0].src.to_str().unwrap(),
            dir.join("hosts").to_str().unwrap()
        );
        assert!(binds_under(&etc, "ns-none").unwrap().is_empty());
        std::fs::remove_dir_all(&etc).unwrap();
    }
}
