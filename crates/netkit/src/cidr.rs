//! Prefixes as the plan writes them, in both families: `10.0.1.1/32`,
//! `fd00:1::1/64`, `default` (IPv4's 0.0.0.0/0) and `::/0` (IPv6's default).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl Cidr {
    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `addr/len`, a bare address (= /32 or /128), or `default` (= 0.0.0.0/0).
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "default" {
            return Ok(Cidr {
                addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                len: 0,
            });
        }
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("invalid IP address in \"{s}\""))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            None => max,
            Some(l) => l
                .parse()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("invalid prefix length in \"{s}\""))?,
        };
        Ok(Cidr { addr, len })
    }
}

/// How listings spell a destination: `default` for IPv4's 0.0.0.0/0 (as
/// `ip route` does), `::/0` for IPv6's, `addr/len` otherwise.
pub fn dst_text(dst: IpAddr, len: u8) -> String {
    if len == 0 && dst.is_ipv4() {
        "default".into()
    } else {
        format!("{dst}/{len}")
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families() {
        let c: Cidr = "fd00:1::1/64".parse().unwrap();
        assert!(c.is_ipv6());
        assert_eq!(c.to_string(), "fd00:1::1/64");
        assert_eq!("fd00::1".parse::<Cidr>().unwrap().len, 128);
        assert_eq!("10.0.0.1".parse::<Cidr>().unwrap().len, 32);
        assert!("fd00::/129".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert_eq!(dst_text("::".parse().unwrap(), 0), "::/0");
        assert_eq!(dst_text("0.0.0.0".parse().unwrap(), 0), "default");
        // A canonical spelling whatever the input's: verify compares texts.
        assert_eq!(
            "FD00:0::1/64".parse::<Cidr>().unwrap().to_string(),
            "fd00::1/64"
        );
    }
}
