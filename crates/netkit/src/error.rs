//! One error type for netkit: what was being done on which object, what went
//! wrong underneath, and a [`Kind`] whose stable code the binding hands to
//! JavaScript, so callers branch on a code and never on message text.

use std::{fmt, io};

/// What kind of failure an [`Error`] is. The codes (see [`Kind::code`]) are
/// part of the Node API (`VpcctlError.native`) and do not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The object is already there (EEXIST).
    Exists,
    /// No such object: ENOENT, ENODEV, ESRCH, ENXIO, EADDRNOTAVAIL.
    NotFound,
    /// Held by someone else: a lock, EBUSY, EAGAIN, EADDRINUSE.
    Busy,
    /// Not allowed: EPERM, EACCES (not root, a capability missing).
    Denied,
    /// An operation overran its deadline, or a peer never answered.
    Timeout,
    /// Malformed input: a plan, a name, an address, a ruleset (and EINVAL).
    Invalid,
    /// The object is there but is not ours (a foreign route, a symlink where
    /// a namespace should be): left alone.
    Foreign,
    /// libnftables refused a command.
    Nftables,
    /// The host lacks something: libnftables, a kernel feature
    /// (EOPNOTSUPP, EAFNOSUPPORT, EPROTONOSUPPORT).
    Unsupported,
    /// A plan failed after deletions that cannot be undone: nothing was rolled
    /// back, and the caller must record what the kernel now holds.
    Partial,
    /// Anything else.
    Other,
}

impl Kind {
    /// The stable code, e.g. `EXISTS`.
    pub const fn code(self) -> &'static str {
        match self {
            Kind::Exists => "EXISTS",
            Kind::NotFound => "NOT_FOUND",
            Kind::Busy => "BUSY",
            Kind::Denied => "DENIED",
            Kind::Timeout => "TIMEOUT",
            Kind::Invalid => "INVALID",
            Kind::Foreign => "FOREIGN",
            Kind::Nftables => "NFTABLES",
            Kind::Unsupported => "UNSUPPORTED",
            Kind::Partial => "PARTIAL",
            Kind::Other => "OTHER",
        }
    }

    pub const ALL: [Kind; 11] = [
        Kind::Exists,
        Kind::NotFound,
        Kind::Busy,
        Kind::Denied,
        Kind::Timeout,
        Kind::Invalid,
        Kind::Foreign,
        Kind::Nftables,
        Kind::Unsupported,
        Kind::Partial,
        Kind::Other,
    ];

    fn of_errno(errno: i32) -> Kind {
        match errno {
            libc::EEXIST => Kind::Exists,
            libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::ENXIO | libc::EADDRNOTAVAIL => {
                Kind::NotFound
            }
            libc::EBUSY | libc::EAGAIN | libc::EADDRINUSE => Kind::Busy,
            libc::EPERM | libc::EACCES => Kind::Denied,
            libc::ETIMEDOUT => Kind::Timeout,
            libc::EINVAL | libc::ERANGE => Kind::Invalid,
            libc::EOPNOTSUPP | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT => Kind::Unsupported,
            _ => Kind::Other,
        }
    }
}

/// What went wrong underneath, without the "what on which object" part: an
/// OS error (errno kept for the callers that treat EEXIST/ESRCH as success)
/// or a message of a given kind (from libnftables, a check, a timeout).
/// Functions below the level that knows the object return it bare; the
/// caller adds the context with [`Context::ctx`].
#[derive(Debug)]
pub enum Cause {
    Os(io::Error),
    Msg(Kind, String),
}

impl Cause {
    pub fn kind(&self) -> Kind {
        match self {
            Cause::Os(e) => e.raw_os_error().map_or(Kind::Other, Kind::of_errno),
            Cause::Msg(k, _) => *k,
        }
    }

    /// Malformed input.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Cause::Msg(Kind::Invalid, msg.into())
    }
}

#[derive(Debug)]
pub struct Error {
    /// e.g. `addrAdd 10.0.1.1/32 on sn-0a000100 in netns "vpcr-demo"`
    pub context: String,
    pub cause: Cause,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn os(context: impl Into<String>, err: io::Error) -> Self {
        Error {
            context: context.into(),
            cause: Cause::Os(err),
        }
    }

    pub fn errno_of(context: impl Into<String>, errno: i32) -> Self {
        Error::os(context, io::Error::from_raw_os_error(errno))
    }

    pub fn new(kind: Kind, context: impl Into<String>, msg: impl Into<String>) -> Self {
        Error {
            context: context.into(),
            cause: Cause::Msg(kind, msg.into()),
        }
    }

    pub fn kind(&self) -> Kind {
        self.cause.kind()
    }

    pub fn errno(&self) -> Option<i32> {
        match &self.cause {
            Cause::Os(e) => e.raw_os_error(),
            Cause::Msg(..) => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Os(e) => e.fmt(f),
            Cause::Msg(_, m) => f.write_str(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.cause)
    }
}

impl std::error::Error for Error {}

impl std::error::Error for Cause {}

/// Converts lower-level errors into a [`Cause`]; netlink error replies become
/// the errno they carry so they print like `File exists (os error 17)`.
pub trait IntoCause {
    fn into_cause(self) -> Cause;
}

impl IntoCause for Cause {
    fn into_cause(self) -> Cause {
        self
    }
}

impl IntoCause for io::Error {
    fn into_cause(self) -> Cause {
        Cause::Os(self)
    }
}

impl IntoCause for nix::Error {
    fn into_cause(self) -> Cause {
        Cause::Os(io::Error::from_raw_os_error(self as i32))
    }
}

impl IntoCause for rtnetlink::Error {
    fn into_cause(self) -> Cause {
        match self {
            rtnetlink::Error::NetlinkError(m) => match m.code {
                Some(c) => Cause::Os(io::Error::from_raw_os_error(-c.get())),
                None => Cause::Msg(Kind::Other, "unexpected netlink ack".into()),
            },
            other => Cause::Msg(Kind::Other, other.to_string()),
        }
    }
}

/// `.ctx(|| format!(...))` attaches the "what on which object" part.
pub trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: IntoCause> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error {
            context: what(),
            cause: e.into_cause(),
        })
    }
}

/// ` in netns "x"`, or nothing for the process's own namespace.
pub fn in_ns(ns: &str) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!(" in netns \"{ns}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_a_kind() {
        assert_eq!(Error::errno_of("x", libc::EEXIST).kind(), Kind::Exists);
        assert_eq!(Error::errno_of("x", libc::ENODEV).kind(), Kind::NotFound);
        assert_eq!(Error::errno_of("x", libc::EPERM).kind(), Kind::Denied);
        assert_eq!(Error::errno_of("x", libc::EMLINK).kind(), Kind::Other);
        assert_eq!(Error::new(Kind::Partial, "x", "y").kind(), Kind::Partial);
    }

    #[test]
    fn codes_are_distinct_upper_snake_case() {
        let codes: std::collections::HashSet<_> = Kind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), Kind::ALL.len());
        assert!(codes
            .iter()
            .all(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_')));
    }
}
