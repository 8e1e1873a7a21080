//! Evaluation over signed data (Fabric 2.x's SignatureSetToValidIdentities).

use super::{FakeMsps, channel_manager, ids, signed};
use crate::policies::dsl::{parse_signature_policy, signed_by_msp_role};
use crate::policies::{Policy, PolicyError, RejectedSignature, Rejection, Unsatisfied};
use crate::proto::common::msp_role::MspRoleType;

fn policy(dsl: &str) -> Policy {
    Policy::from_signature_envelope("/Channel/Test", &parse_signature_policy(dsl).unwrap()).unwrap()
}

fn unsatisfied(err: PolicyError) -> Unsatisfied {
    match err {
        PolicyError::NotSatisfied(u) => *u,
        other => panic!("expected NotSatisfied, got {other}"),
    }
}

#[test]
fn duplicate_signatures_of_one_identity_count_once() {
    let msps = FakeMsps::default();
    let policy = policy("AND('Org1MSP.member', 'Org1MSP.member')");
    let twice = [signed("Org1MSP::a", "good"), signed("Org1MSP::a", "good")];
    let err = unsatisfied(policy.evaluate_signed_data(&twice, &msps).unwrap_err());
    assert_eq!(err.signers, ["Org1MSP"]);
    assert_eq!(
        err.rejected,
        [RejectedSignature {
            index: 1,
            reason: Rejection::Duplicate { of: 0 }
        }]
    );
    // The duplicate is recognised before verification: one verification, not two.
    assert_eq!(msps.verifications(), 1);
    let two = [signed("Org1MSP::a", "good"), signed("Org1MSP::b", "good")];
    assert_eq!(policy.evaluate_signed_data(&two, &msps), Ok(()));
}

#[test]
fn invalid_signature_is_dropped_not_fatal() {
    let msps = FakeMsps::default();
    let policy = policy("OR('Org1MSP.member', 'Org2MSP.member')");
    let signatures = [signed("Org1MSP::a", "forged"), signed("Org2MSP::b", "good")];
    assert_eq!(policy.evaluate_signed_data(&signatures, &msps), Ok(()));
    let err = unsatisfied(
        policy
            .evaluate_signed_data(&signatures[..1], &msps)
            .unwrap_err(),
    );
    assert_eq!(
        err.rejected,
        [RejectedSignature {
            index: 0,
            reason: Rejection::InvalidSignature("signature does not verify".into())
        }]
    );
    assert!(err.signers.is_empty());
}

#[test]
fn unknown_msp_identity_is_skipped() {
    let msps = FakeMsps::default();
    let policy = policy("OR('Org1MSP.member')");
    let signatures = [
        signed("Org9MSP::x", "good"),
        signed("Org1MSP::revoked", "good"),
        signed("garbage", "good"),
        signed("Org1MSP::a", "good"),
    ];
    assert_eq!(policy.evaluate_signed_data(&signatures, &msps), Ok(()));
    let err = unsatisfied(
        policy
            .evaluate_signed_data(&signatures[..3], &msps)
            .unwrap_err(),
    );
    let reasons: Vec<String> = err.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(
        reasons,
        [
            "signature 0: creator refused: unknown MSP Org9MSP",
            "signature 1: creator refused: certificate revoked",
            "signature 2: creator refused: malformed identity \"garbage\"",
        ]
    );
    assert_eq!(
        msps.verifications(),
        1,
        "refused creators are never verified"
    );
}

/// Fabric records an identity only once one of its signatures verified: a bad
/// first signature does not shadow a good later one of the same identity.
#[test]
fn bad_first_signature_does_not_shadow_a_good_duplicate() {
    let msps = FakeMsps::default();
    let policy = policy("OR('Org1MSP.member')");
    let signatures = [signed("Org1MSP::a", "bad"), signed("Org1MSP::a", "good")];
    assert_eq!(policy.evaluate_signed_data(&signatures, &msps), Ok(()));
}

#[test]
fn no_signature_at_all() {
    let msps = FakeMsps::default();
    let err = policy("OR('Org1MSP.member')")
        .evaluate_signed_data(&[], &msps)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy /Channel/Test not satisfied: signature policy OR('Org1MSP.member') not satisfied; no valid signer"
    );
}

#[test]
fn forbidden_message_names_path_rule_and_each_signature() {
    let msps = FakeMsps::default();
    let signatures = [
        signed("Org9MSP::x", "good"),
        signed("Org3MSP::y", "good"),
        signed("Org1MSP::z", "bad"),
    ];
    let err = channel_manager()
        .evaluate_signed_data("/Channel/Application/Writers", &signatures, &msps)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy /Channel/Application/Writers not satisfied: implicit policy ANY Writers needs 1 of 2 \
         sub-policies, 0 satisfied [/Channel/Application/Org1/Writers: signature policy \
         OR('Org1MSP.member') not satisfied, /Channel/Application/Org2/Writers: signature policy \
         OR('Org2MSP.member') not satisfied]; valid signers: Org3MSP; signature 0: creator refused: \
         unknown MSP Org9MSP; signature 2: invalid signature: signature does not verify"
    );
}

#[test]
fn long_rejection_lists_are_cut() {
    let msps = FakeMsps::default();
    let signatures: Vec<_> = (0..20)
        .map(|i| signed(&format!("Org1MSP::s{i}"), "bad"))
        .collect();
    let err = policy("OR('Org1MSP.admin')")
        .evaluate_signed_data(&signatures, &msps)
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("signature 7: invalid signature"),
        "{message}"
    );
    assert!(!message.contains("signature 8:"), "{message}");
    assert!(
        message.ends_with("; 12 more signatures rejected"),
        "{message}"
    );
    assert_eq!(unsatisfied(err).rejected.len(), 20);
}

#[test]
fn evaluate_identities_counts_one_identity_once() {
    let policy = policy("AND('Org1MSP.member', 'Org1MSP.member')");
    let err = unsatisfied(
        policy
            .evaluate_identities(&ids(&["Org1MSP::a", "Org1MSP::a"]))
            .unwrap_err(),
    );
    assert_eq!(err.rejected[0].reason, Rejection::Duplicate { of: 0 });
    assert_eq!(
        policy.evaluate_identities(&ids(&["Org1MSP::a", "Org1MSP::b"])),
        Ok(())
    );
}

#[test]
fn signed_by_msp_role_envelopes() {
    let msps = FakeMsps::default();
    for (role, signer, expected) in [
        (MspRoleType::Admin, "Org1MSP:admin:a", true),
        (MspRoleType::Admin, "Org1MSP:client:a", false),
        (MspRoleType::Client, "Org1MSP:client:a", true),
        (MspRoleType::Peer, "Org1MSP:peer:a", true),
        (MspRoleType::Orderer, "Org1MSP:peer:a", false),
        (MspRoleType::Member, "Org1MSP::a", true),
        (MspRoleType::Member, "Org2MSP::a", false),
    ] {
        let policy =
            Policy::from_signature_envelope("/P", &signed_by_msp_role("Org1MSP", role)).unwrap();
        let result = policy.evaluate_signed_data(&[signed(signer, "good")], &msps);
        assert_eq!(result.is_ok(), expected, "{role:?} by {signer}");
    }
}

#[test]
fn compile_errors_name_the_policy() {
    let env = crate::policies::dsl::envelope(crate::policies::dsl::signed_by(0), vec![]);
    let err = Policy::from_signature_envelope("/Channel/Orderer/Writers", &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy /Channel/Orderer/Writers is invalid: rule is signed_by(0) but the policy lists 0 identities"
    );
}
