//! Deliver's decoding of a seek envelope and the resolution of its positions against
//! any chain height: errors are fine, panics and overflows are not.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use orderer_api::RawEnvelope;
use orderer_api::envelope::parse_payload;
use orderer_api::seek::{decode, resolve};

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes choose the height; the rest is the seek envelope.
    let (height, rest) = match data.split_first_chunk::<8>() {
        Some((h, rest)) => (u64::from_le_bytes(*h), rest),
        None => (0, data),
    };
    let Ok((_, env)) = RawEnvelope::parse(Bytes::copy_from_slice(rest)) else {
        return;
    };
    let Ok(payload) = parse_payload(&env) else {
        return;
    };
    let Ok(seek) = decode(payload.data) else {
        return;
    };
    if let Ok(range) = resolve(&seek, height) {
        assert!(range.start <= range.stop, "{range:?}");
    }
});
