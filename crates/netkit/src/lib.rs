//! netkit: Linux network plumbing programmed in-process — network
//! namespaces, veth pairs, IPv4 addresses and routes over rtnetlink,
//! nftables through libnftables, probes and processes inside namespaces,
//! and the batch executor for vpcctl's plans. It knows nothing of VPCs.

pub mod addr;
pub mod cidr;
pub mod conn;
pub mod error;
pub mod etcns;
pub mod exec;
pub mod ifreq;
pub mod link;
pub mod lock;
pub mod neigh;
pub mod netns;
pub mod netview;
pub mod nflog;
pub mod nft;
pub mod nftcmp;
pub mod nlsock;
pub mod nstag;
pub mod observe;
pub mod overlayview;
pub mod pingmany;
pub mod plan;
pub mod probe;
pub mod route;
pub mod rtparse;
pub mod sockdiag;
pub mod spawn;
pub mod sysctl;
pub mod verify;
pub mod vxlan;

pub use error::{Error, Kind, Result};
