//! The domain of the ordering service, free of I/O. Its modules are of four kinds:
//!
//! **The plugin boundary.** [`consensus`]: [`Consenter`], [`Chain`] and
//! [`ConsenterSupport`], the contract between the node and a consenter crate, with
//! the errors that cross it ([`error`]) and the parameters a consenter reads
//! ([`channel`]: [`ChannelConfig`]).
//!
//! **Fabric's domain model**, as Fabric defines it:
//! * [`proto`]: Fabric's wire types (`common`, `orderer`, `msp`, `peer`).
//! * [`block`], [`envelope`], [`blockcutter`], [`seek`]: blocks and their hashes,
//!   envelopes as raw bytes plus the header parsing Broadcast needs, Fabric's
//!   cutting rules, Deliver's seek positions.
//! * [`channelconfig`]: [`ChannelValues`](channelconfig::ChannelValues), the one
//!   committed channel configuration, read, typed and validated by Fabric's rules.
//! * [`genesis`]: the one encoder of configurations and genesis blocks, as
//!   configtxgen makes them.
//! * [`configtx`]: config updates validated and applied as Fabric's `configtx` does,
//!   and channel creation through a system channel.
//! * [`policies`]: signature and implicit meta policies by path, evaluated over
//!   signed data through the channel's MSPs.
//! * [`metrics`]: the domain's metrics, named as Fabric names them.
//!
//! **The orderer.yaml framework.** [`config`]: what every crate's `orderer.yaml`
//! section is made of; [`duration`]: Go's duration notation, which config values
//! use too.
//!
//! **The test kit** (`testing`, feature `test-util`): a fake support, test
//! configurations built by [`genesis`], and the conformance suite every consenter runs.
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
