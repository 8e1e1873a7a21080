//! Building the envelopes a client sends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use orderer_api::proto::common::{
    ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use orderer_api::proto::orderer::seek_info::SeekBehavior;
use orderer_api::proto::orderer::{
    SeekInfo, SeekNewest, SeekOldest, SeekPosition, SeekSpecified, seek_position,
};
use prost::Message;
use sha2::{Digest, Sha256};

/// A position in a channel's chain, as `--seek`/`--stop` take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Oldest,
    Newest,
    Number(u64),
}

impl std::str::FromStr for Position {
    type Err = String;

    /// `oldest` or -2, `newest` or -1 (as the original Kafka orderer's client), a
    /// block number, or `max` (u64::MAX: stream forever).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "oldest" | "-2" => Ok(Position::Oldest),
            "newest" | "-1" => Ok(Position::Newest),
            "max" | "forever" => Ok(Position::Number(u64::MAX)),
            n => n.parse().map(Position::Number).map_err(|_| {
                format!("expected oldest (-2), newest (-1), max or a block number, got {s:?}")
            }),
        }
    }
}

impl Position {
    fn seek(self) -> SeekPosition {
        let t = match self {
            Position::Oldest => seek_position::Type::Oldest(SeekOldest {}),
            Position::Newest => seek_position::Type::Newest(SeekNewest {}),
            Position::Number(n) => seek_position::Type::Specified(SeekSpecified { number: n }),
        };
        SeekPosition { r#type: Some(t) }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A nonce unique to this process and call: no two envelopes share a tx id.
fn nonce() -> Bytes {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(std::process::id().to_le_bytes());
    h.update(now.as_nanos().to_le_bytes());
    h.update(n.to_le_bytes());
    Bytes::copy_from_slice(&h.finalize()[..24])
}

fn timestamp() -> prost_types::Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: now.as_secs() as i64,
        nanos: now.subsec_nanos() as i32,
    }
}

/// Builds payload headers the way Fabric clients do: tx id = hex(SHA-256(nonce ‖ creator)).
fn header(channel: &str, header_type: HeaderType, creator: Bytes) -> (Header, String) {
    let nonce = nonce();
    let mut h = Sha256::new();
    h.update(&nonce);
    h.update(&creator);
    let tx_id = crate::hex(&h.finalize());
    let channel_header = ChannelHeader {
        r#type: header_type as i32,
        version: 0,
        timestamp: Some(timestamp()),
        channel_id: channel.to_owned(),
        tx_id: tx_id.clone(),
        epoch: 0,
        extension: Bytes::new(),
        tls_cert_hash: Bytes::new(),
    };
    let signature_header = SignatureHeader { creator, nonce };
    (
        Header {
            channel_header: channel_header.encode_to_vec().into(),
            signature_header: signature_header.encode_to_vec().into(),
        },
        tx_id,
    )
}

/// An unsigned ENDORSER_TRANSACTION envelope for `channel` whose size as the block
/// cutter counts it (payload plus signature) is `size` bytes, or as small as its
/// headers allow. The data is `seq` followed by filler.
pub fn transaction(channel: &str, seq: u64, size: usize) -> Envelope {
    let (header, _) = header(channel, HeaderType::EndorserTransaction, Bytes::new());
    let bare = Payload {
        header: Some(header.clone()),
        data: Bytes::new(),
    }
    .encoded_len();
    // A non-empty data field costs a tag byte and a varint length besides the data.
    let field = |d: usize| 1 + prost::encoding::encoded_len_varint(d as u64) + d;
    let mut data_len = size.saturating_sub(bare);
    while data_len > 0 && bare + field(data_len) > size {
        data_len -= 1;
    }
    let mut data = seq.to_be_bytes().to_vec();
    data.resize(data_len.max(8), b'.');
    let payload = Payload {
        header: Some(header),
        data: data.into(),
    };
    Envelope {
        payload: payload.encode_to_vec().into(),
        signature: Bytes::new(),
    }
}

/// A DELIVER_SEEK_INFO envelope for `channel`.
pub fn seek(channel: &str, start: Position, stop: Position, fail_if_not_ready: bool) -> Envelope {
    let (header, _) = header(channel, HeaderType::DeliverSeekInfo, Bytes::new());
    let info = SeekInfo {
        start: Some(start.seek()),
        stop: Some(stop.seek()),
        behavior: if fail_if_not_ready {
            SeekBehavior::FailIfNotReady as i32
        } else {
            SeekBehavior::BlockUntilReady as i32
        },
        error_response: 0,
        content_type: 0,
    };
    let payload = Payload {
        header: Some(header),
        data: info.encode_to_vec().into(),
    };
    Envelope {
        payload: payload.encode_to_vec().into(),
        signature: Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_like_the_original_client() {
        assert_eq!("-2".parse(), Ok(Position::Oldest));
        assert_eq!("oldest".parse(), Ok(Position::Oldest));
        assert_eq!("-1".parse(), Ok(Position::Newest));
        assert_eq!("Newest".parse(), Ok(Position::Newest));
        assert_eq!("17".parse(), Ok(Position::Number(17)));
        assert_eq!("max".parse(), Ok(Position::Number(u64::MAX)));
        assert!("-3".parse::<Position>().is_err());
    }

    #[test]
    fn transactions_have_the_requested_size_and_unique_tx_ids() {
        for size in [200, 1024, 4096, 70_000] {
            let e = transaction("mychannel", 1, size);
            assert_eq!(e.payload.len() + e.signature.len(), size, "size {size}");
        }
        let a = orderer_api::envelope::parse_payload(&transaction("c", 1, 200)).unwrap();
        let b = orderer_api::envelope::parse_payload(&transaction("c", 1, 200)).unwrap();
        assert_ne!(a.channel_header.tx_id, b.channel_header.tx_id);
        assert_eq!(a.header_type(), Some(HeaderType::EndorserTransaction));
    }
}
