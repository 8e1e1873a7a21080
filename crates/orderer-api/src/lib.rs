//! The domain of the ordering service, free of I/O.
//!
//! * [`proto`]: Hyperledger Fabric's wire types (`common`, `orderer`, `msp`, `peer`).
//! * [`consensus`]: the plugin boundary: [`Consenter`], [`Chain`], [`ConsenterSupport`].
//! * [`blockcutter`]: Fabric's block cutting rules, pure and synchronous.
//! * [`block`]: block assembly and Fabric's data and header hashes.
//! * [`channel`]: a channel's ordering parameters and its deterministic config blocks.
//! * [`channelconfig`]: a channel configuration (`Config` tree) read, typed and validated by Fabric's rules.
//! * [`genesis`]: a complete Fabric channel config and genesis block, as configtxgen makes them.
//! * [`config`]: what every crate's `orderer.yaml` section is made of.
//! * [`configtx`]: config updates (CONFIG_UPDATE) validated and applied as Fabric's
//!   `configtx` does, and channel creation through a system channel.
//! * [`envelope`]: envelopes as raw bytes plus the header parsing Broadcast needs.
//! * [`policies`]: Fabric's policy engine: signature and implicit meta policies
//!   by path, evaluated over signed data through the channel's MSPs.
//!
//! Nothing here opens a socket or a file; consenters and the node build on it.

// Unit tests (cfg(test)) are exempt from the length limit; production code is not:
// the non-test build of this crate is linted too.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod block;
pub mod blockcutter;
pub mod channel;
pub mod channelconfig;
pub mod config;
pub mod configtx;
pub mod consensus;
pub mod duration;
pub mod envelope;
pub mod error;
pub mod genesis;
pub mod metrics;
pub mod policies;
pub mod proto;
pub mod seek;
#[cfg(feature = "test-util")]
pub mod testing;

pub use block::{BlockAssembler, block_data_hash, block_header_hash};
pub use blockcutter::{BatchSize, BatchSizeError, BlockCutter, Ordered};
pub use channel::ChannelConfig;
pub use consensus::{
    Chain, ChainState, Consenter, ConsenterKind, ConsenterSupport, GenesisOrigin, Receipt,
};
pub use envelope::RawEnvelope;
pub use error::{ChainError, ConsenterError, EnvelopeError, Refused, SupportError};
