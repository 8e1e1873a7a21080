//! The node's [`ConsenterSupport`]: the one way a chain writes blocks.

use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use orderer_api::block::{
    add_signature, consenter_metadata, orderer_metadata, set_orderer_metadata, signature_message,
    signatures_metadata,
};
use orderer_api::channelconfig::{ChannelValues, read_config_block};
use orderer_api::proto::common::{Block, BlockHeader, MetadataSignature, SignatureHeader};
use orderer_api::{
    BlockAssembler, ChannelConfig, ConsenterSupport, GenesisOrigin, RawEnvelope, Refused,
    SupportError,
};
use orderer_msp::SigningIdentity;
use prost::Message;

use crate::bundle::{Bundle, BundleError};
use crate::channel_state::{ChannelState, ConfigChange};
use crate::ledger::Ledger;
use crate::security::Security;
use crate::{msgprocessor, telemetry};

/// What a system channel's support needs from the node that holds it: the
/// channels its ORDERER_TRANSACTION blocks create (the registry implements it).
#[async_trait]
pub trait ChannelHost: Send + Sync + std::fmt::Debug {
    /// How many channels the node serves (`ChannelRestrictions.MaxCount`).
    fn channel_count(&self) -> usize;
    /// Creates the channel whose CONFIG envelope an ORDERER_TRANSACTION carries;
    /// an existing channel is kept as it is.
    async fn create_channel(&self, config_envelope: Bytes) -> anyhow::Result<()>;
}

#[derive(Debug)]
struct State {
    assembler: BlockAssembler,
    last_config: u64,
    /// Trace contexts of the envelopes of blocks created and not yet written (only
    /// while spans are exported).
    traces: Vec<(u64, Vec<Bytes>)>,
}

/// Support of one channel: block assembly, signing and writing on top of its
/// [`Ledger`]. The configuration in force is its [`ChannelState`]'s.
#[derive(Debug)]
pub struct ChannelSupport {
    channel_id: String,
    ledger: Ledger,
    /// Signs every block written (the genesis block stays unsigned, so that every
    /// OSN's is byte-identical), and the config envelopes revalidation makes.
    security: Arc<Security>,
    /// Where a system channel creates the channels of its ORDERER_TRANSACTIONs.
    host: Weak<dyn ChannelHost>,
    state: Mutex<State>,
    config: ChannelState,
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
        host: Weak<dyn ChannelHost>,
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
        if tx.channel_id() != channel {
            return Err(bad(
                last_config,
                format!("config block is for channel {:?}", tx.channel_id()),
            ));
        }
        // Earlier versions of this orderer wrote a genesis config of only the
        // Channel and Orderer groups, without organizations.
        let has_organizations = tx.config.channel_group.as_ref().is_some_and(|g| {
            g.groups.contains_key("Application") || g.groups.contains_key("Consortiums")
        });
        let sequence = tx.config.sequence;
        let bundle = ChannelValues::new(&channel, tx.config)
            .map_err(BundleError::from)
            .and_then(Bundle::new)
            .map_err(|e| {
                let hint = if has_organizations {
                    ""
                } else {
                    "; this ledger was written by an earlier version of this orderer (its configuration has no organizations): move it aside to start the channel afresh"
                };
                bad(
                    last_config,
                    format!("the configuration (sequence {sequence}) cannot be used: {e}{hint}"),
                )
            })?;
        Ok(ChannelSupport {
            channel_id: channel,
            state: Mutex::new(State {
                assembler: BlockAssembler::after(header),
                last_config,
                traces: Vec::new(),
            }),
            ledger,
            security,
            host,
            config: ChannelState::new(bundle),
            last_consenter_metadata: consenter_metadata(&meta),
            genesis_origin,
        })
    }

    pub fn channel_id_owned(&self) -> String {
        self.channel_id.clone()
    }

    /// The configuration in force, and each one that replaces it.
    pub fn config(&self) -> &ChannelState {
        &self.config
    }

    /// The configuration in force: its values, MSPs and policies.
    pub fn bundle(&self) -> Arc<Bundle> {
        self.config.bundle()
    }

    /// Carries out what a config block changes before it is appended.
    async fn apply_config(
        &self,
        change: ConfigChange,
        number: u64,
    ) -> Result<Option<Bundle>, SupportError> {
        match change {
            ConfigChange::Reconfigures(next) => Ok(Some(*next)),
            ConfigChange::CreatesChannel(config_env) => {
                let host = self
                    .host
                    .upgrade()
                    .ok_or_else(|| SupportError::Ledger("the node is stopping".into()))?;
                host.create_channel(config_env)
                    .await
                    .map_err(|e| SupportError::BadConfig {
                        number,
                        reason: format!("creating the channel: {e:#}"),
                    })?;
                Ok(None)
            }
        }
    }

    /// The consenter metadata of the last block at open, for `handle_chain`.
    pub fn last_consenter_metadata(&self) -> Bytes {
        self.last_consenter_metadata.clone()
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
            let change = self.config.read_config_block(&block, header.number)?;
            self.apply_config(change, header.number).await?
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
            if let Some(bundle) = next_config {
                state.last_config = header.number;
                self.config.replace(bundle);
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
        self.config.bundle().values.channel_config()
    }

    fn sequence(&self) -> u64 {
        self.config.sequence()
    }

    fn height(&self) -> u64 {
        self.lock().assembler.next_number()
    }

    fn genesis_origin(&self) -> GenesisOrigin {
        self.genesis_origin
    }

    fn revalidate_normal(&self, env: &RawEnvelope) -> Result<u64, Refused> {
        msgprocessor::revalidate_normal(&self.config.bundle(), &self.security, env)
            .map_err(Refused::new)
    }

    fn revalidate_config(&self, env: &RawEnvelope) -> Result<(RawEnvelope, u64), Refused> {
        let channels = self
            .host
            .upgrade()
            .map(|h| h.channel_count())
            .unwrap_or_default();
        msgprocessor::revalidate_config(&self.config.bundle(), &self.security, env, channels)
            .map_err(Refused::new)
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
