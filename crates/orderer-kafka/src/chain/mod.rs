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
//! * An envelope already ordered in the last `Kafka.DedupeWindow` blocks is dropped
//!   when read again ([`dedupe`]).
//! * One chain per channel: an OSN whose ledger holds only block 0 posts that block
//!   in its CONNECT, and serves the channel only once the partition's first record
//!   shows its block 0 is the channel's ([`agreement`]); until then it is
//!   `Starting`, so it never serves a block 0 of its own.
//!
//! The parts: [`health`] (state and monitor), [`producer`] (writing records),
//! [`processor`] (reading them into blocks), [`resume`] (where a restart starts),
//! [`agreement`] (whether this node's block 0 is the channel's).

mod agreement;
mod dedupe;
mod health;
mod processor;
mod producer;
mod resume;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use orderer_api::proto::orderer::{
    KafkaMessage, KafkaMessageConnect, KafkaMessageRegular, kafka_message, kafka_message_regular,
};
use orderer_api::{Chain, ChainError, ChainState, ConsenterSupport, RawEnvelope, Receipt};
use prost::Message;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

use self::agreement::OwnGenesis;
use self::health::Health;
use self::processor::{Handles, Processor};
use self::producer::Producer;
pub use self::resume::Resume;
use crate::clients::Clients;
use crate::cluster::{AbortOnDrop, ChannelCheck};
use crate::errors::Fault;
use crate::options::RetrySchedule;
use crate::retry::{GaveUp, retry};

/// How long ingress waits for a resubmitted config update to be reordered.
const REPROCESSING_PATIENCE: Duration = Duration::from_secs(10);

/// The chain of one channel under Kafka.
#[derive(Debug)]
pub struct KafkaChain {
    shared: Shared,
    halt: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    started: AtomicBool,
}

/// The handles the chain and its task share.
#[derive(Debug, Clone)]
struct Shared {
    channel_id: String,
    support: Arc<dyn ConsenterSupport>,
    clients: Arc<Clients>,
    resume: Resume,
    health: Arc<Health>,
    /// The check of the cluster's settings for this channel ([`crate::cluster`]).
    check: Arc<ChannelCheck>,
    producer: Producer,
    processed: Arc<AtomicI64>,
    /// True while a config record this chain resubmitted (or saw resubmitted) waits
    /// to be ordered: ingress waits, so that nothing is validated against the
    /// configuration that config replaces (Fabric's `doneReprocessingMsgInFlight`).
    reprocessing: Arc<watch::Sender<bool>>,
}

impl KafkaChain {
    pub(crate) fn new(
        support: Arc<dyn ConsenterSupport>,
        clients: Arc<Clients>,
        resume: Resume,
    ) -> Self {
        let channel_id = support.channel_id().to_owned();
        let health = Arc::new(Health::new(&channel_id));
        let check = Arc::new(ChannelCheck::new(&channel_id));
        KafkaChain {
            shared: Shared {
                producer: Producer::new(&channel_id, Arc::clone(&clients), Arc::clone(&health)),
                channel_id,
                support,
                clients,
                resume,
                health,
                check,
                processed: Arc::new(AtomicI64::new(resume.last_offset_persisted.unwrap_or(-1))),
                reprocessing: Arc::new(watch::channel(resume.config_in_flight()).0),
            },
            halt: watch::channel(false).0,
            task: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }

    async fn submit(
        &self,
        regular: KafkaMessageRegular,
        traceparent: Option<Bytes>,
    ) -> Result<Receipt, ChainError> {
        self.check_state()?;
        let record = KafkaMessage {
            r#type: Some(kafka_message::Type::Regular(regular)),
        };
        let delivery = self
            .shared
            .producer
            .send(record.encode_to_vec(), traceparent.as_ref())
            .await?;
        let producer = self.shared.producer.clone();
        Ok(Receipt::pending(async move {
            producer.delivered(delivery).await
        }))
    }

    /// An error when the chain is not ready (starting, errored or halted).
    fn check_state(&self) -> Result<(), ChainError> {
        let state = self.shared.health.current();
        state.to_error(&self.shared.channel_id).map_or(Ok(()), Err)
    }

    /// What the chain's task owns: clones of the handles it needs.
    fn startup(&self) -> Startup {
        Startup {
            shared: self.shared.clone(),
            halt: self.halt.subscribe(),
        }
    }

    fn regular(
        env: RawEnvelope,
        config_seq: u64,
        class: kafka_message_regular::Class,
    ) -> KafkaMessageRegular {
        KafkaMessageRegular {
            payload: env.into_bytes(),
            config_seq,
            class: class as i32,
            original_offset: 0,
        }
    }
}

/// The chain's task: the start sequence, then the processor, until halted or failed.
struct Startup {
    shared: Shared,
    halt: watch::Receiver<bool>,
}

impl Startup {
    /// This node's block 0 and its origin, to post and to check against the
    /// channel's.
    async fn own_genesis(&self) -> Result<OwnGenesis, Fault> {
        let block = self
            .shared
            .support
            .block(0)
            .await
            .map_err(Fault::ReadGenesis)?;
        Ok(OwnGenesis {
            block,
            origin: self.shared.support.genesis_origin(),
        })
    }

    /// `genesis`: check the partition's first record against it before serving.
    fn processor(&self, genesis: Option<OwnGenesis>) -> Processor {
        let handles = Handles {
            support: Arc::clone(&self.shared.support),
            producer: self.shared.producer.clone(),
            health: Arc::clone(&self.shared.health),
            clients: Arc::clone(&self.shared.clients),
            processed: Arc::clone(&self.shared.processed),
            reprocessing: Arc::clone(&self.shared.reprocessing),
        };
        Processor::new(
            handles,
            &self.shared.resume,
            genesis,
            self.shared.clients.options.dedupe_window(),
        )
    }

    /// Start sequence, then the processing loop, until halted or failed.
    async fn run(self) {
        let outcome = self.start_and_process().await;
        let reason = match outcome {
            Ok(()) | Err(GaveUp::Halted) => "halted".to_owned(),
            Err(GaveUp::Failed(fault)) => {
                let reason = fault.to_string();
                error!(channel = %self.shared.channel_id, reason, "Kafka chain stopped");
                reason
            }
        };
        self.shared.health.halted(reason);
    }

    async fn start_and_process(&self) -> Result<(), GaveUp> {
        let mut halt = self.halt.clone();
        // Only block 0 in the ledger (whatever its config sequence: a channel
        // created through a system channel starts at 1).
        let creating =
            self.shared.resume.last_offset_persisted.is_none() && self.shared.support.height() == 1;
        // A ledger of block 0 alone reads the partition from its first record, and
        // its block 0 must be shown to be the channel's before anything is served.
        let genesis = if creating {
            Some(self.own_genesis().await.map_err(GaveUp::Failed)?)
        } else {
            None
        };
        let schedule = self.shared.clients.options.retry_schedule();
        let channel = self.shared.channel_id.as_str();
        let report = |m: String| self.report_starting(m);
        self.shared
            .health
            .starting("setting up the channel's topic".into());
        retry(
            &schedule,
            "setting up the topic",
            channel,
            &mut halt,
            report,
            || self.shared.clients.ensure_topic(channel),
        )
        .await?;
        // Held until processing ends: dropping it aborts a lenient check.
        let _lenient_check = self.check_cluster(&schedule, &mut halt).await?;
        self.post_connect(&schedule, &mut halt, genesis.as_ref())
            .await?;
        let checking = genesis.is_some();
        let mut processor = self.processor(genesis);
        processor
            .load_window(self.shared.resume.dedupe_window)
            .await
            .map_err(GaveUp::Failed)?;
        let offset = self.shared.resume.start_offset();
        self.shared
            .health
            .starting(format!("assigning the partition at {offset:?}"));
        let queue = retry(
            &schedule,
            "assigning the partition",
            channel,
            &mut halt,
            report,
            || {
                let r = self.shared.clients.assign(channel, offset);
                async move { r }
            },
        )
        .await?;
        info!(%channel, ?offset, "partition assigned");
        if checking {
            // The processor declares the chain started once the first record shows
            // this node's block 0 is the channel's.
            self.shared.health.starting(
                "checking that this node's block 0 is the channel's: reading the first record of the channel's partition".into(),
            );
        } else {
            serving(&self.shared.health, channel);
        }
        let monitor = tokio::spawn(health::monitor(
            Arc::clone(&self.shared.health),
            self.shared.producer.clone(),
            Arc::clone(&self.shared.clients),
            Arc::clone(&self.shared.processed),
        ));
        let result = processor.run(queue, &mut halt).await;
        monitor.abort();
        self.shared.clients.unassign(channel);
        result.map_err(GaveUp::Failed)
    }
}

impl Startup {
    /// Reports a start step as the chain's state. A transport failure of a request
    /// is often an authentication or TLS failure of the connection underneath:
    /// name that cause too.
    fn report_starting(&self, m: String) {
        self.shared
            .health
            .starting(match self.shared.clients.connection_failure() {
                Some(cause) => format!("{m}; broker connection: {cause}"),
                None => m,
            });
    }

    /// The topic exists now: check it and the brokers against seed 003's rules.
    /// With Kafka.Strict a start step, retried like the others until the cluster is
    /// fixed (`None`); else beside the start, never delaying it (the check's task,
    /// aborted when dropped).
    async fn check_cluster(
        &self,
        schedule: &RetrySchedule,
        halt: &mut watch::Receiver<bool>,
    ) -> Result<Option<AbortOnDrop>, GaveUp> {
        let absolute_max_bytes = u64::from(
            self.shared
                .support
                .shared_config()
                .batch_size
                .absolute_max_bytes,
        );
        if !self.shared.clients.options.config.strict {
            return Ok(Some(AbortOnDrop(tokio::spawn(
                Arc::clone(&self.shared.check)
                    .run_until_complete(Arc::clone(&self.shared.clients), absolute_max_bytes),
            ))));
        }
        self.shared
            .health
            .starting("checking the Kafka cluster's settings (Kafka.Strict)".into());
        retry(
            schedule,
            "checking the Kafka cluster",
            &self.shared.channel_id,
            halt,
            |m| self.report_starting(m),
            || {
                self.shared
                    .check
                    .run(&self.shared.clients, absolute_max_bytes)
            },
        )
        .await?;
        Ok(None)
    }

    /// Posts this node's CONNECT record. It carries this node's block 0 (`genesis`)
    /// when the channel may be new: if this CONNECT is the partition's first, every
    /// later OSN of ours checks its block 0 against it. Fabric's OSNs post an empty
    /// payload and ignore any (`processConnect`), so a Fabric OSN sharing the topic
    /// reads ours unharmed.
    async fn post_connect(
        &self,
        schedule: &RetrySchedule,
        halt: &mut watch::Receiver<bool>,
        genesis: Option<&OwnGenesis>,
    ) -> Result<(), GaveUp> {
        self.shared.health.starting("posting CONNECT".into());
        let payload = genesis.map(OwnGenesis::connect_payload).unwrap_or_default();
        retry(
            schedule,
            "posting CONNECT",
            &self.shared.channel_id,
            halt,
            |m| self.report_starting(m),
            || {
                self.shared
                    .producer
                    .post(kafka_message::Type::Connect(KafkaMessageConnect {
                        payload: payload.clone(),
                    }))
            },
        )
        .await?;
        Ok(())
    }
}

/// The start sequence is done: the chain orders and delivers from now on.
fn serving(health: &Health, channel: &str) {
    info!(%channel, "Kafka chain started");
    crate::metrics::chain_started(channel);
    health.started();
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data behind these locks; a panicking holder cannot leave it half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl Chain for KafkaChain {
    fn start(&self) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let handle = tokio::spawn(self.startup().run());
        *lock(&self.task) = Some(handle);
    }

    async fn order(&self, env: RawEnvelope, config_seq: u64) -> Result<Receipt, ChainError> {
        let traceparent = env.traceparent().cloned();
        let regular = KafkaChain::regular(env, config_seq, kafka_message_regular::Class::Normal);
        self.submit(regular, traceparent).await
    }

    async fn configure(&self, env: RawEnvelope, config_seq: u64) -> Result<Receipt, ChainError> {
        let traceparent = env.traceparent().cloned();
        let regular = KafkaChain::regular(env, config_seq, kafka_message_regular::Class::Config);
        self.submit(regular, traceparent).await
    }

    fn state(&self) -> watch::Receiver<ChainState> {
        self.shared.health.state()
    }

    /// As the default, and in addition waits (up to [`REPROCESSING_PATIENCE`]) while
    /// a resubmitted config update is being reordered.
    async fn wait_ready(&self) -> Result<(), ChainError> {
        self.check_state()?;
        let mut reprocessing = self.shared.reprocessing.subscribe();
        if !*reprocessing.borrow() {
            return Ok(());
        }
        match tokio::time::timeout(REPROCESSING_PATIENCE, reprocessing.wait_for(|r| !*r)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ChainError::NotReady {
                channel: self.shared.channel_id.clone(),
                reason:
                    "a config update is being reordered after a configuration change; try again"
                        .into(),
            }),
        }
    }

    fn channel_id(&self) -> &str {
        &self.shared.channel_id
    }

    /// What the check of the cluster's settings found (and did not refuse).
    fn warnings(&self) -> Vec<String> {
        self.shared.check.warnings()
    }

    async fn halt(&self) {
        self.halt.send_replace(true);
        let task = lock(&self.task).take();
        match task {
            Some(t) => {
                let _ = t.await;
            }
            None if !self.started.load(Ordering::SeqCst) => {
                self.shared.health.halted_before_start()
            }
            None => {}
        }
        // A concurrent halt took the task: wait for the state it leaves behind.
        let mut state = self.shared.health.state();
        let _ = state
            .wait_for(|s| matches!(s, ChainState::Halted { .. }))
            .await;
    }
}

#[cfg(test)]
mod tests;
