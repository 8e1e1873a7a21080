//! What can go wrong with a request, and the one place that maps it to a Fabric status
//! (like Fabric's `ClassifyError`). Every rejection carries a reason for the client.

use orderer_api::proto::common::Status;
use orderer_api::seek::SeekError;
use orderer_api::{ChainError, EnvelopeError};

/// Why a Broadcast envelope or a Deliver request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngressError {
    #[error("{0}")]
    Envelope(#[from] EnvelopeError),
    #[error("channel {0:?} does not exist on this orderer")]
    UnknownChannel(String),
    #[error(
        "envelope is {size} bytes (payload plus signature), larger than the channel's Orderer.BatchSize.AbsoluteMaxBytes of {max} bytes"
    )]
    TooLarge { size: usize, max: u32 },
    /// A config update that does not apply (stale read set, malformed, invalid
    /// result); unauthorized ones are `Forbidden`.
    #[error("{0}")]
    ConfigUpdate(String),
    /// The channel is in maintenance mode (`ConsensusType.State`).
    #[error(
        "normal transactions are rejected: the channel is in maintenance mode (Orderer.ConsensusType.State is STATE_MAINTENANCE); only orderer administrators' config updates are ordered"
    )]
    Maintenance,
    /// A channel creation while the system channel is in maintenance mode.
    #[error("{0}")]
    MaintenanceUpdate(String),
    #[error("{0} envelopes cannot be broadcast directly; only the orderer creates them")]
    NotBroadcastable(&'static str),
    #[error("{0}")]
    Seek(#[from] SeekError),
    #[error(
        "block {number} is not yet in channel {channel} (height {height}) and FAIL_IF_NOT_READY was asked"
    )]
    NotReadyYet {
        channel: String,
        number: u64,
        height: u64,
    },
    #[error("{0}")]
    Chain(#[from] ChainError),
    /// The requester may not do this: identity, signature or policy.
    #[error("{0}")]
    Forbidden(String),
    /// The ChannelHeader timestamp is missing or too far from the orderer's clock.
    #[error("{0}")]
    Timestamp(String),
    /// Mutual TLS: the ChannelHeader's tls_cert_hash does not bind the request to the
    /// client's TLS certificate.
    #[error("{0}")]
    TlsBinding(String),
    #[error("ledger error: {0}")]
    Ledger(String),
    /// A fault of this orderer, not of the request.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngressError {
    /// The Fabric status for this error.
    pub fn status(&self) -> Status {
        match self {
            IngressError::Envelope(_)
            | IngressError::TooLarge { .. }
            | IngressError::ConfigUpdate(_)
            | IngressError::NotBroadcastable(_)
            | IngressError::Seek(_)
            | IngressError::Timestamp(_)
            | IngressError::TlsBinding(_) => Status::BadRequest,
            IngressError::Forbidden(_) => Status::Forbidden,
            IngressError::UnknownChannel(_) | IngressError::NotReadyYet { .. } => Status::NotFound,
            IngressError::Chain(ChainError::TooLarge { .. }) => Status::RequestEntityTooLarge,
            IngressError::Chain(_)
            | IngressError::Maintenance
            | IngressError::MaintenanceUpdate(_) => Status::ServiceUnavailable,
            IngressError::Ledger(_) | IngressError::Internal(_) => Status::InternalServerError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_fabric() {
        assert_eq!(
            IngressError::Envelope(EnvelopeError::MissingChannelHeader).status(),
            Status::BadRequest
        );
        assert_eq!(
            IngressError::UnknownChannel("x".into()).status(),
            Status::NotFound
        );
        assert_eq!(
            IngressError::TooLarge { size: 2, max: 1 }.status(),
            Status::BadRequest
        );
        assert_eq!(
            IngressError::Chain(ChainError::Halted {
                channel: "c".into()
            })
            .status(),
            Status::ServiceUnavailable
        );
        assert!(
            IngressError::UnknownChannel("nope".into())
                .to_string()
                .contains("\"nope\" does not exist")
        );
    }
}
