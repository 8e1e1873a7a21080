//! The solo consenter: one task per channel orders envelopes in-process.
//!
//! For development and single-node deployments: there is no replication, so
//! envelopes accepted but not yet in a block are lost if the process is killed. A
//! graceful [`Chain::halt`] loses nothing: it cuts and writes everything accepted.

// Unit tests (cfg(test)) are exempt from the length limit; production code is not:
// the non-test build of this crate is linted too.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use orderer_api::{
    BlockCutter, Chain, ChainError, ChainState, Consenter, ConsenterError, ConsenterKind,
    ConsenterSupport, RawEnvelope, Receipt,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info, warn};

/// Bytes of envelopes that may wait in a chain's queue before `order` waits: bounds
/// memory when the ledger is slower than ingress.
const QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Envelopes taken from the queue per wake-up.
const RECV_BATCH: usize = 256;

/// Creates [`SoloChain`]s.
#[derive(Debug, Default, Clone)]
pub struct SoloConsenter;

impl SoloConsenter {
    pub fn new() -> Self {
        SoloConsenter
    }
}

impl Consenter for SoloConsenter {
    fn kind(&self) -> ConsenterKind {
        ConsenterKind::Solo
    }

    fn handle_chain(
        &self,
        support: Arc<dyn ConsenterSupport>,
        _consenter_metadata: Bytes,
    ) -> Result<Arc<dyn Chain>, ConsenterError> {
        // Solo keeps no consenter metadata: the ledger's height is all it resumes from.
        Ok(Arc::new(SoloChain::new(support)))
    }
}

/// An envelope and the config sequence it was validated at.
enum Message {
    Normal(RawEnvelope, u64),
    Config(RawEnvelope, u64),
}

type Queued = (Message, OwnedSemaphorePermit);

/// The chain of one channel under solo.
#[derive(Debug)]
pub struct SoloChain {
    channel_id: String,
    support: Arc<dyn ConsenterSupport>,
    tx: mpsc::UnboundedSender<Queued>,
    /// Taken by `start`; still here if the chain never started.
    rx: Mutex<Option<mpsc::UnboundedReceiver<Queued>>>,
    queue_bytes: Arc<Semaphore>,
    state: watch::Sender<ChainState>,
    halt: watch::Sender<bool>,
}

impl SoloChain {
    pub fn new(support: Arc<dyn ConsenterSupport>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (state, _) = watch::channel(ChainState::Starting {
            reason: "solo chain not started".into(),
        });
        let (halt, _) = watch::channel(false);
        SoloChain {
            channel_id: support.channel_id().to_owned(),
            support,
            tx,
            rx: Mutex::new(Some(rx)),
            queue_bytes: Arc::new(Semaphore::new(QUEUE_BYTES)),
            state,
            halt,
        }
    }

    async fn enqueue(&self, msg: Message, size: usize) -> Result<Receipt, ChainError> {
        if let Some(e) = self.state.borrow().to_error(&self.channel_id) {
            return Err(e);
        }
        let permits = size.clamp(1, QUEUE_BYTES) as u32;
        let halted = || ChainError::Halted {
            channel: self.channel_id.clone(),
        };
        let permit = Arc::clone(&self.queue_bytes)
            .acquire_many_owned(permits)
            .await
            .map_err(|_| halted())?;
        self.tx.send((msg, permit)).map_err(|_| halted())?;
        Ok(Receipt::accepted())
    }

    fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<Queued>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[async_trait]
impl Chain for SoloChain {
    fn start(&self) {
        let Some(rx) = self.take_receiver() else {
            return;
        };
        let task = Ordering {
            channel_id: self.channel_id.clone(),
            cutter: BlockCutter::new(self.support.shared_config().batch_size, &self.channel_id),
            support: Arc::clone(&self.support),
            state: self.state.clone(),
            queue_bytes: Arc::clone(&self.queue_bytes),
        };
        let halt = self.halt.subscribe();
        self.state.send_replace(ChainState::Ready);
        tokio::spawn(task.run(rx, halt));
    }

    async fn order(&self, env: RawEnvelope, config_seq: u64) -> Result<Receipt, ChainError> {
        let size = env.size();
        self.enqueue(Message::Normal(env, config_seq), size).await
    }

    async fn configure(&self, env: RawEnvelope, config_seq: u64) -> Result<Receipt, ChainError> {
        let size = env.size();
        self.enqueue(Message::Config(env, config_seq), size).await
    }

    fn state(&self) -> watch::Receiver<ChainState> {
        self.state.subscribe()
    }

    fn channel_id(&self) -> &str {
        &self.channel_id
    }

    async fn halt(&self) {
        self.halt.send_replace(true);
        self.queue_bytes.close();
        if self.take_receiver().is_some() {
            // Never started: nothing can be queued, nothing to write.
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
        let mut state = self.state.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = state
            .wait_for(|s| matches!(s, ChainState::Halted { .. }))
            .await;
    }
}

/// Resolves when a halt is requested (or the chain, owner of the sender, is gone).
async fn halt_requested(halt: &mut watch::Receiver<bool>) {
    let _ = halt.wait_for(|h| *h).await;
}

/// The ordering task: owns the cutter and the batch timer.
struct Ordering {
    channel_id: String,
    cutter: BlockCutter,
    support: Arc<dyn ConsenterSupport>,
    state: watch::Sender<ChainState>,
    queue_bytes: Arc<Semaphore>,
}

impl Ordering {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Queued>,
        mut halt: watch::Receiver<bool>,
    ) {
        let mut timer: Option<Instant> = None;
        let mut buf = Vec::with_capacity(RECV_BATCH);
        let outcome = loop {
            tokio::select! {
                biased;
                _ = halt_requested(&mut halt) => break self.drain(&mut rx).await,
                n = rx.recv_many(&mut buf, RECV_BATCH) => {
                    if n == 0 {
                        break Ok(());
                    }
                    if let Err(e) = self.process(buf.drain(..), &mut timer).await {
                        break Err(e);
                    }
                }
                _ = sleep_until(timer.unwrap_or_else(Instant::now)), if timer.is_some() => {
                    timer = None;
                    let batch = self.cutter.cut();
                    if let Err(e) = self.write(batch).await {
                        break Err(e);
                    }
                }
            }
        };
        let reason = match outcome {
            Ok(()) => "halted".to_owned(),
            Err(e) => {
                error!(channel = %self.channel_id, error = %e, "solo chain halted: block write failed");
                self.queue_bytes.close();
                format!("block write failed: {e}")
            }
        };
        rx.close();
        self.state.send_replace(ChainState::Halted { reason });
        info!(channel = %self.channel_id, "solo chain stopped");
    }

    async fn process(
        &mut self,
        msgs: impl Iterator<Item = Queued>,
        timer: &mut Option<Instant>,
    ) -> Result<(), orderer_api::SupportError> {
        for (msg, permit) in msgs {
            drop(permit);
            match msg {
                Message::Normal(env, seq) => {
                    // Validated under an older configuration: check it again (a
                    // config block may have removed its signer's rights).
                    if seq < self.support.sequence() {
                        if let Err(e) = self.support.revalidate_normal(&env) {
                            warn!(channel = %self.channel_id, error = %e, "discarding an envelope the new configuration refuses");
                            continue;
                        }
                    }
                    let ordered = self.cutter.ordered(env);
                    for batch in ordered.batches {
                        self.write(batch).await?;
                    }
                    match (ordered.pending, timer.is_some()) {
                        (true, false) => {
                            let timeout = self.support.shared_config().batch_timeout;
                            *timer = Some(Instant::now() + timeout);
                        }
                        (false, true) => *timer = None,
                        _ => {}
                    }
                }
                Message::Config(env, seq) => {
                    let env = if seq < self.support.sequence() {
                        match self.support.revalidate_config(&env) {
                            Ok((env, _)) => env,
                            Err(e) => {
                                warn!(channel = %self.channel_id, error = %e, "discarding a config update that no longer applies");
                                continue;
                            }
                        }
                    } else {
                        env
                    };
                    let pending = self.cutter.cut();
                    self.write(pending).await?;
                    let block = self.support.create_next_block(vec![env]);
                    self.support.write_config_block(block, Bytes::new()).await?;
                    let config = self.support.shared_config();
                    debug!(channel = %self.channel_id, sequence = self.support.sequence(), "config block written");
                    self.cutter.set_limits(config.batch_size);
                    *timer = None;
                }
            }
        }
        Ok(())
    }

    /// Writes a batch as the next block; an empty batch writes nothing.
    async fn write(&mut self, batch: Vec<RawEnvelope>) -> Result<(), orderer_api::SupportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let block = self.support.create_next_block(batch);
        self.support.write_block(block, Bytes::new()).await
    }

    /// Graceful stop: no new envelopes, everything queued is ordered, the pending batch
    /// is cut. Nothing accepted is lost.
    async fn drain(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Queued>,
    ) -> Result<(), orderer_api::SupportError> {
        rx.close();
        let mut timer = None;
        let mut rest = Vec::new();
        while let Ok(m) = rx.try_recv() {
            rest.push(m);
        }
        self.process(rest.into_iter(), &mut timer).await?;
        let batch = self.cutter.cut();
        if !batch.is_empty() {
            warn!(channel = %self.channel_id, envelopes = batch.len(), "cutting the pending batch at halt");
        }
        self.write(batch).await
    }
}
