//! Errors that name the operation and the object they failed on, never a bare errno.

use std::{fmt, io};

/// What went wrong underneath: an OS error (errno kept for the callers that
/// treat EEXIST/ESRCH as success) or a message from libnftables, a timeout, ...
#[derive(Debug)]
pub enum Cause {
    Os(io::Error),
    Msg(String),
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

    pub fn msg(context: impl Into<String>, msg: impl Into<String>) -> Self {
        Error {
            context: context.into(),
            cause: Cause::Msg(msg.into()),
        }
    }

    pub fn errno(&self) -> Option<i32> {
        match &self.cause {
            Cause::Os(e) => e.raw_os_error(),
            Cause::Msg(_) => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Os(e) => e.fmt(f),
            Cause::Msg(m) => f.write_str(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.cause)
    }
}

impl std::error::Error for Error {}

/// Converts lower-level errors into a [`Cause`]; netlink error replies become
/// the errno they carry so they print like `File exists (os error 17)`.
pub trait IntoCause {
    fn into_cause(self) -> Cause;
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
                None => Cause::Msg("unexpected netlink ack".into()),
            },
            other => Cause::Msg(other.to_string()),
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
