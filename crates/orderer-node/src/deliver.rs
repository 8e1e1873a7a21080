//! `Deliver`: streams blocks of a channel for each SeekInfo, with Fabric's semantics.
//!
//! * start/stop: oldest, newest, a number, or (start only) the next block to commit;
//!   stop = `u64::MAX` streams forever.
//! * `BLOCK_UNTIL_READY` waits for blocks not yet written (woken by the ledger, no
//!   polling); `FAIL_IF_NOT_READY` answers NOT_FOUND instead.
//! * After the stop block: a SUCCESS status, then the next SeekInfo on the same
//!   stream. After any other status the stream ends (as in Fabric); the reason is in
//!   the log and in the `grpc-message` of the final (OK) gRPC status.
//! * Unless `BEST_EFFORT` is asked, a chain that is not ready (starting, errored,
//!   halted) answers SERVICE_UNAVAILABLE. `BEST_EFFORT` still gets it from a halted
//!   chain: halted is for good, and may mean its ledger is not the channel's (a
//!   Kafka OSN that refused the channel because its block 0 differs).

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use orderer_api::channel::is_config_envelope;
use orderer_api::envelope::parse_payload;
use orderer_api::policies::SignedData;
use orderer_api::proto::common::{Block, Envelope, Status as FabricStatus};
use orderer_api::proto::orderer::SeekInfo;
use orderer_api::proto::orderer::seek_info::{SeekBehavior, SeekContentType, SeekErrorResponse};
use orderer_api::seek::SeekRange;
use orderer_api::{ChainState, RawEnvelope};
use prost::Message;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{Instrument, debug, trace_span};

use crate::bundle::READERS;
use crate::ingress::IngressError;
use crate::metrics;
use crate::registry::{Channel, Registry};
use crate::security::{ClientTls, Security};
use crate::shutdown::Shutdown;

/// One Deliver response: a status, or a marshalled block (encoded by the gRPC
/// server's codec from the stored bytes).
#[derive(Debug)]
pub enum DeliverFrame {
    Status(FabricStatus),
    /// The block, and its share of the stream's buffer budget, given back once the
    /// frame is encoded.
    Block(Bytes, Option<OwnedSemaphorePermit>),
}

/// Responses buffered per stream...
const STREAM_BUFFER: usize = 16;
/// How often a long stream's requester is checked against `/Channel/Readers` again
/// while the configuration stays the same (certificates expire).
const READERS_RECHECK: Duration = Duration::from_secs(1);
/// ...and at most this many bytes of blocks (or one block, if larger): bounds the
/// memory a slow reader holds.
pub const STREAM_BUFFER_BYTES: usize = 16 * 1024 * 1024;
/// Blocks read from the ledger at a time.
const READ_BATCH: usize = 64;

pub type DeliverStream = Pin<Box<dyn Stream<Item = Result<DeliverFrame, tonic::Status>> + Send>>;

/// How one SeekInfo ended.
enum Outcome {
    /// The stop block was sent.
    Success,
    /// A status other than SUCCESS, with its reason.
    Failed(IngressError),
    /// The client went away or the node is shutting down: send nothing more.
    Gone,
}

/// The Deliver side of the service.
#[derive(Debug)]
pub struct DeliverHandler {
    registry: Arc<Registry>,
    security: Arc<Security>,
    shutdown: Shutdown,
}

type Tx = mpsc::Sender<Result<DeliverFrame, tonic::Status>>;

impl DeliverHandler {
    pub fn new(registry: Arc<Registry>, security: Arc<Security>, shutdown: Shutdown) -> Self {
        DeliverHandler {
            registry,
            security,
            shutdown,
        }
    }

    /// Serves one Deliver stream.
    pub fn handle<S>(self: &Arc<Self>, requests: S, client: ClientTls) -> DeliverStream
    where
        S: Stream<Item = Result<Bytes, tonic::Status>> + Send + Unpin + 'static,
    {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let this = Arc::clone(self);
        metrics::deliver_stream_opened();
        tokio::spawn(async move {
            this.serve(requests, tx, client).await;
            metrics::deliver_stream_closed();
        });
        Box::pin(ReceiverStream::new(rx))
    }

    async fn serve<S>(&self, mut requests: S, tx: Tx, client: ClientTls)
    where
        S: Stream<Item = Result<Bytes, tonic::Status>> + Send + Unpin,
    {
        let mut shutdown = self.shutdown.clone();
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.wait() => return shutting_down(&tx).await,
                next = requests.next() => next,
            };
            let bytes = match next {
                None => return,
                Some(Err(status)) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
                Some(Ok(bytes)) => bytes,
            };
            match self.deliver_blocks(bytes, &tx, client).await {
                Outcome::Gone => {
                    if self.shutdown.is_triggered() {
                        shutting_down(&tx).await;
                    }
                    return;
                }
                Outcome::Success => {
                    if tx
                        .send(Ok(DeliverFrame::Status(FabricStatus::Success)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Outcome::Failed(e) => {
                    debug!(error = %e, status = ?e.status(), "deliver request ended");
                    if tx.send(Ok(DeliverFrame::Status(e.status()))).await.is_ok() {
                        // Fabric ends the stream after a failure; the reason rides in
                        // the final gRPC status message, which Fabric clients ignore.
                        let _ = tx.send(Err(tonic::Status::ok(e.to_string()))).await;
                    }
                    return;
                }
            }
        }
    }

    /// Handles one seek envelope: sends its blocks and says how it ended.
    async fn deliver_blocks(&self, bytes: Bytes, tx: &Tx, client: ClientTls) -> Outcome {
        let request = match self.parse(bytes, client) {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(e),
        };
        let label = Arc::clone(&request.channel.label);
        metrics::deliver_request_received(&label);
        let span = trace_span!("deliver.request", channel = %label, start = request.start, stop = request.stop);
        let outcome = self.stream_blocks(request, tx).instrument(span).await;
        if !matches!(outcome, Outcome::Gone) {
            metrics::deliver_request_completed(&label, matches!(outcome, Outcome::Success));
        }
        outcome
    }

    /// Sends the blocks of one parsed request.
    async fn stream_blocks(&self, request: Request, tx: &Tx) -> Outcome {
        let Request {
            channel,
            seek,
            start,
            stop,
            signed,
        } = request;
        let mut readers_checked = (channel.bundle(), Instant::now());
        let best_effort = seek.error_response == SeekErrorResponse::BestEffort as i32;
        let fail_if_not_ready = seek.behavior == SeekBehavior::FailIfNotReady as i32;
        let headers_only = seek.content_type == SeekContentType::HeaderWithSig as i32;
        let mut state = channel.chain.state();
        if let Some(e) = refusal(&state.borrow(), &channel.id, best_effort) {
            return Outcome::Failed(e);
        }
        let ledger = channel.ledger();
        let mut height = ledger.subscribe();
        let mut shutdown = self.shutdown.clone();
        let mut next = start;
        let budget = Arc::new(Semaphore::new(STREAM_BUFFER_BYTES));
        loop {
            // Wait until block `next` is durable.
            loop {
                let h = *height.borrow_and_update();
                if next < h {
                    break;
                }
                if fail_if_not_ready {
                    return Outcome::Failed(IngressError::NotReadyYet {
                        channel: channel.id.clone(),
                        number: next,
                        height: h,
                    });
                }
                if let Some(reason) = ledger.failure() {
                    return Outcome::Failed(IngressError::Ledger(reason));
                }
                tokio::select! {
                    changed = height.changed() => {
                        if changed.is_err() {
                            return Outcome::Failed(IngressError::Ledger("the ledger was closed".into()));
                        }
                    }
                    e = not_ready(&mut state, &channel.id, best_effort) => return Outcome::Failed(e),
                    _ = tx.closed() => return Outcome::Gone,
                    _ = shutdown.wait() => return Outcome::Gone,
                }
            }
            let want = usize::try_from(stop.saturating_sub(next).saturating_add(1))
                .unwrap_or(usize::MAX)
                .min(READ_BATCH);
            let blocks = match ledger.read_range(next, want).await {
                Ok(b) => b,
                Err(e) => return Outcome::Failed(IngressError::Ledger(e.to_string())),
            };
            // A stream may outlive the requester's certificate, or the configuration
            // that let it read: check again when the configuration changed, and at
            // most once a second otherwise (Fabric's session re-evaluation).
            if let Some(signed) = &signed {
                let bundle = channel.bundle();
                if !Arc::ptr_eq(&bundle, &readers_checked.0)
                    || readers_checked.1.elapsed() >= READERS_RECHECK
                {
                    if let Err(e) = bundle.evaluate(READERS, std::slice::from_ref(signed)) {
                        return Outcome::Failed(IngressError::Forbidden(format!(
                            "refused during the stream: {e}"
                        )));
                    }
                    readers_checked = (bundle, Instant::now());
                }
            }
            for block in blocks {
                let block = if headers_only {
                    strip_data(block)
                } else {
                    block
                };
                // Waits while the client has not taken enough of what was sent.
                let cost =
                    u32::try_from(block.len().clamp(1, STREAM_BUFFER_BYTES)).unwrap_or(u32::MAX);
                let permit = tokio::select! {
                    p = Arc::clone(&budget).acquire_many_owned(cost) => p.ok(),
                    _ = tx.closed() => return Outcome::Gone,
                };
                if tx
                    .send(Ok(DeliverFrame::Block(block, permit)))
                    .await
                    .is_err()
                {
                    return Outcome::Gone;
                }
                metrics::deliver_block_sent(&channel.label);
                if next == stop {
                    return Outcome::Success;
                }
                next += 1;
            }
        }
    }

    /// Parses a seek envelope and resolves its start and stop block numbers.
    fn parse(&self, bytes: Bytes, client: ClientTls) -> Result<Request, IngressError> {
        let (_, env) = RawEnvelope::parse(bytes)?;
        let payload = parse_payload(&env)?;
        let channel_id = &payload.channel_header.channel_id;
        let channel = self
            .registry
            .get(channel_id)
            .ok_or_else(|| IngressError::UnknownChannel(channel_id.clone()))?
            .clone();
        // Fabric's order: the header (timestamp), the TLS binding, then the session's
        // access control (creator, Readers, signature).
        self.security.check_timestamp(&payload.channel_header)?;
        self.security
            .check_binding(&payload.channel_header, client, true)?;
        let signed = self
            .security
            .check_policy(&channel.bundle(), READERS, &env, &payload)?;
        let seek = orderer_api::seek::decode(payload.data)?;
        let SeekRange { start, stop } =
            orderer_api::seek::resolve(&seek, channel.ledger().height())?;
        Ok(Request {
            channel,
            seek,
            start,
            stop,
            signed,
        })
    }
}

struct Request {
    channel: Arc<Channel>,
    seek: SeekInfo,
    start: u64,
    stop: u64,
    /// The request's signature; `None` when signature checks are skipped.
    signed: Option<SignedData>,
}

/// Why a request is not served in `state`: any state but ready, or with
/// `best_effort` only a halted chain (BEST_EFFORT reads through trouble a chain may
/// recover from, never from a chain stopped for good).
fn refusal(state: &ChainState, channel: &str, best_effort: bool) -> Option<IngressError> {
    if best_effort && !matches!(state, ChainState::Halted { .. }) {
        return None;
    }
    state.to_error(channel).map(IngressError::from)
}

/// Resolves when the chain stops being servable (see [`refusal`]).
async fn not_ready(
    state: &mut watch::Receiver<ChainState>,
    channel: &str,
    best_effort: bool,
) -> IngressError {
    loop {
        if let Some(e) = refusal(&state.borrow_and_update(), channel, best_effort) {
            return e;
        }
        if state.changed().await.is_err() {
            return IngressError::Chain(orderer_api::ChainError::Halted {
                channel: channel.to_owned(),
            });
        }
    }
}

async fn shutting_down(tx: &Tx) {
    let _ = tx
        .send(Err(tonic::Status::unavailable(
            "the orderer is shutting down",
        )))
        .await;
}

/// HEADER_WITH_SIG: the block without its data, except config blocks (as Fabric).
fn strip_data(bytes: Bytes) -> Bytes {
    let Ok(mut block) = Block::decode(bytes.clone()) else {
        return bytes;
    };
    let is_config = match block.data.as_ref().map(|d| d.data.as_slice()) {
        Some([only]) => Envelope::decode(only.clone())
            .map(|e| is_config_envelope(&e))
            .unwrap_or(false),
        _ => false,
    };
    if is_config {
        return bytes;
    }
    block.data = None;
    Bytes::from(block.encode_to_vec())
}
