//! Setting up an MSP from its configuration: what is refused, and why.

use bytes::Bytes;
use orderer_api::proto::msp::{FabricCryptoConfig, FabricOuIdentifier, MspConfig};
use orderer_msp::generate::{Authority, KeyKind, ca_params};
use orderer_msp::{FabricMsp, NodeRole, msp_config};

use crate::common::*;

fn setup_error(config: &orderer_api::proto::msp::FabricMspConfig) -> String {
    FabricMsp::from_config(config).unwrap_err().to_string()
}

fn assert_contains(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "{err:?} should contain {p:?}");
    }
}

#[test]
fn msp_without_root_certs_is_refused() {
    let err = setup_error(&config(ORG1, &[]));
    assert_contains(&err, &["MSP Org1MSP", "no root CA certificate"]);
}

#[test]
fn msp_config_without_name_is_refused() {
    let org = Org::new(ORG1, true);
    let mut c = org.config.clone();
    c.name.clear();
    assert_contains(&setup_error(&c), &["no name"]);
}

#[test]
fn msp_config_of_type_fabric_sets_up_and_idemix_is_refused() {
    let org = Org::new(ORG1, true);
    let msp = FabricMsp::from_msp_config(&msp_config(&org.config)).unwrap();
    assert_eq!(msp.id(), ORG1);
    let idemix = MspConfig {
        r#type: 1,
        config: Bytes::new(),
    };
    assert_contains(
        &FabricMsp::from_msp_config(&idemix).unwrap_err().to_string(),
        &["Idemix", "not supported"],
    );
    let other = MspConfig {
        r#type: 7,
        config: Bytes::new(),
    };
    assert_contains(
        &FabricMsp::from_msp_config(&other).unwrap_err().to_string(),
        &["type 7"],
    );
    let garbage = MspConfig {
        r#type: 0,
        config: Bytes::from_static(&[0xff, 0xff]),
    };
    assert_contains(
        &FabricMsp::from_msp_config(&garbage)
            .unwrap_err()
            .to_string(),
        &["not a valid FabricMSPConfig"],
    );
}

#[test]
fn crypto_config_other_than_sha2_is_refused_at_setup_with_its_name() {
    let org = Org::new(ORG1, true);
    let with = |family: &str, id_hash: &str| {
        let mut c = org.config.clone();
        c.crypto_config = Some(FabricCryptoConfig {
            signature_hash_family: family.into(),
            identity_identifier_hash_function: id_hash.into(),
        });
        FabricMsp::from_config(&c)
    };
    with("SHA2", "SHA256").unwrap();
    with("", "").unwrap();
    with("SHA2", "SHA384").unwrap();
    assert_contains(
        &with("SHA3", "SHA256").unwrap_err().to_string(),
        &["Org1MSP", "\"SHA3\""],
    );
    assert_contains(
        &with("SHA2", "SHA3_256").unwrap_err().to_string(),
        &["\"SHA3_256\""],
    );
}

#[test]
fn root_ca_without_the_ca_flag_is_refused() {
    let mut params = ca_params("ca", ORG1, v()).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let not_ca = Authority::custom_root(params, KeyKind::P256.generate().unwrap()).unwrap();
    let mut c = config(ORG1, &[not_ca.cert_pem()]);
    c.fabric_node_ous = Some(node_ous(None));
    assert_contains(
        &setup_error(&c),
        &["Org1MSP", "is not a self-signed CA certificate"],
    );
}

#[test]
fn malformed_root_certificate_names_its_entry() {
    let c = config(
        ORG1,
        &["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
    );
    assert_contains(&setup_error(&c), &["Org1MSP", "root CA certificate 0"]);
    let c = config(ORG1, &["hello"]);
    assert_contains(&setup_error(&c), &["root CA certificate 0", "no PEM"]);
}

#[test]
fn intermediate_not_issued_by_a_root_is_refused() {
    let org = Org::new(ORG1, true);
    let other = Authority::root("other", "Other", v()).unwrap();
    let ica = other.intermediate("ica", "Other", v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica.cert_pem())];
    assert_contains(
        &setup_error(&c),
        &[
            "intermediate CA certificate 0",
            "was not issued by a CA of the MSP",
        ],
    );
}

#[test]
fn revoked_intermediate_ca_is_refused_at_setup() {
    let org = Org::new(ORG1, true);
    let ica = org.ca.intermediate("ica", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.intermediate_certs = vec![b(ica.cert_pem())];
    FabricMsp::from_config(&c).unwrap();
    c.revocation_list = vec![b(&org.ca.crl(&[ica.cert_pem()]).unwrap())];
    assert_contains(
        &setup_error(&c),
        &["intermediate CA certificate", "revoked"],
    );
}

#[test]
fn revocation_list_that_is_not_a_crl_is_refused() {
    let org = Org::new(ORG1, true);
    let mut c = org.config.clone();
    c.revocation_list = vec![Bytes::from_static(b"not a crl")];
    assert_contains(&setup_error(&c), &["revocation list 0", "not an X.509 CRL"]);
}

#[test]
fn admins_are_required_without_an_admin_node_ou() {
    let org = Org::new(ORG1, false);
    let mut c = org.config.clone();
    c.admins.clear();
    assert_contains(&setup_error(&c), &["no administrators"]);
    // NodeOUs with an admin OU stand in for admincerts...
    c.fabric_node_ous = Some(node_ous(None));
    FabricMsp::from_config(&c).unwrap();
    // ...but not NodeOUs without one.
    c.fabric_node_ous.as_mut().unwrap().admin_ou_identifier = None;
    assert_contains(&setup_error(&c), &["no administrators"]);
}

#[test]
fn admin_from_an_unknown_ca_is_refused() {
    let org = Org::new(ORG1, false);
    let other = Org::new("Other", false);
    let mut c = org.config.clone();
    c.admins = vec![other.config.admins[0].clone()];
    assert_contains(
        &setup_error(&c),
        &["admin certificate 0", "not issued by a CA"],
    );
}

#[test]
fn admin_must_be_a_valid_identity_without_nodeous() {
    // With OU identifiers configured, an admin without the OU is not a valid identity.
    let org = Org::new(ORG1, false);
    let mut c = org.config.clone();
    c.organizational_unit_identifiers = vec![FabricOuIdentifier {
        certificate: b(org.ca.cert_pem()),
        organizational_unit_identifier: "COP".into(),
    }];
    assert_contains(
        &setup_error(&c),
        &["admin certificate 0 is not a valid identity", "OU"],
    );
}

#[test]
fn admincert_must_be_a_client_or_an_admin_with_nodeous() {
    let org = Org::new(ORG1, true);
    let mut c = org.config.clone();
    for (ous, ok) in [
        (&["client"][..], true),
        (&["admin"], true),
        (&["peer"], false),
        (&["orderer"], false),
    ] {
        let (admin, _) = org.issue("admin", ous);
        c.admins = vec![b(&admin)];
        let result = FabricMsp::from_config(&c);
        assert_eq!(result.is_ok(), ok, "{ous:?}: {result:?}");
        if !ok {
            assert_contains(
                &result.unwrap_err().to_string(),
                &["neither a client nor an admin"],
            );
        }
    }
}

#[test]
fn ou_identifier_certificate_must_be_a_ca_of_the_msp() {
    let org = Org::new(ORG1, true);
    let other = Authority::root("other", "Other", v()).unwrap();
    let mut c = org.config.clone();
    c.organizational_unit_identifiers = vec![FabricOuIdentifier {
        certificate: b(other.cert_pem()),
        organizational_unit_identifier: "COP".into(),
    }];
    assert_contains(
        &setup_error(&c),
        &["organizational unit identifier 0 (\"COP\")"],
    );
}

#[test]
fn node_ou_certificate_must_be_a_ca_of_the_msp() {
    let org = Org::new(ORG1, true);
    let other = Authority::root("other", "Other", v()).unwrap();
    let mut c = org.config.clone();
    c.fabric_node_ous = Some(node_ous(Some(other.cert_pem())));
    assert_contains(&setup_error(&c), &["NodeOUs", "CLIENT"]);
    c.fabric_node_ous = Some(node_ous(Some(org.ca.cert_pem())));
    FabricMsp::from_config(&c).unwrap();
}

#[test]
fn node_ous_without_any_ou_identifier_are_not_enforced() {
    let org = Org::new(ORG1, false);
    let mut c = org.config.clone();
    let mut n = node_ous(None);
    n.client_ou_identifier = None;
    n.peer_ou_identifier = None;
    n.admin_ou_identifier = None;
    n.orderer_ou_identifier = None;
    c.fabric_node_ous = Some(n);
    assert!(!FabricMsp::from_config(&c).unwrap().node_ous_enabled());
}

#[test]
fn disabled_node_ous_are_known_but_not_enforced() {
    let org = Org::new(ORG1, false);
    let mut c = org.config.clone();
    let mut n = node_ous(None);
    n.enable = false;
    c.fabric_node_ous = Some(n);
    let msp = FabricMsp::from_config(&c).unwrap();
    assert!(!msp.node_ous_enabled());
    assert_eq!(msp.node_ou(NodeRole::Orderer), Some("orderer"));
}

#[test]
fn tls_cas_are_kept_and_must_be_cas() {
    let org = Org::new(ORG1, true);
    let tls = Authority::root("tlsca", ORG1, v()).unwrap();
    let tls_ica = tls.intermediate("tlsica", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.tls_root_certs = vec![b(tls.cert_pem())];
    c.tls_intermediate_certs = vec![b(tls_ica.cert_pem())];
    let msp = FabricMsp::from_config(&c).unwrap();
    assert_eq!(msp.tls_root_certs(), &[b(tls.cert_pem())]);
    assert_eq!(msp.tls_intermediate_certs(), &[b(tls_ica.cert_pem())]);

    let (leaf, _) = tls
        .issue_with_ous("server", ORG1, &[], v(), KeyKind::P256)
        .unwrap();
    c.tls_intermediate_certs = vec![b(&leaf)];
    assert_contains(&setup_error(&c), &["TLS CA certificate", "not a CA"]);
}

#[test]
fn root_ca_that_is_not_self_signed_is_refused() {
    // An intermediate listed as a root: Fabric cannot rewrite its signature (it has no
    // issuer among the roots) and refuses it.
    let org = Org::new(ORG1, true);
    let ica = org.ca.intermediate("ica", ORG1, v()).unwrap();
    let mut c = config(ORG1, &[ica.cert_pem()]);
    c.fabric_node_ous = Some(node_ous(None));
    assert_contains(
        &setup_error(&c),
        &["root CA certificate 0", "not a self-signed CA"],
    );
}

#[test]
fn only_the_first_pem_block_of_an_entry_counts() {
    // Two roots in one entry: Fabric reads the first only.
    let org = Org::new(ORG1, true);
    let second = Authority::root("second", ORG1, v()).unwrap();
    let mut c = org.config.clone();
    c.root_certs = vec![b(&format!("{}{}", org.ca.cert_pem(), second.cert_pem()))];
    let msp = std::sync::Arc::new(FabricMsp::from_config(&c).unwrap());
    let (first_id, _) = org.issue("a", &["client"]);
    let (second_id, _) = second
        .issue_with_ous("b", ORG1, &["client"], v(), KeyKind::P256)
        .unwrap();
    identity(&msp, &first_id);
    refused(&msp, &second_id);
}
