//! Test support for consenter crates (feature `test-util`).
//!
//! * [`FakeSupport`]: a [`ConsenterSupport`](crate::ConsenterSupport) that keeps blocks
//!   in memory, checks that each extends the chain, and pushes every written block into
//!   a channel so tests wait for events instead of sleeping.
//! * [`conformance`]: properties every consenter must have, one `pub async fn` each,
//!   written once and run by every implementation through [`conformance_tests!`].
//! * [`config`]: whole channel configurations around a test's ordering parameters,
//!   built by [`crate::genesis`], and the configuration that follows one.

pub mod config;
pub mod conformance;
mod fake_support;

pub use fake_support::{FakeSupport, WrittenBlock};

use std::time::Duration;

use bytes::Bytes;
use prost::Message;

use crate::envelope::RawEnvelope;
use crate::proto::common::{ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader};

/// A normal envelope for `channel`, numbered `seq`, whose cutter size
/// (payload + signature) is exactly `size` bytes when `size` is large enough for the
/// headers (about 60 bytes); otherwise it is as small as the headers allow. Envelopes
/// with the same `size` have the same cutter size whatever their `seq`.
pub fn test_envelope(channel: &str, seq: u64, size: usize) -> RawEnvelope {
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        channel_id: channel.to_owned(),
        tx_id: format!("tx{seq:012}"),
        ..Default::default()
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec().into(),
        signature_header: SignatureHeader::default().encode_to_vec().into(),
    };
    let signature = Bytes::from_static(b"test-signature");
    let bare = Payload {
        header: Some(header.clone()),
        data: Bytes::new(),
    }
    .encoded_len()
        + signature.len();
    // A non-empty data field costs a tag byte, a varint length and the data itself.
    let field_len = |d: usize| 1 + prost::encoding::encoded_len_varint(d as u64) + d;
    let mut data_len = size.saturating_sub(bare);
    while data_len > 0 && bare + field_len(data_len) > size {
        data_len -= 1;
    }
    let payload = Payload {
        header: Some(header),
        data: Bytes::from(vec![b'x'; data_len]),
    };
    RawEnvelope::from_envelope(&Envelope {
        payload: payload.encode_to_vec().into(),
        signature,
    })
}

/// The `tx_id` of an envelope built by [`test_envelope`] (or any envelope), for
/// comparing what went in with what came out.
pub fn tx_id(raw: &Bytes) -> String {
    let Ok(env) = Envelope::decode(raw.clone()) else {
        return "<not an envelope>".into();
    };
    crate::envelope::parse_payload(&env)
        .map(|p| p.channel_header.tx_id)
        .unwrap_or_else(|e| format!("<{e}>"))
}

/// How long a conformance property waits for an expected event before failing. Tests
/// wait for events, not for time: this only bounds a broken implementation.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(60);
