//! Drift of the cross-host data plane's ops: a VXLAN link as vxlanAdd makes
//! it (kind, alias, VNI, source, port, underlay, learning off, no group,
//! MAC, MTU, up), and the FDB and neighbour entries fdbAdd and neighAdd
//! make. Pure, like compare.rs.

use super::{at, compare::Found, DriftKind};
use crate::{observe::Snapshot, plan::Op, vxlan::Vxlan};

/// `host`: the snapshot of the executor's namespace (for the underlay's index).
pub(super) fn check_overlay(op: &Op, s: &Snapshot, host: Option<&Snapshot>) -> Found {
    let missing = |d: String| Some((DriftKind::Missing, d));
    let differs = |d: String| Some((DriftKind::Differs, d));
    match op {
        Op::VxlanAdd(v) => vxlan(v, s, host),
        Op::FdbAdd { ns, dev, mac, dst } => {
            let what = format!("fdb entry {mac} dst {dst} on {dev} {}", at(ns));
            let Some(entries) = s.fdb.get(dev) else {
                return missing(format!("{what} is missing (no link {dev})"));
            };
            let mine: Vec<_> = entries
                .iter()
                .filter(|(m, _)| m.eq_ignore_ascii_case(mac))
                .collect();
            if mine
                .iter()
                .any(|(_, d)| d.is_some_and(|d| d.to_string() == *dst))
            {
                None
            } else if let Some((_, d)) = mine.first() {
                let now = d.map_or("none".into(), |d| d.to_string());
                differs(format!("{what} differs: it sends to {now}"))
            } else {
                missing(format!("{what} is missing"))
            }
        }
        Op::NeighAdd { ns, dev, addr, mac } => {
            let what = format!("neighbour {addr} lladdr {mac} on {dev} {}", at(ns));
            let Some(entries) = s.neigh.get(dev) else {
                return missing(format!("{what} is missing (no link {dev})"));
            };
            match entries.iter().find(|(a, _)| a.to_string() == *addr) {
                None => missing(format!("{what} is missing")),
                Some((_, n))
                    if n.permanent
                        && n.mac
                            .as_deref()
                            .is_some_and(|m| m.eq_ignore_ascii_case(mac)) =>
                {
                    None
                }
                Some((_, n)) => differs(format!(
                    "{what} differs: it is {} {}",
                    if n.permanent {
                        "permanent"
                    } else {
                        "not permanent"
                    },
                    n.mac.as_deref().unwrap_or("without lladdr")
                )),
            }
        }
        _ => None,
    }
}

fn vxlan(v: &Vxlan, s: &Snapshot, host: Option<&Snapshot>) -> Found {
    let name = &v.name;
    let Some(l) = s.link(name) else {
        return Some((
            DriftKind::Missing,
            format!("link {name} {} is missing", at(&v.ns)),
        ));
    };
    let differs = |what: String| {
        Some((
            DriftKind::Differs,
            format!("link {name} {} {what}", at(&v.ns)),
        ))
    };
    let Some((mac, seen)) = s.vxlans.get(name) else {
        return differs(format!(
            "is a {}, not a vxlan",
            l.kind.as_deref().unwrap_or("device")
        ));
    };
    if l.alias.as_deref() != Some(v.alias.as_str()) {
        let now = l
            .alias
            .as_deref()
            .map_or("none".into(), |a| format!("\"{a}\""));
        return differs(format!("has alias {now}, want \"{}\"", v.alias));
    }
    let show = |x: Option<String>| x.unwrap_or_else(|| "none".into());
    let underlay = host.and_then(|h| h.link(&v.dev)).map(|d| d.index);
    let fields = [
        (
            "vni",
            seen.vni.map(|x| x.to_string()),
            Some(v.vni.to_string()),
        ),
        (
            "local",
            seen.local.map(|x| x.to_string()),
            Some(v.local.clone()),
        ),
        (
            "port",
            seen.port.map(|x| x.to_string()),
            Some(v.port().to_string()),
        ),
        (
            "learning",
            seen.learning.map(|x| if x { "on" } else { "off" }.into()),
            Some("off".into()),
        ),
        ("remote", seen.group.map(|x| x.to_string()), None),
        (
            "mtu",
            Some(l.mtu.to_string()),
            v.mtu.map(|m| m.to_string()).or(Some(l.mtu.to_string())),
        ),
        (
            "mac",
            mac.clone(),
            v.mac
                .as_ref()
                .map(|m| m.to_ascii_lowercase())
                .or(mac.clone()),
        ),
        // The underlay by index in the host: another link there now named `dev` is not it.
        (
            "underlay index",
            seen.underlay.map(|x| x.to_string()),
            underlay.map(|x| x.to_string()),
        ),
    ];
    for (what, now, want) in fields {
        if now != want {
            return differs(format!("has {what} {}, want {}", show(now), show(want)));
        }
    }
    if !l.up {
        return differs("is down".into());
    }
    None
}
