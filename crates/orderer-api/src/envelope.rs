//! Envelopes on their way from ingress to a block.
//!
//! A [`RawEnvelope`] keeps the client's marshalled bytes untouched: the block's
//! `data.data[i]` is exactly what the client sent, and nothing re-encodes it.

use bytes::Bytes;
use prost::Message;

use crate::error::EnvelopeError;
use crate::proto::common::{ChannelHeader, Envelope, HeaderType, Payload, SignatureHeader};

/// A marshalled `common.Envelope` plus the size the block cutter counts, and the
/// W3C trace context of the Broadcast that brought it, when traces are exported.
///
/// Consenters carry the trace context from `order` to `create_next_block` (Kafka:
/// in the record's `traceparent` header) without interpreting it, so that the node
/// can link each block to the broadcasts that filled it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEnvelope {
    bytes: Bytes,
    size: usize,
    traceparent: Option<Bytes>,
}

impl RawEnvelope {
    /// Decodes `bytes` as an Envelope. The returned Envelope's fields share `bytes`.
    pub fn parse(bytes: Bytes) -> Result<(Self, Envelope), EnvelopeError> {
        let env =
            Envelope::decode(bytes.clone()).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let raw = RawEnvelope {
            size: env.payload.len() + env.signature.len(),
            bytes,
            traceparent: None,
        };
        Ok((raw, env))
    }

    /// Encodes an envelope the orderer built itself (config envelopes, tests).
    pub fn from_envelope(env: &Envelope) -> Self {
        RawEnvelope {
            bytes: Bytes::from(env.encode_to_vec()),
            size: env.payload.len() + env.signature.len(),
            traceparent: None,
        }
    }

    /// The same envelope with the trace context of the Broadcast that brought it
    /// (a W3C `traceparent` value).
    pub fn with_traceparent(mut self, traceparent: Option<Bytes>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// The W3C `traceparent` of the Broadcast that brought this envelope, if traced.
    pub fn traceparent(&self) -> Option<&Bytes> {
        self.traceparent.as_ref()
    }

    /// The marshalled envelope.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The marshalled envelope, by value.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Fabric's message size for block cutting: `len(payload) + len(signature)`.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// The headers of an envelope's payload, parsed once at ingress.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedPayload {
    pub channel_header: ChannelHeader,
    pub signature_header: SignatureHeader,
    /// The raw SignatureHeader bytes, as signed by the creator.
    pub signature_header_bytes: Bytes,
    pub data: Bytes,
}

impl ParsedPayload {
    /// The channel header's type, or `None` for a type this orderer does not know.
    pub fn header_type(&self) -> Option<HeaderType> {
        HeaderType::try_from(self.channel_header.r#type).ok()
    }
}

/// Parses an envelope's payload, header, channel header and signature header.
///
/// Checks structure only: what it returns has a non-empty channel id. Signatures and
/// policies are the validation stage's job.
pub fn parse_payload(env: &Envelope) -> Result<ParsedPayload, EnvelopeError> {
    if env.payload.is_empty() {
        return Err(EnvelopeError::EmptyPayload);
    }
    let payload = Payload::decode(env.payload.clone())
        .map_err(|e| EnvelopeError::MalformedPayload(e.to_string()))?;
    let header = payload.header.ok_or(EnvelopeError::MissingHeader)?;
    if header.channel_header.is_empty() {
        return Err(EnvelopeError::MissingChannelHeader);
    }
    let channel_header = ChannelHeader::decode(header.channel_header)
        .map_err(|e| EnvelopeError::MalformedChannelHeader(e.to_string()))?;
    if channel_header.channel_id.is_empty() {
        return Err(EnvelopeError::EmptyChannelId);
    }
    let signature_header = SignatureHeader::decode(header.signature_header.clone())
        .map_err(|e| EnvelopeError::MalformedSignatureHeader(e.to_string()))?;
    Ok(ParsedPayload {
        channel_header,
        signature_header,
        signature_header_bytes: header.signature_header,
        data: payload.data,
    })
}

/// Name of a header type as Fabric's metrics label it (`ENDORSER_TRANSACTION`), or the
/// number for a type outside the enum.
pub fn header_type_name(header_type: i32) -> String {
    match HeaderType::try_from(header_type) {
        Ok(t) => t.as_str_name().to_owned(),
        Err(_) => header_type.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::common::Header;

    fn envelope(channel_header: Option<ChannelHeader>, with_header: bool) -> Envelope {
        let header = with_header.then(|| Header {
            channel_header: channel_header
                .map(|h| Bytes::from(h.encode_to_vec()))
                .unwrap_or_default(),
            signature_header: Bytes::from(
                SignatureHeader {
                    creator: Bytes::from_static(b"me"),
                    nonce: Bytes::from_static(b"n"),
                }
                .encode_to_vec(),
            ),
        });
        let payload = Payload {
            header,
            data: Bytes::from_static(b"hello"),
        };
        Envelope {
            payload: Bytes::from(payload.encode_to_vec()),
            signature: Bytes::from_static(b"sig"),
        }
    }

    #[test]
    fn raw_envelope_keeps_bytes_and_counts_payload_plus_signature() {
        let env = envelope(None, false);
        let bytes = Bytes::from(env.encode_to_vec());
        let (raw, decoded) = RawEnvelope::parse(bytes.clone()).unwrap();
        assert_eq!(raw.bytes(), &bytes);
        assert_eq!(raw.size(), env.payload.len() + 3);
        assert_eq!(decoded, env);
    }

    #[test]
    fn rejects_garbage() {
        let err = RawEnvelope::parse(Bytes::from_static(&[0xff, 0xff, 0xff])).unwrap_err();
        assert!(matches!(err, EnvelopeError::Malformed(_)));
    }

    #[test]
    fn parse_payload_reports_each_structural_problem() {
        let good = ChannelHeader {
            r#type: HeaderType::EndorserTransaction as i32,
            channel_id: "mychannel".into(),
            ..Default::default()
        };
        let parsed = parse_payload(&envelope(Some(good.clone()), true)).unwrap();
        assert_eq!(parsed.channel_header, good);
        assert_eq!(parsed.header_type(), Some(HeaderType::EndorserTransaction));
        assert_eq!(parsed.data, Bytes::from_static(b"hello"));

        assert_eq!(
            parse_payload(&Envelope::default()),
            Err(EnvelopeError::EmptyPayload)
        );
        assert_eq!(
            parse_payload(&envelope(None, false)),
            Err(EnvelopeError::MissingHeader)
        );
        assert_eq!(
            parse_payload(&envelope(None, true)),
            Err(EnvelopeError::MissingChannelHeader)
        );
        let no_channel = ChannelHeader {
            r#type: 3,
            ..Default::default()
        };
        assert_eq!(
            parse_payload(&envelope(Some(no_channel), true)),
            Err(EnvelopeError::EmptyChannelId)
        );
        let bad_payload = Envelope {
            payload: Bytes::from_static(&[0x0a, 0x05, 0x01]),
            signature: Bytes::new(),
        };
        assert!(matches!(
            parse_payload(&bad_payload),
            Err(EnvelopeError::MalformedPayload(_))
        ));
    }

    #[test]
    fn names_header_types_like_fabric_metrics() {
        assert_eq!(header_type_name(3), "ENDORSER_TRANSACTION");
        assert_eq!(header_type_name(0), "MESSAGE");
        assert_eq!(header_type_name(4242), "4242");
    }
}
