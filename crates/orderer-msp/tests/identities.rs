//! MSP identities end to end: generated organizations, signatures, and every way an
//! identity or a signature is refused.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use orderer_api::proto::msp::SerializedIdentity;
use orderer_msp::generate::{Authority, Usage, Validity, new_org, write_local_msp};
use orderer_msp::{IdentityError, Msp, SignatureError, SigningIdentity, Verifier, flip_s, now};
use prost::Message;

fn org(dir: &Path, msp_id: &str) -> (Msp, SigningIdentity) {
    new_org(dir, msp_id, &["alice".to_string()], 365).unwrap();
    let msp = Msp::load(&dir.join("msp"), msp_id).unwrap();
    let alice = SigningIdentity::load(&dir.join("alice").join("msp"), msp_id).unwrap();
    (msp, alice)
}

fn creator(mspid: &str, cert_pem: &str) -> Bytes {
    SerializedIdentity {
        mspid: mspid.into(),
        id_bytes: Bytes::copy_from_slice(cert_pem.as_bytes()),
    }
    .encode_to_vec()
    .into()
}

#[test]
fn a_signed_message_verifies_and_the_creator_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (msp, alice) = org(dir.path(), "Org1MSP");
    let verifier = Verifier::new([msp]);
    let sig = alice.sign(b"payload").unwrap();
    let who = verifier.identify(alice.serialized(), now()).unwrap();
    assert_eq!(who.msp_id(), "Org1MSP");
    who.verify(b"payload", &sig).unwrap();
    assert_eq!(
        who.verify(b"other payload", &sig),
        Err(SignatureError::Invalid)
    );
    assert_eq!(who.verify(b"payload", &[]), Err(SignatureError::Missing));
    assert!(matches!(
        who.verify(b"payload", b"junk"),
        Err(SignatureError::Malformed(_))
    ));
    let again = verifier.identify(alice.serialized(), now()).unwrap();
    assert!(
        Arc::ptr_eq(&who, &again),
        "the second lookup is served from the cache"
    );
}

#[test]
fn every_signature_is_low_s_and_high_s_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (msp, alice) = org(dir.path(), "Org1MSP");
    let who = Verifier::new([msp])
        .identify(alice.serialized(), now())
        .unwrap();
    for i in 0..50u8 {
        let sig = alice.sign(&[i]).unwrap();
        who.verify(&[i], &sig).unwrap();
        let high = flip_s(&sig).unwrap();
        assert_eq!(who.verify(&[i], &high), Err(SignatureError::HighS));
    }
}

#[test]
fn identities_of_another_ca_or_msp_are_refused() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (msp1, alice) = org(d1.path(), "Org1MSP");
    let (_msp2, mallory) = org(d2.path(), "Org2MSP");
    let verifier = Verifier::new([msp1]);
    // Mallory's certificate comes from another CA but claims Org1MSP.
    let forged = creator(
        "Org1MSP",
        std::str::from_utf8(mallory.certificate_pem()).unwrap(),
    );
    assert!(matches!(
        verifier.identify(&forged, now()),
        Err(IdentityError::Untrusted { msp, .. }) if msp == "Org1MSP"
    ));
    // An MSP this orderer does not know.
    assert_eq!(
        verifier.identify(mallory.serialized(), now()),
        Err(IdentityError::UnknownMsp("Org2MSP".into()))
    );
    // Alice's certificate under a wrong MSP ID.
    let wrong_id = creator(
        "Org2MSP",
        std::str::from_utf8(alice.certificate_pem()).unwrap(),
    );
    assert_eq!(
        verifier.identify(&wrong_id, now()),
        Err(IdentityError::UnknownMsp("Org2MSP".into()))
    );
}

#[test]
fn expired_and_not_yet_valid_certificates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::root("ca", "Org1MSP", Validity::days(365)).unwrap();
    let day = Duration::from_secs(86_400);
    let t = SystemTime::now();
    let expired = Validity {
        not_before: t - 10 * day,
        not_after: t - day,
    };
    let future = Validity {
        not_before: t + day,
        not_after: t + 10 * day,
    };
    let cacerts = dir.path().join("msp").join("cacerts");
    std::fs::create_dir_all(&cacerts).unwrap();
    std::fs::write(cacerts.join("ca.pem"), ca.cert_pem()).unwrap();
    let msp = Msp::load(&dir.path().join("msp"), "Org1MSP").unwrap();
    let verifier = Verifier::new([msp]);
    let (old, _) = ca.issue("old", "Org1MSP", expired, Usage::Sign).unwrap();
    assert!(matches!(
        verifier.identify(&creator("Org1MSP", &old), now()),
        Err(IdentityError::Expired(_))
    ));
    let (early, _) = ca.issue("early", "Org1MSP", future, Usage::Sign).unwrap();
    assert!(matches!(
        verifier.identify(&creator("Org1MSP", &early), now()),
        Err(IdentityError::NotYetValid(_))
    ));
    // The same identity becomes valid once its time has come.
    let later = now() + 2 * 86_400;
    verifier
        .identify(&creator("Org1MSP", &early), later)
        .unwrap();
}

#[test]
fn intermediate_cas_chain_when_the_msp_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validity::days(30);
    let root = Authority::root("root", "Org1MSP", v).unwrap();
    let ica = root.intermediate("ica", "Org1MSP", v).unwrap();
    let (cert, key) = ica.issue("bob", "Org1MSP", v, Usage::Sign).unwrap();
    let with = dir.path().join("with");
    write_local_msp(
        &with,
        &[root.cert_pem()],
        &[ica.cert_pem()],
        &[],
        &cert,
        &key,
    )
    .unwrap();
    let without = dir.path().join("without");
    write_local_msp(&without, &[root.cert_pem()], &[], &[], &cert, &key).unwrap();

    let bob = SigningIdentity::load(&with, "Org1MSP").unwrap();
    let sig = bob.sign(b"m").unwrap();
    let who = Verifier::new([Msp::load(&with, "Org1MSP").unwrap()])
        .identify(bob.serialized(), now())
        .unwrap();
    who.verify(b"m", &sig).unwrap();
    let refused =
        Verifier::new([Msp::load(&without, "Org1MSP").unwrap()]).identify(bob.serialized(), now());
    assert!(
        matches!(refused, Err(IdentityError::Untrusted { .. })),
        "{refused:?}"
    );
}

#[test]
fn malformed_creators_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (msp, _) = org(dir.path(), "Org1MSP");
    let verifier = Verifier::new([msp]);
    assert_eq!(
        verifier.identify(&Bytes::new(), now()),
        Err(IdentityError::Missing)
    );
    assert!(matches!(
        verifier.identify(&Bytes::from_static(&[0xff, 0xff, 0xff]), now()),
        Err(IdentityError::Malformed(_))
    ));
    assert!(matches!(
        verifier.identify(&creator("Org1MSP", "not a certificate"), now()),
        Err(IdentityError::BadCertificate(_))
    ));
    let garbage_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        verifier.identify(&creator("Org1MSP", garbage_pem), now()),
        Err(IdentityError::BadCertificate(_))
    ));
}

#[test]
fn loading_names_the_missing_or_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Msp::load(dir.path(), "X").unwrap_err();
    assert!(
        err.to_string().contains("cacerts") && err.to_string().contains("no CA certificate"),
        "{err}"
    );
    std::fs::create_dir_all(dir.path().join("cacerts")).unwrap();
    std::fs::write(dir.path().join("cacerts").join("bad.pem"), "hello").unwrap();
    let err = Msp::load(dir.path(), "X").unwrap_err();
    assert!(
        err.to_string().contains("bad.pem") && err.to_string().contains("no PEM certificate"),
        "{err}"
    );

    let (d2, _) = (tempfile::tempdir().unwrap(), ());
    let (_, _) = org(d2.path(), "Org1MSP");
    let alice = d2.path().join("alice").join("msp");
    std::fs::write(
        alice.join("keystore").join("priv_sk"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = SigningIdentity::load(&alice, "Org1MSP").unwrap_err();
    assert!(
        err.to_string().contains("keystore")
            && err
                .to_string()
                .contains("no ECDSA P-256 private key matching"),
        "{err}"
    );
}

#[test]
fn sec1_keys_load_like_pkcs8_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (_, alice) = org(dir.path(), "Org1MSP");
    let msp_dir = dir.path().join("alice").join("msp");
    let pkcs8_pem = std::fs::read_to_string(msp_dir.join("keystore").join("priv_sk")).unwrap();
    // Convert with openssl when available; the conversion itself is not under test.
    let out = std::process::Command::new("openssl")
        .args(["ec", "-outform", "PEM"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(pkcs8_pem.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let sec1 = String::from_utf8(out.stdout).unwrap();
    assert!(sec1.contains("BEGIN EC PRIVATE KEY"), "openssl ec failed");
    let loaded =
        SigningIdentity::from_pem("Org1MSP", alice.certificate_pem(), sec1.as_bytes()).unwrap();
    assert_eq!(loaded.serialized(), alice.serialized());
}
