//! IPv4 prefixes as the plan writes them: `10.0.1.1/32`, `default`.

use std::{fmt, net::Ipv4Addr, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl FromStr for Cidr {
    type Err = String;

    /// `a.b.c.d/len`, a bare address (= /32), or `default` (= 0.0.0.0/0).
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "default" {
            return Ok(Cidr {
                addr: Ipv4Addr::UNSPECIFIED,
                len: 0,
            });
        }
        let (a, l) = s.split_once('/').unwrap_or((s, "32"));
        let addr = a
            .parse()
            .map_err(|_| format!("invalid IPv4 address in \"{s}\""))?;
        let len = l
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| format!("invalid prefix length in \"{s}\""))?;
        Ok(Cidr { addr, len })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}
