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
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::field::Empty;
use tracing::{Instrument, Span, debug, trace_span};

use crate::ingress::IngressError;
use crate::registry::{Channel, Registry};
use crate::shutdown::Shutdown;
use crate::{metrics, telemetry};

/// Envelopes of one stream that may await acceptance at once.
pub const MAX_IN_FLIGHT: usize = 1024;

pub type BroadcastStream =
    Pin<Box<dyn Stream<Item = Result<BroadcastResponse, tonic::Status>> + Send>>;

/// What is known of one envelope for its metrics and trace, filled in as it goes.
struct Tracker {
    channel: Option<Arc<str>>,
    kind: &'static str,
    started: Instant,
    validated: Option<Duration>,
    enqueue_started: Option<Instant>,
    span: Span,
}

impl Tracker {
    fn new() -> Self {
        Tracker {
            channel: None,
            kind: "unknown",
            started: Instant::now(),
            validated: None,
            enqueue_started: None,
            span: trace_span!(
                "broadcast.envelope",
                channel = Empty,
                tx_id = Empty,
                status = Empty
            ),
        }
    }

    /// Records Fabric's broadcast metrics and closes the span, once the response is known.
    fn finish(self, status: FabricStatus) {
        let validate = self.validated.unwrap_or_else(|| self.started.elapsed());
        let enqueue = self.enqueue_started.map(|t| t.elapsed());
        let channel = self.channel.as_deref().unwrap_or("unknown");
        metrics::broadcast_processed(channel, self.kind, status.as_str_name(), validate, enqueue);
        self.span.record("status", status.as_str_name());
    }
}

/// A response not yet sent: final, or waiting for a receipt.
enum Pending {
    Done(Result<(), IngressError>, Tracker),
    Accepted(Receipt, Tracker),
    End(tonic::Status),
}

impl Pending {
    async fn resolve(self) -> Result<BroadcastResponse, tonic::Status> {
        let (result, tracker) = match self {
            Pending::Done(r, t) => (r, t),
            Pending::Accepted(receipt, t) => (receipt.await.map_err(IngressError::from), t),
            Pending::End(status) => return Err(status),
        };
        let response = match result {
            Ok(()) => BroadcastResponse {
                status: FabricStatus::Success as i32,
                info: String::new(),
            },
            Err(e) => {
                debug!(error = %e, status = ?e.status(), "broadcast envelope rejected");
                BroadcastResponse {
                    status: e.status() as i32,
                    info: e.to_string(),
                }
            }
        };
        tracker.finish(FabricStatus::try_from(response.status).unwrap_or(FabricStatus::Unknown));
        Ok(response)
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
        let mut tracker = Tracker::new();
        match self.enqueue(bytes, &mut tracker).await {
            Ok(receipt) => Pending::Accepted(receipt, tracker),
            Err(e) => Pending::Done(Err(e), tracker),
        }
    }

    async fn enqueue(&self, bytes: Bytes, t: &mut Tracker) -> Result<Receipt, IngressError> {
        let (channel, raw, config_seq) = {
            let _validate = trace_span!(parent: &t.span, "broadcast.validate").entered();
            let (raw, env) = RawEnvelope::parse(bytes)?;
            let payload = parse_payload(&env)?;
            let channel_id = &payload.channel_header.channel_id;
            t.kind = payload
                .header_type()
                .map(|h| h.as_str_name())
                .unwrap_or("unknown");
            t.span.record("channel", channel_id.as_str());
            t.span
                .record("tx_id", payload.channel_header.tx_id.as_str());
            let channel = self
                .registry
                .get(channel_id)
                .ok_or_else(|| IngressError::UnknownChannel(channel_id.clone()))?;
            t.channel = Some(Arc::clone(&channel.label));
            match payload.header_type() {
                Some(HeaderType::ConfigUpdate) => {
                    return Err(IngressError::ConfigUpdateUnsupported);
                }
                Some(h @ (HeaderType::Config | HeaderType::OrdererTransaction)) => {
                    return Err(IngressError::NotBroadcastable(h.as_str_name()));
                }
                _ => {}
            }
            let config_seq = validate(channel, &raw, &payload)?;
            (channel, raw, config_seq)
        };
        t.validated = Some(t.started.elapsed());
        t.enqueue_started = Some(Instant::now());
        let raw = raw.with_traceparent(telemetry::traceparent(&t.span));
        let enqueue = trace_span!(parent: &t.span, "broadcast.enqueue");
        async {
            channel.chain.wait_ready().await?;
            Ok(channel.chain.order(raw, config_seq).await?)
        }
        .instrument(enqueue)
        .await
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
