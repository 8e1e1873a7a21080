//! The signature check against known answers and against ring.
//!
//! * Wycheproof's ECDSA vectors (P-256 and P-384 with SHA-256, DER): every valid
//!   signature verifies and every invalid one is refused, through the P-256 key
//!   table and through ring, which must also agree with each other.
//! * A property test on random keys and messages: the key table gives ring's
//!   answer for the signature and for mutations of it (high S, r or s zero, n or
//!   above, another key, another message, random integers, a P-384 key's).
//! * The one check (`ecdsa::check`) refuses high S whichever way it verifies.

use proptest::prelude::*;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
};
use wycheproof::TestResult;
use wycheproof::ecdsa::{TestName, TestSet};

use crate::ecdsa::{self, EcCurve, RawSignature, Refusal};
use crate::p256_table::KeyTable;

/// The order of P-256, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Counts of the vectors a run checked, by expected result.
#[derive(Default, Debug)]
struct Checked {
    valid: usize,
    invalid: usize,
    unparsed: usize,
}

fn wycheproof(name: TestName, curve: EcCurve) -> Checked {
    let set = TestSet::load(name).expect("Wycheproof vectors");
    let mut checked = Checked::default();
    for group in &set.test_groups {
        let point: &[u8] = &group.key.key;
        let table = match curve {
            EcCurve::P256 => Some(KeyTable::uncounted(point).expect("a P-256 key")),
            EcCurve::P384 => None,
        };
        for test in &group.tests {
            let id = test.tc_id;
            let Ok(sig) = ecdsa::parse_exact(&test.sig) else {
                // Not strict DER (BER, wrong lengths, extra bytes): never valid.
                assert_ne!(test.result, TestResult::Valid, "tc {id}: {}", test.comment);
                checked.unparsed += 1;
                continue;
            };
            let by_ring = ecdsa::verify_with_ring(curve, point, &test.msg, &sig);
            let answer = match &table {
                Some(table) => {
                    let by_table = table.verify(&test.msg, &sig.r, &sig.s);
                    assert_eq!(by_table, by_ring, "tc {id}: table and ring differ");
                    by_table
                }
                None => by_ring,
            };
            match test.result {
                TestResult::Valid => {
                    assert!(answer, "tc {id} is valid: {}", test.comment);
                    checked.valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!answer, "tc {id} is invalid: {}", test.comment);
                    checked.invalid += 1;
                }
                TestResult::Acceptable => {}
            }
        }
    }
    checked
}

#[test]
fn wycheproof_p256_sha256_through_the_key_table_and_ring() {
    let checked = wycheproof(TestName::EcdsaSecp256r1Sha256, EcCurve::P256);
    assert!(
        checked.valid > 150 && checked.invalid > 50 && checked.unparsed > 200,
        "{checked:?}"
    );
}

#[test]
fn wycheproof_p384_sha256_through_ring() {
    let checked = wycheproof(TestName::EcdsaSecp384r1Sha256, EcCurve::P384);
    assert!(
        checked.valid > 150 && checked.invalid > 50 && checked.unparsed > 200,
        "{checked:?}"
    );
}

/// A P-256 or P-384 key pair of ring's, with its SEC1 public point.
fn key_pair(curve: EcCurve) -> EcdsaKeyPair {
    let alg = match curve {
        EcCurve::P256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
        EcCurve::P384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
    };
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
}

fn sign(key: &EcdsaKeyPair, message: &[u8]) -> RawSignature {
    let der = key.sign(&SystemRandom::new(), message).unwrap();
    ecdsa::parse_exact(der.as_ref()).unwrap()
}

/// `a + b` over big-endian integers of one width (no overflow for these inputs).
fn add(a: &[u8; 32], b: u8) -> Vec<u8> {
    let mut out = a.to_vec();
    let mut carry = u16::from(b);
    for byte in out.iter_mut().rev() {
        let sum = u16::from(*byte) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    out
}

fn trim(v: Vec<u8>) -> Vec<u8> {
    let skip = v.iter().take_while(|b| **b == 0).count();
    v[skip..].to_vec()
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    FlipBitOfR(u8),
    FlipBitOfS(u8),
    HighS,
    RZero,
    SZero,
    RIsN,
    SAboveN(u8),
    OtherKey,
    OtherMessage,
    RandomRS([u8; 32], [u8; 32]),
    SwapRS,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => Just(Mutation::None),
        2 => any::<u8>().prop_map(Mutation::FlipBitOfR),
        2 => any::<u8>().prop_map(Mutation::FlipBitOfS),
        2 => Just(Mutation::HighS),
        1 => Just(Mutation::RZero),
        1 => Just(Mutation::SZero),
        1 => Just(Mutation::RIsN),
        1 => any::<u8>().prop_map(Mutation::SAboveN),
        1 => Just(Mutation::OtherKey),
        1 => Just(Mutation::OtherMessage),
        1 => (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(r, s)| Mutation::RandomRS(r, s)),
        1 => Just(Mutation::SwapRS),
    ]
}

fn flip(v: &[u8], bit: u8) -> Vec<u8> {
    let mut out = v.to_vec();
    let i = usize::from(bit / 8) % out.len();
    out[i] ^= 1 << (bit % 8);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_key_table_gives_rings_answer(
        message in proptest::collection::vec(any::<u8>(), 0..600),
        mutation in mutation(),
    ) {
        let key = key_pair(EcCurve::P256);
        let point = key.public_key().as_ref();
        let table = KeyTable::uncounted(point).unwrap();
        let mut sig = sign(&key, &message);
        let mut signed = message.clone();
        let mut verify_point = point.to_vec();
        match mutation {
            Mutation::None => {}
            Mutation::FlipBitOfR(bit) => sig.r = trim(flip(&sig.r, bit)),
            Mutation::FlipBitOfS(bit) => sig.s = trim(flip(&sig.s, bit)),
            Mutation::HighS => {
                let der = crate::ecdsa::flip_s(&ecdsa::encode(&sig)).unwrap();
                sig = ecdsa::parse_exact(&der).unwrap();
            }
            Mutation::RZero => sig.r = vec![0],
            Mutation::SZero => sig.s = vec![0],
            Mutation::RIsN => sig.r = N.to_vec(),
            Mutation::SAboveN(k) => sig.s = add(&N, k),
            Mutation::OtherKey => {
                verify_point = key_pair(EcCurve::P256).public_key().as_ref().to_vec();
            }
            Mutation::OtherMessage => signed.push(0),
            Mutation::RandomRS(r, s) => {
                sig.r = trim(r.to_vec());
                sig.s = trim(s.to_vec());
            }
            Mutation::SwapRS => std::mem::swap(&mut sig.r, &mut sig.s),
        }
        let table = if verify_point == point {
            table
        } else {
            KeyTable::uncounted(&verify_point).unwrap()
        };
        let by_ring = ecdsa::verify_with_ring(EcCurve::P256, &verify_point, &signed, &sig);
        let by_table = table.verify(&signed, &sig.r, &sig.s);
        prop_assert_eq!(by_table, by_ring);
        if matches!(mutation, Mutation::None | Mutation::HighS) {
            prop_assert!(by_table, "an unaltered signature (either S) verifies");
        }
    }
}

#[test]
fn a_p384_key_gets_no_table_and_its_signatures_do_not_pass_a_p256_one() {
    let p384 = key_pair(EcCurve::P384);
    assert!(KeyTable::uncounted(p384.public_key().as_ref()).is_none());
    let p256 = key_pair(EcCurve::P256);
    let table = KeyTable::uncounted(p256.public_key().as_ref()).unwrap();
    for _ in 0..8 {
        let sig = sign(&p384, b"message");
        let by_ring =
            ecdsa::verify_with_ring(EcCurve::P256, p256.public_key().as_ref(), b"message", &sig);
        assert!(!by_ring);
        assert!(!table.verify(b"message", &sig.r, &sig.s));
    }
}

#[test]
fn the_one_check_refuses_high_s_with_and_without_a_table() {
    let key = key_pair(EcCurve::P256);
    let point = key.public_key().as_ref();
    let table = KeyTable::uncounted(point).unwrap();
    for _ in 0..16 {
        let sig = sign(&key, b"payload");
        let low = ecdsa::parse_exact(&ecdsa::to_low_s(&ecdsa::encode(&sig)).unwrap()).unwrap();
        let high = ecdsa::parse_exact(&ecdsa::flip_s(&ecdsa::encode(&low)).unwrap()).unwrap();
        for t in [None, Some(&table)] {
            assert_eq!(
                ecdsa::check(EcCurve::P256, point, t, b"payload", &low),
                Ok(())
            );
            assert_eq!(
                ecdsa::check(EcCurve::P256, point, t, b"payload", &high),
                Err(Refusal::HighS)
            );
            assert_eq!(
                ecdsa::check(EcCurve::P256, point, t, b"other", &low),
                Err(Refusal::DoesNotVerify)
            );
        }
    }
}

#[test]
fn a_frequent_creator_verifies_through_its_key_table_with_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    crate::generate::new_org(dir.path(), "TableMSP", &["client".to_owned()], 1).unwrap();
    let config = crate::msp_config_from_dir(&dir.path().join("msp"), "TableMSP").unwrap();
    let manager = crate::MspManager::from_msp_configs([&crate::msp_config(&config)]).unwrap();
    let signer = crate::SigningIdentity::load(&dir.path().join("client/msp"), "TableMSP").unwrap();
    let identity = manager
        .deserialize_at(signer.serialized(), crate::now())
        .unwrap();
    let good = signer.sign(b"payload").unwrap();
    let high = ecdsa::flip_s(&good).unwrap();
    let answers = || {
        (
            identity.verify_signature(b"payload", &good).is_ok(),
            identity.verify_signature(b"other", &good).is_ok(),
            identity.verify_signature(b"payload", &high),
        )
    };
    let before = answers();
    assert!(before.0 && !before.1);
    assert_eq!(before.2, Err(crate::VerifyError::HighS));
    for _ in 0..40 {
        identity.verify_signature(b"payload", &good).unwrap();
    }
    assert!(identity.has_table(), "no table after 40 verifications");
    assert_eq!(answers(), before);
}
