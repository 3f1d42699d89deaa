//! nftables through libnftables, loaded at run time. A context belongs to
//! the netns it was made in; tables are replaced whole in one transaction.

use std::{
    ffi::{c_char, c_int, c_uint, c_void, CStr, CString},
    sync::{Mutex, OnceLock},
};

use libloading::Library;
use nftables::{
    schema::{NfCmd, NfListObject, NfObject, Table},
    types::NfFamily,
};
use serde_json::Value;

use crate::{
    error::{in_ns, Cause, Context, Kind, Result},
    netns,
};

/// A libnftables failure before the caller has said on what.
pub type NftResult<T> = std::result::Result<T, Cause>;

mod ruleset;

pub use ruleset::{check_ruleset, listed_objects, parse_family};

const NFT_CTX_OUTPUT_JSON: c_uint = 1 << 4;
/// Protocols listed as numbers: libnftables names them with
/// getprotobynumber(3), whose one static result is shared by every thread
/// of the process, so two threads listing at once (verify, the executor)
/// read each other's names (tests/nft_threads.rs).
const NFT_CTX_OUTPUT_NUMERIC_PROTO: c_uint = 1 << 7;
const LIB: &str = "libnftables.so.1";

struct Lib {
    _lib: Library,
    ctx_new: unsafe extern "C" fn(u32) -> *mut c_void,
    ctx_free: unsafe extern "C" fn(*mut c_void),
    set_flags: unsafe extern "C" fn(*mut c_void, c_uint),
    buffer_output: unsafe extern "C" fn(*mut c_void) -> c_int,
    buffer_error: unsafe extern "C" fn(*mut c_void) -> c_int,
    output_buffer: unsafe extern "C" fn(*mut c_void) -> *const c_char,
    error_buffer: unsafe extern "C" fn(*mut c_void) -> *const c_char,
    run_cmd: unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int,
}

fn lib() -> NftResult<&'static Lib> {
    static LIB_CELL: OnceLock<std::result::Result<Lib, String>> = OnceLock::new();
    LIB_CELL
        .get_or_init(|| {
            let missing = |e: libloading::Error| {
                format!("cannot load {LIB} ({e}); install the Debian/Ubuntu package libnftables1")
            };
            // SAFETY: loading a system library whose initialisers are benign; the
            // symbols are looked up with the signatures of libnftables.h.
            unsafe {
                let l = Library::new(LIB).map_err(missing)?;
                Ok(Lib {
                    ctx_new: *l.get(b"nft_ctx_new\0").map_err(missing)?,
                    ctx_free: *l.get(b"nft_ctx_free\0").map_err(missing)?,
                    set_flags: *l.get(b"nft_ctx_output_set_flags\0").map_err(missing)?,
                    buffer_output: *l.get(b"nft_ctx_buffer_output\0").map_err(missing)?,
                    buffer_error: *l.get(b"nft_ctx_buffer_error\0").map_err(missing)?,
                    output_buffer: *l.get(b"nft_ctx_get_output_buffer\0").map_err(missing)?,
                    error_buffer: *l.get(b"nft_ctx_get_error_buffer\0").map_err(missing)?,
                    run_cmd: *l.get(b"nft_run_cmd_from_buffer\0").map_err(missing)?,
                    _lib: l,
                })
            }
        })
        .as_ref()
        .map_err(|e| Cause::Msg(Kind::Unsupported, e.clone()))
}

/// One libnftables context with JSON in/out and buffered output and errors.
/// Make it and use it on a thread inside its namespace (see [`netns::run_in`]).
pub struct Nft {
    lib: &'static Lib,
    ctx: *mut c_void,
}

// SAFETY: a context is used by one thread at a time (callers hold it by
// value or behind a Mutex); libnftables keeps no thread-local state in it.
unsafe impl Send for Nft {}

/// nft_ctx_new initialises library globals; serialise it.
static NEW_LOCK: Mutex<()> = Mutex::new(());

/// libnftables waits on its netlink socket with select(), and glibc aborts
/// the whole process for a descriptor at or above FD_SETSIZE (1024): "bit
/// out of range 0 - FD_SETSIZE on fd_set". A process with thousands of
/// namespaces (or sockets of its own) open may have no free number below
/// that. So descriptors below it are held in reserve (on /dev/null) while
/// they are free, and one is let go right before a context opens its socket
/// (the kernel hands out the lowest free number).
const FD_SETSIZE: i32 = 1024;
const LOW_RESERVE: usize = 16;
static LOW_FDS: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());

/// Tops the reserve up with descriptors that come out below FD_SETSIZE.
fn reserve_low_fds(held: &mut Vec<std::fs::File>) {
    use std::os::fd::AsRawFd;
    while held.len() < LOW_RESERVE {
        match std::fs::File::open("/dev/null") {
            Ok(f) if f.as_raw_fd() < FD_SETSIZE => held.push(f),
            _ => break,
        }
    }
}

/// The lowest descriptor number free now (the one the next socket gets).
fn lowest_free_fd() -> i32 {
    use std::os::fd::AsRawFd;
    std::fs::File::open("/dev/null").map_or(-1, |f| f.as_raw_fd())
}

impl Nft {
    pub fn new() -> NftResult<Self> {
        let lib = lib()?;
        let _g = NEW_LOCK.lock().unwrap();
        let mut low = LOW_FDS.lock().unwrap();
        reserve_low_fds(&mut low);
        // Free the highest reserved number: the socket takes it, or a lower one.
        low.sort_by_key(std::os::fd::AsRawFd::as_raw_fd);
        drop(low.pop());
        if lowest_free_fd() >= FD_SETSIZE {
            return Err(Cause::Msg(
                Kind::Busy,
                format!("no file descriptor below {FD_SETSIZE} is free for libnftables (it uses select()): close some first"),
            ));
        }
        // SAFETY: plain libnftables calls on a context we own.
        let made = unsafe { (lib.ctx_new)(0) };
        reserve_low_fds(&mut low);
        drop(low);
        unsafe {
            let ctx = made;
            if ctx.is_null() {
                return Err(Cause::Msg(Kind::Nftables, "nft_ctx_new failed".into()));
            }
            // JSON input is only parsed when JSON output is on.
            (lib.set_flags)(ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_NUMERIC_PROTO);
            (lib.buffer_output)(ctx);
            (lib.buffer_error)(ctx);
            Ok(Nft { lib, ctx })
        }
    }

    /// Runs one command buffer (JSON or nft syntax); the error is
    /// libnftables' own message text.
    pub fn run(&mut self, cmd: &str) -> NftResult<String> {
        let c = CString::new(cmd).map_err(|_| Cause::invalid("command contains a NUL byte"))?;
        // SAFETY: ctx is live; the returned buffers stay valid until the next call.
        unsafe {
            let rc = (self.lib.run_cmd)(self.ctx, c.as_ptr());
            let take = |p: *const c_char| {
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().trim().to_string()
                }
            };
            let out = take((self.lib.output_buffer)(self.ctx));
            let err = take((self.lib.error_buffer)(self.ctx));
            if rc == 0 {
                Ok(out)
            } else {
                Err(Cause::Msg(
                    Kind::Nftables,
                    if err.is_empty() {
                        format!("libnftables failed ({rc})")
                    } else {
                        err
                    },
                ))
            }
        }
    }

    fn run_objects(&mut self, objects: Vec<Value>) -> NftResult<String> {
        self.run(&serde_json::json!({ "nftables": objects }).to_string())
    }

    /// Replaces table `family name` with `objects` (the JSON text of an
    /// array of objects) in one transaction, all or nothing: `add table;
    /// delete table; add table; objects`. When the caller knows the table
    /// is absent (`exists` false: a namespace made moments ago, or a listing
    /// that found nothing) it is `create table; objects` instead. That
    /// matters: once a transaction has deleted a table, freeing the context
    /// waits for the kernel's cleanup (an RCU grace period, ~10-17 ms).
    /// `create` fails (EEXIST) rather than merge into a table that appeared
    /// after all. `objects` must have passed [`check_ruleset`] for this
    /// table; the text is spliced into the command as it is.
    pub fn apply_table(
        &mut self,
        family: NfFamily,
        name: &str,
        objects: &str,
        exists: bool,
    ) -> NftResult<()> {
        let cmd =
            |c: fn(NfListObject<'static>) -> NfCmd<'static>| table_cmd(c, family, name).to_string();
        let mut all = if exists {
            [cmd(NfCmd::Add), cmd(NfCmd::Delete), cmd(NfCmd::Add)].join(",")
        } else {
            cmd(NfCmd::Create)
        };
        let inner = objects
            .trim()
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .ok_or_else(|| Cause::invalid("the ruleset is not a JSON array"))?
            .trim();
        if !inner.is_empty() {
            all.push(',');
            all.push_str(inner);
        }
        self.run(&format!("{{\"nftables\":[{all}]}}")).map(drop)
    }

    /// Deletes the table; returns false if it did not exist.
    pub fn delete_table(&mut self, family: NfFamily, name: &str) -> NftResult<bool> {
        match self.run_objects(vec![table_cmd(NfCmd::Delete, family, name)]) {
            Err(e) if is_absent(&e) => Ok(false),
            r => r.map(|_| true),
        }
    }

    /// The table as libnftables JSON (`{"nftables":[...]}`), None if absent.
    pub fn list_table(&mut self, family: NfFamily, name: &str) -> NftResult<Option<Value>> {
        match self.run_objects(vec![table_cmd(NfCmd::List, family, name)]) {
            Err(e) if is_absent(&e) => Ok(None),
            r => json(&r?).map(Some),
        }
    }

    pub fn list_ruleset(&mut self) -> NftResult<Value> {
        json(&self.run("list ruleset")?)
    }
}

impl Drop for Nft {
    fn drop(&mut self) {
        // SAFETY: ctx came from nft_ctx_new and is freed once.
        unsafe { (self.lib.ctx_free)(self.ctx) }
    }
}

/// `{"<cmd>": {"table": {"family": .., "name": ..}}}`, from the typed schema.
fn table_cmd(
    cmd: fn(NfListObject<'static>) -> NfCmd<'static>,
    family: NfFamily,
    name: &str,
) -> Value {
    let t = NfListObject::Table(Table {
        family,
        name: name.to_string().into(),
        handle: None,
    });
    serde_json::to_value(NfObject::CmdObject(cmd(t))).expect("a table command serializes")
}

fn is_absent(err: &Cause) -> bool {
    err.to_string().contains("No such file or directory")
}

/// libnftables' JSON output, parsed.
fn json(text: &str) -> NftResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        Cause::Msg(
            Kind::Nftables,
            format!("unreadable libnftables output: {e}"),
        )
    })
}

/// [`Nft`] made and used inside `ns` for one call.
fn with_ctx<T>(
    ns: &str,
    what: impl Fn() -> String,
    f: impl FnOnce(&mut Nft) -> NftResult<T>,
) -> Result<T> {
    netns::run_in(ns, || Nft::new().and_then(|mut n| f(&mut n)))?.ctx(what)
}

pub fn apply_table(ns: &str, family: &str, table: &str, objects: &[Value]) -> Result<()> {
    let what = || format!("nftApply {family} {table}{}", in_ns(ns));
    let fam = parse_family(family).ctx(what)?;
    check_ruleset(family, table, objects).ctx(what)?;
    let text = Value::from(objects.to_vec()).to_string();
    with_ctx(ns, what, |n| {
        let exists = n.list_table(fam, table)?.is_some();
        n.apply_table(fam, table, &text, exists)
    })
}

/// Deletes the table; absent is success.
pub fn delete_table(ns: &str, family: &str, table: &str) -> Result<()> {
    let what = || format!("nftDelete {family} {table}{}", in_ns(ns));
    let fam = parse_family(family).ctx(what)?;
    with_ctx(ns, what, |n| n.delete_table(fam, table).map(drop))
}

pub fn list_table(ns: &str, family: &str, table: &str) -> Result<Option<Value>> {
    let what = || format!("nftList {family} {table}{}", in_ns(ns));
    let fam = parse_family(family).ctx(what)?;
    with_ctx(ns, what, |n| n.list_table(fam, table))
}

pub fn list_ruleset(ns: &str) -> Result<Value> {
    with_ctx(
        ns,
        || format!("nftListRuleset{}", in_ns(ns)),
        Nft::list_ruleset,
    )
}

/// Whether libnftables loads and works here, with its version (from the
/// JSON metainfo).
pub fn available() -> Result<String> {
    let what = || "libnftables".to_string();
    let v = Nft::new()
        .and_then(|mut n| n.run("list tables"))
        .ctx(what)?;
    let v = json(&v).ctx(what)?;
    Ok(v["nftables"][0]["metainfo"]["version"]
        .as_str()
        .unwrap_or("unknown")
        .to_string())
}
