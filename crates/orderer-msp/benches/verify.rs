//! Signature work on the Broadcast hot path, per core (criterion runs one thread):
//! verifying an envelope signature of a cached creator, validating a new creator's
//! certificate chain, and signing (what the orderer does once per block).
//!
//! cargo bench -p orderer-msp --bench verify
//! Compare: openssl speed -seconds 5 ecdsap256 (its "verify/s" column).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use orderer_msp::generate::{Authority, Usage, Validity};
use orderer_msp::{Msp, SigningIdentity, Verifier};

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

fn benches(c: &mut Criterion) {
    let (_ca, id, verifier) = setup();
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
