use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use prost::Message;
use tokio::sync::mpsc;

use crate::block::{BlockAssembler, consenter_metadata, orderer_metadata, set_orderer_metadata};
use crate::channel::ChannelConfig;
use crate::channelconfig::{ChannelValues, ConfigBlockError};
use crate::consensus::{ConsenterSupport, GenesisOrigin};
use crate::envelope::RawEnvelope;
use crate::error::{Refused, SupportError};
use crate::proto::common::Block;

/// A block as a consenter wrote it through [`FakeSupport`].
#[derive(Clone, Debug)]
pub struct WrittenBlock {
    pub block: Block,
    pub consenter_metadata: Bytes,
    pub is_config: bool,
    /// The trace context of each envelope as the consenter handed it to
    /// `create_next_block`.
    pub traceparents: Vec<Option<Bytes>>,
}

impl WrittenBlock {
    pub fn number(&self) -> u64 {
        self.block.header.as_ref().map(|h| h.number).unwrap_or(0)
    }

    /// The marshalled envelopes of the block.
    pub fn data(&self) -> &[Bytes] {
        self.block
            .data
            .as_ref()
            .map(|d| d.data.as_slice())
            .unwrap_or(&[])
    }

    /// The tx ids of the block's envelopes (see [`super::tx_id`]).
    pub fn tx_ids(&self) -> Vec<String> {
        self.data().iter().map(super::tx_id).collect()
    }
}

#[derive(Debug)]
struct State {
    assembler: BlockAssembler,
    config: ChannelValues,
    last_config: u64,
    blocks: Vec<Block>,
    metadata: Vec<Bytes>,
    /// Trace contexts of created blocks, by block number, until they are written.
    traces: std::collections::BTreeMap<u64, Vec<Option<Bytes>>>,
    /// Tx ids that revalidation refuses.
    refused: std::collections::BTreeSet<String>,
    genesis_origin: GenesisOrigin,
}

/// An in-memory ledger behind the [`ConsenterSupport`] trait, with the same checks
/// the node's support makes.
#[derive(Debug)]
pub struct FakeSupport {
    channel_id: String,
    state: Mutex<State>,
    written: mpsc::UnboundedSender<WrittenBlock>,
    fail_writes: AtomicBool,
    /// Writes of blocks numbered this or higher fail (`u64::MAX`: none).
    fail_from: AtomicU64,
    /// While true, writes wait (a ledger that stopped answering).
    paused: tokio::sync::watch::Sender<bool>,
}

impl FakeSupport {
    /// A channel holding only its genesis block (a whole configuration around
    /// `config`'s ordering parameters, see [`super::config::genesis`], counted as
    /// given to the node: [`GenesisOrigin::Given`]), and the receiver of every block
    /// written from now on.
    pub fn new(config: ChannelConfig) -> (Self, mpsc::UnboundedReceiver<WrittenBlock>) {
        let genesis = super::config::genesis(&config).block;
        let values = super::config::genesis_values(&config);
        Self::holding(genesis, values, GenesisOrigin::Given)
    }

    /// A channel holding only `genesis` (any config block 0, e.g. a full Fabric
    /// configuration from [`crate::genesis::Profile`]), which came from `origin`.
    pub fn with_genesis(
        genesis: Block,
        origin: GenesisOrigin,
    ) -> Result<(Self, mpsc::UnboundedReceiver<WrittenBlock>), ConfigBlockError> {
        let values = ChannelValues::from_block(&genesis)?;
        Ok(Self::holding(genesis, values, origin))
    }

    fn holding(
        genesis: Block,
        config: ChannelValues,
        genesis_origin: GenesisOrigin,
    ) -> (Self, mpsc::UnboundedReceiver<WrittenBlock>) {
        let mut assembler = BlockAssembler::empty();
        if let Some(h) = genesis.header.as_ref() {
            assembler.advance(h);
        }
        let channel_id = config.channel_id().to_owned();
        let state = State {
            assembler,
            config,
            last_config: 0,
            blocks: vec![genesis],
            metadata: vec![Bytes::new()],
            traces: Default::default(),
            refused: Default::default(),
            genesis_origin,
        };
        Self::with_state(channel_id, state)
    }

    fn with_state(
        channel_id: String,
        state: State,
    ) -> (Self, mpsc::UnboundedReceiver<WrittenBlock>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let support = FakeSupport {
            channel_id,
            state: Mutex::new(state),
            written: tx,
            fail_writes: AtomicBool::new(false),
            fail_from: AtomicU64::new(u64::MAX),
            paused: tokio::sync::watch::channel(false).0,
        };
        (support, rx)
    }

    /// A support over the same blocks, as a restarted node would build it: the
    /// ledger survives, the chain does not.
    pub fn reopen(&self) -> (Self, mpsc::UnboundedReceiver<WrittenBlock>) {
        let state = self.lock();
        let copy = State {
            assembler: state.assembler.clone(),
            config: state.config.clone(),
            last_config: state.last_config,
            blocks: state.blocks.clone(),
            metadata: state.metadata.clone(),
            traces: Default::default(),
            refused: state.refused.clone(),
            genesis_origin: state.genesis_origin,
        };
        drop(state);
        Self::with_state(self.channel_id.clone(), copy)
    }

    /// The consenter metadata of the last block, as the node passes it to
    /// [`Consenter::handle_chain`](crate::Consenter::handle_chain).
    pub fn last_consenter_metadata(&self) -> Bytes {
        let state = self.lock();
        state
            .blocks
            .last()
            .and_then(|b| orderer_metadata(b).ok())
            .map(|m| consenter_metadata(&m))
            .unwrap_or_default()
    }

    /// Every block written so far, genesis included.
    pub fn blocks(&self) -> Vec<Block> {
        self.lock().blocks.clone()
    }

    /// Makes [`ConsenterSupport::revalidate_normal`] and
    /// [`ConsenterSupport::revalidate_config`] refuse the envelope with this tx id,
    /// as a configuration that no longer allows it would.
    pub fn refuse_on_revalidation(&self, tx_id: &str) {
        self.lock().refused.insert(tx_id.to_owned());
    }

    /// Makes every later write fail, as a full disk would.
    pub fn fail_writes(&self) {
        self.fail_writes.store(true, Ordering::SeqCst);
    }

    /// Makes the write of block `number`, and of every later one, fail: a node that
    /// crashes between two writes.
    pub fn fail_writes_from(&self, number: u64) {
        self.fail_from.store(number, Ordering::SeqCst);
    }

    /// Makes writes wait until [`FakeSupport::resume_writes`], as a ledger that stopped
    /// answering would.
    pub fn pause_writes(&self) {
        self.paused.send_replace(true);
    }

    /// Lets paused writes go on.
    pub fn resume_writes(&self) {
        self.paused.send_replace(false);
    }

    async fn wait_unpaused(&self) {
        let mut paused = self.paused.subscribe();
        // The sender lives in self, so the wait ends only by a resume.
        let _ = paused.wait_for(|p| !*p).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock already failed the test; keep its state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(
        &self,
        mut block: Block,
        consenter_metadata: Bytes,
        is_config: bool,
    ) -> Result<(), SupportError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(SupportError::Ledger("injected write failure".into()));
        }
        let header = block
            .header
            .clone()
            .ok_or_else(|| SupportError::Ledger("block has no header".into()))?;
        if header.number >= self.fail_from.load(Ordering::SeqCst) {
            return Err(SupportError::Ledger(format!(
                "injected write failure at block {}",
                header.number
            )));
        }
        let mut state = self.lock();
        state.assembler.check_next(&header)?;
        if is_config {
            let config =
                ChannelValues::from_block(&block).map_err(|reason| SupportError::BadConfig {
                    number: header.number,
                    reason: reason.to_string(),
                })?;
            state.config = config;
            state.last_config = header.number;
        }
        set_orderer_metadata(&mut block, state.last_config, consenter_metadata.clone());
        state.assembler.advance(&header);
        state.blocks.push(block.clone());
        state.metadata.push(consenter_metadata.clone());
        let traceparents = state.traces.remove(&header.number).unwrap_or_default();
        drop(state);
        // A test that stopped listening does not care about later blocks.
        let _ = self.written.send(WrittenBlock {
            block,
            consenter_metadata,
            is_config,
            traceparents,
        });
        Ok(())
    }
}

#[async_trait]
impl ConsenterSupport for FakeSupport {
    fn channel_id(&self) -> &str {
        &self.channel_id
    }

    fn shared_config(&self) -> ChannelConfig {
        self.lock().config.channel_config()
    }

    fn sequence(&self) -> u64 {
        self.lock().config.sequence()
    }

    fn height(&self) -> u64 {
        self.lock().assembler.next_number()
    }

    fn genesis_origin(&self) -> GenesisOrigin {
        self.lock().genesis_origin
    }

    /// Refuses envelopes [`FakeSupport::refuse_on_revalidation`] names; others are
    /// valid at the current sequence.
    fn revalidate_normal(&self, env: &RawEnvelope) -> Result<u64, Refused> {
        let state = self.lock();
        let id = super::tx_id(env.bytes());
        if state.refused.contains(&id) {
            return Err(Refused::new(format!(
                "envelope {id} is refused by the new configuration"
            )));
        }
        Ok(state.config.sequence())
    }

    /// Re-applies a config envelope as the fake's "update": its ordering parameters
    /// (read leniently, whatever else the envelope holds) applied to the current
    /// configuration, at the sequence after it ([`super::config::next_config`]).
    fn revalidate_config(&self, env: &RawEnvelope) -> Result<(RawEnvelope, u64), Refused> {
        let state = self.lock();
        let id = super::tx_id(env.bytes());
        if state.refused.contains(&id) {
            return Err(Refused::new(format!(
                "config {id} is refused by the new configuration"
            )));
        }
        let proposed = crate::proto::common::Envelope::decode(env.bytes().clone())
            .map_err(Refused::new)
            .and_then(|e| ChannelConfig::from_envelope(&e).map_err(Refused::new))?;
        let next = super::config::next_config_envelope(&state.config, &proposed);
        let bytes = Bytes::from(next.encode_to_vec());
        let (raw, _) = RawEnvelope::parse(bytes).map_err(Refused::new)?;
        Ok((raw, state.config.sequence()))
    }

    async fn block(&self, number: u64) -> Result<Block, SupportError> {
        let state = self.lock();
        usize::try_from(number)
            .ok()
            .and_then(|n| state.blocks.get(n))
            .cloned()
            .ok_or(SupportError::Read {
                number,
                reason: format!("the ledger holds {} blocks", state.blocks.len()),
            })
    }

    fn create_next_block(&self, batch: Vec<RawEnvelope>) -> Block {
        let mut state = self.lock();
        let traces = batch.iter().map(|e| e.traceparent().cloned()).collect();
        let number = state.assembler.next_number();
        state.traces.insert(number, traces);
        state.assembler.next_block(batch)
    }

    async fn write_block(
        &self,
        block: Block,
        consenter_metadata: Bytes,
    ) -> Result<(), SupportError> {
        self.wait_unpaused().await;
        self.write(block, consenter_metadata, false)
    }

    async fn write_config_block(
        &self,
        block: Block,
        consenter_metadata: Bytes,
    ) -> Result<(), SupportError> {
        self.wait_unpaused().await;
        self.write(block, consenter_metadata, true)
    }
}
