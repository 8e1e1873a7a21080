//! The signed data of Fabric's signed messages: what each signer signed, who the
//! signer claims to be, and the signature.

use bytes::{BufMut, BytesMut};
use prost::Message;
use thiserror::Error;

use super::SignedData;
use crate::proto::common::{ConfigUpdateEnvelope, Envelope, Payload, SignatureHeader};

/// Why the signatures of a message could not be extracted. Always the sender's
/// fault (BAD_REQUEST).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignedDataError {
    #[error("envelope payload is not a valid common.Payload: {0}")]
    MalformedPayload(String),
    #[error("envelope payload has no header")]
    MissingHeader,
    #[error("envelope signature header is not a valid common.SignatureHeader: {0}")]
    MalformedSignatureHeader(String),
    #[error(
        "config update signature {index}: signature header is not a valid common.SignatureHeader: {reason}"
    )]
    MalformedConfigSignatureHeader { index: usize, reason: String },
}

impl SignedData {
    /// The one signature of an envelope (Fabric's `EnvelopeAsSignedData`): the
    /// payload bytes, signed by the creator of the payload's signature header.
    ///
    /// The payload and its header must decode; the creator is not checked here (the
    /// policy's deserializer does that).
    pub fn from_envelope(envelope: &Envelope) -> Result<SignedData, SignedDataError> {
        let payload = Payload::decode(envelope.payload.clone())
            .map_err(|e| SignedDataError::MalformedPayload(e.to_string()))?;
        let header = payload.header.ok_or(SignedDataError::MissingHeader)?;
        let signature_header = SignatureHeader::decode(header.signature_header)
            .map_err(|e| SignedDataError::MalformedSignatureHeader(e.to_string()))?;
        Ok(SignedData {
            data: envelope.payload.clone(),
            identity: signature_header.creator,
            signature: envelope.signature.clone(),
        })
    }

    /// The signatures of a config update (Fabric's `ConfigUpdateEnvelopeAsSignedData`):
    /// each signer signed its signature header followed by the config update bytes.
    pub fn from_config_update_envelope(
        envelope: &ConfigUpdateEnvelope,
    ) -> Result<Vec<SignedData>, SignedDataError> {
        envelope
            .signatures
            .iter()
            .enumerate()
            .map(|(index, config_signature)| {
                let header = SignatureHeader::decode(config_signature.signature_header.clone())
                    .map_err(|e| SignedDataError::MalformedConfigSignatureHeader {
                        index,
                        reason: e.to_string(),
                    })?;
                let mut data = BytesMut::with_capacity(
                    config_signature.signature_header.len() + envelope.config_update.len(),
                );
                data.put_slice(&config_signature.signature_header);
                data.put_slice(&envelope.config_update);
                Ok(SignedData {
                    data: data.freeze(),
                    identity: header.creator,
                    signature: config_signature.signature.clone(),
                })
            })
            .collect()
    }
}
