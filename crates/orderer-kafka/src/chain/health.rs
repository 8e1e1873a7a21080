//! A chain's health: what keeps it from `Ready`, published as its [`ChainState`],
//! and the monitor that checks the brokers and the consumer's progress.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use orderer_api::ChainState;
use orderer_api::proto::orderer::{KafkaMessageConnect, kafka_message};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::producer::Producer;
use crate::clients::{Brokers, Clients};

/// ReadTimeouts without progress, while behind, before the consumer counts as stalled.
const STALL_CHECKS: u32 = 3;

/// Prefix of a consumer error reason (cleared by the next record read).
pub(super) const CONSUMING: &str = "consuming";
/// Prefix of a stalled-consumer reason (cleared by the monitor).
const STALLED: &str = "consumer stalled";

/// What keeps a started chain from being healthy. Any reason makes it `Errored`.
#[derive(Debug, Default)]
struct Flags {
    running: bool,
    brokers: Option<String>,
    writes: Option<String>,
    reads: Option<String>,
}

/// The chain's state and the reasons behind it. Shared by the producer (write
/// failures), the processor (read failures) and the monitor.
#[derive(Debug)]
pub(crate) struct Health {
    channel_id: String,
    state: watch::Sender<ChainState>,
    flags: Mutex<Flags>,
    /// Set while produce failures are reported; checked before taking the lock.
    writes_failing: AtomicBool,
    /// Set while a read failure is reported; checked for every record read.
    reads_failing: AtomicBool,
}

impl Health {
    pub(super) fn new(channel_id: &str) -> Self {
        Health {
            channel_id: channel_id.to_owned(),
            state: watch::channel(ChainState::Starting {
                reason: "Kafka chain not started".into(),
            })
            .0,
            flags: Mutex::new(Flags::default()),
            writes_failing: AtomicBool::new(false),
            reads_failing: AtomicBool::new(false),
        }
    }

    pub(crate) fn state(&self) -> watch::Receiver<ChainState> {
        self.state.subscribe()
    }

    pub(crate) fn current(&self) -> ChainState {
        self.state.borrow().clone()
    }

    pub(crate) fn writes_failing(&self) -> bool {
        self.writes_failing.load(Ordering::Relaxed)
    }

    pub(crate) fn set_writes(&self, reason: Option<String>) {
        self.update(|f| f.writes = reason);
    }

    pub(super) fn set_brokers(&self, reason: Option<String>) {
        self.update(|f| f.brokers = reason);
    }

    pub(super) fn set_reads(&self, reason: String) {
        self.update(|f| f.reads = Some(reason));
    }

    /// Clears a read failure whose reason starts with `prefix`.
    pub(super) fn clear_reads(&self, prefix: &str) {
        if !self.reads_failing.load(Ordering::Relaxed) {
            return;
        }
        self.update(|f| {
            if f.reads.as_deref().is_some_and(|r| r.starts_with(prefix)) {
                f.reads = None;
            }
        });
    }

    /// Recomputes the state from the flags (never leaves Halted or Starting).
    fn update(&self, change: impl FnOnce(&mut Flags)) {
        let mut f = self.flags.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut f);
        self.writes_failing
            .store(f.writes.is_some(), Ordering::Relaxed);
        self.reads_failing
            .store(f.reads.is_some(), Ordering::Relaxed);
        if !f.running {
            return;
        }
        let reasons: Vec<&str> = [&f.brokers, &f.writes, &f.reads]
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

    /// A start step is under way (or failing): the reason a client sees.
    pub(super) fn starting(&self, reason: String) {
        self.state.send_if_modified(|s| {
            if matches!(s, ChainState::Starting { .. }) {
                *s = ChainState::Starting { reason };
                true
            } else {
                false
            }
        });
    }

    /// The start sequence is done: from now on the flags decide the state.
    pub(super) fn started(&self) {
        self.update(|f| f.running = true);
        self.state.send_if_modified(|s| {
            if matches!(s, ChainState::Starting { .. }) {
                *s = ChainState::Ready;
                true
            } else {
                false
            }
        });
    }

    pub(super) fn halted(&self, reason: String) {
        self.state.send_replace(ChainState::Halted { reason });
    }

    /// Halted without ever having started (no task to wait for).
    pub(super) fn halted_before_start(&self) {
        self.state.send_if_modified(|s| {
            if matches!(s, ChainState::Halted { .. }) {
                return false;
            }
            *s = ChainState::Halted {
                reason: "halted before start".into(),
            };
            true
        });
    }
}

/// Every ReadTimeout: is the consumer keeping up with the partition, and do the
/// brokers take writes again after a failure? The consumer counts as stalled when
/// records wait in the partition and none was processed for [`STALL_CHECKS`] ×
/// ReadTimeout: a first fetch from a busy broker can be slow.
pub(super) async fn monitor(
    health: Arc<Health>,
    producer: Producer,
    clients: Arc<Clients>,
    processed: Arc<AtomicI64>,
) {
    let channel = &health.channel_id;
    let period = clients.options.read_timeout();
    let mut brokers = clients.brokers();
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
                health.set_brokers(match b {
                    Brokers::Reachable => None,
                    Brokers::Down(r) => Some(format!("no Kafka broker reachable: {r}")),
                });
            }
            _ = tick.tick() => {
                if health.writes_failing() {
                    // Probe with a CONNECT (ignored by every consumer): an ack
                    // clears the write failure even when no client writes.
                    let _ = producer.post(kafka_message::Type::Connect(KafkaMessageConnect::default())).await;
                }
                let done = processed.load(Ordering::Relaxed);
                let high = match clients.high_watermark(channel).await {
                    Ok(high) => high,
                    Err(e) => {
                        debug!(%channel, error = %e, "reading the high watermark");
                        continue;
                    }
                };
                tracing::trace!(%channel, high, done, "progress check");
                // The brokers answered: reachable, whatever was reported before.
                clients.mark_reachable();
                let behind = high > done + 1;
                stuck = match stuck {
                    Some((p, since)) if behind && p == done => Some((p, since)),
                    _ if behind => Some((done, Instant::now())),
                    _ => None,
                };
                match stuck {
                    Some((_, since)) if since.elapsed() >= period * STALL_CHECKS => {
                        health.set_reads(format!(
                            "{STALLED}: no record processed for {:?} at offset {done} while the partition holds records up to {}",
                            since.elapsed(),
                            high - 1
                        ));
                    }
                    _ => health.clear_reads(STALLED),
                }
            }
        }
    }
}
