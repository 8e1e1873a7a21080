//! `Broadcast`: one response per envelope, in order.
//!
//! Each stream has a reader task that parses, validates and enqueues envelopes in
//! arrival order, and a response stream that awaits each envelope's [`Receipt`] in the
//! same order. Enqueueing never waits for the previous envelope's acceptance, so a
//! slow acknowledgement (Kafka) does not stall the stream; at most
//! [`MAX_IN_FLIGHT`] envelopes per stream wait for theirs.
//!
//! Unlike Fabric, which closes the stream after the first non-SUCCESS response, every
//! envelope gets its response and the stream stays open.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use orderer_api::envelope::{ParsedPayload, parse_payload};
use orderer_api::proto::common::{HeaderType, Status as FabricStatus};
use orderer_api::proto::orderer::BroadcastResponse;
use orderer_api::{RawEnvelope, Receipt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::debug;

use crate::ingress::IngressError;
use crate::registry::{Channel, Registry};
use crate::shutdown::Shutdown;

/// Envelopes of one stream that may await acceptance at once.
pub const MAX_IN_FLIGHT: usize = 1024;

pub type BroadcastStream =
    Pin<Box<dyn Stream<Item = Result<BroadcastResponse, tonic::Status>> + Send>>;

/// A response not yet sent: final, or waiting for a receipt.
enum Pending {
    Done(Result<(), IngressError>),
    Accepted(Receipt),
    End(tonic::Status),
}

impl Pending {
    async fn resolve(self) -> Result<BroadcastResponse, tonic::Status> {
        let result = match self {
            Pending::Done(r) => r,
            Pending::Accepted(receipt) => receipt.await.map_err(IngressError::from),
            Pending::End(status) => return Err(status),
        };
        Ok(match result {
            Ok(()) => BroadcastResponse {
                status: FabricStatus::Success as i32,
                info: String::new(),
            },
            Err(e) => BroadcastResponse {
                status: e.status() as i32,
                info: e.to_string(),
            },
        })
    }
}

/// The Broadcast side of the service.
#[derive(Debug)]
pub struct BroadcastHandler {
    registry: Arc<Registry>,
    shutdown: Shutdown,
}

impl BroadcastHandler {
    pub fn new(registry: Arc<Registry>, shutdown: Shutdown) -> Self {
        BroadcastHandler { registry, shutdown }
    }

    /// Serves one Broadcast stream.
    pub fn handle<S>(self: &Arc<Self>, requests: S) -> BroadcastStream
    where
        S: Stream<Item = Result<Bytes, tonic::Status>> + Send + Unpin + 'static,
    {
        let (tx, rx) = mpsc::channel(MAX_IN_FLIGHT);
        let this = Arc::clone(self);
        tokio::spawn(async move { this.read_loop(requests, tx).await });
        Box::pin(ReceiverStream::new(rx).then(Pending::resolve))
    }

    async fn read_loop<S>(&self, mut requests: S, tx: mpsc::Sender<Pending>)
    where
        S: Stream<Item = Result<Bytes, tonic::Status>> + Send + Unpin,
    {
        let mut shutdown = self.shutdown.clone();
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.wait() => {
                    let _ = tx.send(Pending::End(tonic::Status::unavailable("the orderer is shutting down"))).await;
                    return;
                }
                next = requests.next() => next,
            };
            let pending = match next {
                None => return,
                Some(Err(status)) => Pending::End(status),
                Some(Ok(bytes)) => self.process(bytes).await,
            };
            let end = matches!(pending, Pending::End(_));
            if tx.send(pending).await.is_err() || end {
                return;
            }
        }
    }

    /// Parses, validates and enqueues one envelope.
    async fn process(&self, bytes: Bytes) -> Pending {
        match self.enqueue(bytes).await {
            Ok(receipt) => Pending::Accepted(receipt),
            Err(e) => {
                debug!(error = %e, status = ?e.status(), "broadcast envelope rejected");
                Pending::Done(Err(e))
            }
        }
    }

    async fn enqueue(&self, bytes: Bytes) -> Result<Receipt, IngressError> {
        let (raw, env) = RawEnvelope::parse(bytes)?;
        let payload = parse_payload(&env)?;
        let channel_id = &payload.channel_header.channel_id;
        let channel = self
            .registry
            .get(channel_id)
            .ok_or_else(|| IngressError::UnknownChannel(channel_id.clone()))?;
        match payload.header_type() {
            Some(HeaderType::ConfigUpdate) => return Err(IngressError::ConfigUpdateUnsupported),
            Some(t @ (HeaderType::Config | HeaderType::OrdererTransaction)) => {
                return Err(IngressError::NotBroadcastable(t.as_str_name()));
            }
            _ => {}
        }
        let config_seq = validate(channel, &raw, &payload)?;
        channel.chain.wait_ready().await?;
        Ok(channel.chain.order(raw, config_seq).await?)
    }
}

/// The validation stage: every check a normal envelope must pass before it is
/// ordered (Fabric's message processor rules). Returns the config sequence the
/// envelope was validated at.
///
/// Today: the channel's `AbsoluteMaxBytes` (Fabric's size filter). The signature,
/// certificate and channel Writers policy checks (Fabric's signature filter) belong
/// here too; they need the channel's MSP definitions, which this orderer does not
/// have yet, so every structurally valid envelope is accepted.
pub fn validate(
    channel: &Channel,
    raw: &RawEnvelope,
    _payload: &ParsedPayload,
) -> Result<u64, IngressError> {
    let config = channel.support.committed_config();
    let max = config.channel.batch_size.absolute_max_bytes;
    if raw.size() > max as usize {
        return Err(IngressError::TooLarge {
            size: raw.size(),
            max,
        });
    }
    Ok(config.sequence)
}
