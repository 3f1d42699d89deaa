//! The parser's tests; [`PLAN`] also serves the dependency graph's.

use std::sync::Arc;

use super::*;

pub(crate) const PLAN: &str = r#"[
    {"op":"netnsAdd","ns":"vpcr-demo","tag":"vpcctl:demo"},
    {"op":"netnsAdd","ns":"ns-demo-a","tag":"vpcctl:demo/a"},
    {"op":"vethAdd","ns":"vpcr-demo","name":"sn-a","alias":"vpcctl","peerNs":"ns-demo-a","peerName":"eth0","peerAlias":"vpcctl","mtu":1400},
    {"op":"addrAdd","ns":"vpcr-demo","dev":"sn-a","cidr":"10.0.1.1/32"},
    {"op":"routeAdd","ns":"vpcr-demo","dst":"10.0.1.2/32","dev":"sn-a"},
    {"op":"addrAdd","ns":"ns-demo-a","dev":"eth0","cidr":"10.0.1.2/24"},
    {"op":"routeAdd","ns":"ns-demo-a","dst":"default","via":"10.0.1.1","onlink":true},
    {"op":"sysctlSet","ns":"vpcr-demo","key":"net/ipv4/ip_forward","value":"1"},
    {"op":"nftApply","ns":"ns-demo-a","family":"inet","table":"vpcctl","ruleset":[{"chain":{"family":"inet","table":"vpcctl","name":"input"}}]},
    {"op":"netnsAdd","ns":"ns-demo-b","tag":"t"},
    {"op":"netnsDel","ns":"ns-demo-a"},
    {"op":"linkUp","ns":"vpcr-demo","name":"sn-a"}
]"#;

#[test]
fn parses_camel_case_ops() {
    let ops = parse(PLAN).unwrap();
    assert_eq!(ops.len(), 12);
    assert_eq!(
        ops[11],
        Op::LinkUp {
            ns: "vpcr-demo".into(),
            name: "sn-a".into()
        }
    );
    assert_eq!(ops[11].to_string(), "linkUp sn-a in netns \"vpcr-demo\"");
    assert_eq!(
        ops[2],
        Op::VethAdd {
            ns: "vpcr-demo".into(),
            name: "sn-a".into(),
            alias: Some("vpcctl".into()),
            peer_ns: "ns-demo-a".into(),
            peer_name: "eth0".into(),
            peer_alias: Some("vpcctl".into()),
            mtu: Some(1400),
            leaf: false,
        }
    );
    let Op::RouteAdd { route, .. } = &ops[6] else {
        panic!()
    };
    assert_eq!(
        (route.dst.as_str(), route.via.as_deref(), route.onlink),
        ("default", Some("10.0.1.1"), true)
    );
    assert_eq!(
        ops[3].to_string(),
        "addrAdd 10.0.1.1/32 on sn-a in netns \"vpcr-demo\""
    );
}

#[test]
fn rejects_unknown_ops_and_fields() {
    let e = |plan: &str| parse(plan).unwrap_err().to_string();
    assert!(e(r#"[{"op":"bridgeAdd","ns":"x"}]"#).contains("unknown op `bridgeAdd`"));
    // linkDown exists only as the undo of a linkUp.
    assert!(e(r#"[{"op":"linkDown","ns":"x","name":"a"}]"#).contains("unknown op `linkDown`"));
    assert!(e(r#"[{"op":"linkUp","ns":"x"}]"#).contains("missing field `name`"));
    assert!(e(r#"[{"op":"linkUp","ns":"x","name":"a","mtu":1}]"#)
        .contains("unknown field `mtu` for linkUp"));
    assert!(e(r#"[{"op":"netnsDel","ns":"x","bogus":1}]"#).contains("unknown field `bogus`"));
    assert_eq!(
        e(r#"[{"op":"netnsDel","ns":"x"},{"op":"addrAdd","ns":"x","dev":"eth0"}]"#),
        "invalid plan: op 2: missing field `cidr`"
    );
    // A field another op has is still foreign to this one.
    assert_eq!(
        e(r#"[{"op":"netnsDel","ns":"x","mtu":1400}]"#),
        "invalid plan: op 1: unknown field `mtu` for netnsDel"
    );
    assert!(e(r#"[{"op":"routeAdd","ns":"x","dev":"eth0"}]"#).contains("missing field `dst`"));
    // Ownership tags are the planner's to set, and a plan must carry them.
    assert!(e(r#"[{"op":"netnsAdd","ns":"x"}]"#).contains("missing field `tag`"));
    assert!(
        e(r#"[{"op":"routeDel","ns":"x","dst":"10.0.0.0/8","onlink":true}]"#)
            .contains("unknown field `onlink` for routeDel")
    );
    assert_eq!(
        parse("[1]").unwrap_err().kind(),
        crate::Kind::Invalid,
        "a bad plan is bad input"
    );
}

#[test]
fn ops_with_the_same_ruleset_text_share_it() {
    let rs = r#"[{"chain":{"family":"inet","table":"t","name":"c"}}]"#;
    let plan = format!(
        r#"[{{"op":"nftApply","ns":"a","family":"inet","table":"t","ruleset":{rs}}},
            {{"op":"nftApply","ns":"b","family":"inet","table":"t","ruleset":{rs}}},
            {{"op":"nftApply","ns":"c","family":"inet","table":"t","ruleset":[]}}]"#
    );
    let ops = parse(&plan).unwrap();
    let ruleset = |op: &Op| match op {
        Op::NftApply { ruleset, .. } => ruleset.clone(),
        _ => panic!(),
    };
    assert!(Arc::ptr_eq(&ruleset(&ops[0]), &ruleset(&ops[1])));
    assert!(!Arc::ptr_eq(&ruleset(&ops[0]), &ruleset(&ops[2])));
    assert_eq!(ruleset(&ops[0]).text(), rs);
    ruleset(&ops[0]).check("inet", "t").unwrap();
    let e = ruleset(&ops[0])
        .check("inet", "other")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("must name family \"inet\" and table \"other\""),
        "{e}"
    );
    let e = Ruleset::from_text("{}")
        .check("inet", "t")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("ruleset is not a JSON array"), "{e}");
}

#[test]
fn a_ruleset_may_be_the_index_of_an_earlier_nft_apply() {
    let rs = r#"[{"chain":{"family":"inet","table":"t","name":"c"}}]"#;
    let plan = format!(
        r#"[{{"op":"nftApply","ns":"a","family":"inet","table":"t","ruleset":{rs}}},
            {{"op":"netnsAdd","ns":"b","tag":""}},
            {{"op":"nftApply","ns":"b","family":"inet","table":"t","ruleset":0}},
            {{"op":"nftApply","ns":"c","family":"inet","table":"t","ruleset":2}}]"#
    );
    let ops = parse(&plan).unwrap();
    let ruleset = |op: &Op| match op {
        Op::NftApply { ruleset, .. } => ruleset.clone(),
        _ => panic!(),
    };
    assert!(Arc::ptr_eq(&ruleset(&ops[0]), &ruleset(&ops[2])));
    assert!(Arc::ptr_eq(&ruleset(&ops[0]), &ruleset(&ops[3])));
    assert_eq!(ruleset(&ops[3]).text(), rs);
    // Not an nftApply, itself, later, or not an index at all.
    for (n, why) in [
        ("1", "op 3"),
        ("2", "op 3"),
        ("3", "op 3"),
        ("0.5", "op 3"),
        ("99999999999999999999", "op 3"),
    ] {
        let plan = format!(
            r#"[{{"op":"nftApply","ns":"a","family":"inet","table":"t","ruleset":{rs}}},
                {{"op":"netnsAdd","ns":"b","tag":""}},
                {{"op":"nftApply","ns":"b","family":"inet","table":"t","ruleset":{n}}}]"#
        );
        let e = parse(&plan).unwrap_err().to_string();
        assert!(
            e.contains(why)
                && e.contains(&format!(
                    "ruleset {n} is not the index of an earlier nftApply op"
                )),
            "{n}: {e}"
        );
    }
}

#[test]
fn op_may_stand_anywhere_in_its_object() {
    let ops = parse(
        r#"[{"ns":"x","dev":"eth0","op":"addrAdd","cidr":"10.0.0.1/24"},
            {"ns":"x","family":"inet","table":"t","ruleset":[{"chain":{"family":"inet","table":"t","name":"c"}}],"op":"nftApply"}]"#,
    )
    .unwrap();
    assert_eq!(
        ops[0],
        Op::AddrAdd {
            ns: "x".into(),
            dev: "eth0".into(),
            cidr: "10.0.0.1/24".into()
        }
    );
    let Op::NftApply { ruleset, .. } = &ops[1] else {
        panic!("{:?}", ops[1])
    };
    assert_eq!(
        ruleset.text(),
        r#"[{"chain":{"family":"inet","table":"t","name":"c"}}]"#
    );
    let e = |plan: &str| parse(plan).unwrap_err().to_string();
    assert_eq!(
        e(r#"[{"ns":"x","mtu":1400,"op":"netnsDel"}]"#),
        "invalid plan: op 1: unknown field `mtu` for netnsDel"
    );
    assert_eq!(
        e(r#"[{"op":"netnsDel","ns":"x"},{"ns":"x"}]"#),
        "invalid plan: op 2: missing field `op`"
    );
    assert!(e(r#"[{"op":"netnsDel","ns":1}]"#).starts_with("invalid plan: op 1: invalid type"));
    assert!(e(r#"{"op":"netnsDel"}"#).starts_with("invalid plan: invalid type: map"));
    assert!(e(r#"[{"op":"netnsDel","ns":"x"}] x"#).starts_with("invalid plan: trailing characters"));
}

#[test]
fn parses_the_overlay_ops_and_refuses_bad_values_before_running() {
    let ops = parse(
        r#"[
        {"op":"vxlanAdd","ns":"r","name":"vx0","vni":42,"local":"192.0.2.1","dev":"eth0","alias":"vpcctl:a","mac":"02:00:00:00:00:01"},
        {"op":"fdbAdd","ns":"r","dev":"vx0","mac":"02:00:00:00:00:02","dst":"192.0.2.2"},
        {"op":"neighAdd","ns":"r","dev":"vx0","addr":"172.16.0.2","mac":"02:00:00:00:00:02"},
        {"op":"neighDel","ns":"r","dev":"vx0","addr":"172.16.0.2"},
        {"op":"fdbDel","ns":"r","dev":"vx0","mac":"02:00:00:00:00:02","dst":"192.0.2.2"}
    ]"#,
    )
    .unwrap();
    let Op::VxlanAdd(v) = &ops[0] else { panic!() };
    assert_eq!((v.vni, v.port(), v.mtu), (42, 4789, None));
    assert_eq!(
        ops[0].namespaces().collect::<Vec<_>>(),
        vec!["r", ""],
        "the underlay is the host's"
    );
    assert_eq!(
        ops[0].to_string(),
        "vxlanAdd vx0 vni 42 dev eth0 in netns \"r\""
    );
    assert_eq!(
        ops[1].to_string(),
        "fdbAdd 02:00:00:00:00:02 dst 192.0.2.2 on vx0 in netns \"r\""
    );
    assert_eq!(
        ops[2].to_string(),
        "neighAdd 172.16.0.2 lladdr 02:00:00:00:00:02 on vx0 in netns \"r\""
    );
    assert_eq!(
        ops[3].to_string(),
        "neighDel 172.16.0.2 on vx0 in netns \"r\""
    );

    let e = |plan: &str| parse(plan).unwrap_err().to_string();
    let vx = |extra: &str| {
        format!(
            r#"[{{"op":"vxlanAdd","ns":"r","name":"vx0","local":"192.0.2.1","dev":"eth0","alias":"a",{extra}}}]"#
        )
    };
    assert_eq!(
        e(&vx(r#""vni":0"#)),
        "invalid plan: op 1: vxlanAdd: vni 0 is not in 1..16777215"
    );
    assert!(e(&vx(r#""vni":16777216"#)).contains("not in 1..16777215"));
    assert!(e(&vx(r#""vni":1,"mac":"01:00:5e:00:00:01""#))
        .contains("vxlanAdd: \"01:00:5e:00:00:01\" is not a unicast MAC"));
    assert!(e(&vx(r#""vni":1,"port":0"#)).contains("port 0 is not a UDP port"));
    assert!(
        e(&vx(r#""vni":1,"remote":"192.0.2.9""#)).contains("unknown field `remote` for vxlanAdd")
    );
    assert!(e(
        r#"[{"op":"vxlanAdd","ns":"r","name":"vx0","vni":1,"local":"x","dev":"eth0","alias":"a"}]"#
    )
    .contains("local \"x\" is not an IPv4 address"));
    assert!(e(
        r#"[{"op":"vxlanAdd","ns":"r","name":"vx0","vni":1,"local":"192.0.2.1","dev":"eth0"}]"#
    )
    .contains("missing field `alias`"));
    assert_eq!(
        e(r#"[{"op":"fdbAdd","ns":"r","dev":"vx0","mac":"02:00:00:00:00:02","dst":"10.0.0.0/8"}]"#),
        "invalid plan: op 1: fdbAdd: dst \"10.0.0.0/8\" is not an IPv4 address"
    );
    assert!(
        e(r#"[{"op":"neighAdd","ns":"r","dev":"vx0","addr":"172.16.0.2","mac":"zz"}]"#)
            .contains("neighAdd: \"zz\" is not a unicast MAC")
    );
}
