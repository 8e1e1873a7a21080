//! gRPC codecs of the AtomicBroadcast service.
//!
//! Requests are taken as raw bytes: the envelope's bytes go into the block exactly as
//! the client sent them, sharing the receive buffer. Blocks in Deliver responses are
//! written from their stored bytes; the frame is byte-identical to prost's encoding
//! of `DeliverResponse { block }`.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes};
use orderer_api::proto::orderer::{BroadcastResponse, DeliverResponse, deliver_response};
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

pub use crate::deliver::DeliverFrame;

/// Tag of `DeliverResponse.block` (field 2, length-delimited).
const DELIVER_BLOCK_TAG: u8 = (2 << 3) | 2;

#[derive(Debug)]
pub struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[derive(Debug)]
pub struct ProstEncoder<T>(PhantomData<T>);

impl<T: Message> Encoder for ProstEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding a response failed: {e}")))
    }
}

#[derive(Debug)]
pub struct DeliverEncoder;

impl Encoder for DeliverEncoder {
    type Item = DeliverFrame;
    type Error = Status;

    fn encode(&mut self, item: DeliverFrame, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        match item {
            DeliverFrame::Status(s) => DeliverResponse {
                r#type: Some(deliver_response::Type::Status(s as i32)),
            }
            .encode(dst)
            .map_err(|e| Status::internal(format!("encoding a status failed: {e}"))),
            DeliverFrame::Block(block, _budget) => {
                dst.reserve(1 + 10 + block.len());
                put_block_frame(&block, dst);
                Ok(())
            }
        }
    }
}

/// Writes `DeliverResponse { block }` given the block's marshalled bytes.
fn put_block_frame(block: &[u8], dst: &mut impl BufMut) {
    dst.put_u8(DELIVER_BLOCK_TAG);
    prost::encoding::encode_varint(block.len() as u64, dst);
    dst.put_slice(block);
}

/// Broadcast: raw envelopes in, `BroadcastResponse` out.
#[derive(Debug, Default)]
pub struct BroadcastCodec;

impl Codec for BroadcastCodec {
    type Encode = BroadcastResponse;
    type Decode = Bytes;
    type Encoder = ProstEncoder<BroadcastResponse>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

/// Deliver: raw seek envelopes in, [`DeliverFrame`]s out.
#[derive(Debug, Default)]
pub struct DeliverCodec;

impl Codec for DeliverCodec {
    type Encode = DeliverFrame;
    type Decode = Bytes;
    type Encoder = DeliverEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DeliverEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderer_api::proto::common::{Block, BlockData, BlockHeader};

    #[test]
    fn block_frame_is_prost_encoding_of_deliver_response() {
        let block = Block {
            header: Some(BlockHeader {
                number: 7,
                previous_hash: Bytes::from_static(b"p"),
                data_hash: Bytes::from_static(b"d"),
            }),
            data: Some(BlockData {
                data: vec![Bytes::from(vec![1u8; 300])],
            }),
            metadata: None,
        };
        let stored = Bytes::from(block.encode_to_vec());
        let want = DeliverResponse {
            r#type: Some(deliver_response::Type::Block(block)),
        }
        .encode_to_vec();

        let mut buf = bytes::BytesMut::new();
        put_block_frame(&stored, &mut buf);
        assert_eq!(buf.to_vec(), want);
    }
}
