//! Processes inside a namespace (vpcctl's apps, `vpcctl exec`) and the
//! users they run as.

use std::collections::HashMap;

use napi_derive::napi;
use netkit::spawn;

use crate::common::{blocking, Result};

#[napi(object)]
pub struct SpawnOptions {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Added to the inherited environment.
    pub env: Option<HashMap<String, String>>,
    pub cwd: Option<String>,
    /// stdout and stderr are appended to this file.
    pub log_file: String,
}

/// Starts `argv` inside `ns` as a detached process in its own session
/// (stdin /dev/null, output appended to `logFile`); resolves to its pid.
/// It is reaped by the addon, so it never lingers as a zombie.
#[napi]
pub async fn spawn_detached(ns: String, argv: Vec<String>, options: SpawnOptions) -> Result<u32> {
    let opts = spawn::SpawnOptions {
        uid: options.uid,
        gid: options.gid,
        env: options.env.unwrap_or_default(),
        cwd: options.cwd.map(Into::into),
        log_file: options.log_file.into(),
    };
    blocking(move || spawn::spawn_detached(&ns, &argv, &opts)).await
}

/// Runs `argv` inside `ns` with this process's stdio; resolves to its exit
/// code (128 + signal if killed).
#[napi]
pub async fn run_in_netns(ns: String, argv: Vec<String>) -> Result<i32> {
    blocking(move || spawn::run(&ns, &argv)).await
}

/// Whether process `pid` exists and is not a zombie.
#[napi]
pub async fn pid_alive(pid: u32) -> bool {
    spawn::pid_alive(pid)
}

#[napi(object)]
pub struct UserIds {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The user named `name` as the system's user database (NSS: /etc/passwd,
/// LDAP, ...) knows it, or null. A name, never a number.
#[napi]
pub async fn user_lookup(name: String) -> Result<Option<UserIds>> {
    blocking(move || {
        Ok(spawn::user(&name)?.map(|u| UserIds {
            name: u.name,
            uid: u.uid,
            gid: u.gid,
        }))
    })
    .await
}
