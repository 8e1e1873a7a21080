//! `orderer-cli`: a client for any Fabric-compatible orderer.
//!
//! Library part, so that tests and the benchmark share the envelope builders and the
//! gRPC client with the binary.

// Unit tests (cfg(test)) are exempt from the length limit; production code is not:
// the non-test build of this crate is linted too.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod bench;
pub mod bench_resend;
pub mod broadcast;
pub mod chain_check;
pub mod channel;
pub mod client;
pub mod deliver;
pub mod envelopes;
pub mod genesis;
pub mod inspect;
pub mod raw;

#[allow(
    clippy::all,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms
)]
pub mod proto_client {
    include!(concat!(env!("OUT_DIR"), "/orderer.AtomicBroadcast.rs"));
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
