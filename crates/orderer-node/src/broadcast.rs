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

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use futures_util::{Stream, StreamExt};
use orderer_api::envelope::parse_payload;
use orderer_api::proto::common::{HeaderType, Status as FabricStatus};
use orderer_api::proto::orderer::BroadcastResponse;
use orderer_api::{RawEnvelope, Receipt};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::field::Empty;
use tracing::{Instrument, Span, debug, trace_span};

use crate::ingress::IngressError;
use crate::msgprocessor;
use crate::registry::{Channel, Registry};
use crate::security::{ClientTls, Security};
use crate::shutdown::Shutdown;
use crate::{metrics, telemetry};

/// Envelopes of one stream that may await acceptance at once.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Envelopes of one stream checked concurrently (signature verification in parallel)...
pub const CHECKS_IN_FLIGHT: usize = 64;
/// ...holding at most this many bytes (or one envelope, if larger). Past it the
/// stream is not read, and HTTP/2 flow control holds the client back.
pub const CHECK_BYTES: usize = 8 * 1024 * 1024;

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

/// An envelope that passed every check, ready to enqueue.
struct Checked {
    channel: Arc<Channel>,
    raw: RawEnvelope,
    config_seq: u64,
    /// A CONFIG or ORDERER_TRANSACTION made from a CONFIG_UPDATE: ordered alone.
    config: bool,
}

type CheckFuture = Pin<Box<dyn Future<Output = (Result<Checked, IngressError>, Tracker)> + Send>>;

/// The Broadcast side of the service.
#[derive(Debug)]
pub struct BroadcastHandler {
    registry: Arc<Registry>,
    security: Arc<Security>,
    shutdown: Shutdown,
}

impl BroadcastHandler {
    pub fn new(registry: Arc<Registry>, security: Arc<Security>, shutdown: Shutdown) -> Self {
        BroadcastHandler {
            registry,
            security,
            shutdown,
        }
    }

    /// Serves one Broadcast stream.
    pub fn handle<S>(self: &Arc<Self>, requests: S, client: ClientTls) -> BroadcastStream
    where
        S: Stream<Item = Result<Bytes, tonic::Status>> + Send + Unpin + 'static,
    {
        let (tx, rx) = mpsc::channel(MAX_IN_FLIGHT);
        let this = Arc::clone(self);
        tokio::spawn(async move { this.read_loop(requests, tx, client).await });
        Box::pin(ReceiverStream::new(rx).then(Pending::resolve))
    }

    /// Reads envelopes, checks up to [`CHECKS_IN_FLIGHT`] of them at once (signature
    /// verification runs on every core), and enqueues them in arrival order.
    async fn read_loop<S>(
        self: Arc<Self>,
        mut requests: S,
        tx: mpsc::Sender<Pending>,
        client: ClientTls,
    ) where
        S: Stream<Item = Result<Bytes, tonic::Status>> + Send + Unpin,
    {
        let mut shutdown = self.shutdown.clone();
        let mut checking: FuturesOrdered<CheckFuture> = FuturesOrdered::new();
        // The sizes of the envelopes in `checking`, in the same order.
        let mut sizes: VecDeque<usize> = VecDeque::new();
        let mut checking_bytes = 0usize;
        let mut input_open = true;
        let mut stream_error = None;
        while input_open || !checking.is_empty() {
            tokio::select! {
                biased;
                _ = shutdown.wait() => {
                    let _ = tx.send(Pending::End(tonic::Status::unavailable("the orderer is shutting down"))).await;
                    return;
                }
                Some((checked, tracker)) = checking.next(), if !checking.is_empty() => {
                    checking_bytes -= sizes.pop_front().unwrap_or(0);
                    let pending = match checked {
                        Ok(c) => self.enqueue(c, tracker).await,
                        Err(e) => Pending::Done(Err(e), tracker),
                    };
                    if tx.send(pending).await.is_err() {
                        return;
                    }
                }
                next = requests.next(), if input_open
                    && checking.len() < CHECKS_IN_FLIGHT
                    && checking_bytes < CHECK_BYTES => match next {
                    None => input_open = false,
                    Some(Err(status)) => {
                        input_open = false;
                        stream_error = Some(status);
                    }
                    Some(Ok(bytes)) => {
                        sizes.push_back(bytes.len());
                        checking_bytes += bytes.len();
                        checking.push_back(self.check_later(bytes, client));
                    }
                },
            }
        }
        if let Some(status) = stream_error {
            let _ = tx.send(Pending::End(status)).await;
        }
    }

    /// The checks of one envelope, as a future: spawned onto the runtime when they
    /// verify signatures (so that they use every core), inline otherwise.
    fn check_later(self: &Arc<Self>, bytes: Bytes, client: ClientTls) -> CheckFuture {
        let this = Arc::clone(self);
        let run = move || {
            let mut tracker = Tracker::new();
            let checked = this.check(bytes, client, &mut tracker);
            (checked, tracker)
        };
        if self.security.verifies() {
            // A verification takes tens of microseconds: short enough for a runtime
            // worker, and spawning spreads a stream's envelopes over every core.
            let handle = tokio::spawn(async move { run() });
            Box::pin(async move {
                handle.await.unwrap_or_else(|e| {
                    (
                        Err(IngressError::Internal(format!(
                            "envelope check failed: {e}"
                        ))),
                        Tracker::new(),
                    )
                })
            })
        } else {
            Box::pin(std::future::ready(run()))
        }
    }

    /// Parses and checks one envelope (the validation stage).
    fn check(
        &self,
        bytes: Bytes,
        client: ClientTls,
        t: &mut Tracker,
    ) -> Result<Checked, IngressError> {
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
        let update = match payload.header_type() {
            Some(HeaderType::ConfigUpdate) => true,
            Some(h @ (HeaderType::Config | HeaderType::OrdererTransaction)) => {
                return Err(IngressError::NotBroadcastable(h.as_str_name()));
            }
            _ => false,
        };
        // A CONFIG_UPDATE for a channel this node does not have creates it, when a
        // system channel is there to order the creation (Fabric's registrar).
        let (channel, creation) = match self.registry.get(channel_id) {
            Some(channel) => (channel, false),
            None => match self.registry.system_channel() {
                Some(system) if update => (system, true),
                _ => return Err(IngressError::UnknownChannel(channel_id.clone())),
            },
        };
        t.channel = Some(Arc::clone(&channel.label));
        self.security.check_timestamp(&payload.channel_header)?;
        self.security
            .check_binding(&payload.channel_header, client, false)?;
        // One snapshot of the configuration for every check of this envelope.
        let bundle = channel.bundle();
        let security = &*self.security;
        let (raw, config_seq) = if creation {
            let channels = self.registry.channels().len();
            msgprocessor::process_channel_creation(&bundle, security, &env, &payload, channels)?
        } else if update {
            msgprocessor::process_config_update(&bundle, security, &env, &payload)?
        } else {
            let seq = msgprocessor::process_normal(&bundle, security, &raw, &env, &payload)?;
            (raw, seq)
        };
        t.validated = Some(t.started.elapsed());
        Ok(Checked {
            channel,
            raw,
            config_seq,
            config: update,
        })
    }

    /// Hands a checked envelope to its chain.
    async fn enqueue(&self, c: Checked, mut t: Tracker) -> Pending {
        t.enqueue_started = Some(Instant::now());
        let raw = c.raw.with_traceparent(telemetry::traceparent(&t.span));
        let enqueue = trace_span!(parent: &t.span, "broadcast.enqueue");
        let result: Result<Receipt, IngressError> = async {
            c.channel.chain.wait_ready().await?;
            if c.config {
                Ok(c.channel.chain.configure(raw, c.config_seq).await?)
            } else {
                Ok(c.channel.chain.order(raw, c.config_seq).await?)
            }
        }
        .instrument(enqueue)
        .await;
        match result {
            Ok(receipt) => Pending::Accepted(receipt, t),
            Err(e) => Pending::Done(Err(e), t),
        }
    }
}
