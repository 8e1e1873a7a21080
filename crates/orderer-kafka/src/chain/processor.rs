//! The consuming side of a chain: the partition's records, in offset order, become
//! blocks. Everything here depends only on the log and the chain, so every OSN
//! reading the same partition writes the same blocks.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use orderer_api::proto::common::{Envelope, HeaderType};
use orderer_api::proto::orderer::{
    KafkaMessage, KafkaMessageRegular, KafkaMessageTimeToCut, KafkaMetadata, kafka_message,
    kafka_message_regular,
};
use orderer_api::{BlockCutter, ConsenterSupport, RawEnvelope};
use prost::Message;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Headers, Message as _};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};
use tracing::{debug, error, info, warn};

use super::agreement::{Agreement, FirstRecord, OwnGenesis};
use super::dedupe::{Check, DedupeWindow};
use super::health::{CONSUMING, Health};
use super::producer::{Producer, TRACEPARENT};
use super::resume::Resume;
use crate::clients::{Clients, PartitionQueue};
use crate::errors::Fault;
use crate::retry::halted;

/// Attempts to resubmit a record that must be validated again.
const RESUBMIT_ATTEMPTS: u32 = 3;

/// What the processor shares with the rest of the chain.
pub(super) struct Handles {
    pub support: Arc<dyn ConsenterSupport>,
    pub producer: Producer,
    pub health: Arc<Health>,
    pub clients: Arc<Clients>,
    /// The last offset processed (-1: none yet); the monitor compares it with the
    /// partition's end.
    pub processed: Arc<AtomicI64>,
    /// True while a resubmitted config record waits to be ordered (ingress waits).
    pub reprocessing: Arc<watch::Sender<bool>>,
}

fn record_kind(t: &kafka_message::Type) -> &'static str {
    match t {
        kafka_message::Type::Regular(_) => "regular",
        kafka_message::Type::TimeToCut(_) => "time-to-cut",
        kafka_message::Type::Connect(_) => "connect",
    }
}

/// Turns the partition's records into blocks.
pub(super) struct Processor {
    channel_id: String,
    h: Handles,
    cutter: BlockCutter,
    /// Number of the last block written.
    last_cut: u64,
    timer: Option<Instant>,
    /// This node's block 0, until the partition's first record is checked against
    /// it (only when the ledger holds block 0 alone: see [`super::agreement`]).
    genesis_check: Option<OwnGenesis>,
    /// See [`Resume::last_original_offset_processed`].
    last_original_offset_processed: i64,
    /// See [`Resume::last_resubmitted_config_offset`].
    last_resubmitted_config_offset: i64,
    dedupe: DedupeWindow,
}

impl Processor {
    /// A processor resuming where `resume` says, with the duplicate window of the
    /// last `dedupe_window` blocks (call [`Self::load_window`] before reading).
    /// With `genesis_check`, the first record read decides whether this node may
    /// serve the channel, and the chain is declared started only if it may.
    pub(super) fn new(
        h: Handles,
        resume: &Resume,
        genesis_check: Option<OwnGenesis>,
        dedupe_window: u64,
    ) -> Self {
        let config = h.support.shared_config();
        let last_cut = h.support.height().saturating_sub(1);
        let channel_id = h.support.channel_id().to_owned();
        Processor {
            cutter: BlockCutter::new(config.batch_size, &channel_id),
            channel_id,
            last_original_offset_processed: resume.last_original_offset_processed,
            last_resubmitted_config_offset: resume.last_resubmitted_config_offset,
            h,
            last_cut,
            timer: None,
            genesis_check,
            dedupe: DedupeWindow::new(dedupe_window),
        }
    }

    /// Rebuilds the duplicate window from the ledger's last blocks, as they were
    /// when this OSN wrote them: a restart applies the rule as the other OSNs do.
    pub(super) async fn load_window(&mut self, recorded: u64) -> Result<(), Fault> {
        if recorded != self.dedupe.window() && self.last_cut > 0 {
            warn!(channel = %self.channel_id, recorded, configured = self.dedupe.window(), "Kafka.DedupeWindow differs from the window the last block was written with: every OSN of the channel must use the same value, or a duplicate near the window's edge is ordered by some and dropped by others");
        }
        if !self.dedupe.enabled() || self.last_cut == 0 {
            return Ok(());
        }
        let first = self.dedupe.first_to_load(self.last_cut);
        for number in first..=self.last_cut {
            let block = self
                .h
                .support
                .block(number)
                .await
                .map_err(|source| Fault::Reload { number, source })?;
            let data = block.data.map(|d| d.data).unwrap_or_default();
            self.dedupe.load(number, &data);
        }
        debug!(channel = %self.channel_id, blocks = self.last_cut + 1 - first, envelopes = self.dedupe.len(), "duplicate window loaded");
        Ok(())
    }

    pub(super) async fn run(
        mut self,
        queue: PartitionQueue,
        halt: &mut watch::Receiver<bool>,
    ) -> Result<(), Fault> {
        let read_timeout = self.h.clients.options.read_timeout();
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
                        self.h.health.set_reads(format!("{CONSUMING} the channel's partition fails: {e}"));
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
                    self.h.clients.mark_reachable();
                    self.consume(offset, payload, traceparent).await?;
                }
                Err(e) => {
                    warn!(channel = %self.channel_id, error = %e, "consumer error");
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
    pub(super) async fn consume(
        &mut self,
        offset: i64,
        payload: Bytes,
        traceparent: Option<Bytes>,
    ) -> Result<(), Fault> {
        let last = self.h.processed.load(Ordering::Relaxed);
        if offset <= last {
            // Offsets only grow. A broker that hands a record out again (tansu 0.6's
            // memory engine does, for fetches starting inside a record batch) must
            // not get an envelope ordered twice.
            warn!(channel = %self.channel_id, offset, last, "dropping a record at an offset already processed");
            return Ok(());
        }
        self.h.health.clear_reads(CONSUMING);
        self.on_record(offset, payload, traceparent).await?;
        self.h.processed.store(offset, Ordering::Relaxed);
        Ok(())
    }

    async fn on_record(
        &mut self,
        offset: i64,
        payload: Bytes,
        traceparent: Option<Bytes>,
    ) -> Result<(), Fault> {
        let record = match KafkaMessage::decode(payload) {
            Ok(KafkaMessage { r#type: Some(t) }) => Some(t),
            Ok(_) => {
                warn!(channel = %self.channel_id, offset, "skipping an empty KafkaMessage");
                None
            }
            Err(e) => {
                warn!(channel = %self.channel_id, offset, error = %e, "skipping a record that is not an orderer.KafkaMessage");
                None
            }
        };
        // The first record read, whatever it is, is the partition's first.
        if let Some(own) = self.genesis_check.take() {
            let first = match &record {
                Some(kafka_message::Type::Connect(c)) => FirstRecord::Connect(&c.payload),
                _ => FirstRecord::Other,
            };
            self.agree(&own, first, offset)?;
        }
        let Some(record) = record else {
            return Ok(());
        };
        tracing::trace!(channel = %self.channel_id, offset, record = record_kind(&record), "record");
        match record {
            kafka_message::Type::Connect(_) => Ok(()),
            kafka_message::Type::TimeToCut(t) => self.on_time_to_cut(t, offset).await,
            kafka_message::Type::Regular(r) => self.on_regular(r, offset, traceparent).await,
        }
    }

    /// The partition's first record decides whether this node's block 0 is the
    /// channel's: if it is (or cannot be otherwise, see [`super::agreement`]) the
    /// chain starts serving; if not, the fault halts it, naming why.
    fn agree(&self, own: &OwnGenesis, first: FirstRecord<'_>, offset: i64) -> Result<(), Fault> {
        let channel = &self.channel_id;
        match own.check(channel, first)? {
            Agreement::SameBlock => {
                info!(%channel, offset, "this node's block 0 is the channel's: the first CONNECT record carries the same block");
            }
            Agreement::SameBatchParameters => {
                warn!(%channel, offset, "the first CONNECT record was posted by an earlier version of this orderer and carries only the genesis batch parameters: they agree with this node's, nothing else could be compared");
            }
            Agreement::Unchecked(why) => {
                info!(%channel, offset, why, "block 0 not compared with the channel's; it was given to this node (genesis file, join or system channel), so it is the channel's");
            }
        }
        super::serving(&self.h.health, channel);
        Ok(())
    }

    /// Fabric's `processRegular` (with the Resubmission capability): a record
    /// validated at an older config sequence is validated again and, when still
    /// valid, resubmitted with `original_offset` set to where it was read; copies of
    /// a resubmitted record (every OSN resubmits) after the first are dropped. A
    /// normal envelope already in the duplicate window is dropped before any of it.
    async fn on_regular(
        &mut self,
        r: KafkaMessageRegular,
        offset: i64,
        traceparent: Option<Bytes>,
    ) -> Result<(), Fault> {
        let channel = self.channel_id.clone();
        let raw = match RawEnvelope::parse(r.payload) {
            Ok((raw, _)) => raw.with_traceparent(traceparent),
            Err(e) => {
                // Every OSN skips it alike, so the chains stay identical.
                warn!(%channel, offset, error = %e, "skipping a regular record that holds no envelope");
                return Ok(());
            }
        };
        let seq = self.h.support.sequence();
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
                    self.h.reprocessing.send_replace(false);
                }
                self.last_resubmitted_config_offset =
                    self.last_resubmitted_config_offset.max(r.original_offset);
            }
        }
        let fresh = if is_config {
            Check::Off
        } else {
            match self.dedupe_check(&raw, offset) {
                Some(c) => c,
                None => return Ok(()),
            }
        };
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
            self.commit_normal(raw, fresh, offset, original).await
        }
    }

    /// The duplicate window's verdict on a normal envelope read at `offset`; `None`
    /// (logged and counted) when it is a duplicate to drop.
    fn dedupe_check(&self, raw: &RawEnvelope, offset: i64) -> Option<Check> {
        match self.dedupe.check(raw.bytes()) {
            Check::Duplicate => {
                debug!(channel = %self.channel_id, offset, "dropping an envelope already ordered within the duplicate window");
                crate::metrics::duplicate_dropped(&self.channel_id);
                None
            }
            c => Some(c),
        }
    }

    /// A record of class UNKNOWN (written by an orderer without the Resubmission
    /// capability): validated here, ordered when valid (Fabric's compatibility mode).
    async fn on_unclassified(&mut self, raw: RawEnvelope, offset: i64) -> Result<(), Fault> {
        let channel = self.channel_id.clone();
        let is_config = Envelope::decode(raw.bytes().clone())
            .ok()
            .and_then(|env| orderer_api::envelope::parse_payload(&env).ok())
            .and_then(|p| p.header_type())
            .is_some_and(|h| matches!(h, HeaderType::Config | HeaderType::OrdererTransaction));
        let original = self.last_original_offset_processed;
        if is_config {
            return match self.h.support.revalidate_config(&raw) {
                Ok(_) => self.commit_config(raw, offset, original).await,
                Err(e) => {
                    warn!(%channel, offset, error = %e, "discarding a config record that does not apply");
                    Ok(())
                }
            };
        }
        let Some(fresh) = self.dedupe_check(&raw, offset) else {
            return Ok(());
        };
        match self.h.support.revalidate_normal(&raw) {
            Ok(_) => self.commit_normal(raw, fresh, offset, original).await,
            Err(e) => {
                warn!(%channel, offset, error = %e, "discarding a record the configuration refuses");
                Ok(())
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
    ) -> Result<(), Fault> {
        let channel = self.channel_id.clone();
        let revalidated = if is_config {
            self.h.support.revalidate_config(&raw)
        } else {
            self.h.support.revalidate_normal(&raw).map(|seq| (raw, seq))
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
                    self.h.reprocessing.send_replace(false);
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
        let record = kafka_message::Type::Regular(KafkaMessageRegular {
            payload: env.into_bytes(),
            config_seq,
            class: class as i32,
            original_offset: offset,
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .h
                .producer
                .post_traced(record.clone(), traceparent.as_ref())
                .await
            {
                Ok(()) => break,
                Err(e) if attempt < RESUBMIT_ATTEMPTS => {
                    warn!(%channel, offset, error = %e, "resubmitting a revalidated record failed; retrying");
                    sleep(self.h.clients.options.producer_retry_backoff()).await;
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
            self.h.reprocessing.send_replace(true);
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
            dedupe_window: self.dedupe.window(),
        }
    }

    /// Fabric's `commitNormalMsg`, including its offset bookkeeping: a block records
    /// the offset of its last envelope, so a pending envelope's offset is never
    /// persisted before its block is; `original` becomes the last original offset
    /// processed once the envelope is in a block (or pending, as Fabric records it).
    async fn commit_normal(
        &mut self,
        raw: RawEnvelope,
        fresh: Check,
        offset: i64,
        original: i64,
    ) -> Result<(), Fault> {
        if let Check::New(h) = fresh {
            self.dedupe.ordered(h);
        }
        let ordered = self.cutter.ordered(raw);
        match (self.timer.is_some(), ordered.pending) {
            (true, false) => self.timer = None,
            (false, true) => {
                self.timer = Some(Instant::now() + self.h.support.shared_config().batch_timeout);
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
    ) -> Result<(), Fault> {
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
            .set_limits(self.h.support.shared_config().batch_size);
        Ok(())
    }

    /// Fabric's `processTimeToCut`: cut when the TTC names the next block, ignore it
    /// when stale. A TTC for a block further ahead, or one with nothing pending, means
    /// another OSN's chain differs from this one; Fabric stops the chain, this
    /// orderer logs it and ignores the record (deterministically: every OSN that agrees
    /// with this one does the same).
    async fn on_time_to_cut(&mut self, t: KafkaMessageTimeToCut, offset: i64) -> Result<(), Fault> {
        let next = self.last_cut + 1;
        if t.block_number < next {
            debug!(channel = %self.channel_id, block = t.block_number, "ignoring a stale time-to-cut");
            return Ok(());
        }
        if t.block_number > next {
            error!(channel = %self.channel_id, offset, block = t.block_number, next, "ignoring a time-to-cut for a block beyond the next one: an OSN with a different chain posted it");
            return Ok(());
        }
        self.timer = None;
        let batch = self.cutter.cut();
        if batch.is_empty() {
            error!(channel = %self.channel_id, offset, block = next, "ignoring a time-to-cut with nothing pending: an OSN with a different chain posted it");
            return Ok(());
        }
        // As Fabric writes it: a time-to-cut block does not record the last
        // resubmitted config offset.
        let meta = KafkaMetadata {
            last_resubmitted_config_offset: 0,
            ..self.metadata(offset, self.last_original_offset_processed)
        };
        self.write(batch, meta, false).await
    }

    async fn write(
        &mut self,
        batch: Vec<RawEnvelope>,
        meta: KafkaMetadata,
        config: bool,
    ) -> Result<(), Fault> {
        let number = self.last_cut + 1;
        let last_offset = meta.last_offset_persisted;
        let (from_pending, others) = if config {
            (0, batch.iter().map(|e| e.bytes().clone()).collect())
        } else {
            (batch.len(), Vec::new())
        };
        let block = self.h.support.create_next_block(batch);
        let metadata = Bytes::from(meta.encode_to_vec());
        let written = if config {
            self.h.support.write_config_block(block, metadata).await
        } else {
            self.h.support.write_block(block, metadata).await
        };
        written.map_err(|source| Fault::Write { number, source })?;
        self.last_cut = number;
        self.dedupe.written(number, from_pending, &others);
        crate::metrics::offset_persisted(&self.channel_id, last_offset);
        Ok(())
    }

    /// The batch timer fired: ask every OSN, through the partition, to cut the next
    /// block. If the post fails, try again after the producer's retry backoff.
    async fn post_time_to_cut(&mut self) {
        let block_number = self.last_cut + 1;
        self.timer = None;
        let posted = self
            .h
            .producer
            .post(kafka_message::Type::TimeToCut(KafkaMessageTimeToCut {
                block_number,
            }))
            .await;
        if let Err(e) = posted {
            warn!(channel = %self.channel_id, block_number, error = %e, "posting time-to-cut failed; retrying");
            self.timer = Some(Instant::now() + self.h.clients.options.producer_retry_backoff());
        }
    }
}
