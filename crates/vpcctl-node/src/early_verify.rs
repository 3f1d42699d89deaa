//! The deep read a no-op `apply -f` or `status` ends on, started before the
//! CLI has loaded: the launcher (bin/vpcctl.cjs, through src/cli/early.ts)
//! names the cached full plan and the state file, and the read runs on its
//! own threads while Node loads the CLI and reads the same files (~10 ms of
//! a ~95 ms call at 500 subnets, README "Drift"). The CLI later takes the
//! result and keeps it only if the plan key, the state's revision and its
//! nft marks are those of the state the CLI read; anything else (another
//! state, a failure, nothing started) sends it down its usual path. One read
//! per process: started once, taken or cancelled once.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Condvar, Mutex,
    },
};

use napi_derive::napi;
use netkit::{observe, plan, verify};
use serde::Deserialize;

use crate::{
    common::{other, Result},
    execute::NftMark,
    verify::{to_js, Drift},
};

/// What an early read saw: the key line of the cached plan it checked, the
/// revision and nft marks of the state it read, and the ops of that plan
/// the kernel does not hold.
#[napi(object)]
pub struct EarlyDrift {
    pub key: String,
    pub revision: Option<u32>,
    pub marks: HashMap<String, NftMark>,
    pub drift: Vec<Drift>,
}

type Outcome = std::result::Result<EarlyDrift, String>;

struct Job {
    plan_file: String,
    state_file: String,
    cancel: Arc<AtomicBool>,
    done: Arc<(Mutex<Option<Outcome>>, Condvar)>,
}

static JOB: Mutex<Option<Job>> = Mutex::new(None);
/// The running read's flag, kept after it is taken: a command may learn it
/// does not need the result while it waits for it.
static CANCEL: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);

/// Only what identifies the state and what verify takes from it (serde
/// skips the rest of the text).
#[derive(Deserialize)]
struct StateMarks {
    revision: Option<u32>,
    #[serde(rename = "nftMarks", default)]
    nft_marks: HashMap<String, MarkIn>,
}

#[derive(Deserialize)]
struct MarkIn {
    gen: u32,
}

/// A regular file's bytes: a FIFO or device in its place is not waited on
/// (the CLI says what is wrong with it).
fn read_file(path: &str) -> std::result::Result<Vec<u8>, String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => std::fs::read(path).map_err(|e| format!("{path}: {e}")),
        Ok(_) => Err(format!("{path}: not a regular file")),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

fn read(plan_file: &str, state_file: &str, cancel: Arc<AtomicBool>) -> Outcome {
    let text = String::from_utf8(read_file(plan_file)?).map_err(|e| format!("{plan_file}: {e}"))?;
    let (key, plan_text) = text
        .split_once('\n')
        .ok_or_else(|| format!("{plan_file}: no key line"))?;
    let state = read_file(state_file)?;
    let marks: StateMarks =
        serde_json::from_slice(&state).map_err(|e| format!("{state_file}: {e}"))?;
    drop(state);
    let ops = plan::parse(plan_text).map_err(|e| e.to_string())?;
    let opts = verify::Options {
        nft: marks
            .nft_marks
            .iter()
            .map(|(ns, m)| (ns.clone(), observe::NftMark { gen: m.gen }))
            .collect(),
        cancel: Some(cancel),
        ..Default::default()
    };
    let drift = verify::verify(&ops, &opts).map_err(|e| e.to_string())?;
    std::thread::spawn(move || drop(ops));
    Ok(EarlyDrift {
        key: key.to_string(),
        revision: marks.revision,
        marks: marks
            .nft_marks
            .into_iter()
            .map(|(ns, m)| {
                let mark = NftMark {
                    gen: m.gen,
                    digest: None,
                };
                (ns, mark)
            })
            .collect(),
        drift: drift.into_iter().map(to_js).collect(),
    })
}

/// Starts the read of `planFile` (a cached full plan: its key, a newline,
/// the plan's JSON) against the kernel, with the nft marks of `stateFile`,
/// on threads of its own; returns at once. A second call while one is held
/// does nothing.
#[napi]
pub fn verify_early_start(plan_file: String, state_file: String) {
    let mut slot = JOB.lock().unwrap();
    if slot.is_some() {
        return;
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let done = Arc::new((Mutex::new(None), Condvar::new()));
    let (p, s, c, d) = (
        plan_file.clone(),
        state_file.clone(),
        cancel.clone(),
        done.clone(),
    );
    // Returns once the thread runs under its name (tens of µs): until the
    // read is over, a thread `vpcctl-early` is in /proc/self/task, which is
    // how a test knows the read has been made.
    let (started, running) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("vpcctl-early".into())
        .spawn(move || {
            let _ = started.send(());
            let outcome = read(&p, &s, c);
            *d.0.lock().unwrap() = Some(outcome);
            d.1.notify_all();
        });
    if spawned.is_ok() && running.recv().is_ok() {
        *CANCEL.lock().unwrap() = Some(cancel.clone());
        *slot = Some(Job {
            plan_file,
            state_file,
            cancel,
            done,
        });
    }
}

/// The early read of these files, once it is over; null when none was
/// started for them, or it failed (the caller then reads the usual way).
/// Takes it: a second call gets null.
#[napi]
pub async fn verify_early_take(
    plan_file: String,
    state_file: String,
) -> Result<Option<EarlyDrift>> {
    let job = {
        let mut slot = JOB.lock().unwrap();
        match slot.take() {
            Some(j) if j.plan_file == plan_file && j.state_file == state_file => j,
            Some(j) => {
                j.cancel.store(true, Ordering::Relaxed);
                return Ok(None);
            }
            None => return Ok(None),
        }
    };
    let outcome = tokio::task::spawn_blocking(move || {
        let (lock, cv) = &*job.done;
        let mut guard = cv
            .wait_while(lock.lock().unwrap(), |o| o.is_none())
            .unwrap();
        guard.take().expect("set before notify")
    })
    .await
    .map_err(other)?;
    Ok(outcome.ok())
}

/// Stops the early read, if one runs (before its next namespace), and
/// drops it: the command does not need it. A take waiting for it then
/// gets null.
#[napi]
pub fn verify_early_cancel() {
    JOB.lock().unwrap().take();
    if let Some(cancel) = CANCEL.lock().unwrap().as_ref() {
        cancel.store(true, Ordering::Relaxed);
    }
}
