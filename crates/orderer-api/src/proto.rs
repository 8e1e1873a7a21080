//! Fabric's protobuf messages, generated from `proto/` at build time.
//!
//! Every `bytes` field is [`bytes::Bytes`], so decoding from a received buffer shares
//! it instead of copying; every map is a `BTreeMap`, so encoding is deterministic.

#![allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all
)]

pub mod common {
    include!(concat!(env!("OUT_DIR"), "/common.rs"));
}

pub mod orderer {
    include!(concat!(env!("OUT_DIR"), "/orderer.rs"));
}

pub mod msp {
    include!(concat!(env!("OUT_DIR"), "/msp.rs"));
}

/// Fabric's proto package `protos` (Go package `peer`): the application-side config values.
pub mod peer {
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}
