//! Signature work on the Broadcast hot path, per core (criterion runs one thread):
//! verifying an envelope signature of a cached creator, validating a new creator's
//! certificate chain, and signing (what the orderer does once per block).
//!
//! cargo bench -p orderer-msp --bench verify
//! Compare: openssl speed -seconds 5 ecdsap256 (its "verify/s" column).
//!
//! `signature_check/ring` and `signature_check/key_table` are the one check
//! (low-S rule, SHA-256 of 1 KB, verification) side by side in one run: a creator's
//! first signatures go through ring, a frequent creator's through its key table.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use orderer_api::policies::IdentityDeserializer;
use orderer_msp::generate::{Authority, Usage, Validity};
use orderer_msp::{Msp, MspManager, SigningIdentity, Verifier, msp_config, msp_config_from_dir};

fn setup() -> (Authority, SigningIdentity, Verifier) {
    let ca = Authority::root("ca.bench", "BenchOrg", Validity::days(1)).expect("ca");
    let (cert, key) = ca
        .issue("client", "BenchOrg", Validity::days(1), Usage::Sign)
        .expect("identity");
    let id =
        SigningIdentity::from_pem("BenchMSP", cert.as_bytes(), key.as_bytes()).expect("identity");
    let msp = Msp::from_pem("BenchMSP", ca.cert_pem().as_bytes(), b"").expect("msp");
    (ca, id, Verifier::new([msp]))
}

/// The Fabric MSP path the node's policies use (identities cached by the manager):
/// an organization of `msp new`'s layout, its client signing.
fn fabric_identity() -> (tempfile::TempDir, MspManager, SigningIdentity) {
    let dir = tempfile::tempdir().expect("tempdir");
    orderer_msp::generate::new_org(dir.path(), "BenchMSP", &["client".to_owned()], 1)
        .expect("organization");
    let config = msp_config_from_dir(&dir.path().join("msp"), "BenchMSP").expect("msp config");
    let manager = MspManager::from_msp_configs([&msp_config(&config)]).expect("manager");
    let id = SigningIdentity::load(&dir.path().join("client/msp"), "BenchMSP").expect("client");
    (dir, manager, id)
}

fn signature_check(c: &mut Criterion, id: &SigningIdentity, verifier: &Verifier) {
    let payload = vec![0x2eu8; 1024];
    let signature = id.sign(&payload).expect("sign");
    let creator = verifier
        .identify(id.serialized(), orderer_msp::now())
        .expect("creator");
    let (_dir, manager, fabric_id) = fabric_identity();
    let fabric_signature = fabric_id.sign(&payload).expect("sign");
    let identity = manager
        .deserialize_identity(fabric_id.serialized())
        .expect("identity");
    // Past the verifications after which the key gets its table.
    for _ in 0..64 {
        identity.verify(&payload, &fabric_signature).expect("valid");
    }
    let mut g = c.benchmark_group("signature_check");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ring", |b| {
        b.iter(|| creator.verify(&payload, &signature).expect("valid"))
    });
    g.bench_function("key_table", |b| {
        b.iter(|| identity.verify(&payload, &fabric_signature).expect("valid"))
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let (_ca, id, verifier) = setup();
    signature_check(c, &id, &verifier);
    let payload = vec![0x2eu8; 1024];
    let signature = id.sign(&payload).expect("sign");
    let now = orderer_msp::now();
    let creator = verifier.identify(id.serialized(), now).expect("creator");

    let mut g = c.benchmark_group("ecdsa_p256");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_1k_payload", |b| {
        b.iter(|| creator.verify(&payload, &signature).expect("valid"))
    });
    g.bench_function("identify_cached_and_verify", |b| {
        b.iter(|| {
            let c = verifier.identify(id.serialized(), now).expect("creator");
            c.verify(&payload, &signature).expect("valid")
        })
    });
    g.bench_function("sign_1k_payload", |b| {
        b.iter(|| id.sign(&payload).expect("sign"))
    });
    g.finish();

    // A creator seen for the first time: PEM and X.509 parsing, the chain check.
    c.bench_function("identify_new_creator", |b| {
        b.iter_batched(
            || {
                let (_, id, verifier) = setup();
                (id, verifier)
            },
            |(id, verifier)| verifier.identify(id.serialized(), now).expect("creator"),
            BatchSize::PerIteration,
        )
    });
}

criterion_group!(verify, benches);
criterion_main!(verify);
