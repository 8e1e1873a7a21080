//! AtomicBroadcast calls on raw message bytes.
//!
//! The benchmark sends envelopes marshalled before the clock starts and reads Deliver
//! responses without decoding whole blocks, so that the client costs as little as
//! possible of the machine it shares with the orderer.

use bytes::{Buf, BufMut, Bytes};
use futures_util::Stream;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder, Streaming};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

use crate::client::{MAX_MESSAGE, describe_status};

/// Messages as their marshalled bytes, both ways.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawCodec;

#[derive(Debug)]
pub struct RawEncoder;

#[derive(Debug)]
pub struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// Opens a bidirectional stream of `/orderer.AtomicBroadcast/<method>` on raw bytes.
async fn call(
    channel: Channel,
    method: &'static str,
    requests: impl Stream<Item = Bytes> + Send + 'static,
) -> anyhow::Result<Streaming<Bytes>> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    grpc.ready()
        .await
        .map_err(|e| anyhow::anyhow!("the connection is not ready: {e}"))?;
    let path = PathAndQuery::from_static(method);
    let response = grpc
        .streaming(tonic::Request::new(requests), path, RawCodec)
        .await
        .map_err(|s| anyhow::anyhow!("{method} refused: {}", describe_status(&s)))?;
    Ok(response.into_inner())
}

/// Broadcast: marshalled envelopes in, marshalled `BroadcastResponse`s out.
pub async fn broadcast(
    channel: Channel,
    envelopes: impl Stream<Item = Bytes> + Send + 'static,
) -> anyhow::Result<Streaming<Bytes>> {
    call(channel, "/orderer.AtomicBroadcast/Broadcast", envelopes).await
}

/// Deliver: one marshalled seek envelope in, raw `DeliverResponse`s out.
pub async fn deliver(channel: Channel, seek: Bytes) -> anyhow::Result<Streaming<Bytes>> {
    call(
        channel,
        "/orderer.AtomicBroadcast/Deliver",
        futures_util::stream::iter([seek]),
    )
    .await
}

/// A `DeliverResponse`, looked at without decoding its block.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The marshalled block.
    Block(Bytes),
    /// A `common.Status` value.
    Status(i32),
}

/// Splits a marshalled `DeliverResponse` (oneof: status = 1, block = 2).
pub fn frame(mut msg: Bytes) -> anyhow::Result<Frame> {
    const STATUS_TAG: u8 = 1 << 3; // field 1, varint
    const BLOCK_TAG: u8 = (2 << 3) | 2; // field 2, length-delimited
    let whole = msg.clone();
    match msg.first().copied() {
        Some(BLOCK_TAG) => {
            msg.advance(1);
            let len = prost::encoding::decode_varint(&mut msg)
                .map_err(|e| anyhow::anyhow!("bad DeliverResponse block length: {e}"))?;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len != msg.len() {
                anyhow::bail!(
                    "DeliverResponse holds {} bytes after the block, expected {len}",
                    msg.len()
                );
            }
            Ok(Frame::Block(msg))
        }
        Some(STATUS_TAG) => {
            let r = orderer_api::proto::orderer::DeliverResponse::decode(whole)
                .map_err(|e| anyhow::anyhow!("bad DeliverResponse: {e}"))?;
            match r.r#type {
                Some(orderer_api::proto::orderer::deliver_response::Type::Status(s)) => {
                    Ok(Frame::Status(s))
                }
                _ => anyhow::bail!("DeliverResponse without a status"),
            }
        }
        _ => anyhow::bail!("unexpected DeliverResponse (first byte {:?})", msg.first()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderer_api::proto::common::{Block, BlockHeader, Status as FabricStatus};
    use orderer_api::proto::orderer::{DeliverResponse, deliver_response};

    #[test]
    fn frames_split_blocks_and_statuses() {
        let block = Block {
            header: Some(BlockHeader {
                number: 3,
                ..Default::default()
            }),
            data: None,
            metadata: None,
        };
        let enc = DeliverResponse {
            r#type: Some(deliver_response::Type::Block(block.clone())),
        }
        .encode_to_vec();
        match frame(enc.into()).unwrap() {
            Frame::Block(b) => assert_eq!(Block::decode(b).unwrap(), block),
            other => panic!("{other:?}"),
        }
        let enc = DeliverResponse {
            r#type: Some(deliver_response::Type::Status(
                FabricStatus::NotFound as i32,
            )),
        }
        .encode_to_vec();
        assert_eq!(
            frame(enc.into()).unwrap(),
            Frame::Status(FabricStatus::NotFound as i32)
        );
        assert!(frame(Bytes::from_static(b"\x12\x05ab")).is_err());
        assert!(frame(Bytes::new()).is_err());
    }
}
