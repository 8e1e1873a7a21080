//! Typed errors of the domain. The node classifies them into Fabric statuses at its edge.

use thiserror::Error;

/// Why an envelope could not be understood. Always the client's fault (BAD_REQUEST).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    #[error("envelope is not a valid common.Envelope: {0}")]
    Malformed(String),
    #[error("envelope has an empty payload")]
    EmptyPayload,
    #[error("envelope payload is not a valid common.Payload: {0}")]
    MalformedPayload(String),
    #[error("envelope payload has no header")]
    MissingHeader,
    #[error("envelope payload header has no channel header")]
    MissingChannelHeader,
    #[error("envelope channel header is not a valid common.ChannelHeader: {0}")]
    MalformedChannelHeader(String),
    #[error("envelope signature header is not a valid common.SignatureHeader: {0}")]
    MalformedSignatureHeader(String),
    #[error("envelope channel header has an empty channel id")]
    EmptyChannelId,
}

/// Why a chain could not take or keep an envelope. Transient from the client's view
/// (SERVICE_UNAVAILABLE): retrying later, or on another OSN, can succeed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    /// The chain exists but cannot order yet (e.g. Kafka not connected) or right now.
    #[error("chain for channel {channel} is not ready: {reason}")]
    NotReady { channel: String, reason: String },
    /// The chain was halted (shutdown or a fatal error) and orders nothing more.
    #[error("chain for channel {channel} has halted")]
    Halted { channel: String },
    /// The consenter's backend refused or lost the envelope (e.g. a Kafka produce error).
    #[error("chain for channel {channel} could not order the envelope: {reason}")]
    Backend { channel: String, reason: String },
    /// The backend refused this envelope for its size (e.g. above the Kafka brokers'
    /// `message.max.bytes`): retrying the same envelope cannot succeed.
    #[error("chain for channel {channel} refused the envelope as too large: {reason}")]
    TooLarge { channel: String, reason: String },
}

/// Why a consenter could not create a chain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConsenterError {
    #[error("channel {channel}: consenter metadata of the last block is unreadable: {reason}")]
    BadMetadata { channel: String, reason: String },
    #[error("channel {channel}: {reason}")]
    Setup { channel: String, reason: String },
}

/// Why the node could not write a block a consenter handed it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SupportError {
    #[error("block {got} is out of sequence: the ledger expects block {expected}")]
    OutOfSequence { expected: u64, got: u64 },
    #[error(
        "block {number} does not extend the chain: previous_hash differs from the last block's header hash"
    )]
    BrokenChain { number: u64 },
    #[error("config block {number} carries no readable channel configuration: {reason}")]
    BadConfig { number: u64, reason: String },
    #[error("ledger write failed: {0}")]
    Ledger(String),
    #[error("reading block {number} from the ledger: {reason}")]
    Read { number: u64, reason: String },
}

/// Why the configuration in force refuses an envelope validated under an older one.
/// Wraps the node's own validation error (its text is what a client would have heard).
#[derive(Debug, Error)]
#[error(transparent)]
pub struct Refused(Box<dyn std::error::Error + Send + Sync>);

impl Refused {
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Refused(e.into())
    }
}
