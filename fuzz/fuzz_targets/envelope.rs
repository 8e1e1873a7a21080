//! Broadcast's decoding and validation of an envelope: parse, payload and headers,
//! then the creator against the sample MSP and the signature. Whatever the bytes,
//! this must answer (Ok or an error), never panic.

#![no_main]

use std::sync::LazyLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use orderer_api::RawEnvelope;
use orderer_api::envelope::parse_payload;
use orderer_msp::{Msp, Verifier};

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let ca = include_bytes!("../../sampleconfig/msp/cacerts/ca-cert-0.pem");
    let msp = Msp::from_pem("SampleOrg", ca, b"").expect("the sample CA parses");
    Verifier::new([msp])
});

fuzz_target!(|data: &[u8]| {
    let Ok((raw, env)) = RawEnvelope::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = raw.size();
    let Ok(payload) = parse_payload(&env) else {
        return;
    };
    let _ = payload.header_type();
    if let Ok(creator) = VERIFIER.identify(&payload.signature_header.creator, orderer_msp::now()) {
        let _ = creator.verify(&env.payload, &env.signature);
    }
});
