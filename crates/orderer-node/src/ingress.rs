//! What can go wrong with a request, and the one place that maps it to a Fabric status
//! (like Fabric's `ClassifyError`). Every rejection carries a reason for the client.

use orderer_api::proto::common::Status;
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
    #[error(
        "CONFIG_UPDATE envelopes are not supported: this orderer's channels are configured in orderer.yaml (Orderer and Channels sections)"
    )]
    ConfigUpdateUnsupported,
    #[error("{0} envelopes cannot be broadcast directly; only the orderer creates them")]
    NotBroadcastable(&'static str),
    #[error("seek info is not a valid orderer.SeekInfo: {0}")]
    MalformedSeekInfo(String),
    #[error("seek info has no {0} position")]
    MissingSeekPosition(&'static str),
    #[error("seek stop block {stop} is before the start block {start}")]
    StopBeforeStart { start: u64, stop: u64 },
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
    #[error("ledger error: {0}")]
    Ledger(String),
}

impl IngressError {
    /// The Fabric status for this error.
    pub fn status(&self) -> Status {
        match self {
            IngressError::Envelope(_)
            | IngressError::TooLarge { .. }
            | IngressError::ConfigUpdateUnsupported
            | IngressError::NotBroadcastable(_)
            | IngressError::MalformedSeekInfo(_)
            | IngressError::MissingSeekPosition(_)
            | IngressError::StopBeforeStart { .. } => Status::BadRequest,
            IngressError::UnknownChannel(_) | IngressError::NotReadyYet { .. } => Status::NotFound,
            IngressError::Chain(ChainError::TooLarge { .. }) => Status::RequestEntityTooLarge,
            IngressError::Chain(_) => Status::ServiceUnavailable,
            IngressError::Ledger(_) => Status::InternalServerError,
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
