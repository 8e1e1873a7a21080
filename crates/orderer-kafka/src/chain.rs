//! The Kafka chain of one channel: Fabric's design.
//!
//! * Start: create the topic, post a CONNECT record, assign the partition at
//!   `last_offset_persisted + 1` (the beginning for a new channel). Each step is
//!   retried on the short/long schedule; until all succeed the chain is `Starting`.
//! * Ingress: `order` hands a `KafkaMessage::Regular` to the shared asynchronous
//!   producer and returns; the receipt resolves when the brokers acknowledge it
//!   (`acks=all`, order kept through retries; idempotent if configured).
//! * Every OSN consumes the same partition and cuts blocks with the same cutter.
//!   The batch timer does not cut: it posts `TimeToCut(last_cut + 1)`, and a block is
//!   cut when that record is read, so every OSN cuts at the same offset. Each block
//!   records `KafkaMetadata.last_offset_persisted`, from which a restart resumes.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use orderer_api::channel::CommittedConfig;
use orderer_api::proto::common::{Envelope, Metadata};
use orderer_api::proto::orderer::{
    KafkaMessage, KafkaMessageConnect, KafkaMessageRegular, KafkaMessageTimeToCut, KafkaMetadata,
    kafka_message, kafka_message_regular,
};
use orderer_api::{
    BlockCutter, Chain, ChainError, ChainState, ConsenterError, ConsenterSupport, RawEnvelope,
    Receipt, SupportError,
};
use prost::Message;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::topic_partition_list::Offset;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tracing::{debug, error, info, warn};

use crate::clients::{Brokers, Clients, PARTITION, PartitionQueue};
use crate::errors::produce_error;
use crate::retry::{GaveUp, halted, retry};

/// The record header carrying a Broadcast's W3C trace context.
const TRACEPARENT: &str = "traceparent";

/// The key of every record, as Fabric's producer writes it: the partition number
/// in decimal. Consumers ignore it; it is kept so that records are Fabric's byte for
/// byte.
const RECORD_KEY: &str = "0";

/// How long `order` keeps retrying while librdkafka's queue is full.
const QUEUE_FULL_PATIENCE: Duration = Duration::from_secs(10);

/// How long ingress waits for a resubmitted config update to be reordered.
const REPROCESSING_PATIENCE: Duration = Duration::from_secs(10);

/// Attempts to resubmit a record that must be validated again.
const RESUBMIT_ATTEMPTS: u32 = 3;

/// Where a chain resumes, from the last block's consenter metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resume {
    /// The offset of the last record the ledger reflects; `None` for a channel
    /// whose ledger holds only its genesis block.
    pub last_offset_persisted: Option<i64>,
    /// The highest `original_offset` of a resubmitted record already ordered: a
    /// copy of it read later (every OSN resubmits) is dropped.
    pub last_original_offset_processed: i64,
    /// The original offset of the last config record resubmitted; while it is ahead
    /// of `last_original_offset_processed`, ingress waits for it to be ordered.
    pub last_resubmitted_config_offset: i64,
}

impl Resume {
    /// Reads `KafkaMetadata`; empty metadata means a new channel. The bytes may
    /// still be wrapped in the `common.Metadata` message Fabric 2.x stores them in
    /// (the node unwraps them, but a caller handing the stored field is understood).
    pub fn from_metadata(channel: &str, metadata: &Bytes) -> Result<Resume, ConsenterError> {
        if metadata.is_empty() {
            return Ok(Resume::default());
        }
        let m = KafkaMetadata::decode(metadata.clone())
            .or_else(|e| {
                // A wrapped KafkaMetadata never decodes bare (field 1 is a varint in
                // KafkaMetadata, length-delimited in Metadata), so try it unwrapped.
                Metadata::decode(metadata.clone())
                    .ok()
                    .and_then(|w| KafkaMetadata::decode(w.value).ok())
                    .ok_or(e)
            })
            .map_err(|e| ConsenterError::BadMetadata {
                channel: channel.to_owned(),
                reason: format!("not an orderer.KafkaMetadata: {e}"),
            })?;
        Ok(Resume {
            last_offset_persisted: Some(m.last_offset_persisted),
            last_original_offset_processed: m.last_original_offset_processed,
            last_resubmitted_config_offset: m.last_resubmitted_config_offset,
        })
    }

    /// Whether a resubmitted config record was still in flight when the last block
    /// was written (Fabric's rule: neither none was resubmitted nor it was processed).
    fn config_in_flight(&self) -> bool {
        self.last_resubmitted_config_offset != 0
            && self.last_resubmitted_config_offset > self.last_original_offset_processed
    }

    fn start_offset(&self) -> Offset {
        match self.last_offset_persisted {
            Some(o) => Offset::Offset(o + 1),
            None => Offset::Beginning,
        }
    }
}

/// What keeps a started chain from being healthy. Any reason makes it `Errored`.
#[derive(Debug, Default)]
struct Health {
    running: bool,
    brokers: Option<String>,
    writes: Option<String>,
    reads: Option<String>,
}

#[derive(Debug)]
struct Inner {
    channel_id: String,
    support: Arc<dyn ConsenterSupport>,
    clients: Arc<Clients>,
    resume: Resume,
    state: watch::Sender<ChainState>,
    halt: watch::Sender<bool>,
    health: Mutex<Health>,
    /// Set while produce failures are reported; checked before taking the lock.
    writes_failing: AtomicBool,
    /// The last offset the chain processed (-1: none yet).
    processed: AtomicI64,
    /// True while a config record this chain resubmitted (or saw resubmitted) waits
    /// to be ordered: ingress waits, so that nothing is validated against the
    /// configuration that config replaces (Fabric's `doneReprocessingMsgInFlight`).
    reprocessing: watch::Sender<bool>,
}

/// The chain of one channel under Kafka.
#[derive(Debug)]
pub struct KafkaChain {
    inner: Arc<Inner>,
    task: Mutex<Option<JoinHandle<()>>>,
    started: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data behind these locks; a panicking holder cannot leave it half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl KafkaChain {
    pub(crate) fn new(
        support: Arc<dyn ConsenterSupport>,
        clients: Arc<Clients>,
        resume: Resume,
    ) -> Self {
        let (state, _) = watch::channel(ChainState::Starting {
            reason: "Kafka chain not started".into(),
        });
        let (halt, _) = watch::channel(false);
        KafkaChain {
            inner: Arc::new(Inner {
                channel_id: support.channel_id().to_owned(),
                support,
                clients,
                resume,
                state,
                halt,
                health: Mutex::new(Health::default()),
                writes_failing: AtomicBool::new(false),
                processed: AtomicI64::new(resume.last_offset_persisted.unwrap_or(-1)),
                reprocessing: watch::channel(resume.config_in_flight()).0,
            }),
            task: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }

    async fn submit(
        &self,
        regular: KafkaMessageRegular,
        traceparent: Option<Bytes>,
    ) -> Result<Receipt, ChainError> {
        if let Some(e) = self.inner.state.borrow().to_error(&self.inner.channel_id) {
            return Err(e);
        }
        let record = KafkaMessage {
            r#type: Some(kafka_message::Type::Regular(regular)),
        };
        let delivery = self
            .inner
            .send(record.encode_to_vec(), traceparent.as_ref())
            .await?;
        let inner = Arc::clone(&self.inner);
        Ok(Receipt::pending(
            async move { inner.delivered(delivery).await },
        ))
    }
}

impl Inner {
    /// Recomputes the state from the health flags (never leaves Halted or Starting).
    fn update_health(&self, f: impl FnOnce(&mut Health)) {
        let mut h = lock(&self.health);
        f(&mut h);
        self.writes_failing
            .store(h.writes.is_some(), Ordering::Relaxed);
        if !h.running {
            return;
        }
        let reasons: Vec<&str> = [&h.brokers, &h.writes, &h.reads]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let next = if reasons.is_empty() {
            ChainState::Ready
        } else {
            ChainState::Errored {
                reason: reasons.join("; "),
            }
        };
        self.state.send_if_modified(|s| {
            if matches!(s, ChainState::Halted { .. }) || *s == next {
                return false;
            }
            match &next {
                ChainState::Errored { reason } => {
                    warn!(channel = %self.channel_id, reason, "Kafka chain errored")
                }
                _ => info!(channel = %self.channel_id, "Kafka chain healthy again"),
            }
            *s = next;
            true
        });
    }

    /// Hands a record to the producer, waiting while its queue is full. A trace
    /// context travels in the record's `traceparent` header.
    async fn send(
        &self,
        payload: Vec<u8>,
        traceparent: Option<&Bytes>,
    ) -> Result<rdkafka::producer::DeliveryFuture, ChainError> {
        let deadline = Instant::now() + QUEUE_FULL_PATIENCE;
        loop {
            let mut record = FutureRecord::<str, [u8]>::to(&self.channel_id)
                .partition(PARTITION)
                .key(RECORD_KEY)
                .payload(&payload);
            if let Some(tp) = traceparent {
                record = record.headers(OwnedHeaders::new().insert(Header {
                    key: TRACEPARENT,
                    value: Some(tp.as_ref()),
                }));
            }
            match self.clients.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if Instant::now() < deadline =>
                {
                    sleep(Duration::from_millis(2)).await;
                }
                Err((e, _)) => return Err(produce_error(&self.channel_id, &e)),
            }
        }
    }

    /// Waits for the brokers' answer on one record, keeping the write health current.
    async fn delivered(
        &self,
        delivery: rdkafka::producer::DeliveryFuture,
    ) -> Result<(), ChainError> {
        match delivery.await {
            Ok(Ok(_)) => {
                self.clients.mark_reachable();
                if self.writes_failing.load(Ordering::Relaxed) {
                    self.update_health(|h| h.writes = None);
                }
                Ok(())
            }
            Ok(Err((e, _))) => {
                let err = produce_error(&self.channel_id, &e);
                if !matches!(err, ChainError::TooLarge { .. }) {
                    let reason = format!("Kafka refuses writes: {err}");
                    self.update_health(|h| h.writes = Some(reason));
                }
                Err(err)
            }
            Err(_) => Err(ChainError::Backend {
                channel: self.channel_id.clone(),
                reason: "the Kafka producer shut down before the brokers answered".into(),
            }),
        }
    }

    /// Produces an orderer record and waits for its acknowledgement.
    async fn post(&self, msg: kafka_message::Type) -> Result<(), String> {
        let record = KafkaMessage { r#type: Some(msg) };
        let delivery = self
            .send(record.encode_to_vec(), None)
            .await
            .map_err(|e| e.to_string())?;
        self.delivered(delivery).await.map_err(|e| e.to_string())
    }

    fn report_starting(&self, reason: String) {
        self.state.send_if_modified(|s| {
            if matches!(s, ChainState::Starting { .. }) {
                *s = ChainState::Starting { reason };
                true
            } else {
                false
            }
        });
    }

    /// The CONNECT payload: the genesis configuration when this node is creating the
    /// channel (so that every OSN of ours can check it agrees), else empty. Fabric's
    /// OSNs post an empty payload and ignore any (`processConnect`), so a Fabric OSN
    /// sharing the topic reads ours unharmed.
    fn connect_payload(&self, creating: bool) -> Bytes {
        if !creating {
            return Bytes::new();
        }
        let genesis = CommittedConfig::genesis(self.support.shared_config());
        Bytes::from(genesis.envelope().encode_to_vec())
    }

    /// Start sequence, then the processing loop, until halted or failed.
    async fn run(self: Arc<Self>) {
        let mut halt = self.halt.subscribe();
        // Only block 0 in the ledger (whatever its config sequence: a channel
        // created through a system channel starts at 1).
        let creating = self.resume.last_offset_persisted.is_none() && self.support.height() == 1;
        let schedule = self.clients.options.retry_schedule();
        let channel = self.channel_id.clone();
        let report = |m: String| self.report_starting(m);
        let outcome = async {
            self.report_starting("setting up the channel's topic".into());
            retry(
                &schedule,
                "setting up the topic",
                &channel,
                &mut halt,
                report,
                || self.clients.ensure_topic(&self.channel_id),
            )
            .await?;
            self.report_starting("posting CONNECT".into());
            let payload = self.connect_payload(creating);
            retry(
                &schedule,
                "posting CONNECT",
                &channel,
                &mut halt,
                report,
                || {
                    self.post(kafka_message::Type::Connect(KafkaMessageConnect {
                        payload: payload.clone(),
                    }))
                },
            )
            .await?;
            let offset = self.resume.start_offset();
            self.report_starting(format!("assigning the partition at {offset:?}"));
            let queue = retry(
                &schedule,
                "assigning the partition",
                &channel,
                &mut halt,
                report,
                || {
                    let r = self.clients.assign(&self.channel_id, offset);
                    async move { r }
                },
            )
            .await?;
            info!(channel = %self.channel_id, ?offset, "Kafka chain started");
            self.update_health(|h| h.running = true);
            self.state.send_if_modified(|s| {
                if matches!(s, ChainState::Starting { .. }) {
                    *s = ChainState::Ready;
                    true
                } else {
                    false
                }
            });
            let monitor = tokio::spawn(Arc::clone(&self).monitor());
            let result = Processor::new(Arc::clone(&self), creating)
                .run(queue, &mut halt)
                .await;
            monitor.abort();
            self.clients.unassign(&self.channel_id);
            result.map_err(GaveUp::Exhausted)
        }
        .await;
        let reason = match outcome {
            Ok(()) | Err(GaveUp::Halted) => "halted".to_owned(),
            Err(GaveUp::Exhausted(reason)) => {
                error!(channel = %self.channel_id, reason, "Kafka chain stopped");
                reason
            }
        };
        self.state.send_replace(ChainState::Halted { reason });
    }

    /// Every ReadTimeout: is the consumer keeping up with the partition, and do the
    /// brokers take writes again after a failure? The consumer counts as stalled when
    /// records wait in the partition and none was processed for
    /// [`STALL_CHECKS`] × ReadTimeout: a first fetch from a busy broker can be slow.
    async fn monitor(self: Arc<Self>) {
        let period = self.clients.options.read_timeout();
        let mut brokers = self.clients.brokers();
        // The processed offset last seen, and since when it has not moved while behind.
        let mut stuck: Option<(i64, Instant)> = None;
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = brokers.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let b = brokers.borrow_and_update().clone();
                    self.update_health(|h| h.brokers = match b {
                        Brokers::Reachable => None,
                        Brokers::Down(r) => Some(format!("no Kafka broker reachable: {r}")),
                    });
                }
                _ = tick.tick() => {
                    if self.writes_failing.load(Ordering::Relaxed) {
                        // Probe with a CONNECT (ignored by every consumer): an ack
                        // clears the write failure even when no client writes.
                        let _ = self.post(kafka_message::Type::Connect(KafkaMessageConnect::default())).await;
                    }
                    let processed = self.processed.load(Ordering::Relaxed);
                    let high = self.clients.high_watermark(&self.channel_id).await;
                    tracing::trace!(channel = %self.channel_id, ?high, processed, "progress check");
                    match high {
                        Ok(high) => {
                            // The brokers answered: reachable, whatever was reported before.
                            self.clients.mark_reachable();
                            let behind = high > processed + 1;
                            stuck = match stuck {
                                Some((p, since)) if behind && p == processed => Some((p, since)),
                                _ if behind => Some((processed, Instant::now())),
                                _ => None,
                            };
                            let stalled = match stuck {
                                Some((_, since)) if since.elapsed() >= period * STALL_CHECKS => Some(format!(
                                    "consumer stalled: no record processed for {:?} at offset {processed} while the partition holds records up to {}",
                                    since.elapsed(),
                                    high - 1
                                )),
                                _ => None,
                            };
                            self.update_health(|h| match stalled {
                                Some(reason) => h.reads = Some(reason),
                                None if h.reads.as_deref().is_some_and(|r| r.starts_with("consumer stalled")) => h.reads = None,
                                None => {}
                            });
                        }
                        Err(e) => debug!(channel = %self.channel_id, error = %e, "reading the high watermark"),
                    }
                }
            }
        }
    }
}

/// ReadTimeouts without progress, while behind, before the consumer counts as stalled.
const STALL_CHECKS: u32 = 3;

#[async_trait]
impl Chain for KafkaChain {
    fn start(&self) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let handle = tokio::spawn(Arc::clone(&self.inner).run());
        *lock(&self.task) = Some(handle);
    }

    async fn order(&self, env: RawEnvelope, config_seq: u64) -> Result<Receipt, ChainError> {
        let traceparent = env.traceparent().cloned();
        let regular = KafkaMessageRegular {
            payload: env.into_bytes(),
            config_seq,
            class: kafka_message_regular::Class::Normal as i32,
            original_offset: 0,
        };
        self.submit(regular, traceparent).await
    }

    async fn configure(&self, env: RawEnvelope, config_seq: u64) -> Result<Receipt, ChainError> {
        let traceparent = env.traceparent().cloned();
        let regular = KafkaMessageRegular {
            payload: env.into_bytes(),
            config_seq,
            class: kafka_message_regular::Class::Config as i32,
            original_offset: 0,
        };
        self.submit(regular, traceparent).await
    }

    fn state(&self) -> watch::Receiver<ChainState> {
        self.inner.state.subscribe()
    }

    /// As the default, and in addition waits (up to [`REPROCESSING_PATIENCE`]) while
    /// a resubmitted config update is being reordered.
    async fn wait_ready(&self) -> Result<(), ChainError> {
        if let Some(e) = self.inner.state.borrow().to_error(&self.inner.channel_id) {
            return Err(e);
        }
        let mut reprocessing = self.inner.reprocessing.subscribe();
        if !*reprocessing.borrow() {
            return Ok(());
        }
        match tokio::time::timeout(REPROCESSING_PATIENCE, reprocessing.wait_for(|r| !*r)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ChainError::NotReady {
                channel: self.inner.channel_id.clone(),
                reason:
                    "a config update is being reordered after a configuration change; try again"
                        .into(),
            }),
        }
    }

    fn channel_id(&self) -> &str {
        &self.inner.channel_id
    }

    async fn halt(&self) {
        self.inner.halt.send_replace(true);
        let task = lock(&self.task).take();
        match task {
            Some(t) => {
                let _ = t.await;
            }
            None if !self.started.load(Ordering::SeqCst) => {
                self.inner.state.send_if_modified(|s| {
                    if matches!(s, ChainState::Halted { .. }) {
                        return false;
                    }
                    *s = ChainState::Halted {
                        reason: "halted before start".into(),
                    };
                    true
                });
            }
            None => {}
        }
        // A concurrent halt took the task: wait for the state it leaves behind.
        let mut state = self.inner.state.subscribe();
        let _ = state
            .wait_for(|s| matches!(s, ChainState::Halted { .. }))
            .await;
    }
}

fn record_kind(t: &kafka_message::Type) -> &'static str {
    match t {
        kafka_message::Type::Regular(_) => "regular",
        kafka_message::Type::TimeToCut(_) => "time-to-cut",
        kafka_message::Type::Connect(_) => "connect",
    }
}

/// The consuming side: turns the partition's records into blocks.
struct Processor {
    inner: Arc<Inner>,
    cutter: BlockCutter,
    /// Number of the last block written.
    last_cut: u64,
    timer: Option<Instant>,
    /// Check the first record's genesis configuration (this node creates the channel).
    verify_genesis: bool,
    /// See [`Resume::last_original_offset_processed`].
    last_original_offset_processed: i64,
    /// See [`Resume::last_resubmitted_config_offset`].
    last_resubmitted_config_offset: i64,
}

impl Processor {
    fn new(inner: Arc<Inner>, creating: bool) -> Self {
        let config = inner.support.shared_config();
        let last_cut = inner.support.height().saturating_sub(1);
        Processor {
            cutter: BlockCutter::new(config.batch_size, &inner.channel_id),
            last_original_offset_processed: inner.resume.last_original_offset_processed,
            last_resubmitted_config_offset: inner.resume.last_resubmitted_config_offset,
            inner,
            last_cut,
            timer: None,
            verify_genesis: creating,
        }
    }

    async fn run(
        mut self,
        queue: PartitionQueue,
        halt: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        let read_timeout = self.inner.clients.options.read_timeout();
        let mut failing: Option<(Instant, String)> = None;
        loop {
            let next = tokio::select! {
                biased;
                _ = halted(halt) => return Ok(()),
                _ = sleep_until(self.timer.unwrap_or_else(Instant::now)), if self.timer.is_some() => {
                    self.post_time_to_cut().await;
                    continue;
                }
                _ = sleep_until(failing.as_ref().map(|f| f.0).unwrap_or_else(Instant::now)), if failing.is_some() => {
                    if let Some((_, e)) = failing.take() {
                        let reason = format!("consuming the channel's partition fails: {e}");
                        self.inner.update_health(|h| h.reads = Some(reason));
                    }
                    continue;
                }
                m = async {
                    queue.recv().await.map(|m| {
                        let traceparent = m.headers().and_then(|h| {
                            h.iter()
                                .find(|h| h.key == TRACEPARENT)
                                .and_then(|h| h.value.map(Bytes::copy_from_slice))
                        });
                        (m.offset(), m.payload().map(Bytes::copy_from_slice).unwrap_or_default(), traceparent)
                    })
                } => m,
            };
            match next {
                Ok((offset, payload, traceparent)) => {
                    failing = None;
                    self.inner.clients.mark_reachable();
                    self.consume(offset, payload, traceparent).await?;
                }
                Err(e) => {
                    warn!(channel = %self.inner.channel_id, error = %e, "consumer error");
                    let unrecoverable =
                        e.rdkafka_error_code() == Some(RDKafkaErrorCode::OffsetOutOfRange);
                    let at = if unrecoverable {
                        Instant::now()
                    } else {
                        Instant::now() + read_timeout
                    };
                    if failing.is_none() {
                        failing = Some((at, e.to_string()));
                    }
                }
            }
        }
    }

    /// One record read from the partition; a record at an offset already processed
    /// is dropped.
    async fn consume(
        &mut self,
        offset: i64,
        payload: Bytes,
        traceparent: Option<Bytes>,
    ) -> Result<(), String> {
        let last = self.inner.processed.load(Ordering::Relaxed);
        if offset <= last {
            // Offsets only grow. A broker that hands a record out again (tansu 0.6's
            // memory engine does, for fetches starting inside a record batch) must
            // not get an envelope ordered twice.
            warn!(channel = %self.inner.channel_id, offset, last, "dropping a record at an offset already processed");
            return Ok(());
        }
        self.inner.update_health(|h| {
            if h.reads
                .as_deref()
                .is_some_and(|r| r.starts_with("consuming"))
            {
                h.reads = None;
            }
        });
        self.on_record(offset, payload, traceparent).await?;
        self.inner.processed.store(offset, Ordering::Relaxed);
        Ok(())
    }

    async fn on_record(
        &mut self,
        offset: i64,
        payload: Bytes,
        traceparent: Option<Bytes>,
    ) -> Result<(), String> {
        let msg = match KafkaMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                warn!(channel = %self.inner.channel_id, offset, error = %e, "skipping a record that is not an orderer.KafkaMessage");
                return Ok(());
            }
        };
        let verify = std::mem::take(&mut self.verify_genesis);
        tracing::trace!(channel = %self.inner.channel_id, offset, record = ?msg.r#type.as_ref().map(record_kind), "record");
        match msg.r#type {
            Some(kafka_message::Type::Connect(c)) => {
                if verify {
                    self.verify_genesis(&c.payload, offset)?;
                }
                Ok(())
            }
            Some(kafka_message::Type::TimeToCut(t)) => {
                if verify {
                    warn!(channel = %self.inner.channel_id, offset, "the partition does not start with a CONNECT: cannot check that its OSNs agree on the channel configuration");
                }
                self.on_time_to_cut(t, offset).await
            }
            Some(kafka_message::Type::Regular(r)) => {
                if verify {
                    warn!(channel = %self.inner.channel_id, offset, "the partition does not start with a CONNECT: cannot check that its OSNs agree on the channel configuration");
                }
                self.on_regular(r, offset, traceparent).await
            }
            None => {
                warn!(channel = %self.inner.channel_id, offset, "skipping an empty KafkaMessage");
                Ok(())
            }
        }
    }

    /// The first record of a channel's partition decides its configuration: this node
    /// refuses to serve the channel if its own genesis configuration differs.
    fn verify_genesis(&self, payload: &Bytes, offset: i64) -> Result<(), String> {
        if payload.is_empty() {
            // Fabric's OSNs post empty CONNECTs: a Fabric OSN created the topic.
            info!(channel = %self.inner.channel_id, offset, "the first CONNECT carries no configuration (an OSN of Fabric's posted it): cannot check that OSNs agree");
            return Ok(());
        }
        let theirs = Envelope::decode(payload.clone())
            .map_err(|e| e.to_string())
            .and_then(|env| CommittedConfig::from_envelope(&env))
            .map_err(|e| {
                format!("the channel's first CONNECT holds no readable configuration: {e}")
            })?;
        let ours = self.inner.support.shared_config();
        let differences = ours.diff(&theirs.channel);
        if differences.is_empty() {
            info!(channel = %self.inner.channel_id, "channel configuration agrees with the OSN that created the channel");
            return Ok(());
        }
        let list: Vec<String> = differences
            .iter()
            .map(|d| {
                format!(
                    "{} is {} here but {} on the channel",
                    d.key, d.ours, d.theirs
                )
            })
            .collect();
        Err(format!(
            "this node's configuration of channel {} differs from the one the channel was created with, so it would cut different blocks; refusing to serve it: {}",
            self.inner.channel_id,
            list.join(", ")
        ))
    }

    /// Fabric's `processRegular` (with the Resubmission capability): a record
    /// validated at an older config sequence is validated again and, when still
    /// valid, resubmitted with `original_offset` set to where it was read; copies of
    /// a resubmitted record (every OSN resubmits) after the first are dropped.
    async fn on_regular(
        &mut self,
        r: KafkaMessageRegular,
        offset: i64,
        traceparent: Option<Bytes>,
    ) -> Result<(), String> {
        let channel = self.inner.channel_id.clone();
        let raw = match RawEnvelope::parse(r.payload) {
            Ok((raw, _)) => raw.with_traceparent(traceparent),
            Err(e) => {
                // Every OSN skips it alike, so the chains stay identical.
                warn!(%channel, offset, error = %e, "skipping a regular record that holds no envelope");
                return Ok(());
            }
        };
        let seq = self.inner.support.sequence();
        let class = kafka_message_regular::Class::try_from(r.class)
            .unwrap_or(kafka_message_regular::Class::Unknown);
        if class == kafka_message_regular::Class::Unknown {
            return self.on_unclassified(raw, offset).await;
        }
        let is_config = class == kafka_message_regular::Class::Config;
        if r.original_offset != 0 {
            if r.original_offset <= self.last_original_offset_processed {
                debug!(%channel, offset, original = r.original_offset, "dropping a copy of a resubmitted record already ordered");
                return Ok(());
            }
            if is_config {
                if r.original_offset == self.last_resubmitted_config_offset && r.config_seq == seq {
                    // The config update ingress waited for: it is valid as it is.
                    self.inner.reprocessing.send_replace(false);
                }
                self.last_resubmitted_config_offset =
                    self.last_resubmitted_config_offset.max(r.original_offset);
            }
        }
        if r.config_seq < seq {
            return self
                .resubmit(raw, is_config, offset, r.original_offset)
                .await;
        }
        let original = if r.original_offset == 0 {
            self.last_original_offset_processed
        } else {
            r.original_offset
        };
        if is_config {
            self.commit_config(raw, offset, original).await
        } else {
            self.commit_normal(raw, offset, original).await
        }
    }

    /// A record of class UNKNOWN (written by an orderer without the Resubmission
    /// capability): validated here, ordered when valid (Fabric's compatibility mode).
    async fn on_unclassified(&mut self, raw: RawEnvelope, offset: i64) -> Result<(), String> {
        let channel = self.inner.channel_id.clone();
        let is_config = Envelope::decode(raw.bytes().clone())
            .ok()
            .and_then(|env| orderer_api::envelope::parse_payload(&env).ok())
            .and_then(|p| p.header_type())
            .is_some_and(|h| {
                matches!(
                    h,
                    orderer_api::proto::common::HeaderType::Config
                        | orderer_api::proto::common::HeaderType::OrdererTransaction
                )
            });
        let original = self.last_original_offset_processed;
        if is_config {
            match self.inner.support.revalidate_config(&raw) {
                Ok(_) => self.commit_config(raw, offset, original).await,
                Err(e) => {
                    warn!(%channel, offset, error = %e, "discarding a config record that does not apply");
                    Ok(())
                }
            }
        } else {
            match self.inner.support.revalidate_normal(&raw) {
                Ok(_) => self.commit_normal(raw, offset, original).await,
                Err(e) => {
                    warn!(%channel, offset, error = %e, "discarding a record the configuration refuses");
                    Ok(())
                }
            }
        }
    }

    /// Validates a record read at `offset` again under the configuration now in
    /// force and produces it anew with `original_offset = offset`; a config record
    /// resubmitted makes ingress wait until it is ordered.
    async fn resubmit(
        &mut self,
        raw: RawEnvelope,
        is_config: bool,
        offset: i64,
        original_offset: i64,
    ) -> Result<(), String> {
        let channel = self.inner.channel_id.clone();
        let revalidated = if is_config {
            self.inner.support.revalidate_config(&raw)
        } else {
            self.inner
                .support
                .revalidate_normal(&raw)
                .map(|seq| (raw, seq))
        };
        let (env, config_seq) = match revalidated {
            Ok(r) => r,
            Err(e) => {
                warn!(%channel, offset, config = is_config, error = %e, "discarding a record the new configuration refuses");
                if is_config
                    && original_offset != 0
                    && original_offset == self.last_resubmitted_config_offset
                {
                    // The config update ingress waited for will never be ordered.
                    self.inner.reprocessing.send_replace(false);
                }
                return Ok(());
            }
        };
        let class = if is_config {
            kafka_message_regular::Class::Config
        } else {
            kafka_message_regular::Class::Normal
        };
        let traceparent = env.traceparent().cloned();
        let record = KafkaMessage {
            r#type: Some(kafka_message::Type::Regular(KafkaMessageRegular {
                payload: env.into_bytes(),
                config_seq,
                class: class as i32,
                original_offset: offset,
            })),
        }
        .encode_to_vec();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = match self.inner.send(record.clone(), traceparent.as_ref()).await {
                Ok(delivery) => self.inner.delivered(delivery).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(()) => break,
                Err(e) if attempt < RESUBMIT_ATTEMPTS => {
                    warn!(%channel, offset, error = %e, "resubmitting a revalidated record failed; retrying");
                    sleep(self.inner.clients.options.producer_retry_backoff()).await;
                }
                Err(e) => {
                    // Another OSN resubmits the same record; if every one fails, the
                    // envelope is lost as in Fabric, and the log says so.
                    error!(%channel, offset, error = %e, "could not resubmit a revalidated record");
                    return Ok(());
                }
            }
        }
        debug!(%channel, offset, config = is_config, "resubmitted a record validated at an older config sequence");
        if is_config {
            self.last_resubmitted_config_offset = offset;
            self.inner.reprocessing.send_replace(true);
        }
        Ok(())
    }

    fn metadata(
        &self,
        last_offset_persisted: i64,
        last_original_offset_processed: i64,
    ) -> KafkaMetadata {
        KafkaMetadata {
            last_offset_persisted,
            last_original_offset_processed,
            last_resubmitted_config_offset: self.last_resubmitted_config_offset,
        }
    }

    /// Fabric's `commitNormalMsg`, including its offset bookkeeping: a block records
    /// the offset of its last envelope, so a pending envelope's offset is never
    /// persisted before its block is; `original` becomes the last original offset
    /// processed once the envelope is in a block (or pending, as Fabric records it).
    async fn commit_normal(
        &mut self,
        raw: RawEnvelope,
        offset: i64,
        original: i64,
    ) -> Result<(), String> {
        let ordered = self.cutter.ordered(raw);
        match (self.timer.is_some(), ordered.pending) {
            (true, false) => self.timer = None,
            (false, true) => {
                self.timer =
                    Some(Instant::now() + self.inner.support.shared_config().batch_timeout);
            }
            _ => {}
        }
        let two = ordered.batches.len() == 2;
        let mut batches = ordered.batches.into_iter();
        let Some(first) = batches.next() else {
            self.last_original_offset_processed = original;
            return Ok(());
        };
        let first_offset = if ordered.pending || two {
            offset - 1
        } else {
            self.last_original_offset_processed = original;
            offset
        };
        let meta = self.metadata(first_offset, self.last_original_offset_processed);
        self.write(first, meta, false).await?;
        if let Some(second) = batches.next() {
            self.last_original_offset_processed = original;
            let meta = self.metadata(offset, original);
            self.write(second, meta, false).await?;
        }
        Ok(())
    }

    async fn commit_config(
        &mut self,
        raw: RawEnvelope,
        offset: i64,
        original: i64,
    ) -> Result<(), String> {
        let pending = self.cutter.cut();
        if !pending.is_empty() {
            let meta = self.metadata(offset - 1, self.last_original_offset_processed);
            self.write(pending, meta, false).await?;
        }
        self.last_original_offset_processed = original;
        let meta = self.metadata(offset, original);
        self.write(vec![raw], meta, true).await?;
        self.timer = None;
        self.cutter
            .set_limits(self.inner.support.shared_config().batch_size);
        Ok(())
    }

    /// Fabric's `processTimeToCut`: cut when the TTC names the next block, ignore it
    /// when stale. A TTC for a block further ahead, or one with nothing pending, means
    /// another OSN's chain differs from this one; Fabric stops the chain, this
    /// orderer logs it and ignores the record (deterministically: every OSN that agrees
    /// with this one does the same).
    async fn on_time_to_cut(
        &mut self,
        t: KafkaMessageTimeToCut,
        offset: i64,
    ) -> Result<(), String> {
        let next = self.last_cut + 1;
        if t.block_number < next {
            debug!(channel = %self.inner.channel_id, block = t.block_number, "ignoring a stale time-to-cut");
            return Ok(());
        }
        if t.block_number > next {
            error!(channel = %self.inner.channel_id, offset, block = t.block_number, next, "ignoring a time-to-cut for a block beyond the next one: an OSN with a different chain posted it");
            return Ok(());
        }
        self.timer = None;
        let batch = self.cutter.cut();
        if batch.is_empty() {
            error!(channel = %self.inner.channel_id, offset, block = next, "ignoring a time-to-cut with nothing pending: an OSN with a different chain posted it");
            return Ok(());
        }
        // As Fabric writes it: a time-to-cut block does not record the last
        // resubmitted config offset.
        let meta = KafkaMetadata {
            last_offset_persisted: offset,
            last_original_offset_processed: self.last_original_offset_processed,
            last_resubmitted_config_offset: 0,
        };
        self.write(batch, meta, false).await
    }

    async fn write(
        &mut self,
        batch: Vec<RawEnvelope>,
        meta: KafkaMetadata,
        config: bool,
    ) -> Result<(), String> {
        let last_offset = meta.last_offset_persisted;
        let block = self.inner.support.create_next_block(batch);
        let metadata = Bytes::from(meta.encode_to_vec());
        let written: Result<(), SupportError> = if config {
            self.inner.support.write_config_block(block, metadata).await
        } else {
            self.inner.support.write_block(block, metadata).await
        };
        written.map_err(|e| format!("writing block {}: {e}", self.last_cut + 1))?;
        self.last_cut += 1;
        crate::metrics::offset_persisted(&self.inner.channel_id, last_offset);
        Ok(())
    }

    /// The batch timer fired: ask every OSN, through the partition, to cut the next
    /// block. If the post fails, try again after the producer's retry backoff.
    async fn post_time_to_cut(&mut self) {
        let block_number = self.last_cut + 1;
        self.timer = None;
        let posted = self
            .inner
            .post(kafka_message::Type::TimeToCut(KafkaMessageTimeToCut {
                block_number,
            }))
            .await;
        if let Err(e) = posted {
            warn!(channel = %self.inner.channel_id, block_number, error = %e, "posting time-to-cut failed; retrying");
            self.timer = Some(Instant::now() + self.inner.clients.options.producer_retry_backoff());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use orderer_api::testing::{FakeSupport, test_envelope};
    use orderer_api::{BatchSize, ChannelConfig, ConsenterKind};

    use crate::options::KafkaOptions;

    fn regular(channel: &str, i: u64) -> Bytes {
        let record = KafkaMessage {
            r#type: Some(kafka_message::Type::Regular(KafkaMessageRegular {
                payload: test_envelope(channel, i, 200).into_bytes(),
                config_seq: 0,
                class: kafka_message_regular::Class::Normal as i32,
                original_offset: 0,
            })),
        };
        Bytes::from(record.encode_to_vec())
    }

    fn time_to_cut(block_number: u64) -> Bytes {
        let record = KafkaMessage {
            r#type: Some(kafka_message::Type::TimeToCut(KafkaMessageTimeToCut {
                block_number,
            })),
        };
        Bytes::from(record.encode_to_vec())
    }

    /// No broker takes part: records are handed to the processor as a broker that
    /// repeats itself would hand them out.
    #[tokio::test]
    async fn a_record_handed_out_again_at_an_offset_already_processed_is_dropped() {
        let ch = ChannelConfig {
            channel_id: "dup".into(),
            consensus_type: ConsenterKind::Kafka,
            batch_size: BatchSize {
                max_message_count: 100,
                absolute_max_bytes: 1 << 20,
                preferred_max_bytes: 1 << 20,
            },
            batch_timeout: Duration::from_secs(3600),
        };
        let (support, mut rx) = FakeSupport::new(ch.clone());
        // Nothing listens there; the clients never connect during this test.
        let clients =
            Arc::new(Clients::new(KafkaOptions::new(vec!["127.0.0.1:1".into()])).unwrap());
        let chain = KafkaChain::new(Arc::new(support), clients, Resume::default());
        let mut p = Processor::new(Arc::clone(&chain.inner), false);

        p.consume(0, regular("dup", 1), None).await.unwrap();
        p.consume(1, regular("dup", 2), None).await.unwrap();
        // A fetch that started inside the batch of offsets 0..=1 repeats them.
        p.consume(0, regular("dup", 1), None).await.unwrap();
        p.consume(1, regular("dup", 2), None).await.unwrap();
        p.consume(2, time_to_cut(1), None).await.unwrap();
        let b = rx.try_recv().unwrap();
        assert_eq!(b.tx_ids(), vec!["tx000000000001", "tx000000000002"]);
        let meta = KafkaMetadata::decode(b.consenter_metadata).unwrap();
        assert_eq!(meta.last_offset_persisted, 2);
        // The time-to-cut handed out again is no second cut either.
        p.consume(2, time_to_cut(1), None).await.unwrap();
        p.consume(3, regular("dup", 3), None).await.unwrap();
        p.consume(3, time_to_cut(2), None).await.unwrap();
        assert!(rx.try_recv().is_err(), "a repeated offset was processed");
    }

    fn offsets() -> KafkaMetadata {
        KafkaMetadata {
            last_offset_persisted: 12,
            last_original_offset_processed: 9,
            last_resubmitted_config_offset: 9,
        }
    }

    fn expected() -> Resume {
        Resume {
            last_offset_persisted: Some(12),
            last_original_offset_processed: 9,
            last_resubmitted_config_offset: 9,
        }
    }

    #[test]
    fn resume_reads_bare_kafka_metadata_as_earlier_versions_stored_it() {
        let bare = Bytes::from(offsets().encode_to_vec());
        assert_eq!(Resume::from_metadata("ch", &bare).unwrap(), expected());
    }

    #[test]
    fn resume_reads_kafka_metadata_wrapped_as_fabric_stores_it() {
        let wrapped = Metadata {
            value: offsets().encode_to_vec().into(),
            signatures: Vec::new(),
        };
        let bytes = Bytes::from(wrapped.encode_to_vec());
        assert_eq!(Resume::from_metadata("ch", &bytes).unwrap(), expected());
    }

    #[test]
    fn resume_refuses_metadata_that_is_no_kafka_metadata_and_names_the_channel() {
        let err = Resume::from_metadata("ch1", &Bytes::from_static(b"\x0a\x05ab")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ch1") && text.contains("KafkaMetadata"),
            "{text}"
        );
    }

    #[test]
    fn a_new_channel_resumes_from_the_oldest_offset() {
        let r = Resume::from_metadata("ch", &Bytes::new()).unwrap();
        assert_eq!(r, Resume::default());
        assert_eq!(r.start_offset(), Offset::Beginning);
    }
}
