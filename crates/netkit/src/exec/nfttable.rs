//! The nft ops, nftApply and nftDelete, as they run on a thread inside
//! their namespace. An nftApply runs the same way whether it runs on its own
//! or is set up while its new namespace is made ([`super::fuse`]).

use std::sync::Arc;

use serde_json::Value;

use super::{nftctx::NftLease, Undo};
use crate::{
    error::{Context, Result},
    nft::{self, Nft, NftResult},
    plan::{Op, Ruleset},
};

/// An nftApply, ready to run.
pub(super) struct TableApply {
    what: String,
    ns: String,
    family: String,
    table: String,
    ruleset: Arc<Ruleset>,
    /// The table is known absent: it is not listed first, and is created
    /// rather than replaced.
    fresh: bool,
}

impl TableApply {
    /// `op` must be an NftApply.
    pub(super) fn of(op: &Op, fresh: bool) -> TableApply {
        let Op::NftApply {
            ns,
            family,
            table,
            ruleset,
        } = op
        else {
            unreachable!("TableApply of {op}")
        };
        TableApply {
            what: op.to_string(),
            ns: ns.clone(),
            family: family.clone(),
            table: table.clone(),
            ruleset: ruleset.clone(),
            fresh,
        }
    }

    /// Replaces the table, on the calling thread (inside the op's
    /// namespace). Returns the undo that puts the table back as it was,
    /// and the context to free if this was the plan's last nft op there.
    pub(super) fn apply_here(self, lease: &NftLease) -> (Result<Option<Undo>>, Option<Nft>) {
        let TableApply {
            what,
            ns,
            family,
            table,
            ruleset,
            fresh,
        } = self;
        let (old, dead) =
            lease.use_here(&ns, |n| replace_table(n, &family, &table, &ruleset, fresh));
        let undo = old
            .map(|old| Undo::here(restore(&ns, &family, &table, old)))
            .ctx(|| what);
        (undo, dead)
    }
}

/// Deletes table `family table`, on the calling thread (inside `ns`);
/// returns the undo that makes it again if it was there, and the context
/// to free if this was the plan's last nft op there.
pub(super) fn delete_here(
    lease: &NftLease,
    what: String,
    ns: &str,
    family: &str,
    table: &str,
) -> (Result<Option<Undo>>, Option<Nft>) {
    let fam = match nft::parse_family(family) {
        Ok(f) => f,
        Err(e) => return (Err(e).ctx(|| what), None),
    };
    let (old, dead) = lease.use_here(ns, |n| {
        let old = n.list_table(fam, table)?;
        n.delete_table(fam, table)?;
        Ok(old)
    });
    let undo = old
        .map(|old| old.and_then(|o| Undo::here(restore(ns, family, table, Some(o)))))
        .ctx(|| what);
    (undo, dead)
}

/// Replaces table `family table` with `rules` in the context's namespace;
/// returns the table as it was, unless `fresh` says it is known absent
/// (then it is not listed, and is created rather than replaced).
fn replace_table(
    n: &mut Nft,
    family: &str,
    table: &str,
    rules: &Ruleset,
    fresh: bool,
) -> NftResult<Option<Value>> {
    let fam = nft::parse_family(family)?;
    rules.check(family, table)?;
    let old = if fresh {
        None
    } else {
        n.list_table(fam, table)?
    };
    n.apply_table(fam, table, rules.text(), old.is_some())?;
    Ok(old)
}

/// The op that puts a table back as it was listed (or removes it if it was absent).
fn restore(ns: &str, family: &str, table: &str, listed: Option<Value>) -> Op {
    let (ns, family, table) = (ns.to_string(), family.to_string(), table.to_string());
    match listed {
        Some(l) => Op::NftApply {
            ns,
            family,
            table,
            ruleset: Ruleset::from_objects(&nft::listed_objects(&l)),
        },
        None => Op::NftDelete { ns, family, table },
    }
}
