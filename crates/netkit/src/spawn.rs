//! Processes inside a namespace: detached services (vpcctl's apps) and
//! foreground commands (`vpcctl exec`). The netns is entered in the child
//! between fork and exec, so the parent never changes namespace. Like
//! `ip netns exec`, the child also gets the namespace's own /etc files
//! (`/etc/netns/NS/*` bind-mounted over `/etc/*` in a private mount
//! namespace: etcns.rs), so its /etc/hosts and /etc/resolv.conf are the
//! namespace's.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io,
    os::{fd::BorrowedFd, unix::process::CommandExt},
    path::PathBuf,
    process::{Command, Stdio},
};

use nix::{
    fcntl::{fcntl, FcntlArg, FdFlag},
    sched::{setns, CloneFlags},
    sys::prctl,
    unistd::{setgid, setgroups, setsid, setuid, Gid, Uid},
};

use crate::{
    error::{in_ns, Context, Error, Kind, Result},
    etcns, netns,
};

#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// A non-zero uid keeps CAP_NET_BIND_SERVICE (ambient, so it survives
    /// exec) and no other capability: apps may serve port 80 unprivileged.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Added to (or overriding) the inherited environment.
    pub env: HashMap<String, String>,
    pub cwd: Option<PathBuf>,
    /// stdout and stderr are appended here.
    pub log_file: PathBuf,
}

/// Who the child becomes, after it has entered the namespace (setns needs root).
#[derive(Clone, Copy, Default)]
struct Ids {
    uid: Option<u32>,
    gid: Option<u32>,
}

fn command(
    ns: &str,
    argv: &[String],
    what: impl Fn() -> String,
    detach: bool,
    ids: Ids,
) -> Result<Command> {
    let Some((prog, args)) = argv.split_first() else {
        return Err(Error::new(Kind::Invalid, what(), "empty argv"));
    };
    let mut cmd = Command::new(prog);
    cmd.args(args);
    let ns_file: Option<File> = if ns.is_empty() {
        None
    } else {
        Some(netns::open(ns)?)
    };
    // Read here, in the parent: the child may only make syscalls.
    let binds = if ns.is_empty() {
        Vec::new()
    } else {
        etcns::binds(ns)?
    };
    // SAFETY: only async-signal-safe syscalls run between fork and exec
    // (nix's calls are thin wrappers over them, allocating nothing).
    unsafe {
        cmd.pre_exec(move || {
            if let Some(f) = &ns_file {
                setns(f, CloneFlags::CLONE_NEWNET)?;
            }
            // Before dropping root: mounting needs CAP_SYS_ADMIN.
            etcns::mount_all(&binds)?;
            // std's Command::uid/gid would drop root before pre_exec runs,
            // and setns would then fail: change identity here, after it.
            if let Some(g) = ids.gid {
                setgroups(&[])?;
                setgid(Gid::from_raw(g))?;
            }
            if let Some(u) = ids.uid.filter(|&u| u != 0) {
                // Keep the permitted set across setuid, then narrow it to
                // CAP_NET_BIND_SERVICE alone and make that ambient, so the
                // unprivileged app may bind ports < 1024 in its namespace
                // (no per-namespace ip_unprivileged_port_start sysctl) and
                // holds no other capability after exec.
                prctl::set_keepcaps(true)?;
                setuid(Uid::from_raw(u))?;
                bind_service_only()?;
            } else if ids.uid == Some(0) {
                setuid(Uid::from_raw(0))?;
            }
            if detach {
                setsid()?;
            } else {
                // Node opens its stdio close-on-exec; an inherited stdio must survive exec.
                for fd in 0..3 {
                    let fd = BorrowedFd::borrow_raw(fd);
                    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFD) {
                        let flags = FdFlag::from_bits_truncate(flags) - FdFlag::FD_CLOEXEC;
                        let _ = fcntl(fd, FcntlArg::F_SETFD(flags));
                    }
                }
            }
            Ok(())
        });
    }
    Ok(cmd)
}

const CAP_NET_BIND_SERVICE: u32 = 10;

/// struct __user_cap_header_struct / __user_cap_data_struct (capset(2)).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Sets this thread's capabilities to CAP_NET_BIND_SERVICE only (effective,
/// permitted, inheritable) and raises it as ambient, so it survives exec
/// of an ordinary binary. Called between fork and exec: raw syscalls only
/// (nix has neither capset nor the ambient set).
unsafe fn bind_service_only() -> io::Result<()> {
    const VERSION_3: u32 = 0x2008_0522;
    let bit = 1u32 << CAP_NET_BIND_SERVICE;
    let hdr = CapHeader {
        version: VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: bit,
            permitted: bit,
            inheritable: bit,
        },
        CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    if libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) != 0
        || libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE,
            libc::c_ulong::from(CAP_NET_BIND_SERVICE),
            0,
            0,
        ) != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Starts `argv` inside `ns` in its own session, stdin from /dev/null and
/// output appended to the log file; returns its pid. A thread waits for it
/// so it never lingers as a zombie of this process.
pub fn spawn_detached(ns: &str, argv: &[String], opts: &SpawnOptions) -> Result<u32> {
    let what = || {
        format!(
            "spawn {}{}",
            argv.first().map_or("", String::as_str),
            in_ns(ns)
        )
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&opts.log_file)
        .ctx(|| format!("open log {}", opts.log_file.display()))?;
    let mut cmd = command(
        ns,
        argv,
        what,
        true,
        Ids {
            uid: opts.uid,
            gid: opts.gid,
        },
    )?;
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().ctx(what)?)
        .stderr(log)
        .envs(&opts.env);
    if let Some(d) = &opts.cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().ctx(what)?;
    let pid = child.id();
    std::thread::Builder::new()
        .name(format!("reap-{pid}"))
        .spawn(move || child.wait())
        .ctx(what)?;
    Ok(pid)
}

/// Runs `argv` inside `ns` with this process's stdio and waits; the exit
/// code, or 128 + signal number if it was killed.
pub fn run(ns: &str, argv: &[String]) -> Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let what = || {
        format!(
            "run {}{}",
            argv.first().map_or("", String::as_str),
            in_ns(ns)
        )
    };
    let status = command(ns, argv, what, false, Ids::default())?
        .status()
        .ctx(what)?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}

/// A user of the system's user database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Looks up user `name` through NSS (getpwnam_r: /etc/passwd, LDAP, ...);
/// None if there is no such user. Only names: an empty name or a number is
/// refused, so a careless `""` or `0` never resolves to root.
pub fn user(name: &str) -> Result<Option<User>> {
    let what = || format!("user \"{name}\"");
    if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) || name.contains('\0') {
        return Err(Error::new(Kind::Invalid, what(), "not a user name"));
    }
    let u = nix::unistd::User::from_name(name).ctx(what)?;
    Ok(u.map(|u| User {
        name: u.name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    }))
}

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // state is the field after the parenthesised command name
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_by_name_only() {
        for bad in ["", "0", "65534", "a\0b"] {
            assert!(user(bad).is_err(), "{bad:?} refused");
        }
        assert_eq!(user("root").unwrap().map(|u| u.uid), Some(0));
        assert_eq!(user("no-such-user-vpcctl").unwrap(), None);
    }
}
