//! The plugin boundary between the node and its consenters, modelled on Fabric's
//! `consensus.Consenter` / `Chain` / `ConsenterSupport`.
//!
//! The node owns the ledger, the channel registry and the gRPC services. For each
//! channel it builds a [`ConsenterSupport`] and asks the configured [`Consenter`] for a
//! [`Chain`]. The chain decides which envelopes go into which block, and writes blocks
//! only through its support: consenters never touch the ledger.
//!
//! The traits are object-safe on purpose: the consenter is chosen at run time from
//! `Orderer.OrdererType`, so the node holds `Arc<dyn Consenter>` and `Arc<dyn Chain>`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::watch;

use crate::channel::ChannelConfig;
use crate::envelope::RawEnvelope;
use crate::error::{ChainError, ConsenterError, Refused, SupportError};
use crate::proto::common::Block;

/// The consensus implementations this orderer knows: `Orderer.OrdererType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsenterKind {
    /// Orders in-process on one node: development and single-node deployments.
    Solo,
    /// Orders through one single-partition Kafka topic per channel: many OSNs.
    Kafka,
}

impl ConsenterKind {
    /// Every kind, in the order they are listed to users.
    pub const ALL: [ConsenterKind; 2] = [ConsenterKind::Solo, ConsenterKind::Kafka];

    /// The name used in `orderer.yaml` and in the channel config's `ConsensusType`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsenterKind::Solo => "solo",
            ConsenterKind::Kafka => "kafka",
        }
    }
}

impl fmt::Display for ConsenterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConsenterKind {
    type Err = String;

    /// Case-insensitive; an unknown name is an error that lists the valid ones.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConsenterKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let valid: Vec<_> = ConsenterKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown orderer type {s:?}: expected one of {}",
                    valid.join(", ")
                )
            })
    }
}

impl<'de> serde::Deserialize<'de> for ConsenterKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for ConsenterKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Where this node's block 0 of a channel came from: whether another node of the
/// channel is bound to hold the very same block, or only expected to.
///
/// A consenter whose OSNs share one log (Kafka) uses it to decide what to do when it
/// cannot compare its block 0 with the channel's: a block given to the node is the
/// channel's by construction, a generated one is only as right as the local settings
/// it was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GenesisOrigin {
    /// Made by this node from its own settings (`orderer.yaml`'s `Channels`, with
    /// `General.BootstrapMethod: none`): another node with other settings (its own
    /// address in `Orderer.Addresses`, say) makes a different block 0.
    Generated,
    /// Given to this node as a block: a genesis file (`General.BootstrapMethod:
    /// file`), a channel participation join, or a system channel's
    /// ORDERER_TRANSACTION. Every node given the same block holds the same block 0.
    Given,
}

impl GenesisOrigin {
    pub fn is_generated(self) -> bool {
        self == GenesisOrigin::Generated
    }
}

/// What a chain can do right now, published through [`Chain::state`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainState {
    /// Created or started, not yet able to order (e.g. still connecting to Kafka).
    Starting { reason: String },
    /// Orders envelopes and delivers blocks.
    Ready,
    /// Temporarily cannot order or keep up (e.g. brokers unreachable, consumer
    /// stalled). May return to `Ready` by itself.
    Errored { reason: String },
    /// Stopped for good: by [`Chain::halt`] or a fatal error. Never leaves this state.
    Halted { reason: String },
}

impl ChainState {
    pub fn is_ready(&self) -> bool {
        matches!(self, ChainState::Ready)
    }

    /// The error an ingress request gets in this state, or `None` when ready.
    pub fn to_error(&self, channel: &str) -> Option<ChainError> {
        match self {
            ChainState::Ready => None,
            ChainState::Starting { reason } | ChainState::Errored { reason } => {
                Some(ChainError::NotReady {
                    channel: channel.to_owned(),
                    reason: reason.clone(),
                })
            }
            ChainState::Halted { .. } => Some(ChainError::Halted {
                channel: channel.to_owned(),
            }),
        }
    }
}

type ReceiptFuture = Pin<Box<dyn Future<Output = Result<(), ChainError>> + Send>>;

/// Resolves when an envelope handed to [`Chain::order`] is *accepted*: it will be in a
/// block of this channel on every OSN, whatever crashes from now on (for Kafka: the
/// brokers acknowledged the record with `acks=all`; for solo: it is queued in-process).
///
/// Receipts of one caller may be awaited in any order, and progress without being
/// polled; awaiting them in submission order is how Broadcast answers in order.
#[must_use = "a receipt says whether the envelope was accepted"]
pub struct Receipt(Option<ReceiptFuture>);

impl Receipt {
    /// An envelope accepted the moment it was enqueued.
    pub fn accepted() -> Self {
        Receipt(None)
    }

    /// An envelope whose acceptance `fut` will report.
    pub fn pending(fut: impl Future<Output = Result<(), ChainError>> + Send + 'static) -> Self {
        Receipt(Some(Box::pin(fut)))
    }
}

impl Future for Receipt {
    type Output = Result<(), ChainError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.as_mut() {
            None => Poll::Ready(Ok(())),
            Some(fut) => fut.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Receipt(pending)"
        } else {
            "Receipt(accepted)"
        })
    }
}

/// A factory of chains: one per consensus implementation, shared by all channels.
pub trait Consenter: Send + Sync + fmt::Debug {
    /// Which `Orderer.OrdererType` this consenter implements.
    fn kind(&self) -> ConsenterKind;

    /// Creates the chain of one channel. Does no I/O and spawns nothing: the node
    /// calls [`Chain::start`] next.
    ///
    /// `consenter_metadata` is what the consenter wrote for the channel's last block
    /// (`OrdererBlockMetadata.consenter_metadata`, unwrapped from its `Metadata`
    /// message by [`crate::block::consenter_metadata`]; empty for a channel whose
    /// only block is its genesis block); the chain resumes from it. Unreadable metadata is an error, never a
    /// silent fresh start.
    fn handle_chain(
        &self,
        support: Arc<dyn ConsenterSupport>,
        consenter_metadata: Bytes,
    ) -> Result<Arc<dyn Chain>, ConsenterError>;

    /// Conditions of the consenter's backend that do not keep it from ordering but
    /// that an operator should fix (e.g. Kafka broker settings that break the
    /// cluster rules). `/healthz` lists them without failing. None by default.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The ordering of one channel.
///
/// To ensure correctness, every implementation guarantees:
/// - envelopes accepted for the channel end up in its blocks exactly once, in one
///   total order; envelopes `order`ed one after another by one caller keep that
///   relative order;
/// - blocks are written through [`ConsenterSupport`] with consecutive numbers, each
///   extending the previous one; a block cut is written before any later block;
/// - a config envelope (see [`Chain::configure`]) is alone in its block;
/// - after `halt` resolves, nothing more is written and nothing more is accepted.
#[async_trait]
pub trait Chain: Send + Sync + fmt::Debug {
    /// Starts the chain's background work (tasks, connections). Returns at once;
    /// progress is published through [`Chain::state`]. Calling it twice is a no-op.
    fn start(&self);

    /// Submits a normal envelope that the node validated at config sequence
    /// `config_seq`.
    ///
    /// Resolves once the envelope has its place in the caller's submission sequence:
    /// a later `order` by the same caller orders after it. This await is where
    /// backpressure applies. The returned [`Receipt`] resolves once the envelope is
    /// accepted. Errors: [`ChainError::NotReady`] or [`ChainError::Halted`] when the
    /// chain cannot take envelopes, [`ChainError::Backend`] when its backend refused
    /// this one; in every error case the envelope is not ordered.
    async fn order(&self, env: RawEnvelope, config_seq: u64) -> Result<Receipt, ChainError>;

    /// Submits a CONFIG envelope. Same contract as [`Chain::order`], and in addition
    /// the chain cuts whatever is pending first, then writes the config envelope alone
    /// in a block with [`ConsenterSupport::write_config_block`]; envelopes ordered
    /// after it are cut under the new configuration.
    async fn configure(&self, env: RawEnvelope, config_seq: u64) -> Result<Receipt, ChainError>;

    /// The chain's current state, and every change after it.
    fn state(&self) -> watch::Receiver<ChainState>;

    /// Ok when the chain can take an envelope now; otherwise the reason it cannot.
    /// Never waits for long: ingress uses it to fail fast with SERVICE_UNAVAILABLE.
    async fn wait_ready(&self) -> Result<(), ChainError> {
        let state = self.state().borrow().clone();
        match state.to_error(self.channel_id()) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The channel this chain orders.
    fn channel_id(&self) -> &str;

    /// Conditions that do not keep the chain from ordering but that an operator
    /// should fix (e.g. a Kafka topic setting that breaks the cluster rules).
    /// `/healthz` lists them without failing. None by default.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// Stops the chain: new `order`/`configure` calls fail with
    /// [`ChainError::Halted`]; everything already accepted and every block already
    /// cut is written (solo also cuts what it has pending, so a graceful stop loses
    /// no accepted envelope); then background work stops and the state becomes
    /// [`ChainState::Halted`]. Resolves when all of that is done. Idempotent: later
    /// calls resolve once the first has finished.
    async fn halt(&self);
}

/// What the node gives a chain: its channel, its configuration and the only way to
/// write blocks. One per channel.
///
/// To ensure correctness, a chain must:
/// - create each block with [`create_next_block`](Self::create_next_block) and write
///   it before creating the next (creation does not advance the chain; writing does);
/// - write config blocks with [`write_config_block`](Self::write_config_block) and
///   every other block with [`write_block`](Self::write_block).
#[async_trait]
pub trait ConsenterSupport: Send + Sync + fmt::Debug {
    /// The channel id.
    fn channel_id(&self) -> &str;

    /// The channel configuration in force: as of the last config block written.
    fn shared_config(&self) -> ChannelConfig;

    /// The config sequence in force (0 until the first config block after genesis).
    fn sequence(&self) -> u64;

    /// Number of blocks written so far, counting the genesis block.
    fn height(&self) -> u64;

    /// Where this node's block 0 ([`Self::block`]`(0)`) came from. A chain whose
    /// OSNs share a log must not serve a channel whose block 0 may differ from the
    /// other OSNs': it checks a [`GenesisOrigin::Generated`] block 0 against the
    /// channel's and refuses the channel when it cannot.
    fn genesis_origin(&self) -> GenesisOrigin;

    /// Checks again, under the configuration now in force, a normal envelope that
    /// was validated at an older config sequence (Fabric's `ProcessNormalMsg`):
    /// the sequence it is valid at, or why it no longer is. A chain drops an envelope
    /// refused here; every OSN refuses it alike, so their chains stay identical.
    fn revalidate_normal(&self, env: &RawEnvelope) -> Result<u64, Refused>;

    /// Applies the config update carried by a CONFIG (or, on a system channel,
    /// ORDERER_TRANSACTION) envelope again, to the configuration now in force
    /// (Fabric's `ProcessConfigMsg`): the new envelope, signed by this orderer, and
    /// the sequence it was made at; or why the update no longer applies.
    fn revalidate_config(&self, env: &RawEnvelope) -> Result<(RawEnvelope, u64), Refused>;

    /// Written block `number`, as stored (a chain rebuilding state from its recent
    /// blocks at start, or comparing its block 0 with another OSN's, reads them
    /// here).
    async fn block(&self, number: u64) -> Result<Block, SupportError>;

    /// The next block for `batch`: number = height, previous hash = the last
    /// block's header hash, data hash computed, metadata not yet filled.
    fn create_next_block(&self, batch: Vec<RawEnvelope>) -> Block;

    /// Appends a normal block, recording `consenter_metadata` (e.g. Kafka offsets) in
    /// its `SIGNATURES` metadata so that a restarted chain can resume from it.
    ///
    /// Resolves when the block is in the ledger's write order, after every block
    /// written before it. It becomes visible to Deliver once durable. Errors:
    /// the block does not extend the chain ([`SupportError::OutOfSequence`],
    /// [`SupportError::BrokenChain`]) or the ledger failed; the chain must then halt.
    async fn write_block(
        &self,
        block: Block,
        consenter_metadata: Bytes,
    ) -> Result<(), SupportError>;

    /// Appends a config block (one CONFIG envelope) like [`Self::write_block`], and
    /// makes its configuration the one in force: [`Self::shared_config`] and
    /// [`Self::sequence`] reflect it when this resolves. On a system channel the
    /// envelope may instead be an ORDERER_TRANSACTION: the block is written and the
    /// channel it creates is created; the configuration in force does not change.
    async fn write_config_block(
        &self,
        block: Block,
        consenter_metadata: Bytes,
    ) -> Result<(), SupportError>;
}

// Runtime selection needs trait objects: fail the build if a trait stops being object-safe.
const _: fn() = || {
    fn assert_object_safe(
        _: Option<&dyn Consenter>,
        _: Option<&dyn Chain>,
        _: Option<&dyn ConsenterSupport>,
    ) {
    }
    assert_object_safe(None, None, None);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_parses_case_insensitively_and_lists_valid_values() {
        assert_eq!("solo".parse::<ConsenterKind>(), Ok(ConsenterKind::Solo));
        assert_eq!("Kafka".parse::<ConsenterKind>(), Ok(ConsenterKind::Kafka));
        let err = "etcdraft".parse::<ConsenterKind>().unwrap_err();
        assert_eq!(
            err,
            "unknown orderer type \"etcdraft\": expected one of solo, kafka"
        );
        assert_eq!(ConsenterKind::Kafka.to_string(), "kafka");
    }

    #[tokio::test]
    async fn receipts_resolve() {
        assert_eq!(Receipt::accepted().await, Ok(()));
        let err = ChainError::Halted {
            channel: "c".into(),
        };
        let e2 = err.clone();
        assert_eq!(Receipt::pending(async move { Err(e2) }).await, Err(err));
    }

    #[test]
    fn state_maps_to_errors() {
        assert_eq!(ChainState::Ready.to_error("c"), None);
        assert!(matches!(
            ChainState::Starting { reason: "x".into() }.to_error("c"),
            Some(ChainError::NotReady { .. })
        ));
        assert!(matches!(
            ChainState::Halted { reason: "x".into() }.to_error("c"),
            Some(ChainError::Halted { .. })
        ));
    }
}
