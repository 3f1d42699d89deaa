//! IP protocol names as numbers, for comparing a `meta l4proto` match
//! written with a name (`"icmp"`, older plans) with the number libnftables
//! lists (it is told never to name protocols: see `NFT_CTX_OUTPUT_NUMERIC_PROTO`
//! in nft/mod.rs). The names vpcctl's firewall has used are known here; any
//! other is asked of the system's protocols database with the reentrant
//! getprotobyname_r(3), never getprotobyname(3): that one's result is shared
//! by every thread of the process.

use std::ffi::{c_char, c_int, CString};

const KNOWN: [(&str, u8); 5] = [
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
];

extern "C" {
    // glibc; the libc crate does not declare it.
    fn getprotobyname_r(
        name: *const c_char,
        result_buf: *mut libc::protoent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::protoent,
    ) -> c_int;
}

/// The protocol number of `name`, if it is one.
pub(super) fn number(name: &str) -> Option<u8> {
    if let Some((_, n)) = KNOWN.iter().find(|(k, _)| *k == name) {
        return Some(*n);
    }
    let c = CString::new(name).ok()?;
    // SAFETY: every pointer is to memory owned here, of the size given;
    // the result points into `ent`/`buf`, read before they go.
    unsafe {
        let mut ent: libc::protoent = std::mem::zeroed();
        let mut buf = [0 as c_char; 1024];
        let mut found: *mut libc::protoent = std::ptr::null_mut();
        let rc = getprotobyname_r(
            c.as_ptr(),
            &mut ent,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        );
        if rc != 0 || found.is_null() {
            return None;
        }
        u8::try_from((*found).p_proto).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_numbers_and_others_do_not() {
        assert_eq!(number("icmp"), Some(1));
        assert_eq!(number("ipv6-icmp"), Some(58));
        // From the system's database (netbase's /etc/protocols).
        assert_eq!(number("gre"), Some(47));
        assert_eq!(number("no-such-protocol"), None);
        assert_eq!(number("ic\0mp"), None);
    }
}
