//! nftables tables inside a namespace, through libnftables. `family` is typed
//! in index.d.ts as the closed set nftables knows (a typo fails to compile).

use napi_derive::napi;
use netkit::{nft, plan, plan::Op};

use crate::common::{blocking, run, Result};

/// Replaces table `family table` in `ns` whole, in one transaction.
/// `rulesetJson` is a JSON array of libnftables objects that go inside the
/// table (chains, sets, maps, rules, elements), each naming that family
/// and table. On error the previous table is left as it was.
#[napi]
pub async fn nft_apply(
    ns: String,
    #[napi(ts_arg_type = "'inet' | 'ip' | 'ip6' | 'arp' | 'bridge' | 'netdev'")] family: String,
    table: String,
    ruleset_json: String,
) -> Result<()> {
    run(Op::NftApply {
        ns,
        family,
        table,
        ruleset: plan::Ruleset::from_text(ruleset_json),
    })
    .await
}

/// Deletes table `family table` in `ns`. Absent is success.
#[napi]
pub async fn nft_delete(
    ns: String,
    #[napi(ts_arg_type = "'inet' | 'ip' | 'ip6' | 'arp' | 'bridge' | 'netdev'")] family: String,
    table: String,
) -> Result<()> {
    run(Op::NftDelete { ns, family, table }).await
}

/// The table as libnftables JSON (`{"nftables":[...]}`), or null if absent.
#[napi]
pub async fn nft_list_table(
    ns: String,
    #[napi(ts_arg_type = "'inet' | 'ip' | 'ip6' | 'arp' | 'bridge' | 'netdev'")] family: String,
    table: String,
) -> Result<Option<String>> {
    Ok(blocking(move || nft::list_table(&ns, &family, &table))
        .await?
        .map(|v| v.to_string()))
}

/// The whole ruleset of `ns` as libnftables JSON.
#[napi]
pub async fn nft_list_ruleset(ns: String) -> Result<String> {
    Ok(blocking(move || nft::list_ruleset(&ns)).await?.to_string())
}

#[napi(object)]
pub struct NftStatus {
    pub ok: bool,
    pub version: Option<String>,
    pub error: Option<String>,
}

/// Whether libnftables (Debian package libnftables1) loads and answers.
#[napi]
pub async fn nft_available() -> NftStatus {
    match tokio::task::spawn_blocking(nft::available)
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        Ok(v) => NftStatus {
            ok: true,
            version: Some(v),
            error: None,
        },
        Err(e) => NftStatus {
            ok: false,
            version: None,
            error: Some(e),
        },
    }
}
