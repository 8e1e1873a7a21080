//! Deliver responses written without a copy per stream.
//!
//! tonic's codec writes every response into its stream's own buffer. With 1,000
//! streams following a chain, each block was copied 1,000 times and each copy waited
//! in its stream's HTTP/2 send buffer (about 1 MB a stream). Here Deliver is routed
//! before tonic's codec: a block's response is a short prefix (gRPC length prefix,
//! `DeliverResponse.block` tag and length) followed by the ledger's own `Bytes`, which
//! HTTP/2 writes to the socket without copying. Every stream shares one copy of a block.
//! Broadcast, and anything else, goes to the generated server unchanged.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::Stream;
use hyper::body::{Body as HttpBody, Frame};
use orderer_api::proto::orderer::{DeliverResponse, deliver_response};
use prost::Message;
use tokio::sync::OwnedSemaphorePermit;
use tonic::Status;
use tonic::body::Body;
use tonic::codec::Streaming;
use tonic::codegen::{BoxFuture, http};
use tonic::server::NamedService;

use super::codec::{DeliverFrame, RawDecoder};
use super::{AtomicBroadcast, AtomicBroadcastServer, Metered, Service};
use crate::deliver::DeliverStream;

const DELIVER_PATH: &str = "/orderer.AtomicBroadcast/Deliver";
/// Tag of `DeliverResponse.block` (field 2, length-delimited).
const DELIVER_BLOCK_TAG: u8 = (2 << 3) | 2;
/// gRPC message prefix: a compression flag and a big-endian u32 length.
const GRPC_PREFIX: usize = 5;

/// The AtomicBroadcast service with Deliver's responses written from shared bytes.
#[derive(Debug, Clone)]
pub struct AtomicBroadcastRoutes {
    generated: AtomicBroadcastServer<Service>,
    service: Service,
    max_recv: usize,
    max_send: usize,
}

impl AtomicBroadcastRoutes {
    /// `max_recv` bounds a request message, `max_send` a response message (as tonic's
    /// `max_decoding_message_size` and `max_encoding_message_size` do).
    pub fn new(service: Service, max_recv: usize, max_send: usize) -> Self {
        let generated = AtomicBroadcastServer::new(service.clone())
            .max_decoding_message_size(max_recv)
            .max_encoding_message_size(max_send);
        AtomicBroadcastRoutes {
            generated,
            service,
            max_recv,
            max_send,
        }
    }
}

impl NamedService for AtomicBroadcastRoutes {
    const NAME: &'static str = super::generated::atomic_broadcast_server::SERVICE_NAME;
}

impl tonic::codegen::Service<http::Request<Body>> for AtomicBroadcastRoutes {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        tonic::codegen::Service::<http::Request<Body>>::poll_ready(&mut self.generated, cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if req.uri().path() != DELIVER_PATH {
            return self.generated.call(req);
        }
        let service = self.service.clone();
        let (max_recv, max_send) = (self.max_recv, self.max_send);
        Box::pin(async move { Ok(deliver(service, req, max_recv, max_send).await) })
    }
}

/// Serves one Deliver call as tonic's `Grpc::streaming` would, with [`DeliverBody`]
/// as the response body.
async fn deliver(
    service: Service,
    req: http::Request<Body>,
    max_recv: usize,
    max_send: usize,
) -> http::Response<Body> {
    // No compression is enabled on this server (as for the generated one).
    if let Some(encoding) = req.headers().get("grpc-encoding") {
        if encoding.as_bytes() != b"identity" {
            return Status::unimplemented(format!(
                "Content is compressed with `{}` which isn't supported",
                String::from_utf8_lossy(encoding.as_bytes())
            ))
            .into_http();
        }
    }
    let req = req.map(|body| Streaming::new_request(RawDecoder, body, None, Some(max_recv)));
    let request = tonic::Request::from_http(req);
    match AtomicBroadcast::deliver(&service, request).await {
        Err(status) => status.into_http(),
        Ok(response) => {
            let (_, frames, _) = response.into_parts();
            let mut http = http::Response::new(Body::new(DeliverBody::new(frames, max_send)));
            http.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc"),
            );
            http
        }
    }
}

/// The HTTP body of a Deliver call: gRPC messages, then the trailers with the status.
struct DeliverBody {
    frames: Metered<DeliverStream>,
    /// A block whose prefix was just yielded, with its share of the stream's budget.
    block: Option<(Bytes, Option<OwnedSemaphorePermit>)>,
    max_send: usize,
    done: bool,
}

impl DeliverBody {
    fn new(frames: Metered<DeliverStream>, max_send: usize) -> Self {
        DeliverBody {
            frames,
            block: None,
            max_send,
            done: false,
        }
    }

    fn trailers(&mut self, status: &Status) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        self.done = true;
        let mut trailers = http::HeaderMap::new();
        Poll::Ready(Some(
            status
                .add_header(&mut trailers)
                .map(|()| Frame::trailers(trailers)),
        ))
    }
}

impl HttpBody for DeliverBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // The permit is given back once HTTP/2 holds the block (it then holds at most
        // its send buffer's worth per stream before asking for more).
        if let Some((block, _permit)) = this.block.take() {
            return Poll::Ready(Some(Ok(Frame::data(block))));
        }
        match ready!(Pin::new(&mut this.frames).poll_next(cx)) {
            Some(Ok(DeliverFrame::Block(block, permit))) => {
                match block_prefix(block.len(), this.max_send) {
                    Ok(prefix) => {
                        this.block = Some((block, permit));
                        Poll::Ready(Some(Ok(Frame::data(prefix))))
                    }
                    Err(status) => this.trailers(&status),
                }
            }
            Some(Ok(DeliverFrame::Status(s))) => {
                let msg = DeliverResponse {
                    r#type: Some(deliver_response::Type::Status(s as i32)),
                }
                .encode_to_vec();
                let mut buf = BytesMut::with_capacity(GRPC_PREFIX + msg.len());
                buf.put_u8(0);
                // A status response is a few bytes.
                buf.put_u32(u32::try_from(msg.len()).unwrap_or(u32::MAX));
                buf.put_slice(&msg);
                Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
            }
            Some(Err(status)) => this.trailers(&status),
            None => this.trailers(&Status::ok("")),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// Everything of a block's gRPC message before the block's bytes: the gRPC prefix,
/// then `DeliverResponse.block`'s tag and length. Refuses a message larger than
/// `max_send` with tonic's status and wording.
fn block_prefix(block_len: usize, max_send: usize) -> Result<Bytes, Status> {
    let varint = prost::encoding::encoded_len_varint(block_len as u64);
    let message_len = 1 + varint + block_len;
    if message_len > max_send {
        return Err(Status::out_of_range(format!(
            "Error, encoded message length too large: found {message_len} bytes, the limit is: {max_send} bytes"
        )));
    }
    let len = u32::try_from(message_len).map_err(|_| {
        Status::out_of_range(format!(
            "a Deliver response of {message_len} bytes exceeds gRPC's 4 GiB message limit"
        ))
    })?;
    let mut buf = BytesMut::with_capacity(GRPC_PREFIX + 1 + varint);
    buf.put_u8(0);
    buf.put_u32(len);
    buf.put_u8(DELIVER_BLOCK_TAG);
    prost::encoding::encode_varint(block_len as u64, &mut buf);
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderer_api::proto::common::{Block, BlockData, BlockHeader};

    #[test]
    fn prefix_and_block_are_the_grpc_framing_of_deliver_response() {
        let block = Block {
            header: Some(BlockHeader {
                number: 9,
                previous_hash: Bytes::from_static(b"p"),
                data_hash: Bytes::from_static(b"d"),
            }),
            data: Some(BlockData {
                data: vec![Bytes::from(vec![7u8; 70_000])],
            }),
            metadata: None,
        };
        let stored = block.encode_to_vec();
        let message = DeliverResponse {
            r#type: Some(deliver_response::Type::Block(block)),
        }
        .encode_to_vec();
        let mut want = vec![0u8];
        want.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        want.extend_from_slice(&message);

        let mut got = block_prefix(stored.len(), usize::MAX).unwrap().to_vec();
        got.extend_from_slice(&stored);
        assert_eq!(got, want);
    }

    #[test]
    fn block_over_the_send_limit_is_out_of_range() {
        let err = block_prefix(1000, 1000).unwrap_err();
        assert_eq!(err.code(), tonic::Code::OutOfRange);
        assert!(err.message().contains("1003 bytes"), "{}", err.message());
        assert!(block_prefix(1000, 1003).is_ok());
    }
}
