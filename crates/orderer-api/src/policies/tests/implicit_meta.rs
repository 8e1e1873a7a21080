//! ImplicitMeta policies (common/policies/implicitmeta.go).

use super::{FakeMsps, channel_manager, config_group, ids, meta, org, sig, signed};
use crate::policies::implicit_meta::threshold;
use crate::policies::{CompileError, PolicyError, PolicyManager};
use crate::proto::common::implicit_meta_policy::Rule;
use crate::proto::common::policy::PolicyType;
use crate::proto::common::{ImplicitMetaPolicy, Policy as ProtoPolicy};

#[test]
fn thresholds_of_any_all_and_majority() {
    for (rule, count, needed) in [
        (Rule::Any, 1, 1),
        (Rule::Any, 5, 1),
        (Rule::All, 1, 1),
        (Rule::All, 5, 5),
        (Rule::Majority, 1, 1),
        (Rule::Majority, 2, 2),
        (Rule::Majority, 3, 2),
        (Rule::Majority, 4, 3),
        (Rule::Majority, 5, 3),
    ] {
        assert_eq!(threshold(rule, count), needed, "{rule:?} of {count}");
    }
}

#[test]
fn implicit_meta_with_no_sub_policies_is_satisfied() {
    for (text, rule) in [
        ("ANY Admins", Rule::Any),
        ("ALL Admins", Rule::All),
        ("MAJORITY Admins", Rule::Majority),
    ] {
        assert_eq!(threshold(rule, 0), 0);
        let group = config_group(vec![("Admins", meta(text))], vec![]);
        let manager = PolicyManager::from_config_group("Channel", &group).unwrap();
        let policy = manager.get_policy("Admins").unwrap();
        assert_eq!(policy.evaluate_identities(&[]), Ok(()), "{text}");
    }
}

/// Admins of `orgs` organizations Org1MSP.. under one group with `rule Admins`.
fn admins_of(orgs: usize, rule: &str) -> PolicyManager {
    let names = ["Org1", "Org2", "Org3", "Org4"];
    let groups = names[..orgs]
        .iter()
        .map(|name| (*name, org(&format!("{name}MSP"))))
        .collect();
    let group = config_group(vec![("Admins", meta(rule))], groups);
    PolicyManager::from_config_group("Channel", &group).unwrap()
}

fn admins(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("Org{i}MSP:admin:a{i}")).collect()
}

fn satisfied(manager: &PolicyManager, signers: &[String]) -> bool {
    let signers: Vec<&str> = signers.iter().map(String::as_str).collect();
    manager
        .get_policy("/Channel/Admins")
        .unwrap()
        .evaluate_identities(&ids(&signers))
        .is_ok()
}

#[test]
fn majority_of_four_needs_three() {
    let manager = admins_of(4, "MAJORITY Admins");
    assert!(!satisfied(&manager, &admins(2)));
    assert!(satisfied(&manager, &admins(3)));
    assert!(satisfied(&manager, &admins(4)));
}

#[test]
fn majority_of_three_needs_two_and_of_two_needs_both() {
    assert!(!satisfied(&admins_of(3, "MAJORITY Admins"), &admins(1)));
    assert!(satisfied(&admins_of(3, "MAJORITY Admins"), &admins(2)));
    assert!(!satisfied(&admins_of(2, "MAJORITY Admins"), &admins(1)));
    assert!(satisfied(&admins_of(2, "MAJORITY Admins"), &admins(2)));
}

#[test]
fn any_needs_one_and_all_needs_every_one() {
    assert!(!satisfied(&admins_of(3, "ANY Admins"), &[]));
    assert!(satisfied(&admins_of(3, "ANY Admins"), &admins(1)));
    assert!(!satisfied(&admins_of(3, "ALL Admins"), &admins(2)));
    assert!(satisfied(&admins_of(3, "ALL Admins"), &admins(3)));
}

/// Each sub-policy is evaluated over all the signers afresh: one admin signature
/// counts for every group whose policy it satisfies.
#[test]
fn sub_policies_do_not_share_used_marks() {
    let shared = config_group(vec![("Admins", sig("OR('Org1MSP.admin')"))], vec![]);
    let group = config_group(
        vec![("Admins", meta("ALL Admins"))],
        vec![("A", shared.clone()), ("B", shared)],
    );
    let manager = PolicyManager::from_config_group("Channel", &group).unwrap();
    let policy = manager.get_policy("Admins").unwrap();
    assert_eq!(
        policy.evaluate_identities(&ids(&["Org1MSP:admin:x"])),
        Ok(())
    );
}

/// A child group without the sub-policy still counts, and its share always fails.
#[test]
fn missing_sub_policy_counts_and_is_never_satisfied() {
    let no_admins = config_group(vec![("Writers", sig("OR('Org2MSP.member')"))], vec![]);
    let group = config_group(
        vec![
            ("Admins", meta("ALL Admins")),
            ("AnyAdmins", meta("ANY Admins")),
        ],
        vec![("Org1", super::org("Org1MSP")), ("Org2", no_admins)],
    );
    let manager = PolicyManager::from_config_group("Channel", &group).unwrap();
    let signers = ids(&["Org1MSP:admin:a", "Org2MSP:admin:b"]);
    let err = manager
        .get_policy("Admins")
        .unwrap()
        .evaluate_identities(&signers)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy /Channel/Admins not satisfied: implicit policy ALL Admins needs 2 of 2 \
         sub-policies, 1 satisfied [/Channel/Org2/Admins: no such policy]; \
         valid signers: Org1MSP, Org2MSP"
    );
    assert_eq!(
        manager
            .get_policy("AnyAdmins")
            .unwrap()
            .evaluate_identities(&signers),
        Ok(())
    );
}

#[test]
fn nested_implicit_policies_explain_each_level() {
    let manager = channel_manager();
    let msps = FakeMsps::default();
    let signatures = [
        signed("Org3MSP::stranger", "good"),
        signed("Nope:x:y", "good"),
    ];
    let err = manager
        .evaluate_signed_data("/Channel/Writers", &signatures, &msps)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy /Channel/Writers not satisfied: implicit policy ANY Writers needs 1 of 2 sub-policies, \
         0 satisfied [/Channel/Application/Writers: implicit policy ANY Writers needs 1 of 2 \
         sub-policies, 0 satisfied [/Channel/Application/Org1/Writers: signature policy \
         OR('Org1MSP.member') not satisfied, /Channel/Application/Org2/Writers: signature policy \
         OR('Org2MSP.member') not satisfied], /Channel/Orderer/Writers: implicit policy ANY Writers \
         needs 1 of 1 sub-policies, 0 satisfied [/Channel/Orderer/OrdererOrg/Writers: signature \
         policy OR('Org4MSP.member') not satisfied]]; valid signers: Org3MSP; signature 1: creator \
         refused: unknown MSP Nope"
    );
    let member = [signed("Org2MSP::writer", "good")];
    assert_eq!(
        manager.evaluate_signed_data("/Channel/Writers", &member, &msps),
        Ok(())
    );
}

/// Fabric resolves the sub-policy name in each child's manager, so it may name a
/// policy deeper in the child (`Sub/Writers`) or an absolute path inside it.
#[test]
fn sub_policy_names_resolve_inside_each_child_group() {
    let inner = config_group(vec![], vec![("Sub", org("Org1MSP"))]);
    let group = config_group(
        vec![
            ("Deep", meta("ANY Sub/Writers")),
            ("Absolute", meta("ANY /Channel/A/Sub/Writers")),
        ],
        vec![("A", inner)],
    );
    let manager = PolicyManager::from_config_group("Channel", &group).unwrap();
    let signer = ids(&["Org1MSP::w"]);
    for name in ["Deep", "Absolute"] {
        assert_eq!(
            manager
                .get_policy(name)
                .unwrap()
                .evaluate_identities(&signer),
            Ok(()),
            "{name}"
        );
    }
}

fn implicit(rule: i32, sub_policy: &str) -> ProtoPolicy {
    let definition = ImplicitMetaPolicy {
        sub_policy: sub_policy.to_owned(),
        rule,
    };
    ProtoPolicy {
        r#type: PolicyType::ImplicitMeta as i32,
        value: prost::Message::encode_to_vec(&definition).into(),
    }
}

/// Fabric gives an unknown rule threshold 0, accepting anything: refused here.
#[test]
fn unknown_implicit_rule_is_refused_at_build() {
    let group = config_group(
        vec![("Admins", implicit(7, "Admins"))],
        vec![("Org1", org("Org1MSP"))],
    );
    let err = PolicyManager::from_config_group("Channel", &group).unwrap_err();
    assert_eq!(
        err,
        PolicyError::Invalid {
            path: "/Channel/Admins".into(),
            source: CompileError::UnknownImplicitMetaRule(7),
        }
    );
}

#[test]
fn garbage_implicit_definition_is_refused_at_build() {
    let policy = ProtoPolicy {
        r#type: PolicyType::ImplicitMeta as i32,
        value: bytes::Bytes::from_static(&[0x0a, 0x05, b'x']),
    };
    let group = config_group(vec![("Admins", policy)], vec![]);
    let err = PolicyManager::from_config_group("Channel", &group).unwrap_err();
    assert!(
        matches!(&err, PolicyError::Invalid { path, source: CompileError::Decode { message: "ImplicitMetaPolicy", .. } } if path == "/Channel/Admins"),
        "{err}"
    );
}
