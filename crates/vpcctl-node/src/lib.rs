//! vpcctl's native module: a thin N-API face over netkit. Every function
//! returns a Promise; kernel work runs on napi's tokio runtime or its
//! blocking pool, never on the JS thread. Errors reject with netkit's
//! message, which names the operation and the object.
//!
//! One file per feature; `#[napi]` registers each export where it is
//! defined (the modules are public only so that test builds, which do not
//! register them, see them used).

pub mod addr;
pub mod apps;
mod common;
pub mod early_verify;
pub mod execute;
pub mod flowlog;
pub mod link;
pub mod lock;
pub mod netns;
pub mod netview;
pub mod nft;
pub mod plan_op;
pub mod preflight;
pub mod probe;
mod progress;
pub mod route;
pub mod sockdiag;
pub mod sysctl;
pub mod verify;

/// mimalloc: the executor allocates from many threads at once, where glibc
/// malloc spent ~10% of an apply's CPU (perf), half of it for Rust code.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
