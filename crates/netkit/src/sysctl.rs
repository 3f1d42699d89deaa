//! /proc/sys from inside a namespace: net.* sysctls belong to the netns of
//! the thread that opens the file.

use std::fs;

use crate::{
    error::{in_ns, Context, Error, Kind, Result},
    netns,
};

fn file(key: &str, what: impl Fn() -> String) -> Result<String> {
    if key.is_empty()
        || key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(Error::new(
            Kind::Invalid,
            what(),
            "invalid sysctl key (want e.g. net/ipv4/ip_forward)",
        ));
    }
    Ok(format!("/proc/sys/{key}"))
}

pub fn get(ns: &str, key: &str) -> Result<String> {
    let what = || format!("sysctlGet {key}{}", in_ns(ns));
    let path = file(key, what)?;
    let v = netns::run_in(ns, || fs::read_to_string(&path))?.ctx(what)?;
    Ok(v.trim_end().to_string())
}

pub fn set(ns: &str, key: &str, value: &str) -> Result<()> {
    let what = || format!("sysctlSet {key}={value}{}", in_ns(ns));
    let path = file(key, what)?;
    netns::run_in(ns, || fs::write(&path, value))?.ctx(what)
}

/// Writes `value` in the calling thread's netns (a thread already inside
/// `ns`, which only names it in errors).
pub fn set_here(ns: &str, key: &str, value: &str) -> Result<()> {
    let what = || format!("sysctlSet {key}={value}{}", in_ns(ns));
    fs::write(file(key, what)?, value).ctx(what)
}

/// Writes `value` and returns the previous value, entering `ns` once.
pub fn swap(ns: &str, key: &str, value: &str) -> Result<String> {
    let get = || format!("sysctlGet {key}{}", in_ns(ns));
    let set = || format!("sysctlSet {key}={value}{}", in_ns(ns));
    let path = file(key, set)?;
    let (old, written) = netns::run_in(ns, || {
        let old = fs::read_to_string(&path);
        let written = match &old {
            Ok(o) if o.trim_end() == value => Ok(()),
            Ok(_) => fs::write(&path, value),
            Err(_) => Ok(()),
        };
        (old, written)
    })?;
    let old = old.ctx(get)?;
    written.ctx(set)?;
    Ok(old.trim_end().to_string())
}
