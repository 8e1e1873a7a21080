//! The node's [`ConsenterSupport`]: the one way a chain writes blocks.

use std::sync::{Arc, Mutex, RwLock, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use orderer_api::block::{
    add_signature, consenter_metadata, orderer_metadata, set_orderer_metadata, signature_message,
    signatures_metadata,
};
use orderer_api::channelconfig::{ChannelValues, read_config_block};
use orderer_api::envelope::parse_payload;
use orderer_api::proto::common::{
    Block, BlockHeader, ConfigEnvelope, Envelope, HeaderType, MetadataSignature, SignatureHeader,
};
use orderer_api::{
    BlockAssembler, ChannelConfig, ConsenterSupport, GenesisOrigin, RawEnvelope, Refused,
    SupportError,
};
use orderer_msp::SigningIdentity;
use prost::Message;
use tokio::sync::watch;

use crate::bundle::Bundle;
use crate::ledger::Ledger;
use crate::registry::Registry;
use crate::security::Security;
use crate::telemetry;

#[derive(Debug)]
struct State {
    assembler: BlockAssembler,
    last_config: u64,
    /// Trace contexts of the envelopes of blocks created and not yet written (only
    /// while spans are exported).
    traces: Vec<(u64, Vec<Bytes>)>,
}

/// Support of one channel: block assembly on top of its [`Ledger`].
#[derive(Debug)]
pub struct ChannelSupport {
    channel_id: String,
    ledger: Ledger,
    /// Signs every block written (the genesis block stays unsigned, so that every
    /// OSN's is byte-identical), and the config envelopes this node makes.
    pub(crate) security: Arc<Security>,
    /// Where a system channel creates the channels of its ORDERER_TRANSACTIONs.
    pub(crate) registry: Weak<Registry>,
    state: Mutex<State>,
    /// The configuration in force: its MSPs and policies. Swapped whole, before
    /// `config` announces the change.
    bundle: RwLock<Arc<Bundle>>,
    config: watch::Sender<Arc<ChannelValues>>,
    last_consenter_metadata: Bytes,
    /// Whether block 0 was generated from orderer.yaml or given (see
    /// [`ConsenterSupport::genesis_origin`]).
    genesis_origin: GenesisOrigin,
}

/// Why a channel's ledger could not be turned into a support.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error("channel {channel}: block {number}: {reason}")]
    BadBlock {
        channel: String,
        number: u64,
        reason: String,
    },
}

impl ChannelSupport {
    /// Opens a channel on its ledger, writing `genesis` (an encoded block 0, stored
    /// as given) first if the ledger is empty. The configuration in force is read
    /// from the ledger's last config block. `genesis_origin` says where the ledger's
    /// block 0 came from, for the consenter.
    pub async fn open(
        ledger: Ledger,
        genesis: Bytes,
        genesis_origin: GenesisOrigin,
        security: Arc<Security>,
        registry: Weak<Registry>,
    ) -> Result<Self, OpenError> {
        let channel = ledger.channel().to_owned();
        if ledger.height() == 0 {
            ledger.append_durable(0, genesis).await?;
        }
        let bad = |number: u64, reason: String| OpenError::BadBlock {
            channel: channel.clone(),
            number,
            reason,
        };
        let last_number = ledger.height() - 1;
        let last = ledger.block(last_number).await?;
        let header = last
            .header
            .as_ref()
            .ok_or_else(|| bad(last_number, "no header".into()))?;
        let meta = orderer_metadata(&last)
            .map_err(|e| bad(last_number, format!("unreadable orderer metadata: {e}")))?;
        let last_config = meta.last_config.map(|c| c.index).unwrap_or(0);
        let config_block = ledger.block(last_config).await?;
        let tx = read_config_block(&config_block)
            .map_err(|e| bad(last_config, format!("not a readable config block: {e}")))?;
        if tx.channel_header.channel_id != channel {
            return Err(bad(
                last_config,
                format!(
                    "config block is for channel {:?}",
                    tx.channel_header.channel_id
                ),
            ));
        }
        let sequence = tx.config.sequence;
        // Earlier versions of this orderer wrote a genesis config of only the
        // Channel and Orderer groups, without organizations.
        let has_orgs = tx.config.channel_group.as_ref().is_some_and(|g| {
            g.groups.contains_key("Application") || g.groups.contains_key("Consortiums")
        });
        let hint = if has_orgs {
            ""
        } else {
            "; this ledger was written by an earlier version of this orderer (its configuration has no organizations): move it aside to start the channel afresh"
        };
        let unusable = |e: String| {
            bad(
                last_config,
                format!("the configuration (sequence {sequence}) cannot be used: {e}{hint}"),
            )
        };
        let values =
            ChannelValues::new(&channel, tx.config).map_err(|e| unusable(e.to_string()))?;
        let bundle = Bundle::new(values.clone()).map_err(unusable)?;
        let (config, _) = watch::channel(Arc::new(values));
        Ok(ChannelSupport {
            channel_id: channel,
            state: Mutex::new(State {
                assembler: BlockAssembler::after(header),
                last_config,
                traces: Vec::new(),
            }),
            ledger,
            security,
            registry,
            bundle: RwLock::new(Arc::new(bundle)),
            config,
            last_consenter_metadata: consenter_metadata(&meta),
            genesis_origin,
        })
    }

    pub fn channel_id_owned(&self) -> String {
        self.channel_id.clone()
    }

    /// The configuration in force: its values, MSPs and policies.
    pub fn bundle(&self) -> Arc<Bundle> {
        // A writer only swaps an Arc: a poisoned lock still holds a whole bundle.
        self.bundle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What a config block changes before it is appended: the next bundle (CONFIG),
    /// or the channel an ORDERER_TRANSACTION creates, which exists before the block
    /// that records it (as in Fabric: a crash in between creates it again from the
    /// same record, and an existing channel is kept as it is).
    async fn prepare_config(
        &self,
        block: &Block,
        number: u64,
    ) -> Result<Option<(ChannelValues, Bundle)>, SupportError> {
        let bad = |reason: String| SupportError::BadConfig { number, reason };
        let data = block
            .data
            .as_ref()
            .map(|d| d.data.as_slice())
            .unwrap_or_default();
        let [env] = data else {
            return Err(bad(format!(
                "a config block holds exactly one envelope, not {}",
                data.len()
            )));
        };
        let env = Envelope::decode(env.clone()).map_err(|e| bad(e.to_string()))?;
        let payload = parse_payload(&env).map_err(|e| bad(e.to_string()))?;
        match payload.header_type() {
            Some(HeaderType::Config) => {
                let config_env = ConfigEnvelope::decode(payload.data.clone())
                    .map_err(|e| bad(format!("not a ConfigEnvelope: {e}")))?;
                let current = self.bundle();
                crate::msgprocessor::check_config_envelope(&current, &config_env)
                    .map_err(|e| bad(e.to_string()))?;
                let tx = read_config_block(block).map_err(|e| bad(e.to_string()))?;
                let committed = ChannelValues::new(&self.channel_id, tx.config)
                    .map_err(|e| bad(e.to_string()))?;
                let next = Bundle::new(committed.clone()).map_err(bad)?;
                current
                    .values
                    .check_successor(&next.values)
                    .map_err(|e| bad(e.to_string()))?;
                Ok(Some((committed, next)))
            }
            Some(HeaderType::OrdererTransaction) => {
                if !self.bundle().values.is_system_channel() {
                    return Err(bad(
                        "an ORDERER_TRANSACTION is only valid on a system channel".into(),
                    ));
                }
                let registry = self
                    .registry
                    .upgrade()
                    .ok_or_else(|| SupportError::Ledger("the node is stopping".into()))?;
                registry
                    .create_from_transaction(payload.data.clone())
                    .await
                    .map_err(|e| bad(format!("creating the channel: {e}")))?;
                Ok(None)
            }
            other => Err(bad(format!(
                "a config block holds a CONFIG or ORDERER_TRANSACTION envelope, not {}",
                other.map_or("an unknown type", |h| h.as_str_name())
            ))),
        }
    }

    /// The consenter metadata of the last block at open, for `handle_chain`.
    pub fn last_consenter_metadata(&self) -> Bytes {
        self.last_consenter_metadata.clone()
    }

    /// The committed configuration in force, and every change.
    pub fn config(&self) -> watch::Receiver<Arc<ChannelValues>> {
        self.config.subscribe()
    }

    /// The committed configuration in force.
    pub fn committed_config(&self) -> Arc<ChannelValues> {
        self.config.borrow().clone()
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Held only for in-memory updates that cannot panic halfway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn write(
        &self,
        mut block: Block,
        consenter_metadata: Bytes,
        is_config: bool,
    ) -> Result<(), SupportError> {
        let header = block
            .header
            .clone()
            .ok_or_else(|| SupportError::Ledger("block has no header".into()))?;
        let cut = tracing::trace_span!(
            "block.cut",
            channel = %self.channel_id,
            number = header.number,
            envelopes = block.data.as_ref().map(|d| d.data.len()).unwrap_or(0),
        );
        let next_config = if is_config {
            self.lock().assembler.check_next(&header)?;
            self.prepare_config(&block, header.number).await?
        } else {
            None
        };
        let bytes = {
            let mut state = self.lock();
            state.assembler.check_next(&header)?;
            if let Some(i) = state.traces.iter().position(|(n, _)| *n == header.number) {
                let (_, traceparents) = state.traces.swap_remove(i);
                telemetry::link_to(&cut, &traceparents);
            }
            if let Some((config, bundle)) = next_config {
                state.last_config = header.number;
                *self.bundle.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(bundle);
                self.config.send_replace(Arc::new(config));
            }
            set_orderer_metadata(&mut block, state.last_config, consenter_metadata);
            sign_block(&mut block, &header, self.security.signer())?;
            state.assembler.advance(&header);
            Bytes::from(block.encode_to_vec())
        };
        self.ledger
            .append_traced(header.number, bytes, cut)
            .await
            .map_err(|e| SupportError::Ledger(e.to_string()))
    }
}

/// Adds the orderer's signature to a block's `SIGNATURES` metadata, Fabric's way.
fn sign_block(
    block: &mut Block,
    header: &BlockHeader,
    signer: &SigningIdentity,
) -> Result<(), SupportError> {
    let failed = |e: &dyn std::fmt::Display| {
        SupportError::Ledger(format!("signing block {}: {e}", header.number))
    };
    let value = signatures_metadata(block).map_err(|e| failed(&e))?.value;
    let signature_header = SignatureHeader {
        creator: signer.serialized().clone(),
        nonce: Bytes::copy_from_slice(&signer.nonce().map_err(|e| failed(&e))?),
    }
    .encode_to_vec();
    let signature = signer
        .sign(&signature_message(&value, &signature_header, header))
        .map_err(|e| failed(&e))?;
    add_signature(
        block,
        MetadataSignature {
            signature_header: signature_header.into(),
            signature: signature.into(),
            identifier_header: Bytes::new(),
        },
    )
    .map_err(|e| failed(&e))
}

#[async_trait]
impl ConsenterSupport for ChannelSupport {
    fn channel_id(&self) -> &str {
        &self.channel_id
    }

    fn shared_config(&self) -> ChannelConfig {
        self.config.borrow().channel_config()
    }

    fn sequence(&self) -> u64 {
        self.config.borrow().sequence()
    }

    fn height(&self) -> u64 {
        self.lock().assembler.next_number()
    }

    fn genesis_origin(&self) -> GenesisOrigin {
        self.genesis_origin
    }

    fn revalidate_normal(&self, env: &RawEnvelope) -> Result<u64, Refused> {
        crate::msgprocessor::revalidate_normal(self, env).map_err(Refused::new)
    }

    fn revalidate_config(&self, env: &RawEnvelope) -> Result<(RawEnvelope, u64), Refused> {
        crate::msgprocessor::revalidate_config(self, env).map_err(Refused::new)
    }

    async fn block(&self, number: u64) -> Result<Block, SupportError> {
        self.ledger
            .block(number)
            .await
            .map_err(|e| SupportError::Read {
                number,
                reason: e.to_string(),
            })
    }

    fn create_next_block(&self, batch: Vec<RawEnvelope>) -> Block {
        let mut state = self.lock();
        let number = state.assembler.next_number();
        if telemetry::exporting() {
            let traceparents: Vec<Bytes> = batch
                .iter()
                .filter_map(|e| e.traceparent().cloned())
                .collect();
            // A block created again (never written) replaces its earlier trace record.
            state.traces.retain(|(n, _)| *n < number);
            state.traces.push((number, traceparents));
        }
        state.assembler.next_block(batch)
    }

    async fn write_block(
        &self,
        block: Block,
        consenter_metadata: Bytes,
    ) -> Result<(), SupportError> {
        self.write(block, consenter_metadata, false).await
    }

    async fn write_config_block(
        &self,
        block: Block,
        consenter_metadata: Bytes,
    ) -> Result<(), SupportError> {
        self.write(block, consenter_metadata, true).await
    }
}
