//! The policy manager (common/policies/policy.go) and how names resolve.

use std::sync::Arc;

use super::{channel, channel_manager, config_group, ids, org, sig};
use crate::policies::{CompileError, MAX_GROUP_DEPTH, PolicyError, PolicyManager};
use crate::proto::common::policy::PolicyType;
use crate::proto::common::{ConfigGroup, ConfigPolicy, Policy as ProtoPolicy};

#[test]
fn policy_paths_resolve_absolute_and_relative() {
    let root = channel_manager();
    let orderer = root.sub_manager(&["Orderer"]).unwrap();
    let org1 = root.sub_manager(&["Application", "Org1"]).unwrap();
    assert_eq!(root.path(), "/Channel");
    assert_eq!(orderer.path(), "/Channel/Orderer");
    assert_eq!(org1.path(), "/Channel/Application/Org1");

    for (manager, name, path) in [
        (
            &root,
            "/Channel/Orderer/BlockValidation",
            "/Channel/Orderer/BlockValidation",
        ),
        (&root, "Writers", "/Channel/Writers"),
        (
            &root,
            "Orderer/BlockValidation",
            "/Channel/Orderer/BlockValidation",
        ),
        (
            &root,
            "Application/Org1/Admins",
            "/Channel/Application/Org1/Admins",
        ),
        (&orderer, "Writers", "/Channel/Orderer/Writers"),
        (
            &orderer,
            "OrdererOrg/Writers",
            "/Channel/Orderer/OrdererOrg/Writers",
        ),
        // An absolute path names the same policy from any manager of the tree.
        (&orderer, "/Channel/Writers", "/Channel/Writers"),
        (&org1, "/Channel/Orderer/Admins", "/Channel/Orderer/Admins"),
        (&org1, "Readers", "/Channel/Application/Org1/Readers"),
    ] {
        let policy = manager.get_policy(name).unwrap();
        assert_eq!(policy.path(), path, "{name} from {}", manager.path());
    }
}

#[test]
fn unknown_names_are_not_found_with_their_absolute_path() {
    let root = channel_manager();
    let orderer = root.sub_manager(&["Orderer"]).unwrap();
    for (manager, name, path) in [
        (&root, "Nope", "/Channel/Nope"),
        (&root, "", "/Channel/"),
        (&root, "/Channel", "/Channel"),
        (&root, "/Channel/", "/Channel/"),
        (&root, "/ChannelX/Writers", "/ChannelX/Writers"),
        (&root, "/Other/Writers", "/Other/Writers"),
        (&root, "Orderer", "/Channel/Orderer"),
        (&root, "Orderer//Writers", "/Channel/Orderer//Writers"),
        (&root, "Nope/Writers", "/Channel/Nope/Writers"),
        (
            &orderer,
            "BlockValidation/",
            "/Channel/Orderer/BlockValidation/",
        ),
        (
            &orderer,
            "Application/Writers",
            "/Channel/Orderer/Application/Writers",
        ),
    ] {
        assert_eq!(
            manager.get_policy(name).unwrap_err(),
            PolicyError::NotFound { path: path.into() },
            "{name:?}"
        );
    }
    assert_eq!(
        root.evaluate_signed_data("Nope", &[], &super::FakeMsps::default())
            .unwrap_err()
            .to_string(),
        "no such policy /Channel/Nope"
    );
}

#[test]
fn sub_manager_walks_groups() {
    let root = channel_manager();
    let empty: [&str; 0] = [];
    assert_eq!(root.sub_manager(&empty).unwrap().path(), "/Channel");
    assert!(root.sub_manager(&["Nope"]).is_none());
    assert!(root.sub_manager(&["Orderer", "Org1"]).is_none());
    let app = root.sub_manager(&["Application"]).unwrap();
    assert_eq!(
        app.sub_manager(&["Org2"]).unwrap().path(),
        "/Channel/Application/Org2"
    );
}

/// Fabric's config validator resolves an element's relative mod_policy in the
/// manager of the element's group (`sub_manager(path[1..])`), an absolute one from
/// the root.
#[test]
fn mod_policy_names_resolve_against_their_group() {
    let root = channel_manager();
    for (group_path, mod_policy, resolved) in [
        (&[][..], "Admins", "/Channel/Admins"),
        (&["Orderer"][..], "Admins", "/Channel/Orderer/Admins"),
        (
            &["Application", "Org1"][..],
            "Admins",
            "/Channel/Application/Org1/Admins",
        ),
        (
            &["Application", "Org1"][..],
            "/Channel/Application/Admins",
            "/Channel/Application/Admins",
        ),
        (
            &["Orderer"][..],
            "/Channel/Orderer/Admins",
            "/Channel/Orderer/Admins",
        ),
    ] {
        let manager = root.sub_manager(group_path).unwrap();
        assert_eq!(manager.get_policy(mod_policy).unwrap().path(), resolved);
    }
}

#[test]
fn manager_is_cheap_to_share() {
    let root = channel_manager();
    let copy = root.clone();
    let a = root.get_policy("/Channel/Writers").unwrap();
    let b = copy.get_policy("/Channel/Writers").unwrap();
    assert!(Arc::ptr_eq(&a, &b), "clones share the compiled policies");
    // Implicit policies hold the very sub-policies of their children.
    let handle = std::thread::spawn(move || {
        copy.get_policy("Orderer/Writers")
            .map(|p| p.path().to_owned())
    });
    assert_eq!(handle.join().unwrap().unwrap(), "/Channel/Orderer/Writers");
}

fn with_policy(name: &str, policy: Option<ProtoPolicy>) -> ConfigGroup {
    let mut orderer = config_group(vec![("Writers", sig("OR('Org1MSP.member')"))], vec![]);
    orderer.policies.insert(
        name.to_owned(),
        ConfigPolicy {
            version: 0,
            policy,
            mod_policy: "Admins".into(),
        },
    );
    config_group(vec![], vec![("Orderer", orderer)])
}

fn build_err(group: &ConfigGroup) -> PolicyError {
    PolicyManager::from_config_group("Channel", group).unwrap_err()
}

#[test]
fn msp_and_unknown_policy_types_are_refused_naming_their_path() {
    for (policy_type, shown) in [
        (PolicyType::Msp as i32, "MSP"),
        (PolicyType::Unknown as i32, "UNKNOWN"),
        (42, "42"),
    ] {
        let policy = ProtoPolicy {
            r#type: policy_type,
            value: Default::default(),
        };
        let err = build_err(&with_policy("Odd", Some(policy)));
        assert_eq!(
            err,
            PolicyError::UnsupportedType {
                path: "/Channel/Orderer/Odd".into(),
                policy_type
            }
        );
        assert_eq!(
            err.to_string(),
            format!("policy /Channel/Orderer/Odd has unsupported type {shown}")
        );
    }
}

#[test]
fn empty_config_policy_is_refused() {
    assert_eq!(
        build_err(&with_policy("Empty", None)),
        PolicyError::MissingPolicy {
            path: "/Channel/Orderer/Empty".into()
        }
    );
}

#[test]
fn malformed_signature_policy_is_refused_naming_its_path() {
    let envelope = crate::policies::dsl::envelope(crate::policies::dsl::signed_by(3), vec![]);
    let err = build_err(&with_policy(
        "Bad",
        Some(crate::policies::dsl::signature_policy(&envelope)),
    ));
    assert_eq!(
        err.to_string(),
        "policy /Channel/Orderer/Bad is invalid: rule is signed_by(3) but the policy lists 0 identities"
    );
    let garbage = ProtoPolicy {
        r#type: PolicyType::Signature as i32,
        value: bytes::Bytes::from_static(&[0x12, 0x09]),
    };
    assert!(matches!(
        build_err(&with_policy("Bad", Some(garbage))),
        PolicyError::Invalid {
            source: CompileError::Decode { .. },
            ..
        }
    ));
}

#[test]
fn ambiguous_names_are_refused() {
    let err = build_err(&with_policy(
        "Orderer/Writers",
        Some(sig("OR('Org1MSP.member')")),
    ));
    assert_eq!(
        err,
        PolicyError::InvalidName {
            parent: "/Channel/Orderer".into(),
            name: "Orderer/Writers".into()
        }
    );
    let group = config_group(vec![], vec![("", org("Org1MSP"))]);
    assert!(matches!(build_err(&group), PolicyError::InvalidName { .. }));
    assert!(matches!(
        PolicyManager::from_config_group("Chan/nel", &channel()).unwrap_err(),
        PolicyError::InvalidName { .. }
    ));
}

#[test]
fn groups_nested_too_deep_are_refused() {
    let nest = |levels: usize| {
        let mut group = org("Org1MSP");
        for _ in 0..levels {
            group = config_group(vec![], vec![("G", group)]);
        }
        group
    };
    assert!(PolicyManager::from_config_group("Channel", &nest(MAX_GROUP_DEPTH - 1)).is_ok());
    assert!(matches!(
        build_err(&nest(MAX_GROUP_DEPTH)),
        PolicyError::GroupsTooDeep {
            max: MAX_GROUP_DEPTH,
            ..
        }
    ));
}

#[test]
fn block_validation_of_a_standard_channel() {
    let root = channel_manager();
    let policy = root.get_policy("/Channel/Orderer/BlockValidation").unwrap();
    assert_eq!(
        policy.to_string(),
        "/Channel/Orderer/BlockValidation: ANY Writers"
    );
    assert_eq!(
        policy.evaluate_identities(&ids(&["Org4MSP:orderer:o1"])),
        Ok(())
    );
    assert!(
        policy
            .evaluate_identities(&ids(&["Org1MSP:peer:p1"]))
            .is_err()
    );
}
