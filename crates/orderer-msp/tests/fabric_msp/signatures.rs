//! Signatures as Fabric's default BCCSP verifies them: SHA-256 of the message for P-256
//! and P-384 keys, DER ECDSA, low S only.

use orderer_api::policies::Identity;
use orderer_msp::generate::KeyKind;
use orderer_msp::{EcCurve, flip_s_on};

use crate::common::*;

#[test]
fn p256_signature_verifies_and_other_data_does_not() {
    let org = Org::new(ORG1, true);
    let (cert, key) = org.issue("alice", &["client"]);
    let id = identity(&org.msp(), &cert);
    let sig = sign(ORG1, &cert, &key, b"payload");
    id.verify(b"payload", &sig).unwrap();
    let err = id.verify(b"other", &sig).unwrap_err().to_string();
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn high_s_signature_is_refused() {
    let org = Org::new(ORG1, true);
    let (cert, key) = org.issue("alice", &["client"]);
    let id = identity(&org.msp(), &cert);
    for i in 0..20u8 {
        let sig = sign(ORG1, &cert, &key, &[i]);
        id.verify(&[i], &sig).unwrap();
        let high = flip_s_on(EcCurve::P256, &sig).unwrap();
        let err = id.verify(&[i], &high).unwrap_err().to_string();
        assert!(err.contains("high S"), "{err}");
    }
}

#[test]
fn malformed_and_empty_signatures_are_refused() {
    let org = Org::new(ORG1, true);
    let (cert, _) = org.issue("alice", &["client"]);
    let id = identity(&org.msp(), &cert);
    assert!(
        id.verify(b"m", b"")
            .unwrap_err()
            .to_string()
            .contains("empty")
    );
    assert!(
        id.verify(b"m", b"junk")
            .unwrap_err()
            .to_string()
            .contains("not a DER")
    );
}

#[test]
fn bytes_after_the_der_signature_are_ignored_like_fabric() {
    // Fabric unmarshals signatures with Go's asn1.Unmarshal, which ignores the rest.
    let org = Org::new(ORG1, true);
    let (cert, key) = org.issue("alice", &["client"]);
    let id = identity(&org.msp(), &cert);
    let mut sig = sign(ORG1, &cert, &key, b"m");
    sig.extend_from_slice(b"trailing");
    id.verify(b"m", &sig).unwrap();
}

#[test]
fn extra_integer_inside_the_signature_is_ignored_like_fabric() {
    // Go's asn1.Unmarshal lets a SEQUENCE carry more elements than the struct has.
    let org = Org::new(ORG1, true);
    let (cert, key) = org.issue("alice", &["client"]);
    let id = identity(&org.msp(), &cert);
    let sig = sign(ORG1, &cert, &key, b"m");
    let mut longer = vec![0x30, sig[1] + 3];
    longer.extend_from_slice(&sig[2..]);
    longer.extend_from_slice(&[0x02, 0x01, 0x64]);
    id.verify(b"m", &longer).unwrap();
}

#[test]
fn signature_of_another_identity_is_refused() {
    let org = Org::new(ORG1, true);
    let (alice, _) = org.issue("alice", &["client"]);
    let (bob, bob_key) = org.issue("bob", &["client"]);
    let sig = sign(ORG1, &bob, &bob_key, b"m");
    identity(&org.msp(), &alice)
        .verify(b"m", &sig)
        .unwrap_err()
        .to_string();
}

fn p384_identity() -> Option<(orderer_msp::FabricIdentity, String)> {
    let org = Org::with_key(ORG1, true, KeyKind::P384);
    let (cert, key) = org
        .ca
        .issue_with_ous("p384", ORG1, &["client"], v(), KeyKind::P384)
        .unwrap();
    Some((identity(&org.msp(), &cert), key))
}

#[test]
fn p384_identity_verifies_a_signature_over_sha256() {
    let (id, key) = p384_identity().unwrap();
    let Some(sig) = openssl_sign(&key, "sha256", b"payload") else {
        return;
    };
    let low = orderer_msp_low_s(&sig);
    id.verify(b"payload", &low).unwrap();
    id.verify(b"other", &low).unwrap_err().to_string();
}

#[test]
fn p384_signature_over_sha384_is_refused() {
    // Fabric hashes with SHA-256 whatever the curve; a SHA-384 signature is not one.
    let (id, key) = p384_identity().unwrap();
    let Some(sig) = openssl_sign(&key, "sha384", b"payload") else {
        return;
    };
    id.verify(b"payload", &orderer_msp_low_s(&sig))
        .unwrap_err()
        .to_string();
}

#[test]
fn p384_high_s_signature_is_refused() {
    let (id, key) = p384_identity().unwrap();
    let Some(sig) = openssl_sign(&key, "sha256", b"payload") else {
        return;
    };
    let low = orderer_msp_low_s(&sig);
    let high = flip_s_on(EcCurve::P384, &low).unwrap();
    let err = id.verify(b"payload", &high).unwrap_err().to_string();
    assert!(err.contains("high S"), "{err}");
}

/// The low-S form of a P-384 signature (openssl does not normalize S).
fn orderer_msp_low_s(sig: &[u8]) -> Vec<u8> {
    let flipped = flip_s_on(EcCurve::P384, sig).unwrap();
    // The shorter or smaller S is the low one; compare the encodings' S parts.
    let s = |d: &[u8]| -> Vec<u8> {
        let body = &d[2..];
        let r_len = usize::from(body[1]);
        let s = &body[2 + r_len + 2..];
        let s = if s[0] == 0 { &s[1..] } else { s };
        let mut v = vec![0u8; 48 - s.len()];
        v.extend_from_slice(s);
        v
    };
    if s(sig) <= s(&flipped) {
        sig.to_vec()
    } else {
        flipped
    }
}
