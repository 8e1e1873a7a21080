//! Principals: roles, organizational units, identities, anonymity, combinations.

use std::sync::Arc;

use orderer_api::policies::Identity;
use orderer_api::proto::common::MspPrincipal;
use orderer_api::proto::common::msp_identity_anonymity::MspIdentityAnonymityType as Anon;
use orderer_api::proto::common::msp_role::MspRoleType::{self, *};
use orderer_msp::generate::KeyKind;
use orderer_msp::{EcCurve, FabricIdentity, FabricMsp};
use ring::digest;

use crate::common::*;

fn yes(id: &FabricIdentity, p: &MspPrincipal) {
    id.satisfies_principal(p).unwrap();
}

fn no(id: &FabricIdentity, p: &MspPrincipal, why: &str) {
    let err = id.satisfies_principal(p).unwrap_err().to_string();
    assert!(err.contains(why), "{err:?} should contain {why:?}");
}

/// An organization with NodeOUs and one identity per role.
fn nodeous_ids() -> (Org, Vec<(MspRoleType, FabricIdentity)>) {
    let org = Org::new(ORG1, true);
    let msp = org.msp();
    let ids = [
        (Client, "client"),
        (Peer, "peer"),
        (Admin, "admin"),
        (Orderer, "orderer"),
    ]
    .into_iter()
    .map(|(role, ou)| (role, identity(&msp, &org.issue(ou, &[ou]).0)))
    .collect();
    (org, ids)
}

#[test]
fn member_role_is_satisfied_by_every_valid_identity() {
    let (_, ids) = nodeous_ids();
    for (_, id) in &ids {
        yes(id, &role(ORG1, Member));
    }
}

#[test]
fn each_node_ou_satisfies_its_role_only() {
    let (_, ids) = nodeous_ids();
    for (has, id) in &ids {
        for wanted in [Client, Peer, Admin, Orderer] {
            let result = id.satisfies_principal(&role(ORG1, wanted));
            assert_eq!(
                result.is_ok(),
                *has == wanted,
                "{has:?} as {wanted:?}: {result:?}"
            );
        }
    }
}

#[test]
fn client_is_not_peer() {
    let (_, ids) = nodeous_ids();
    no(
        &ids[0].1,
        &role(ORG1, Peer),
        "identity is not a peer of Org1MSP",
    );
}

#[test]
fn nodeous_admin_ou_satisfies_admin() {
    let (_, ids) = nodeous_ids();
    yes(&ids[2].1, &role(ORG1, Admin));
    no(
        &ids[0].1,
        &role(ORG1, Admin),
        "identity is not an admin of Org1MSP: not in admincerts, and the identity does not carry the ADMIN OU",
    );
}

#[test]
fn admincerts_identity_satisfies_admin_without_nodeous() {
    let org = Org::new(ORG1, false);
    let msp = org.msp();
    yes(&identity(&msp, &org.admin_pem()), &role(ORG1, Admin));
    let (other, _) = org.issue("user", &[]);
    no(
        &identity(&msp, &other),
        &role(ORG1, Admin),
        "not in admincerts, and NodeOUs are not enabled",
    );
}

#[test]
fn admincerts_identity_satisfies_admin_with_nodeous_even_as_a_client() {
    let org = Org::new(ORG1, true);
    let (admin, _) = org.issue("admin-client", &["client"]);
    let mut c = org.config.clone();
    c.admins = vec![b(&admin)];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let id = identity(&msp, &admin);
    yes(&id, &role(ORG1, Admin));
    yes(&id, &role(ORG1, Client));
}

#[test]
fn admincert_in_the_other_signature_encoding_is_still_the_admin() {
    let org = Org::new(ORG1, false);
    let flipped = flip_cert_signature(&org.admin_pem(), EcCurve::P256);
    yes(&identity(&org.msp(), &flipped), &role(ORG1, Admin));
}

#[test]
fn client_peer_and_orderer_roles_need_nodeous() {
    let org = Org::new(ORG1, false);
    let (cert, _) = org.issue("x", &["client", "peer"]);
    let id = identity(&org.msp(), &cert);
    for r in [Client, Peer, Orderer] {
        no(
            &id,
            &role(ORG1, r),
            "NodeOUs are not enabled in MSP Org1MSP",
        );
    }
}

#[test]
fn orderer_role_needs_an_orderer_ou_in_the_msp() {
    let org = Org::new(ORG1, true);
    let mut c = org.config.clone();
    c.fabric_node_ous.as_mut().unwrap().orderer_ou_identifier = None;
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let id = identity(&msp, &org.issue("o", &["peer"]).0);
    no(
        &id,
        &role(ORG1, Orderer),
        "MSP Org1MSP defines no OU for the ORDERER role",
    );
}

#[test]
fn principal_of_other_msp_is_not_satisfied() {
    let (_, ids) = nodeous_ids();
    let client = &ids[0].1;
    no(
        client,
        &role("Org2MSP", Member),
        "principal is about MSP \"Org2MSP\"",
    );
    let certifiers = client.organizational_units()[0]
        .certifiers_identifier
        .clone();
    no(client, &ou("Org2MSP", "client", &certifiers), "Org2MSP");
}

#[test]
fn unknown_role_and_classification_are_refused() {
    let (_, ids) = nodeous_ids();
    let mut p = role(ORG1, Member);
    p.principal = prost::Message::encode_to_vec(&orderer_api::proto::common::MspRole {
        msp_identifier: ORG1.into(),
        role: 9,
    })
    .into();
    no(&ids[0].1, &p, "invalid MSP role type 9");
    p.principal_classification = 42;
    no(&ids[0].1, &p, "invalid principal classification 42");
    let mut garbage = role(ORG1, Member);
    garbage.principal = bytes::Bytes::from_static(&[0xff, 0xff]);
    no(&ids[0].1, &garbage, "not a valid MSPRole");
}

#[test]
fn organization_unit_principal_needs_the_ou_and_its_certifiers() {
    let org = Org::new(ORG1, true);
    let ica = org.ca.intermediate("ica", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica.cert_pem())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let (cert, _) = ica
        .issue_with_ous("u", ORG1, &["client", "sales"], v(), KeyKind::P256)
        .unwrap();
    let id = identity(&msp, &cert);
    let certifiers = msp
        .certifiers_identifier(ica.cert_pem().as_bytes())
        .unwrap();
    yes(&id, &ou(ORG1, "sales", &certifiers));
    no(
        &id,
        &ou(ORG1, "marketing", &certifiers),
        "does not carry the OU \"marketing\"",
    );
    let root_only = msp
        .certifiers_identifier(org.ca.cert_pem().as_bytes())
        .unwrap();
    no(&id, &ou(ORG1, "sales", &root_only), "does not carry");
    no(&id, &ou(ORG1, "sales", &[]), "does not carry");
}

#[test]
fn certifiers_identifier_is_the_hash_of_the_issuing_chain() {
    // SHA-256 over the canonical DER of the issuer, then up to the root.
    let org = Org::new(ORG1, true);
    let ica = org.ca.intermediate("ica", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica.cert_pem())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let canonical = |pem: &str| {
        der(&if has_low_s(pem) {
            pem.to_string()
        } else {
            flip_cert_signature(pem, EcCurve::P256)
        })
    };
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&canonical(ica.cert_pem()));
    ctx.update(&canonical(org.ca.cert_pem()));
    let expected = ctx.finish().as_ref().to_vec();
    assert_eq!(
        msp.certifiers_identifier(ica.cert_pem().as_bytes())
            .unwrap(),
        expected
    );
    let (cert, _) = ica
        .issue_with_ous("u", ORG1, &["client"], v(), KeyKind::P256)
        .unwrap();
    let id = identity(&msp, &cert);
    assert_eq!(id.organizational_units()[0].certifiers_identifier, expected);
    let root = digest::digest(&digest::SHA256, &canonical(org.ca.cert_pem()));
    assert_eq!(
        msp.certifiers_identifier(org.ca.cert_pem().as_bytes())
            .unwrap(),
        root.as_ref()
    );
}

#[test]
fn identity_principal_is_satisfied_by_the_same_certificate_only() {
    let org = Org::new(ORG1, true);
    let msp = org.msp();
    let (alice, _) = org.issue("alice", &["client"]);
    let (bob, _) = org.issue("bob", &["client"]);
    let id = identity(&msp, &alice);
    yes(&id, &identity_principal(ORG1, &alice));
    // The same certificate in its other signature encoding names the same identity.
    yes(
        &id,
        &identity_principal(ORG1, &flip_cert_signature(&alice, EcCurve::P256)),
    );
    no(
        &id,
        &identity_principal(ORG1, &bob),
        "is not the one the principal names",
    );
    no(
        &id,
        &identity_principal("Org2MSP", &alice),
        "principal names an identity of MSP",
    );
}

#[test]
fn x509_identities_are_nominal_not_anonymous() {
    let (_, ids) = nodeous_ids();
    yes(&ids[0].1, &anonymity(Anon::Nominal));
    no(
        &ids[0].1,
        &anonymity(Anon::Anonymous),
        "X.509 identities are nominal",
    );
}

#[test]
fn combined_principal_needs_all() {
    let (_, ids) = nodeous_ids();
    let admin = &ids[2].1;
    yes(
        admin,
        &combined(vec![role(ORG1, Member), role(ORG1, Admin)]),
    );
    yes(
        admin,
        &combined(vec![
            role(ORG1, Member),
            combined(vec![anonymity(Anon::Nominal), role(ORG1, Admin)]),
        ]),
    );
    no(
        admin,
        &combined(vec![role(ORG1, Admin), role(ORG1, Peer)]),
        "part 1 of the combined principal is not satisfied",
    );
}

#[test]
fn empty_or_too_deep_combined_principal_is_refused() {
    let (_, ids) = nodeous_ids();
    no(&ids[0].1, &combined(vec![]), "has no principals");
    no(
        &ids[0].1,
        &combined(vec![role(ORG1, Member), combined(vec![])]),
        "has no principals",
    );
    let mut deep = role(ORG1, Member);
    for _ in 0..40 {
        deep = combined(vec![deep]);
    }
    no(&ids[0].1, &deep, "nested more than");
}
