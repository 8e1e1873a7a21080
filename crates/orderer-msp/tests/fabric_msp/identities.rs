//! Identity validation: chains, the certification tree, revocation, OUs, NodeOUs and
//! the checks Go's x509 verification adds.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use orderer_api::proto::msp::FabricOuIdentifier;
use orderer_msp::generate::{Authority, KeyKind, Validity, ca_params, identity_params};
use orderer_msp::{EcCurve, FabricMsp};
use rcgen::{CustomExtension, ExtendedKeyUsagePurpose, GeneralSubtree, NameConstraints};

use crate::common::*;

const DAY: Duration = Duration::from_secs(86_400);

fn assert_contains(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "{err:?} should contain {p:?}");
    }
}

#[test]
fn identity_issued_by_the_msp_ca_is_valid() {
    let org = Org::new(ORG1, false);
    let (cert, _) = org.issue("alice", &[]);
    let id = identity(&org.msp(), &cert);
    assert!(id.subject().contains("alice"));
}

#[test]
fn identity_from_an_unknown_ca_is_refused() {
    let org = Org::new(ORG1, false);
    let other = Org::new("Other", false);
    let (cert, _) = other.issue("mallory", &[]);
    assert_contains(
        &refused(&org.msp(), &cert),
        &["not valid for MSP Org1MSP", "not issued by a CA"],
    );
}

#[test]
fn intermediate_ca_chain_is_accepted() {
    let org = Org::new(ORG1, true);
    let ica = org.ca.intermediate("ica", ORG1, v()).unwrap();
    let (cert, _) = ica
        .issue_with_ous("bob", ORG1, &["client"], v(), KeyKind::P256)
        .unwrap();
    let mut c = org.config.clone();
    refused(&org.msp(), &cert);
    c.intermediate_certs = vec![b(ica.cert_pem())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    identity(&msp, &cert);
}

#[test]
fn identity_issued_by_a_ca_with_intermediates_below_it_is_refused() {
    // Only CAs at the bottom of the certification tree issue identities.
    let org = Org::new(ORG1, true);
    let ica = org.ca.intermediate("ica", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica.cert_pem())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let (direct, _) = org.issue("direct", &["client"]);
    assert_contains(
        &refused(&msp, &direct),
        &["bottom of the certification tree"],
    );
}

#[test]
fn two_level_intermediate_chain_is_accepted() {
    let org = Org::new(ORG1, true);
    let ica1 = org.ca.intermediate("ica1", ORG1, v()).unwrap();
    let ica2 = ica1.intermediate("ica2", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica2.cert_pem()), b(ica1.cert_pem())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let (cert, _) = ica2
        .issue_with_ous("carol", ORG1, &["peer"], v(), KeyKind::P256)
        .unwrap();
    identity(&msp, &cert);
    let (from_ica1, _) = ica1
        .issue_with_ous("dave", ORG1, &["peer"], v(), KeyKind::P256)
        .unwrap();
    refused(&msp, &from_ica1);
}

#[test]
fn revoked_certificate_is_refused() {
    let org = Org::new(ORG1, true);
    let (revoked, _) = org.issue("revoked", &["client"]);
    let (kept, _) = org.issue("kept", &["client"]);
    let mut c = org.config.clone();
    c.revocation_list = vec![b(&org.ca.crl(&[&revoked]).unwrap())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    assert_contains(&refused(&msp, &revoked), &["revoked"]);
    identity(&msp, &kept);
}

#[test]
fn crl_of_the_issuing_intermediate_revokes() {
    let org = Org::new(ORG1, true);
    let ica = org.ca.intermediate("ica", ORG1, v()).unwrap();
    let (cert, _) = ica
        .issue_with_ous("eve", ORG1, &["client"], v(), KeyKind::P256)
        .unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica.cert_pem())];
    // The root's CRL does not apply to the intermediate's certificates.
    c.revocation_list = vec![b(&org.ca.crl(&[&cert]).unwrap())];
    identity(&Arc::new(FabricMsp::from_config(&c).unwrap()), &cert);
    c.revocation_list = vec![b(&ica.crl(&[&cert]).unwrap())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    assert_contains(&refused(&msp, &cert), &["revoked"]);
}

#[test]
fn crl_of_another_ca_does_not_revoke() {
    let org = Org::new(ORG1, true);
    let other = Authority::root("other", "Other", v()).unwrap();
    let (cert, _) = org.issue("frank", &["client"]);
    let mut c = org.config.clone();
    c.revocation_list = vec![b(&other.crl(&[&cert]).unwrap())];
    identity(&Arc::new(FabricMsp::from_config(&c).unwrap()), &cert);
}

#[test]
fn ca_certificate_cannot_be_an_identity() {
    let org = Org::new(ORG1, true);
    let ica = org.ca.intermediate("ica", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica.cert_pem())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    assert_contains(&refused(&msp, ica.cert_pem()), &["CA certificate"]);
    assert_contains(&refused(&msp, org.ca.cert_pem()), &["CA certificate"]);
}

#[test]
fn identity_is_checked_at_its_issuance_so_a_later_ca_expiry_does_not_matter() {
    // Fabric validates the chain at the identity's NotBefore: a CA that expired after
    // issuing the identity still vouches for it.
    let t = SystemTime::now();
    let ca_validity = Validity {
        not_before: t - 10 * DAY,
        not_after: t - DAY,
    };
    let ca = Authority::root("ca", ORG1, ca_validity).unwrap();
    let mut c = config(ORG1, &[ca.cert_pem()]);
    c.fabric_node_ous = Some(node_ous(None));
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let during = Validity {
        not_before: t - 5 * DAY,
        not_after: t + 5 * DAY,
    };
    let (cert, _) = ca
        .issue_with_ous("grace", ORG1, &["client"], during, KeyKind::P256)
        .unwrap();
    let id = identity(&msp, &cert);
    id.check_time(orderer_msp::now()).unwrap();
    // Issued before the CA was valid: refused.
    let before = Validity {
        not_before: t - 20 * DAY,
        not_after: t + 5 * DAY,
    };
    let (early, _) = ca
        .issue_with_ous("early", ORG1, &["client"], before, KeyKind::P256)
        .unwrap();
    assert_contains(
        &refused(&msp, &early),
        &["is not valid when the certificate was issued"],
    );
}

#[test]
fn expired_and_not_yet_valid_identities_fail_the_time_check() {
    let t = SystemTime::now();
    let ca_validity = Validity {
        not_before: t - 20 * DAY,
        not_after: t + 20 * DAY,
    };
    let ca = Authority::root("ca", ORG1, ca_validity).unwrap();
    let mut c = config(ORG1, &[ca.cert_pem()]);
    c.fabric_node_ous = Some(node_ous(None));
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let issue = |not_before, not_after| {
        let validity = Validity {
            not_before,
            not_after,
        };
        ca.issue_with_ous("x", ORG1, &["client"], validity, KeyKind::P256)
            .unwrap()
            .0
    };
    let now = orderer_msp::now();
    let old = identity(&msp, &issue(t - 10 * DAY, t - DAY));
    assert_contains(&old.check_time(now).unwrap_err().to_string(), &["expired"]);
    let future = identity(&msp, &issue(t + DAY, t + 10 * DAY));
    assert_contains(
        &future.check_time(now).unwrap_err().to_string(),
        &["not valid before"],
    );
    future.check_time(now + 2 * 86_400).unwrap();
}

#[test]
fn identity_must_carry_one_of_the_configured_ou_identifiers() {
    let org = Org::new(ORG1, true);
    let mut c = org.config.clone();
    c.organizational_unit_identifiers = vec![FabricOuIdentifier {
        certificate: b(org.ca.cert_pem()),
        organizational_unit_identifier: "COP".into(),
    }];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let (with, _) = org.issue("with", &["client", "COP"]);
    identity(&msp, &with);
    let (without, _) = org.issue("without", &["client"]);
    assert_contains(
        &refused(&msp, &without),
        &["none of the identity's organizational units"],
    );
}

#[test]
fn nodeous_identity_without_a_node_ou_is_refused() {
    let org = Org::new(ORG1, true);
    let (cert, _) = org.issue("nobody", &["sales"]);
    assert_contains(
        &refused(&org.msp(), &cert),
        &["no OU that classifies it", "sales"],
    );
    let (none, _) = org.issue("none", &[]);
    refused(&org.msp(), &none);
}

#[test]
fn identity_with_two_node_ous_is_refused() {
    let org = Org::new(ORG1, true);
    for ous in [
        ["client", "peer"],
        ["admin", "orderer"],
        ["client", "client"],
    ] {
        let (cert, _) = org.issue("twice", &ous);
        assert_contains(&refused(&org.msp(), &cert), &["exactly one"]);
    }
}

#[test]
fn node_ous_without_enforcement_accept_any_identity() {
    let org = Org::new(ORG1, false);
    let (cert, _) = org.issue("plain", &["client", "peer"]);
    identity(&org.msp(), &cert);
}

#[test]
fn node_ou_bound_to_a_ca_refuses_the_ou_from_another_ca() {
    let org = Org::new(ORG1, true);
    let ica_a = org.ca.intermediate("ica-a", ORG1, v()).unwrap();
    let ica_b = org.ca.intermediate("ica-b", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica_a.cert_pem()), b(ica_b.cert_pem())];
    c.fabric_node_ous = Some(node_ous(Some(ica_a.cert_pem())));
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let issue = |ca: &Authority| {
        ca.issue_with_ous("x", ORG1, &["client"], v(), KeyKind::P256)
            .unwrap()
            .0
    };
    identity(&msp, &issue(&ica_a));
    assert_contains(
        &refused(&msp, &issue(&ica_b)),
        &["certifiers identifier does not match"],
    );
}

#[test]
fn identity_with_client_auth_only_extended_key_usage_is_refused_like_go() {
    // Go's x509 verification, which Fabric uses, defaults to serverAuth.
    let org = Org::new(ORG1, true);
    let key = KeyKind::P256.generate().unwrap();
    let mut p = identity_params("tls-client", ORG1, &["client"], v()).unwrap();
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = org.ca.sign(&p, &key).unwrap();
    assert_contains(&refused(&org.msp(), &cert), &["incompatible key usage"]);
    p.extended_key_usages
        .push(ExtendedKeyUsagePurpose::ServerAuth);
    identity(&org.msp(), &org.ca.sign(&p, &key).unwrap());
}

#[test]
fn identity_with_an_unhandled_critical_extension_is_refused() {
    let org = Org::new(ORG1, true);
    let key = KeyKind::P256.generate().unwrap();
    let mut p = identity_params("odd", ORG1, &["client"], v()).unwrap();
    let mut ext = CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
    ext.set_criticality(true);
    p.custom_extensions = vec![ext];
    let cert = org.ca.sign(&p, &key).unwrap();
    assert_contains(
        &refused(&org.msp(), &cert),
        &["unhandled critical extension 1.2.3.4"],
    );
}

#[test]
fn identity_under_a_name_constrained_ca_is_refused() {
    // Name constraints are not evaluated here, so such CAs vouch for nobody.
    let org = Org::new(ORG1, true);
    let mut p = ca_params("constrained", ORG1, v()).unwrap();
    p.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName("example.com".into())],
        excluded_subtrees: vec![],
    });
    let ica = org
        .ca
        .custom_intermediate(p, KeyKind::P256.generate().unwrap())
        .unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica.cert_pem())];
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let (cert, _) = ica
        .issue_with_ous("x", ORG1, &["client"], v(), KeyKind::P256)
        .unwrap();
    assert_contains(&refused(&msp, &cert), &["name constraints"]);
}

#[test]
fn path_length_constraint_is_enforced() {
    let org = Org::new(ORG1, true);
    let mut p = ca_params("ica1", ORG1, v()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let ica1 = org
        .ca
        .custom_intermediate(p, KeyKind::P256.generate().unwrap())
        .unwrap();
    let ica2 = ica1.intermediate("ica2", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica1.cert_pem()), b(ica2.cert_pem())];
    // ica1 may issue ica2 (no intermediate between them), but not vouch for ica2's
    // identities.
    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    let (cert, _) = ica2
        .issue_with_ous("x", ORG1, &["client"], v(), KeyKind::P256)
        .unwrap();
    assert_contains(
        &refused(&msp, &cert),
        &["allows 0 intermediate CAs below it"],
    );
}

#[test]
fn identity_certificate_is_held_in_fabric_canonical_low_s_form() {
    // Whichever S the CA's signature has, the identity is the low-S certificate.
    let org = Org::new(ORG1, true);
    let (cert, _) = org.issue("canon", &["client"]);
    let flipped = flip_cert_signature(&cert, EcCurve::P256);
    let msp = org.msp();
    let a = identity(&msp, &cert);
    let b = identity(&msp, &flipped);
    assert_eq!(a.certificate_der(), b.certificate_der());
    let low = if has_low_s(&cert) { &cert } else { &flipped };
    assert_eq!(a.certificate_der(), der(low));
    assert_eq!(
        orderer_api::policies::Identity::unique_id(&a),
        orderer_api::policies::Identity::unique_id(&b)
    );
}

#[test]
fn p384_ca_and_identity_are_valid() {
    let org = Org::with_key(ORG1, true, KeyKind::P384);
    let (cert, _) = org
        .ca
        .issue_with_ous("p384", ORG1, &["client"], v(), KeyKind::P384)
        .unwrap();
    identity(&org.msp(), &cert);
    let flipped = flip_cert_signature(&cert, EcCurve::P384);
    assert_eq!(
        identity(&org.msp(), &cert).certificate_der(),
        identity(&org.msp(), &flipped).certificate_der()
    );
}
