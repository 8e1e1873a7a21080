//! MSP directories in Fabric's layout, read into a `FabricMSPConfig` as Fabric's
//! configbuilder does.

use std::path::Path;
use std::sync::Arc;

use orderer_api::policies::IdentityDeserializer;
use orderer_api::proto::common::msp_role::MspRoleType;
use orderer_msp::generate::{Authority, KeyKind, new_org};
use orderer_msp::{
    FabricMsp, MspManager, NodeRole, SigningIdentity, msp_config_from_dir,
    msp_config_from_dir_with_warnings,
};

use crate::common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const NODEOUS_YAML: &str = r#"
OrganizationalUnitIdentifiers:
  - Certificate: "cacerts/ca.pem"
    OrganizationalUnitIdentifier: "COP"
NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: /cacerts/ca.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    OrganizationalUnitIdentifier: ""
  Unknown: ignored
"#;

#[test]
fn msp_directory_reads_into_a_fabric_msp_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Authority::root("ca", ORG1, v()).unwrap();
    let ica = ca.intermediate("ica", ORG1, v()).unwrap();
    let tls = Authority::root("tlsca", ORG1, v()).unwrap();
    let (revoked, _) = ica
        .issue_with_ous("revoked", ORG1, &["client", "COP"], v(), KeyKind::P256)
        .unwrap();
    write(&d.join("cacerts/ca.pem"), ca.cert_pem());
    write(&d.join("intermediatecerts/ica.pem"), ica.cert_pem());
    write(&d.join("tlscacerts/tls.pem"), tls.cert_pem());
    write(&d.join("crls/crl.pem"), &ica.crl(&[&revoked]).unwrap());
    write(&d.join("config.yaml"), NODEOUS_YAML);
    std::fs::create_dir_all(d.join("cacerts/subdir")).unwrap();

    let c = msp_config_from_dir(d, ORG1).unwrap();
    assert_eq!(c.name, ORG1);
    assert_eq!(c.root_certs, [b(ca.cert_pem())]);
    assert_eq!(c.intermediate_certs, [b(ica.cert_pem())]);
    assert_eq!(c.tls_root_certs, [b(tls.cert_pem())]);
    assert_eq!(c.revocation_list.len(), 1);
    assert!(c.admins.is_empty());
    assert_eq!(c.organizational_unit_identifiers.len(), 1);
    assert_eq!(
        c.organizational_unit_identifiers[0].certificate,
        b(ca.cert_pem())
    );
    let n = c.fabric_node_ous.clone().unwrap();
    assert!(n.enable);
    // Paths are relative to the MSP directory, a leading slash included.
    assert_eq!(
        n.client_ou_identifier.unwrap().certificate,
        b(ca.cert_pem())
    );
    assert!(n.peer_ou_identifier.unwrap().certificate.is_empty());
    assert!(
        n.orderer_ou_identifier.is_none(),
        "an empty OU leaves the role out"
    );
    let crypto = c.crypto_config.clone().unwrap();
    assert_eq!(
        (
            crypto.signature_hash_family.as_str(),
            crypto.identity_identifier_hash_function.as_str()
        ),
        ("SHA2", "SHA256")
    );

    let msp = Arc::new(FabricMsp::from_config(&c).unwrap());
    assert!(msp.node_ous_enabled());
    assert_eq!(msp.node_ou(NodeRole::Orderer), None);
    // The OU identifier bound to the root does not cover identities of the
    // intermediate: their certifiers identifier is the chain intermediate-root.
    let (admin, _) = ica
        .issue_with_ous("admin", ORG1, &["admin", "COP"], v(), KeyKind::P256)
        .unwrap();
    let err = msp
        .identity_from_pem(admin.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("none of the identity's organizational units"),
        "{err}"
    );
    assert!(msp.identity_from_pem(revoked.as_bytes()).is_err());
}

#[test]
fn missing_or_empty_cacerts_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = msp_config_from_dir(dir.path(), ORG1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cacerts") && err.contains("no CA certificate"),
        "{err}"
    );
    let err = msp_config_from_dir(&dir.path().join("nope"), ORG1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a directory"), "{err}");
}

#[test]
fn files_without_pem_are_skipped_with_a_warning_like_fabric() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::root("ca", ORG1, v()).unwrap();
    write(&dir.path().join("cacerts/ca.pem"), ca.cert_pem());
    write(
        &dir.path().join("admincerts/readme.txt"),
        "not a certificate",
    );
    let (c, warnings) = msp_config_from_dir_with_warnings(dir.path(), ORG1).unwrap();
    assert!(c.admins.is_empty());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("readme.txt") && warnings[0].contains("no PEM block"));
    // A cacerts/ without any PEM file is still an error.
    std::fs::remove_file(dir.path().join("cacerts/ca.pem")).unwrap();
    write(&dir.path().join("cacerts/ca.der"), "binary");
    let err = msp_config_from_dir(dir.path(), ORG1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no CA certificate"), "{err}");
}

#[test]
fn tls_intermediates_are_read_only_with_tls_roots() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::root("ca", ORG1, v()).unwrap();
    let ica = ca.intermediate("ica", ORG1, v()).unwrap();
    write(&dir.path().join("cacerts/ca.pem"), ca.cert_pem());
    write(
        &dir.path().join("tlsintermediatecerts/ica.pem"),
        ica.cert_pem(),
    );
    let c = msp_config_from_dir(dir.path(), ORG1).unwrap();
    assert!(c.tls_intermediate_certs.is_empty());
    write(&dir.path().join("tlscacerts/ca.pem"), ca.cert_pem());
    let c = msp_config_from_dir(dir.path(), ORG1).unwrap();
    assert_eq!(c.tls_intermediate_certs, [b(ica.cert_pem())]);
}

#[test]
fn config_yaml_variants() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::root("ca", ORG1, v()).unwrap();
    write(&dir.path().join("cacerts/ca.pem"), ca.cert_pem());
    let yaml = dir.path().join("config.yaml");
    for (text, nodeous) in [
        ("", false),
        ("# only a comment\n", false),
        (
            "NodeOUs:\n  Enable: false\n  ClientOUIdentifier:\n    OrganizationalUnitIdentifier: c\n",
            false,
        ),
        (
            "OrganizationalUnitIdentifiers:\nNodeOUs:\n  Enable: true\n  PeerOUIdentifier:\n    OrganizationalUnitIdentifier: p\n",
            true,
        ),
    ] {
        write(&yaml, text);
        let c = msp_config_from_dir(dir.path(), ORG1).unwrap();
        assert_eq!(c.fabric_node_ous.is_some(), nodeous, "{text:?}");
        assert!(c.organizational_unit_identifiers.is_empty());
    }
    write(&yaml, "NodeOUs: [1, 2");
    let err = msp_config_from_dir(dir.path(), ORG1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.yaml") && err.contains("not a valid"),
        "{err}"
    );
    // A NodeOU certificate that cannot be read leaves the OU unbound (as Fabric).
    write(
        &yaml,
        "NodeOUs:\n  Enable: true\n  AdminOUIdentifier:\n    Certificate: cacerts/missing.pem\n    OrganizationalUnitIdentifier: admin\n",
    );
    let (c, warnings) = msp_config_from_dir_with_warnings(dir.path(), ORG1).unwrap();
    let admin = c.fabric_node_ous.unwrap().admin_ou_identifier.unwrap();
    assert!(admin.certificate.is_empty());
    assert!(warnings[0].contains("missing.pem") && warnings[0].contains("AdminOUIdentifier"));
    // A missing OrganizationalUnitIdentifiers certificate is an error (as Fabric).
    write(
        &yaml,
        "OrganizationalUnitIdentifiers:\n  - Certificate: cacerts/missing.pem\n    OrganizationalUnitIdentifier: COP\n",
    );
    let err = msp_config_from_dir(dir.path(), ORG1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.pem"), "{err}");
}

#[test]
fn fabric_sample_msp_loads_if_present() {
    // Skips (saying so) without FABRIC_BIN, except under CI, where that fails.
    let Some(bin) = orderer_testkit::fabric::fabric_bin(&[], &["msp"]) else {
        return;
    };
    let dir = bin.join("../config/msp");
    let c = msp_config_from_dir(&dir, "SampleOrg").unwrap();
    assert_eq!(c.organizational_unit_identifiers.len(), 1);
    assert!(
        c.fabric_node_ous.is_none(),
        "the sample has NodeOUs disabled"
    );
    let m = MspManager::new([FabricMsp::from_config(&c).unwrap()]).unwrap();
    let signer = SigningIdentity::load(&dir, "SampleOrg").unwrap();
    let id = m.deserialize_identity(signer.serialized()).unwrap();
    id.verify(b"sample", &signer.sign(b"sample").unwrap())
        .unwrap();
    id.satisfies_principal(&role("SampleOrg", MspRoleType::Member))
        .unwrap();
    let admin = std::fs::read_to_string(dir.join("admincerts/admincert.pem")).unwrap();
    let admin = m
        .deserialize_identity(&serialized("SampleOrg", &admin))
        .unwrap();
    admin
        .satisfies_principal(&role("SampleOrg", MspRoleType::Admin))
        .unwrap();
}

#[test]
fn new_org_writes_an_msp_with_node_ous() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["orderer0", "peer0", "Admin", "client"].map(String::from);
    new_org(dir.path(), ORG1, &names, 30).unwrap();
    let c = msp_config_from_dir(&dir.path().join("msp"), ORG1).unwrap();
    let m = MspManager::new([FabricMsp::from_config(&c).unwrap()]).unwrap();
    for (name, r) in [
        ("orderer0", MspRoleType::Orderer),
        ("peer0", MspRoleType::Peer),
        ("Admin", MspRoleType::Admin),
        ("client", MspRoleType::Client),
    ] {
        let local = dir.path().join(name).join("msp");
        // Each local MSP reads like the organization's.
        FabricMsp::from_config(&msp_config_from_dir(&local, ORG1).unwrap()).unwrap();
        let signer = SigningIdentity::load(&local, ORG1).unwrap();
        let id = m.deserialize_identity(signer.serialized()).unwrap();
        id.satisfies_principal(&role(ORG1, r)).unwrap();
        id.verify(b"m", &signer.sign(b"m").unwrap()).unwrap();
        let other = if r == MspRoleType::Client {
            MspRoleType::Peer
        } else {
            MspRoleType::Client
        };
        id.satisfies_principal(&role(ORG1, other))
            .unwrap_err()
            .to_string();
    }
}
