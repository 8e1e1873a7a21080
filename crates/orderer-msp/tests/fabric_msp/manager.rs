//! The channel's MSPs as an identity deserializer, and its cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use orderer_api::policies::IdentityDeserializer;
use orderer_api::proto::common::msp_role::MspRoleType;
use orderer_msp::generate::{KeyKind, Validity};
use orderer_msp::{FabricMsp, MspManager, msp_config};

use crate::common::*;

fn manager(orgs: &[&Org]) -> MspManager {
    MspManager::new(
        orgs.iter()
            .map(|o| FabricMsp::from_config(&o.config).unwrap()),
    )
    .unwrap()
}

#[test]
fn manager_finds_the_msp_by_id_and_validates() {
    let org1 = Org::new(ORG1, true);
    let org2 = Org::new("Org2MSP", true);
    let m = manager(&[&org1, &org2]);
    assert_eq!(m.msp_ids().collect::<Vec<_>>(), ["Org1MSP", "Org2MSP"]);
    let (alice, key) = org1.issue("alice", &["client"]);
    let (bob, _) = org2.issue("bob", &["peer"]);
    let id = m.deserialize_identity(&serialized(ORG1, &alice)).unwrap();
    assert_eq!(id.msp_id(), ORG1);
    id.verify(b"m", &sign(ORG1, &alice, &key, b"m")).unwrap();
    id.satisfies_principal(&role(ORG1, MspRoleType::Client))
        .unwrap();
    let id = m
        .deserialize_identity(&serialized("Org2MSP", &bob))
        .unwrap();
    id.satisfies_principal(&role("Org2MSP", MspRoleType::Peer))
        .unwrap();
    // Alice's certificate claimed for Org2MSP does not chain to Org2's CA.
    let err = m
        .deserialize_identity(&serialized("Org2MSP", &alice))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not valid for MSP Org2MSP"), "{err}");
}

#[test]
fn unknown_msp_is_refused_naming_it() {
    let org1 = Org::new(ORG1, true);
    let m = manager(&[&org1]);
    let (alice, _) = org1.issue("alice", &["client"]);
    let err = m
        .deserialize_identity(&serialized("Org9MSP", &alice))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MSP \"Org9MSP\" is not defined on the channel"),
        "{err}"
    );
}

#[test]
fn malformed_serialized_identities_are_refused() {
    let org1 = Org::new(ORG1, true);
    let m = manager(&[&org1]);
    let err = m
        .deserialize_identity(&[0xff, 0xff, 0xff])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a valid msp.SerializedIdentity"), "{err}");
    let err = m.deserialize_identity(&[]).unwrap_err().to_string();
    assert!(err.contains("no creator identity (unsigned)"), "{err}");
    let err = m
        .deserialize_identity(&serialized(ORG1, "not a certificate"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no PEM block"), "{err}");
}

#[test]
fn duplicate_msp_ids_are_refused() {
    let org1 = Org::new(ORG1, true);
    let err = MspManager::from_msp_configs([&msp_config(&org1.config), &msp_config(&org1.config)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("MSP Org1MSP is defined twice"), "{err}");
}

#[test]
fn validated_identities_are_cached_by_their_bytes() {
    let org1 = Org::new(ORG1, true);
    let m = manager(&[&org1]);
    let (alice, _) = org1.issue("alice", &["client"]);
    let bytes = serialized(ORG1, &alice);
    let first = m.deserialize_at(&bytes, orderer_msp::now()).unwrap();
    let again = m.deserialize_at(&bytes, orderer_msp::now()).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(m.cached_identities(), 1);
}

#[test]
fn cached_identity_is_rechecked_for_expiry_at_every_use() {
    let org1 = Org::new(ORG1, true);
    let clock = Arc::new(AtomicI64::new(orderer_msp::now()));
    let c = Arc::clone(&clock);
    let m = manager(&[&org1]).with_clock(move || c.load(Ordering::SeqCst));
    let (alice, _) = org1
        .ca
        .issue_with_ous("alice", ORG1, &["client"], Validity::days(1), KeyKind::P256)
        .unwrap();
    let bytes = serialized(ORG1, &alice);
    m.deserialize_identity(&bytes).unwrap();
    clock.fetch_add(2 * 86_400, Ordering::SeqCst);
    let err = m.deserialize_identity(&bytes).unwrap_err().to_string();
    assert!(err.contains("expired"), "{err}");
    assert_eq!(m.cached_identities(), 1, "still cached, refused by time");
    // Without the check, as Fabric's MSP, the expired identity is still deserialized.
    let m = m.check_validity_period(false);
    m.deserialize_identity(&bytes).unwrap();
}

#[test]
fn cache_is_bounded_and_keeps_identities_in_use() {
    let org1 = Org::new(ORG1, true);
    let m = manager(&[&org1]).with_cache_size(4);
    let now = orderer_msp::now();
    let (hot, _) = org1.issue("hot", &["client"]);
    let hot = serialized(ORG1, &hot);
    let first = m.deserialize_at(&hot, now).unwrap();
    for i in 0..10 {
        let (cert, _) = org1.issue(&format!("user{i}"), &["client"]);
        m.deserialize_at(&serialized(ORG1, &cert), now).unwrap();
        // The hot identity is used between the others.
        m.deserialize_at(&hot, now).unwrap();
        assert!(m.cached_identities() <= 4, "{}", m.cached_identities());
    }
    assert!(Arc::ptr_eq(&first, &m.deserialize_at(&hot, now).unwrap()));
}

#[test]
fn both_encodings_of_a_certificate_are_one_identity() {
    let org1 = Org::new(ORG1, true);
    let m = manager(&[&org1]);
    let (alice, _) = org1.issue("alice", &["client"]);
    let flipped = flip_cert_signature(&alice, orderer_msp::EcCurve::P256);
    let a = m.deserialize_identity(&serialized(ORG1, &alice)).unwrap();
    let b = m.deserialize_identity(&serialized(ORG1, &flipped)).unwrap();
    assert_eq!(a.unique_id(), b.unique_id());
    let (bob, _) = org1.issue("bob", &["client"]);
    let c = m.deserialize_identity(&serialized(ORG1, &bob)).unwrap();
    assert_ne!(a.unique_id(), c.unique_id());
}
