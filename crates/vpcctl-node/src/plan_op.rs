//! The plan as `execute` and `verify` take it: typed ops (`PlanOp`, the
//! discriminated union index.d.ts declares, mirroring src/plan/ops.ts, which
//! src/native.ts checks against it at compile time) or the JSON text of the
//! same array.
//!
//! Both reach netkit's one parser (crates/netkit/src/plan/parse.rs), so a
//! plan is checked the same way whichever form it came in. JSON is the fast
//! form, and the one vpcctl itself sends (src/native.ts): measured on a
//! 500-subnet plan (3,764 ops, 502 rulesets), JSON.stringify + serde took
//! ~17 ms where napi's field-by-field conversion of the same objects took
//! ~24 ms with rulesets as text and ~280 ms with rulesets as objects
//! (README, "The native module"). Typed ops suit small plans and callers
//! who want the compiler to check them.

use napi::{
    bindgen_prelude::{Buffer, FromNapiValue, TypeName},
    check_status, sys,
};
use napi_derive::napi;
use netkit::plan::{self, Op};
use serde::Serialize;

use crate::common::err;

/// One kernel operation of a plan (docs/plan-ops.md). `ns: ""` is the
/// namespace the process runs in. Keep in step with src/plan/ops.ts:
/// src/native.ts does not compile while the two differ.
#[napi(discriminant = "op", discriminant_case = "camelCase")]
#[derive(Serialize)]
#[cfg_attr(test, derive(serde::Deserialize), serde(deny_unknown_fields))]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PlanOp {
    NetnsAdd {
        ns: String,
        tag: String,
    },
    NetnsDel {
        ns: String,
    },
    VethAdd {
        ns: String,
        name: String,
        alias: String,
        peer_ns: String,
        peer_name: String,
        peer_alias: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        mtu: Option<u32>,
        /// `peerNs` is a subnet's namespace: this veth is its only way out,
        /// and verify reads the `ns` end light (docs/plan-ops.md).
        #[serde(skip_serializing_if = "Option::is_none")]
        leaf: Option<bool>,
    },
    LinkDel {
        ns: String,
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        alias: Option<String>,
    },
    LinkUp {
        ns: String,
        name: String,
    },
    AddrAdd {
        ns: String,
        dev: String,
        cidr: String,
    },
    AddrDel {
        ns: String,
        dev: String,
        cidr: String,
    },
    RouteAdd {
        ns: String,
        dst: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        onlink: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        src: Option<String>,
    },
    RouteDel {
        ns: String,
        dst: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    SysctlSet {
        ns: String,
        key: String,
        value: String,
    },
    NftApply {
        ns: String,
        family: String,
        table: String,
        // libnftables JSON objects that go inside the table.
        #[napi(ts_type = "Array<Record<string, unknown>>")]
        ruleset: Vec<serde_json::Value>,
    },
    NftDelete {
        ns: String,
        family: String,
        table: String,
    },
    /// A VXLAN link in router namespace `ns` over underlay `dev` (IPv4
    /// `local`) of the host namespace.
    VxlanAdd {
        ns: String,
        name: String,
        vni: u32,
        local: String,
        dev: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        mtu: Option<u32>,
        alias: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        mac: Option<String>,
    },
    FdbAdd {
        ns: String,
        dev: String,
        mac: String,
        dst: String,
    },
    FdbDel {
        ns: String,
        dev: String,
        mac: String,
        dst: String,
    },
    NeighAdd {
        ns: String,
        dev: String,
        addr: String,
        mac: String,
    },
    NeighDel {
        ns: String,
        dev: String,
        addr: String,
    },
}

/// A plan in any of the forms the native functions take.
pub enum PlanInput {
    Ops(Vec<PlanOp>),
    Text(String),
    Bytes(Buffer),
}

/// `[INVALID] invalid plan: ...`, as netkit's parser words its refusals.
fn invalid(why: impl std::fmt::Display) -> napi::Error {
    err(netkit::Error::new(
        netkit::Kind::Invalid,
        "invalid plan",
        why.to_string(),
    ))
}

impl FromNapiValue for PlanInput {
    /// Typed ops are read one by one, so that a bad one is named (`op K:
    /// Unknown variant ...`) rather than napi's "none of these types".
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut array = false;
        check_status!(sys::napi_is_array(env, value, &mut array))?;
        if array {
            let mut len = 0u32;
            check_status!(sys::napi_get_array_length(env, value, &mut len))?;
            let mut ops = Vec::with_capacity(len as usize);
            for i in 0..len {
                let mut item = std::ptr::null_mut();
                check_status!(sys::napi_get_element(env, value, i, &mut item))?;
                let op = PlanOp::from_napi_value(env, item)
                    .map_err(|e| invalid(format!("op {}: {}", i + 1, e.reason)))?;
                ops.push(op);
            }
            return Ok(PlanInput::Ops(ops));
        }
        let mut buffer = false;
        check_status!(sys::napi_is_buffer(env, value, &mut buffer))?;
        if buffer {
            return Buffer::from_napi_value(env, value).map(PlanInput::Bytes);
        }
        String::from_napi_value(env, value)
            .map(PlanInput::Text)
            .map_err(|_| invalid("expected an array of ops, or their JSON as a string or bytes"))
    }
}

impl TypeName for PlanInput {
    fn type_name() -> &'static str {
        "Array<PlanOp> | string | Buffer"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Unknown
    }
}

/// Parses a plan; typed ops go through their JSON so that netkit's parser
/// (its checks and its error messages, `invalid plan: op K: ...`) is the
/// only one.
pub fn parse(input: &PlanInput) -> netkit::Result<Vec<Op>> {
    match input {
        PlanInput::Ops(ops) => {
            let text = serde_json::to_string(ops).map_err(|e| {
                netkit::Error::new(netkit::Kind::Invalid, "invalid plan", e.to_string())
            })?;
            plan::parse(&text)
        }
        PlanInput::Text(text) => plan::parse(text),
        PlanInput::Bytes(bytes) => std::str::from_utf8(bytes)
            .map_err(|e| {
                netkit::Error::new(
                    netkit::Kind::Invalid,
                    "invalid plan",
                    format!("not UTF-8: {e}"),
                )
            })
            .and_then(plan::parse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every op of the contract (crates/netkit/tests/fixtures/ops.json, written
    /// from src/plan/ops.ts by test/unit/op-contract.test.ts) reads into a
    /// PlanOp with no field left over, and serialises back to the same JSON,
    /// which netkit's parser takes: the typed form loses and adds nothing.
    #[test]
    fn plan_ops_round_trip_the_op_contract() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../netkit/tests/fixtures/ops.json")).unwrap();
        let kinds = fixture["ops"].as_object().unwrap();
        let mut seen = 0;
        for (kind, k) in kinds {
            let examples = k["planned"]
                .as_array()
                .unwrap()
                .iter()
                .chain([&k["everyField"]]);
            for example in examples {
                let op: PlanOp = serde_json::from_value(example.clone())
                    .unwrap_or_else(|e| panic!("{kind}: {e}: {example}"));
                let back = serde_json::to_value(&op).unwrap();
                assert_eq!(&back, example, "{kind}");
                let text = serde_json::to_string(&[op]).unwrap();
                // (plan::parse, not parse(): a PlanInput's Buffer needs a Node to drop it.)
                assert_eq!(plan::parse(&text).unwrap().len(), 1, "{kind}");
                seen += 1;
            }
        }
        assert!(seen >= kinds.len());
    }
}
